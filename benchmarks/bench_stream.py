"""Data larger than memory: peak memory of streamed training against the in-memory path.

It writes sentiment TSVs (built-in reviews, rows drawn from a pool of 200,000) and
translation TSVs (built-in pairs, same way) of several sizes, then trains each through
the CLI for a fixed number of steps (``--steps``, one epoch, ``split: group``, 0.3 % held
out for val and test, of which a stream keeps a sample of 2,000 each) and records the
process's peak resident memory (``wait4``'s ``ru_maxrss``) and wall time:

* ``streaming: true`` at every size (default 0.1, 0.5 and 2 GB of reviews; 0.1 and 1 GB
  of pairs): the peak must stay flat — at the largest file at most 1.25 times the peak at
  the smallest, or the benchmark exits with status 1;
* ``streaming: false`` (everything in Python lists and the tf.data cache) at the sizes
  in ``--memory-gb`` (default the smallest): its peak grows with the file, and larger
  files take far longer before the first step.

    python benchmarks/bench_stream.py [--sentiment-gb 0.1 0.5 2] [--translate-gb 0.1 1] [--steps 200]

The files go to ``--dir`` (default a folder in the system's temp dir, removed at the end
unless ``--keep``). Prints a table and writes ``benchmarks/results/bench_stream.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "rnn_apps.cli.main"]


def write_table(path: Path, rows: list[str], size_gb: float, seed: int) -> int:
    """Fill ``path`` with lines drawn at random from ``rows`` until it holds ``size_gb`` GiB."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = np.array(rows, dtype=object)
    target, written = int(size_gb * 2**30), 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < target:
            block = "".join(pool[rng.integers(0, len(pool), 20_000)])
            handle.write(block)
            written += len(block.encode("utf-8"))
    return written


def pools() -> dict[str, list[str]]:
    from rnn_apps.models.sentiment import generate_reviews
    from rnn_apps.models.translate import generate_pairs

    reviews, pairs = generate_reviews(200_000, 11), generate_pairs(200_000, 11)
    return {"sentiment": [f"{t}\t{label}\n" for t, label in zip(reviews["text"], reviews["label"])],
            "translate": [f"{s}\t{t}\n" for s, t in zip(pairs["source"], pairs["target"])]}


def measure(task: str, data: Path, streaming: bool, steps: int, run: Path) -> dict:
    """Train ``task`` on ``data`` for ``steps`` steps in a child process; its peak RSS and wall time."""
    preset = "small"
    args = [*CLI, "train", task, "--data", str(data), "--preset", preset, "--epochs", "1", "--run-dir", str(run),
            "--set", f"streaming={'true' if streaming else 'false'}", "--set", "split=group",
            "--set", f"steps_per_epoch={steps}", "--set", "stream_held_out=2000",
            "--set", "val_fraction=0.003", "--set", "test_fraction=0.003"]  # in memory too: a few thousand held out
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:  # not a pipe: a child that writes much would block on it
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        log.seek(0)
        stderr = log.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{task} streaming={streaming} on {data.name} failed:\n{stderr[-3000:]}")
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    return {"task": task, "mode": "stream" if streaming else "memory", "steps": steps,
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "wall_s": round(seconds, 1),
            "train_s": metrics.get("train_seconds"), "loss": round(history["loss"][-1], 4),
            "val_loss": round(history["val_loss"][-1], 4) if history.get("val_loss") else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentiment-gb", type=float, nargs="*", default=[0.1, 0.5, 2.0])
    parser.add_argument("--translate-gb", type=float, nargs="*", default=[0.1, 1.0])
    parser.add_argument("--memory-gb", type=float, nargs="*", default=[0.1],
                        help="sizes also trained in memory (each must be among the streamed sizes)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_stream.json")
    args = parser.parse_args()

    folder = args.dir or Path(tempfile.mkdtemp(prefix="rnn-apps-bench-stream-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = pools()
    results = []
    try:
        for task, sizes in (("sentiment", args.sentiment_gb), ("translate", args.translate_gb)):
            for size in sizes:
                data = folder / f"{task}-{size:g}gb.tsv"
                if not data.exists():
                    written = write_table(data, rows[task], size, seed=int(size * 1000))
                    print(f"wrote {data} ({written / 2**30:.2f} GiB)", flush=True)
                for streaming in (True, False):
                    if not streaming and size not in args.memory_gb:
                        continue
                    run = folder / f"run-{task}-{size:g}-{streaming}"
                    shutil.rmtree(run, ignore_errors=True)
                    result = {**measure(task, data, streaming, args.steps, run), "file_gb": round(
                        data.stat().st_size / 2**30, 3), "rows": sum(1 for _ in open(data, "rb"))}
                    shutil.rmtree(run, ignore_errors=True)
                    results.append(result)
                    print(json.dumps(result), flush=True)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"\n{'task':<10} {'file GiB':>8} {'rows':>11} {'mode':<7} {'peak RSS MB':>11} {'wall s':>7} "
          f"{'train s':>7} {'loss':>7}")
    for r in results:
        print(f"{r['task']:<10} {r['file_gb']:>8.2f} {r['rows']:>11,} {r['mode']:<7} {r['peak_rss_mb']:>11,} "
              f"{r['wall_s']:>7.1f} {r['train_s'] or 0:>7.1f} {r['loss']:>7.4f}")
    flat = flatness(results)
    for task, ratio in flat.items():
        print(f"{task}: streamed peak RSS at the largest file / at the smallest = {ratio:.2f} "
              f"({'flat' if ratio <= FLAT else 'NOT flat'}: the bar is {FLAT})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"steps": args.steps, "cpus": os.cpu_count(), "results": results,
                                    "stream_peak_ratio": flat}, indent=2))
    print(f"wrote {args.out}")
    return 0 if all(ratio <= FLAT for ratio in flat.values()) else 1


FLAT = 1.25  # streamed peak RSS may grow this much from the smallest file to the largest


def flatness(results: list[dict]) -> dict[str, float]:
    """Per task, the streamed runs' peak RSS at the largest file over that at the smallest."""
    ratios = {}
    for task in dict.fromkeys(r["task"] for r in results):
        runs = sorted((r for r in results if r["task"] == task and r["mode"] == "stream"), key=lambda r: r["file_gb"])
        if len(runs) > 1:
            ratios[task] = round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3)
    return ratios


if __name__ == "__main__":
    sys.exit(main())
