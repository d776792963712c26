"""Vision benchmark: the ``video`` and ``vqa`` tasks on their built-in data.

Why: the README gives one accuracy per model for these tasks; this measures, in one run on
this machine (compare ratios within a run, not absolute numbers across runs):

1. input pipeline: frames/s (video) and images/s (vqa) of full passes over the training
   split's tf.data (built as ``plan_training`` builds it), ``cache`` off so decoding is
   measured every pass; the median of ``--passes`` passes, the build (Python ``prepare``,
   bucket lengths) timed apart. For video also from clip files: ``--files`` built-in clips
   written as ``.mp4`` (OpenCV, mp4v) and as ``.npy`` with a ``clip,frame,label`` CSV, read
   through the pipeline (decoded in parallel inside tf.data) against the same clips in
   memory: what file decoding costs (and the mp4 codec's pixel error);
2. training throughput: frames/s and images/s over ``--steps`` training steps after a
   warm-up, on batches taken beforehand (model compute only, as ``bench_sentiment.py``);
3. accuracy after ``--budget-minutes`` of training per run (``time_budget``,
   ``early_stopping=0``, epochs unbounded): video per-frame test accuracy (and edit score,
   F1@0.5) for ``temporal=rnn`` vs ``none``; vqa test accuracy, overall and per question
   type, for ``fusion=multiply``, ``fusion=concat`` and ``image=none``.

4. ``--memory``: peak resident memory (``wait4``'s ``ru_maxrss``, as ``bench_stream.py``) of
   a child process that builds the vqa training pipeline on PNG files with many questions
   per image (``--images`` images of 75 x 75, ``--questions`` each, ``image_size=75``) and
   reads it twice (the cache filled, then read back): pictures decoded once into a table
   (``after``) against decoded and cached per question (``before``, the pipeline as it was,
   i.e. an image input without a ``table``). Only this part runs with ``--memory``.

Prints tables and writes ``benchmarks/results/bench_vision.json`` (``--memory``:
``bench_vision_memory.json``).

    python benchmarks/bench_vision.py [--budget-minutes 3] [--examples 0] [--files 100] [--steps 60]
    python benchmarks/bench_vision.py --memory [--images 300,600] [--questions 30]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
VARIANTS = {"video": {"temporal=rnn": ["temporal=rnn"], "temporal=none": ["temporal=none", "motion=none"]},
            "vqa": {"fusion=multiply": ["fusion=multiply"], "fusion=concat": ["fusion=concat"],
                    "image=none": ["image=none"]}}
UNIT = {"video": "frames", "vqa": "images"}


def prepared(task, cfg, data: str | None = None):
    """(train split, fitted features), as ``plan_training`` makes them."""
    examples = task.load_examples(cfg, data)
    features = task.features(cfg)
    for name, kind in features.inputs.items():
        if hasattr(kind, "check"):
            kind.check(examples[name], examples.origins)
    train = task.split_examples(examples, cfg)["train"]
    return train, features.fit(train)


def count(task: str, cfg, train) -> int:
    """Frames (cut at ``max_frames``) or images the training split feeds per pass."""
    return sum(min(len(x), cfg.max_frames) for x in train["labels"]) if task == "video" else len(train)


def pipeline(task: str, cfg, train, features, passes: int) -> dict:
    started = time.perf_counter()
    ds = features.dataset(train, training=True)
    build = time.perf_counter() - started
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        for _ in ds:
            pass
        times.append(time.perf_counter() - started)
    n = count(task, cfg, train)
    return {"units": n, "build_seconds": build, "pass_seconds": statistics.median(times),
            "per_s": n / statistics.median(times)}


def write_clips(clips, labels, folder: Path) -> dict[str, str]:
    """The clips as ``.mp4`` (mp4v, grey repeated into BGR) and ``.npy``, each set with its
    ``clip,frame,label`` CSV; returns {format: CSV path}."""
    import cv2

    sources = {}
    for fmt in ("mp4", "npy"):
        (folder / fmt).mkdir(parents=True)
        rows = ["clip,frame,label"]
        for i, (clip, names) in enumerate(zip(clips, labels)):
            name = f"{fmt}/clip{i:04d}.{fmt}"
            if fmt == "npy":
                np.save(folder / name, clip)
            else:
                writer = cv2.VideoWriter(str(folder / name), cv2.VideoWriter_fourcc(*"mp4v"), 25,
                                         (clip.shape[2], clip.shape[1]))
                for frame in clip:
                    writer.write(np.repeat(frame, 3, axis=-1))
                writer.release()
            rows += [f"{name},{t},{label}" for t, label in enumerate(names)]
        sources[fmt] = str(folder / f"{fmt}.csv")
        Path(sources[fmt]).write_text("\n".join(rows) + "\n")
    return sources


def file_pipelines(task, cfg, args, tmp: Path) -> dict:
    """The same ``--files`` clips through the pipeline from memory, ``.npy`` and ``.mp4``."""
    from rnn_apps.models.video import generate_clips

    from rnn_apps.data import media

    cfg = dataclasses.replace(cfg, builtin_examples=args.files)
    clips = generate_clips(args.files, cfg.seed)
    sources = write_clips(clips["frames"], clips["labels"], tmp / "clips")
    rows = {}
    for way, data in (("arrays in memory", None), (".npy files", sources["npy"]), (".mp4 files", sources["mp4"])):
        rows[way] = pipeline("video", cfg, *prepared(task, cfg, data), args.passes)
    decoded = [media.read_clip(tmp / "clips" / "mp4" / f"clip{i:04d}.mp4", 1) for i in range(min(10, args.files))]
    rows[".mp4 files"]["mean_abs_pixel_error"] = float(np.mean(
        [np.abs(d.astype(int) - c.astype(int)).mean() for d, c in zip(decoded, clips["frames"])]))
    return rows


def train_throughput(task: str, record, cfg, train, features, steps: int) -> float:
    import keras
    import tensorflow as tf

    from rnn_apps.training.optimizers import optimizer_for

    data = features.dataset(train, training=True).repeat()
    keras.utils.set_random_seed(cfg.seed)
    model = record.build_model(cfg, features)
    model.compile(optimizer=optimizer_for(cfg), **features.output.compile_args(features))
    model.fit(data.take(5), epochs=1, verbose=0, shuffle=False)  # trace outside the timing
    taken = list(data.take(steps))
    n = sum(float(tf.reduce_sum(x["frames_mask"])) if task == "video" else int(x["image"].shape[0])
            for x, *_ in taken)
    started = time.perf_counter()
    model.fit(tf.data.Dataset.from_generator(lambda: iter(taken), output_signature=data.element_spec),
              epochs=1, verbose=0, shuffle=False)
    return n / (time.perf_counter() - started)


def budget_run(task: str, overrides: list[str], args, run_dir: Path) -> dict:
    from rich.console import Console

    import rnn_apps

    overrides = [*overrides, f"time_budget={args.budget_minutes}", "early_stopping=0", *args.builtin]
    rnn_apps.train(task, run_dir=run_dir, overrides=overrides, epochs=10_000, console=Console(stderr=True))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history, test = json.loads((run_dir / "history.json").read_text()), metrics["test"]
    keep = ("accuracy", "edit", "f1@0.5", "clip_accuracy") if task == "video" else ("accuracy", "accuracy_by_type")
    return {"train_seconds": metrics["train_seconds"], "epochs_started": len(history["loss"]),
            "test": {k: test[k] for k in keep if k in test}}


def print_tables(results: dict, args) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    table = Table("task", "data", "unit", "per pass", "build s", "pass s", "pipeline /s", "mp4 pixel error",
                  title=f"input pipeline, training split, cache off (median of {args.passes} passes)")
    for task, r in results["tasks"].items():
        for way, p in {"built-in (arrays)": r["pipeline"], **r.get("files", {})}.items():
            error = p.get("mean_abs_pixel_error")
            table.add_row(task, way, UNIT[task], f"{p['units']:,}", f"{p['build_seconds']:.2f}",
                          f"{p['pass_seconds']:.2f}", f"{p['per_s']:,.0f}", "-" if error is None else f"{error:.2f}")
    console.print(table)
    table = Table("task", "training /s", "unit", "pipeline /s", title=f"training throughput, {args.steps} steps "
                  "after warm-up (batches taken beforehand)")
    for task, r in results["tasks"].items():
        table.add_row(task, f"{r['train_per_s']:,.0f}", UNIT[task], f"{r['pipeline']['per_s']:,.0f}")
    console.print(table)
    for task, r in results["tasks"].items():
        keys = ["accuracy", "edit", "f1@0.5", "clip_accuracy"] if task == "video" else \
            ["accuracy", *sorted({t for run in r["runs"].values() for t in run["test"]["accuracy_by_type"]})]
        table = Table("run", *keys, "epochs", "train s",
                      title=f"{task}: test scores after a {args.budget_minutes:g}-minute CPU budget")
        for name, run in r["runs"].items():
            test = {**run["test"], **run["test"].get("accuracy_by_type", {})}
            table.add_row(name, *(f"{test[k]:.3f}" if k in test else "-" for k in keys),
                          str(run["epochs_started"]), f"{run['train_seconds']:.0f}")
        console.print(table)


def memory_child(mode: str, images: int, questions: int, folder: Path) -> None:
    """In a child process: the vqa pipeline over ``images`` PNGs x ``questions`` questions,
    read twice; ``mode`` ``before`` takes the image input's ``table`` away."""
    from PIL import Image

    from rnn_apps.config import resolve_config
    from rnn_apps.data.examples import Examples
    from rnn_apps.data.vision import ImageInput
    from rnn_apps.models import get_task

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(images):
        paths.append(str(folder / f"{i}.png"))
        if not Path(paths[-1]).exists():
            Image.fromarray(rng.integers(0, 256, (75, 75, 3), dtype=np.uint8)).save(paths[-1])
    n = images * questions
    examples = Examples({"image": [paths[k % images] for k in range(n)],
                         "question": [f"what is {k % 7} ?" for k in range(n)],
                         "answer": [str(k % 5) for k in range(n)]}, [f"synthetic:{k}" for k in range(n)])
    if mode == "before":
        ImageInput.table = None  # every question's picture decoded and cached on its own
    record = get_task("vqa")
    cfg = resolve_config(record.config_class, overrides=["image_size=75"])
    features = record.features(cfg).fit(examples)
    ds = features.dataset(examples, training=True)
    for _ in range(2):
        for _ in ds:
            pass


