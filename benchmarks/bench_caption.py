"""Captioning benchmark: the ``caption`` task on its built-in pictures.

Why: the README compares attention modes after a fixed number of epochs; this compares
them after the same CPU time, against a baseline that does not write, and measures what
training and decoding cost, in one run on this machine (compare ratios within a run):

1. training throughput: images/s (one image-caption pair per example) over ``--steps``
   training steps after a warm-up, on batches taken beforehand (model compute only), with
   the default config (soft attention, image vector as initial state);
2. quality after ``--budget-minutes`` of training per run (``time_budget``,
   ``early_stopping=0``, epochs unbounded): test BLEU-4 and BLEU-1 (sacreBLEU, all
   references of an image) from each run's ``metrics.json``, and CIDEr-D when
   ``pycocoevalcap`` is importable (else reported absent), and how varied the captions are
   (distinct captions, distinct-2: a collapsed decoder shows), for ``attention`` none / soft /
   hard (``image_conditioning=init``) and soft attention with ``image_conditioning``
   ``every_step`` and ``both``;
3. the nearest-caption baseline (``models/caption.py::nearest_captions``: the first caption
   of the training picture nearest in pixels), scored the same way;
4. decoding speed: captions/s over the test pictures, greedy vs beam 3, with the
   soft-attention run's encoder-decoder engine, after a warm-up call (median of
   ``--repeats``), and each one's test BLEU-4.

Prints tables and writes ``benchmarks/results/bench_caption.json``.

    python benchmarks/bench_caption.py [--budget-minutes 3] [--examples 0] [--steps 60]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
RUNS = {"attention=none": ["attention=none"], "attention=soft": ["attention=soft"],
        "attention=hard": ["attention=hard"], "soft, every_step": ["attention=soft", "image_conditioning=every_step"],
        "soft, both": ["attention=soft", "image_conditioning=both"]}


def train_throughput(task, cfg, steps: int) -> float:
    """Images/s of ``model.fit`` over ``steps`` batches taken beforehand, after a warm-up."""
    import keras
    import tensorflow as tf

    from rnn_apps.training.optimizers import optimizer_for

    train = task.split_examples(task.load_examples(cfg, None), cfg)["train"]
    features = task.features(cfg).fit(train)
    data = features.dataset(train, training=True).repeat()
    keras.utils.set_random_seed(cfg.seed)
    model = task.build_model(cfg, features)
    model.compile(optimizer=optimizer_for(cfg), **features.output.compile_args(features))
    model.fit(data.take(5), epochs=1, verbose=0, shuffle=False)  # trace outside the timing
    taken = list(data.take(steps))
    images = sum(int(x["image"].shape[0]) for x, *_ in taken)
    started = time.perf_counter()
    model.fit(tf.data.Dataset.from_generator(lambda: iter(taken), output_signature=data.element_spec),
              epochs=1, verbose=0, shuffle=False)
    return images / (time.perf_counter() - started)


def budget_run(overrides: list[str], args, run_dir: Path) -> dict:
    from rich.console import Console

    import rnn_apps

    overrides = [*overrides, f"time_budget={args.budget_minutes}", "early_stopping=0", *examples_override(args)]
    rnn_apps.train("caption", run_dir=run_dir, overrides=overrides, epochs=10_000, console=Console(stderr=True))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    test = metrics["test"]
    return {"train_seconds": metrics["train_seconds"], "epochs_started": len(history["loss"]),
            "test": {k: test.get(k) for k in ("bleu_4", "bleu_1", "cider", "chrf", "examples", "beam",
                                              "distinct_captions", "distinct_2")},
            "samples": test["samples"][:3]}


def examples_override(args) -> list[str]:
    return [f"builtin_examples={args.examples}"] if args.examples else []


def grouped_test(run):
    """The test split's pictures (one per group) and all their references."""
    splits = run.task.split_examples(run.task.load_examples(run.cfg, None), run.cfg)
    groups: dict = {}
    for image, caption in zip(splits["test"]["image"], splits["test"]["caption"]):
        groups.setdefault(id(image), (image, []))[1].append(caption)
    images, references = zip(*groups.values())
    return splits, list(images), list(references)


def nearest_baseline(splits, images: list, references: list) -> dict:
    from rnn_apps.models.caption import nearest_captions
    from rnn_apps.metrics import cider
    from sacrebleu.metrics import BLEU

    from rnn_apps.metrics import caption_diversity

    guesses = nearest_captions(splits["train"], images)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(max(map(len, references)))]
    return {"bleu_4": BLEU().corpus_score(guesses, streams).score,
            "bleu_1": BLEU(max_ngram_order=1).corpus_score(guesses, streams).score,
            "cider": cider(guesses, references).get("cider"), "samples": guesses[:3], **caption_diversity(guesses)}


