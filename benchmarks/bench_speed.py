"""Speed options on one machine: precision and XLA, measured on the training step.

For each task (its built-in data and a mid-sized preset) and each setting

* ``float32`` with ``jit_compile`` auto (Keras' default: XLA where the model supports it),
  ``false`` and ``true``;
* ``mixed_bfloat16`` (bfloat16 math, float32 weights, loss and output softmax);

it builds the model the way ``rnn-apps train`` does, runs ``--warmup`` steps (tracing,
compiling), then times ``--steps`` training steps (``model.fit`` on the run's own tf.data
pipeline, median of ``--repeats``), and reports examples/s and the ratio to float32 / auto
in the same run. It also times the input pipeline alone (batches/s with no model, after a
first pass has filled the tf.data cache, as in every epoch after the first), which says
whether training waits for data.

    python benchmarks/bench_speed.py [--tasks sentiment textgen translate] [--steps 60]

Prints a table and writes ``benchmarks/results/bench_speed.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
SETTINGS = [("float32", "auto"), ("float32", "false"), ("float32", "true"), ("mixed_bfloat16", "auto")]
PRESETS = {"sentiment": "small", "textgen": "small", "translate": "small", "video": "small", "vqa": "small",
           "caption": "small"}


def time_steps(model, dataset, steps: int) -> float:
    """Seconds per step of ``fit`` over ``steps`` steps (after the caller's warm-up)."""
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - started) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["sentiment", "textgen", "translate"])
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per repeat")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_speed.json")
    args = parser.parse_args()

    import keras
    from rich.console import Console
    from rich.table import Table

    from rnn_apps.config import resolve_config
    from rnn_apps.machine import describe
    from rnn_apps.models import get_task
    from rnn_apps.task import model_inputs
    from rnn_apps.training.loop import build, plan_training

    console = Console()
    rows = []
    for name in args.tasks:
        task = get_task(name)
        preset = PRESETS.get(name) if PRESETS.get(name) in task.presets else None
        base = resolve_config(task.config_class, presets=task.presets, preset=preset)
        plan = plan_training(task, base, None)
        for _ in plan.datasets["train"]:  # one whole pass fills the tf.data cache, so that no
            pass                           # setting pays for encoding the data
        ds = plan.datasets["train"].repeat()
        started = time.perf_counter()
        for _ in ds.take(args.steps):
            pass
        pipeline = args.steps / (time.perf_counter() - started)
        for precision, jit in SETTINGS:
            import dataclasses

            keras.utils.set_random_seed(base.seed)
            plan.cfg = dataclasses.replace(base, precision=precision, jit_compile=jit)
            model = build(plan)
            named = ds.map(lambda x, *rest: (model_inputs(model, x), *rest)) if isinstance(ds.element_spec[0], dict) \
                else ds
            time_steps(model, named, args.warmup)
            per_step = statistics.median(time_steps(model, named, args.steps) for _ in range(args.repeats))
            rows.append({"task": name, "preset": preset, "precision": precision, "jit_compile": jit,
                         "xla_used": bool(model.jit_compile), "batch_size": base.batch_size,
                         "seconds_per_step": per_step, "examples_per_s": base.batch_size / per_step,
                         "pipeline_batches_per_s": pipeline})
            console.print(f"{name} {precision} jit={jit}: {per_step * 1000:.1f} ms/step", highlight=False)
            keras.backend.clear_session()
    for row in rows:
        ref = next(r for r in rows if r["task"] == row["task"] and r["precision"] == "float32"
                   and r["jit_compile"] == "auto")
        row["speed_vs_default"] = ref["seconds_per_step"] / row["seconds_per_step"]

    table = Table(title="training step speed (2 CPU cores unless said otherwise)")
    for column in ("task", "precision", "jit_compile", "XLA used", "ms/step", "examples/s", "vs default",
                   "pipeline batches/s"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["task"], r["precision"], r["jit_compile"], str(r["xla_used"]),
                      f"{r['seconds_per_step'] * 1000:.1f}", f"{r['examples_per_s']:.0f}",
                      f"{r['speed_vs_default']:.2f}x", f"{r['pipeline_batches_per_s']:.0f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(), "load_average": os.getloadavg(), "steps": args.steps,
                                    "repeats": args.repeats, "rows": rows}, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