def memory(args) -> list[dict]:
    """Peak RSS of ``memory_child`` per mode and image count, each in a fresh process."""
    import subprocess

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for images in (int(v) for v in args.images.split(",")):
            for mode in ("before", "after"):
                started = time.perf_counter()
                child = subprocess.Popen([sys.executable, __file__, "--memory-child", mode, str(images),
                                          str(args.questions), str(Path(tmp) / "pictures")])
                _, status, usage = os.wait4(child.pid, 0)
                if status:
                    raise SystemExit(f"memory child {mode} {images} failed ({status})")
                rows.append({"mode": mode, "images": images, "questions": images * args.questions,
                             "peak_rss_mb": round(usage.ru_maxrss / 1024),
                             "wall_s": round(time.perf_counter() - started, 1)})
                print(rows[-1], flush=True)
    return rows


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", action="store_true", help="only the peak-RSS comparison (see 4.)")
    parser.add_argument("--images", default="300,600", help="--memory: image counts")
    parser.add_argument("--questions", type=int, default=30, help="--memory: questions per image")
    parser.add_argument("--tasks", default="video,vqa")
    parser.add_argument("--budget-minutes", type=float, default=3.0, help="training budget per accuracy run")
    parser.add_argument("--examples", type=int, default=0, help="built-in examples (0: the task's default)")
    parser.add_argument("--files", type=int, default=100, help="built-in clips written as .mp4 and .npy")
    parser.add_argument("--passes", type=int, default=3, help="timed pipeline passes (median)")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_vision.json")
    args = parser.parse_args()
    if args.memory:
        rows = memory(args)
        print(f"\n{'pipeline':<8} {'images':>7} {'questions':>10} {'peak RSS MB':>11} {'wall s':>7}")
        for r in rows:
            print(f"{r['mode']:<8} {r['images']:>7,} {r['questions']:>10,} {r['peak_rss_mb']:>11,} {r['wall_s']:>7}")
        out = args.out.with_name("bench_vision_memory.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"rows": rows}, indent=2))
        print(f"wrote {out}")
        return 0
    args.builtin = [f"builtin_examples={args.examples}"] if args.examples else []

    from rnn_apps.models import get_task

    from rnn_apps.config import resolve_config
    from rnn_apps.machine import describe

    started = time.perf_counter()
    results: dict = {"machine": describe(), "settings": {k: str(v) for k, v in vars(args).items() if k != "builtin"},
                     "tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            record = get_task(task)
            cfg = resolve_config(record.config_class, overrides=["cache=false", *args.builtin])
            train, features = prepared(record, cfg)
            r = results["tasks"][task] = {"train_examples": len(train),
                                          "pipeline": pipeline(task, cfg, train, features, args.passes)}
            if task == "video":
                r["files"] = file_pipelines(record, cfg, args, Path(tmp))
            r["train_per_s"] = train_throughput(task, record, cfg, train, features, args.steps)
            r["runs"] = {name: budget_run(task, overrides, args, Path(tmp) / task / name.replace("=", "-"))
                         for name, overrides in VARIANTS[task].items()}
    results["total_seconds"] = time.perf_counter() - started
    print_tables(results, args)
    print(f"total {results['total_seconds']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