def decoding_speed(run, splits, images: list, repeats: int) -> dict:
    from rnn_apps.decoding.settings import Decoding

    engine = run.output.engine(run.model, run.features)
    pixels = run.output.source_tensor(run.features, images)
    rows = {}
    for beam in (1, 3):
        engine.decode(pixels[:128], Decoding(beam=beam))  # trace outside the timing
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            engine.decode(pixels, Decoding(beam=beam))
            times.append(time.perf_counter() - started)
        report = run.output.evaluate(run.model, run.features, splits["test"], beam=beam)
        rows["greedy" if beam == 1 else f"beam {beam}"] = {
            "captions_per_s": len(images) / statistics.median(times), "seconds": statistics.median(times),
            "bleu_4": report["bleu_4"], "bleu_1": report["bleu_1"]}
    return rows


def print_tables(results: dict, args) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    score = lambda v: "absent" if v is None else f"{v:.1f}"
    cider = lambda v: "absent" if v is None else f"{v:.2f}"  # CIDEr-D is about 0..3, BLEU 0..100
    table = Table("model", "BLEU-4", "BLEU-1", "CIDEr-D", "distinct captions", "distinct-2", "epochs", "train s",
                  title=f"caption: test scores after a {args.budget_minutes:g}-minute CPU budget "
                        f"({results['test_images']} test pictures, greedy)")
    for name, run in results["runs"].items():
        t = run["test"]
        table.add_row(name, score(t["bleu_4"]), score(t["bleu_1"]), cider(t["cider"]),
                      f"{t['distinct_captions']} / {t['examples']}", f"{t['distinct_2']:.3f}",
                      str(run["epochs_started"]), f"{run['train_seconds']:.0f}")
    n = results["nearest"]
    table.add_row("nearest training caption (pixels)", score(n["bleu_4"]), score(n["bleu_1"]), cider(n["cider"]),
                  f"{n['distinct_captions']} / {n['captions']}", f"{n['distinct_2']:.3f}", "-", "-")
    console.print(table)
    table = Table("decoding", "captions/s", "seconds", "BLEU-4", "BLEU-1",
                  title=f"decoding the {results['test_images']} test pictures (attention=soft run, batch 128)")
    for way, r in results["decoding"].items():
        table.add_row(way, f"{r['captions_per_s']:,.0f}", f"{r['seconds']:.2f}", score(r["bleu_4"]),
                      score(r["bleu_1"]))
    console.print(table)
    console.print(f"training throughput (default config, {args.steps} steps after warm-up): "
                  f"{results['train_images_per_s']:,.0f} images/s", highlight=False)
    for sample in results["runs"]["attention=soft"]["samples"]:
        console.print(f"soft: {sample['caption']!r}  (a reference: {sample['reference']!r})", highlight=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=3.0, help="training budget per run")
    parser.add_argument("--examples", type=int, default=0, help="built-in pictures (0: the task's default)")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed decodings per way (median)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_caption.json")
    args = parser.parse_args()

    from rnn_apps.models import get_task

    import rnn_apps
    from rnn_apps.config import resolve_config
    from rnn_apps.machine import describe

    started = time.perf_counter()
    task = get_task("caption")
    cfg = resolve_config(task.config_class, overrides=examples_override(args))
    results: dict = {"machine": describe(), "settings": {k: str(v) for k, v in vars(args).items()},
                     "pycocoevalcap": importlib.util.find_spec("pycocoevalcap") is not None,
                     "train_images_per_s": train_throughput(task, cfg, args.steps)}
    with tempfile.TemporaryDirectory() as tmp:
        results["runs"] = {name: budget_run(overrides, args, Path(tmp) / name.replace("=", "-").replace(", ", "-"))
                           for name, overrides in RUNS.items()}
        run = rnn_apps.load_run(Path(tmp) / "attention-soft")
        splits, images, references = grouped_test(run)
        results["test_images"] = len(images)
        results["nearest"] = nearest_baseline(splits, images, references)
        results["decoding"] = decoding_speed(run, splits, images, args.repeats)
    results["total_seconds"] = time.perf_counter() - started
    print_tables(results, args)
    print(f"total {results['total_seconds']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
