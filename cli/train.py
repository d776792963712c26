"""``rnn-apps train``: train a task and write a run directory."""
from __future__ import annotations

from pathlib import Path

import click

from rnn_apps.api import MAX_SEED
from rnn_apps.cli.common import RUN_DIR, UsageProblem, err, extra_pairs, out
from rnn_apps.models import TASKS

# --workers starts TensorFlow processes on this one machine, each with its own model, data
# pipeline and threads: past this many they only compete for the same cores and memory.
MAX_LOCAL_WORKERS = 16


def config_overrides(args: list[str], task: str | None, resume) -> list[str]:
    """``--KEY VALUE`` / ``--KEY=VALUE`` / ``--FLAG`` / ``--no-FLAG`` for any config key of the
    task, as ``KEY=VALUE`` overrides (checked like ``--set``: an unknown key lists the valid ones)."""
    pairs = extra_pairs(args, "any config key works as --KEY VALUE; see `rnn-apps config TASK`")
    if not pairs:
        return []
    if task is None:
        raise UsageProblem("--resume continues a run with its saved config; only --epochs may change")
    import typing

    from rnn_apps.models import get_task

    hints = typing.get_type_hints(get_task(task).config_class)
    overrides = []
    for key, value in pairs:
        if value is None:
            negated = key.startswith("no_") and hints.get(key[3:]) is bool
            key = key[3:] if negated else key
            if hints.get(key) is not bool:
                raise UsageProblem(f"--{key.replace('_', '-')} needs a value (--{key.replace('_', '-')} VALUE)"
                                   if key in hints else f"unknown config key {key!r}; valid keys: {', '.join(hints)}")
            value = "false" if negated else "true"
        overrides.append(f"{key}={value}")
    return overrides


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("task", type=click.Choice(list(TASKS)), required=False)
@click.option("--data", metavar="SRC", help="a .tsv/.txt/.csv/.jsonl file or tfds:NAME[:SPLIT]; default: built-in data")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML or JSON file of config keys")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override one config key (repeatable)")
@click.option("--preset", help="named preset of the task (see `rnn-apps config TASK`)")
@click.option("--epochs", type=click.IntRange(min=1), help="number of epochs (with --resume: the new total)")
@click.option("--batch-size", type=click.IntRange(min=1), help="examples per batch")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), help="random seed (data split, shuffling, weights)")
@click.option("--run-dir", type=RUN_DIR, help="where to write the run (default runs/TASK/TIMESTAMP)")
@click.option("--resume", type=RUN_DIR, help="continue RUN_DIR from its last checkpoint")
@click.option("--allow-new-data", is_flag=True,
              help="with --resume and --data: continue the run on other data (or on its data file changed since)")
@click.option("--workers", type=click.IntRange(min=1, max=MAX_LOCAL_WORKERS), default=1, show_default=True,
              help="train data-parallel on N local worker processes (global batch = batch size x N); "
                   "in a cluster, set TF_CONFIG on each host instead (README: Scaling out)")
@click.pass_context
def train(ctx, task, data, config_file, overrides, preset, epochs, batch_size, seed, run_dir, resume, allow_new_data,
          workers):
    """Train TASK and write a run directory (config, vocabularies, checkpoints, logs, model).

    Without --data the task's built-in synthetic data are used. Every config key of the
    task (`rnn-apps config TASK`) is also an option: `--units 128` is `--set units=128`,
    and a boolean key is a flag (`--reverse`, `--no-bidirectional`). Gradients are clipped
    by global norm (global_clipnorm=1.0) unless you set it to 0. TensorBoard logs go to
    RUN_DIR/logs (`tensorboard --logdir runs`).

    \b
    Examples:
      rnn-apps train sentiment
      rnn-apps train sentiment --data reviews.tsv --cell lstm --layers 2 --epochs 5
      rnn-apps train sentiment --data data.csv --text-column review --label-column stars
      rnn-apps train --resume runs/sentiment/20260101-120000 --epochs 20
      rnn-apps train translate
      rnn-apps train translate --data ../shared/data/spa-eng/spa.txt --preset spa-eng --reverse
      rnn-apps train sentiment --workers 2 --batch-size 32
    """
    import rnn_apps

    if task is None and resume is None:
        raise UsageProblem("name a TASK to train, or --resume RUN_DIR; tasks: " + ", ".join(TASKS))
    overrides = (*overrides, *config_overrides(ctx.args, task, resume))
    if allow_new_data and not resume:
        raise UsageProblem("--allow-new-data continues a run on other data: it goes with --resume RUN_DIR")
    if workers > 1 and resume and data is not None:
        raise UsageProblem("--workers with --resume continues the run on its own data; leave out --data")
    if workers > 1:
        return train_on_local_workers(workers, task, data, config_file, overrides, preset, epochs, batch_size,
                                      seed, run_dir, resume)
    run = rnn_apps.train(task, data=data, config=config_file, overrides=overrides, preset=preset,
                         epochs=epochs, batch_size=batch_size, seed=seed, run_dir=run_dir, resume=resume,
                         allow_new_data=allow_new_data,
                         console=err)
    out.print(str(run))


def train_on_local_workers(workers, task, data, config_file, overrides, preset, epochs, batch_size, seed, run_dir,
                           resume) -> None:
    """``--workers N``: the same command as N local workers (``rnn_apps.training.workers``);
    worker 0 prints the run directory."""
    import os

    from rnn_apps.runs import check_run_dir, default_run_dir
    from rnn_apps.training.workers import run_local_workers

    if os.environ.get("TF_CONFIG"):
        raise UsageProblem("--workers starts local workers, but TF_CONFIG already places this process in a "
                           "cluster: leave out --workers there")
    options = {"--data": data, "--config": config_file, "--preset": preset, "--epochs": epochs,
               "--batch-size": batch_size, "--seed": seed}
    args = [] if resume else [task]
    args += [part for key, value in options.items() if value is not None for part in (key, str(value))]
    args += [part for pair in overrides for part in ("--set", pair)]
    if resume:
        run = Path(resume).resolve()
    else:
        run = (Path(run_dir) if run_dir else default_run_dir(task)).resolve()
        check_run_dir(run)
    run_local_workers(args, workers, run, console=err, resume=bool(resume),
                      resume_args=["--epochs", str(epochs)] if epochs else [])
