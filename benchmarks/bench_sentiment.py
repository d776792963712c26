"""Sentiment benchmark on SST-2 (../shared/data/sst2/train.tsv): pipeline, bucketing, accuracy.

Measures, in one run on this machine (compare the ratios, not the absolute numbers):

1. input pipeline alone: examples/s to read, vectorize and batch the training split;
2. training throughput in real (non-padding) tokens/s with length bucketing vs every
   batch padded to ``max_length``, over the same number of steps;
3. epoch time and validation accuracy on a held-out 10 % split (seed 42) after a fixed
   budget of epochs with the default sentiment config.

Prints a table and writes ``benchmarks/results/bench_sentiment.json``.

    python benchmarks/bench_sentiment.py [--data PATH] [--epochs 3] [--steps 150]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "sst2" / "train.tsv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=3, help="training budget for the accuracy run")
    parser.add_argument("--steps", type=int, default=150, help="steps per throughput measurement")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_sentiment.json")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (SST-2 lives in ../shared/data/sst2/)")
        return 0

    import keras
    import tensorflow as tf
    from rich.console import Console
    from rich.table import Table

    import rnn_apps
    from rnn_apps.config import resolve_config
    from rnn_apps.machine import describe
    from rnn_apps.models import get_task
    from rnn_apps.training.optimizers import optimizer_for

    task = get_task("sentiment")
    cfg = resolve_config(task.config_class, overrides=[f"max_length={args.max_length}", "test_fraction=0"])
    examples = task.load_examples(cfg, str(args.data))
    splits = task.split_examples(examples, cfg)
    train = splits["train"]
    results: dict = {"data": str(args.data), "train_examples": len(train), "val_examples": len(splits["val"]),
                     "config": dataclasses.asdict(cfg), "machine": describe()}

    # 1. the input pipeline alone: fit vocabulary, vectorize, bucket, one full pass
    started = time.perf_counter()
    features = task.features(cfg).fit(train)
    ds = features.dataset(train, training=True)
    batches = sum(1 for _ in ds)
    seconds = time.perf_counter() - started
    results["pipeline_examples_per_s"] = len(train) / seconds
    results["pipeline_batches"] = batches

    # 2. tokens/s: bucketing vs pad-to-max, same model, same number of steps
    for batching in ("bucket", "max"):
        run_cfg = dataclasses.replace(cfg, batching=batching)
        data = features.output.dataset(features, train, run_cfg, training=True).repeat()
        keras.utils.set_random_seed(0)
        model = task.build_model(run_cfg, features)
        model.compile(optimizer=optimizer_for(run_cfg), **features.output.compile_args(features))
        model.fit(data.take(5), epochs=1, verbose=0, shuffle=False)  # trace outside the timing
        taken = list(data.take(args.steps))
        real_tokens = sum(int(tf.math.count_nonzero(x["text"])) for x, _ in taken)
        padded_tokens = sum(int(tf.size(x["text"])) for x, _ in taken)
        started = time.perf_counter()
        model.fit(tf.data.Dataset.from_generator(lambda: iter(taken), output_signature=data.element_spec),
                  epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - started
        results[f"{batching}_tokens_per_s"] = real_tokens / seconds
        results[f"{batching}_padding_fraction"] = 1 - real_tokens / padded_tokens
    results["bucketing_speedup"] = results["bucket_tokens_per_s"] / results["max_tokens_per_s"]

    # 3. accuracy after a fixed budget, through the public API (what a user runs)
    with tempfile.TemporaryDirectory() as tmp:
        run = rnn_apps.train("sentiment", data=str(args.data), epochs=args.epochs, run_dir=Path(tmp) / "run",
                             overrides=[f"max_length={args.max_length}", "test_fraction=0", "early_stopping=0"],
                             console=Console(file=open(os.devnull, "w")))
        metrics = json.loads((run / "metrics.json").read_text())
        history = json.loads((run / "history.json").read_text())
    results["epochs"] = args.epochs
    results["train_seconds"] = metrics["train_seconds"]
    results["epoch_seconds"] = metrics["train_seconds"] / args.epochs
    results["val_accuracy"] = metrics["val"]["accuracy"]
    results["val_accuracy_per_epoch"] = history["val_accuracy"]

    table = Table("measure", "value", title=f"sentiment on {args.data.name} ({len(train)} train examples)")
    rows = [("input pipeline", f"{results['pipeline_examples_per_s']:,.0f} examples/s"),
            ("train, bucketing", f"{results['bucket_tokens_per_s']:,.0f} tokens/s "
                                 f"({results['bucket_padding_fraction']:.0%} padding)"),
            ("train, pad to max", f"{results['max_tokens_per_s']:,.0f} tokens/s "
                                  f"({results['max_padding_fraction']:.0%} padding)"),
            ("bucketing speed-up", f"{results['bucketing_speedup']:.2f}x"),
            ("epoch time", f"{results['epoch_seconds']:.1f} s"),
            (f"val accuracy after {args.epochs} epochs", f"{results['val_accuracy']:.4f}")]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
