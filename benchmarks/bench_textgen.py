"""Textgen benchmark: generation speed (growing window vs carried state) and training on
tiny shakespeare (../shared/data/tiny_shakespeare/input.txt) under a CPU time budget.

Measures, in one run on this machine (compare the ratios, not the absolute numbers):

1. generation: characters/s for 200, 1,000 and 2,000 characters
   (a) re-running the model over the whole growing window for every new character, one
       Python-level call per character (the keras-io text-generation example's method);
   (b) ``rnn_apps.decoding``: the prompt once, then one compiled step per character with
       the carried state.
   The ratio (b)/(a) is the point; the model is the ``shakespeare`` preset's network.
2. training: ``rnn-apps train textgen --preset shakespeare --data input.txt`` with
   ``time_budget`` minutes: tokens/s, validation loss in nats per character (the last
   10 % of the text) and a sample. nanoGPT's CPU recipe reports 1.88 nats after ~3 min.

Prints a table and writes ``benchmarks/results/bench_textgen.json``.

    python benchmarks/bench_textgen.py [--data PATH] [--budget-minutes 10] [--skip-train]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "tiny_shakespeare" / "input.txt"


def generation_speed(lengths: list[int]) -> dict:
    """chars/s of both methods on an untrained shakespeare-sized network (speed does not
    depend on the weights)."""
    import numpy as np
    import tensorflow as tf

    from rnn_apps.config import resolve_config
    from rnn_apps.decoding.sampling import Generator, keras_step
    from rnn_apps.decoding.settings import Sampling
    from rnn_apps.models.textgen import PRESETS, TextgenConfig, build_step_model

    cfg = resolve_config(TextgenConfig, presets=PRESETS, preset="shakespeare")
    vocab = 67
    model = build_step_model(cfg, vocab)
    zeros = lambda b: [tf.zeros([b, cfg.units]) for _ in model.inputs[1:]]  # noqa: E731
    full_sequence = tf.function(lambda ids: model([ids, *zeros(1)], training=False)[0][:, -1, :],
                                reduce_retracing=True)
    generator = Generator(keras_step(model), zeros, banned=(0, 1))
    prompt = np.array([[2, 3, 4, 5]], np.int32)
    rng = np.random.default_rng(0)
    rows = {}
    generator.generate(prompt, 5, Sampling(seed=0))  # trace outside the timing
    full_sequence(tf.constant(prompt))
    for n in lengths:
        started = time.perf_counter()
        generator.generate(prompt, n, Sampling(seed=0))
        carried = time.perf_counter() - started

        ids = list(prompt[0])
        started = time.perf_counter()
        for _ in range(n):  # the growing window: every step re-reads everything so far
            logits = full_sequence(tf.constant([ids], tf.int32)).numpy()[0]
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(vocab, p=p / p.sum())))
        growing = time.perf_counter() - started
        rows[n] = {"growing_window_chars_per_s": n / growing, "carried_state_chars_per_s": n / carried,
                   "speedup": growing / carried}
    return rows


def training_throughput(data: Path, steps: int = 20) -> float:
    """Training tokens/s of the shakespeare preset (after 3 warm-up steps)."""
    import keras

    from rnn_apps.config import resolve_config
    from rnn_apps.models import get_task
    from rnn_apps.training.optimizers import optimizer_for

    task = get_task("textgen")
    cfg = resolve_config(task.config_class, presets=task.presets, preset="shakespeare")
    examples = task.load_examples(cfg, str(data))
    train = task.split_examples(examples, cfg)["train"]
    features = task.features(cfg).fit(train)
    ds = features.dataset(train, training=True)
    model = task.build_model(cfg, features)
    model.compile(optimizer=optimizer_for(cfg), **features.output.compile_args(features))
    keras.utils.set_random_seed(0)
    model.fit(ds.take(3), epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(ds.skip(3).take(steps), epochs=1, verbose=0)
    return steps * cfg.batch_size * cfg.tbptt / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="training time budget")
    parser.add_argument("--lengths", default="200,1000,2000", help="generation lengths to time")
    parser.add_argument("--skip-train", action="store_true", help="only time generation")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_textgen.json")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    import rnn_apps
    from rnn_apps.machine import describe

    results: dict = {"machine": describe()}
    results["generation"] = generation_speed([int(n) for n in args.lengths.split(",")])

    if not args.skip_train:
        if not args.data.is_file():
            print(f"training part skipped: {args.data} not found (tiny shakespeare lives in ../shared/data/)")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run = rnn_apps.train("textgen", preset="shakespeare", data=str(args.data), epochs=50,
                                     run_dir=Path(tmp) / "run", overrides=[f"time_budget={args.budget_minutes}"],
                                     console=Console(stderr=True))
                metrics = json.loads((run / "metrics.json").read_text())
                history = json.loads((run / "history.json").read_text())
                cfg = rnn_apps.load_run(run).cfg
                sample = rnn_apps.generate(run, "ROMEO:", 300, temperature=0.8, seed=1)["samples"][0]
                results["training"] = {
                    "config": {k: getattr(cfg, k) for k in ("cell", "units", "layers", "embedding_dim", "batch_size",
                                                            "tbptt", "learning_rate")},
                    "budget_minutes": args.budget_minutes, "train_seconds": metrics["train_seconds"],
                    "epochs_started": len(history["loss"]),
                    "val_nats_per_char": metrics["val"]["nats_per_token"],
                    "val_bits_per_char": metrics["val"]["bits_per_char"],
                    "val_loss_per_epoch": history["val_loss"],
                    "tokens_per_s": training_throughput(args.data),
                    "sample": "ROMEO:" + sample}

    console = Console()
    table = Table("characters", "growing window (chars/s)", "carried state (chars/s)", "speed-up",
                  title="textgen generation, shakespeare-preset network, batch 1")
    for n, row in results["generation"].items():
        table.add_row(str(n), f"{row['growing_window_chars_per_s']:,.0f}", f"{row['carried_state_chars_per_s']:,.0f}",
                      f"{row['speedup']:.1f}x")
    console.print(table)
    if "training" in results:
        t = results["training"]
        table = Table("measure", "value", title=f"textgen on {args.data.name}, {t['budget_minutes']:g} min budget")
        table.add_row("config", ", ".join(f"{k}={v}" for k, v in t["config"].items()))
        table.add_row("training tokens/s", f"{t['tokens_per_s']:,.0f}")
        table.add_row("epochs started / seconds", f"{t['epochs_started']} / {t['train_seconds']:.0f}")
        table.add_row("val loss (nats/char)", f"{t['val_nats_per_char']:.3f}")
        table.add_row("val bits/char", f"{t['val_bits_per_char']:.3f}")
        console.print(table)
        console.print(t["sample"], highlight=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
