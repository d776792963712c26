"""The training loop every task shares: ``rnn_apps.train(...)``.

    config -> examples -> split -> fit preprocessing -> tf.data -> model -> run dir -> fit

Everything that can fail on bad input (reading, label checks, vectorization) runs before
the run directory is created. Training then writes checkpoints, TensorBoard logs and
history as it goes, so an interrupted run can be continued with ``resume=RUN_DIR``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

import keras
from rich.console import Console

from rnn_apps.callbacks import Checkpoints, NaNGuard, NonFiniteError, RichProgress, TimeBudget
from rnn_apps.config import load_config, resolve_config, save_config
from rnn_apps.errors import UserError
from rnn_apps.runs import (RUN_FILE, create_run_dir, default_run_dir, new_run_meta, read_run, write_json)


def make_optimizer(cfg: Any) -> keras.optimizers.Optimizer:
    """The configured optimizer, with gradient clipping by global L2 norm by default."""
    if cfg.global_clipnorm > 0 and cfg.clipnorm > 0:
        raise UserError("set only one of global_clipnorm and clipnorm (the other to 0)")
    clipping = {}
    if cfg.global_clipnorm > 0:
        clipping["global_clipnorm"] = cfg.global_clipnorm
    elif cfg.clipnorm > 0:
        clipping["clipnorm"] = cfg.clipnorm
    classes = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
    return classes[cfg.optimizer](learning_rate=cfg.learning_rate, **clipping)


def train(task: Any = None, *, data: str | None = None, config: str | Path | None = None,
          overrides: Iterable[str] = (), preset: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, seed: int | None = None, run_dir: str | Path | None = None,
          resume: str | Path | None = None, console: Console | None = None) -> Path:
    """Train ``task`` and return its run directory.

    Args:
        task: a registered task name, or a ``Task`` record of your own (not needed with ``resume``).
        data: ``None`` for the built-in generator, a file path, or ``tfds:NAME[:SPLIT]``.
        config, overrides, preset, epochs, batch_size, seed: see ``rnn_apps.config``.
        run_dir: where to write the run (default ``runs/<task>/<timestamp>``).
        resume: a run directory to continue from its last checkpoint; ``epochs`` is then
            the new total number of epochs.
    """
    from rnn_apps.models import get_task

    console = console or Console(stderr=True)
    if resume is not None:
        run, meta = read_run(resume)
        if config is not None or list(overrides) or preset is not None or batch_size or seed is not None:
            raise UserError("--resume continues a run with its saved config; only --epochs may change")
        task_record = get_task(meta["task"])
        cfg = load_config(task_record.config_class, run / "config.yaml")
        if epochs is not None:
            cfg = dataclasses.replace(cfg, epochs=epochs)
        data = data if data is not None else meta["data"]
        state_file = run / "checkpoints" / "state.json"
        if not state_file.is_file():
            raise UserError(f"{run} has no checkpoint to resume from")
        state = json.loads(state_file.read_text())
        if state["epochs_done"] >= cfg.epochs:
            raise UserError(f"{run} already trained {state['epochs_done']} epochs; pass --epochs N "
                            f"with N > {state['epochs_done']} to train further")
    else:
        if task is None:
            raise UserError("name a task to train (or --resume RUN_DIR)")
        task_record = get_task(task) if isinstance(task, str) else task
        cfg = resolve_config(task_record.config_class, presets=task_record.presets, preset=preset,
                             file=config, overrides=overrides, epochs=epochs, batch_size=batch_size, seed=seed)
        state = None

    keras.utils.set_random_seed(cfg.seed)
    examples = task_record.load_examples(cfg, data)
    splits = task_record.split_examples(examples, cfg)
    if resume is not None:
        prep = task_record.load_preprocessing(cfg, run)
    else:
        prep = task_record.fit_preprocessing(cfg, splits["train"])
    datasets = {name: prep.dataset(cfg, part, training=(name == "train"))
                for name, part in splits.items() if len(part)}

    if resume is not None:
        model = keras.models.load_model(run / "checkpoints" / "last.keras")
        console.print(f"[bold]resuming[/] {run} at epoch {state['epochs_done'] + 1}/{cfg.epochs}")
    else:
        model = task_record.build_model(cfg, prep)
        model.compile(optimizer=make_optimizer(cfg), **task_record.compile_args(cfg, prep))

        def write(tmp: Path) -> None:
            save_config(cfg, tmp / "config.yaml")
            prep.save(tmp)
            write_json(tmp / RUN_FILE, new_run_meta(task_record.name, data))

        run = create_run_dir(Path(run_dir) if run_dir else default_run_dir(task_record.name), write)
        console.print(f"[bold]{task_record.name}[/]: {len(splits['train'])} train / {len(splits['val'])} val / "
                      f"{len(splits['test'])} test examples, {model.count_params():,} parameters -> {run}",
                      soft_wrap=True)

    has_val = "val" in datasets
    # Bucketing makes the number of batches vary a little between epochs, so the training
    # set repeats and an epoch is a fixed number of steps (one pass on average).
    steps = int(datasets["train"].cardinality())
    if steps <= 0:  # unknown (bucketing): one pass over the examples on average
        steps = math.ceil(len(splits["train"]) / cfg.batch_size)
    progress = RichProgress(console, cfg.epochs, steps)
    callbacks = [
        progress,
        NaNGuard(),  # before Checkpoints: a broken model is never saved
        Checkpoints(run / "checkpoints", monitor="val_loss" if has_val else "loss",
                    best=state["best"] if state else math.inf, best_epoch=state["best_epoch"] if state else 0),
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=resume is not None),
        keras.callbacks.TensorBoard(log_dir=str(run / "logs"), write_graph=False),
    ]
    callbacks += prep.callbacks(model)
    budget = TimeBudget(cfg.time_budget) if cfg.time_budget > 0 else None
    if budget:
        callbacks.append(budget)
    if cfg.early_stopping > 0 and has_val:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.early_stopping))

    started = time.perf_counter()
    try:
        model.fit(datasets["train"].repeat(), steps_per_epoch=steps, validation_data=datasets.get("val"),
                  epochs=cfg.epochs, initial_epoch=state["epochs_done"] if state else 0, callbacks=callbacks,
                  verbose=0, shuffle=False)  # tf.data already shuffles
    except NonFiniteError as exc:
        progress.on_train_end()
        raise UserError(f"{exc}; lower learning_rate or keep global_clipnorm on. Checkpoints up to the "
                        f"previous epoch are in {run}") from None
    seconds = time.perf_counter() - started

    if budget and budget.stopped_at:
        console.print(f"time budget of {cfg.time_budget:g} min reached after {budget.stopped_at:.0f}s; stopped")
    best = run / "checkpoints" / "best.keras"
    shutil.copyfile(best, run / ".model.keras.tmp")
    (run / ".model.keras.tmp").replace(run / "model.keras")
    model = keras.models.load_model(run / "model.keras")
    _write_history(run)
    reports = {name: prep.evaluate(model, cfg, splits[name]) for name in ("val", "test") if len(splits[name])}
    write_json(run / "metrics.json", {**reports, "train_seconds": round(seconds, 2)})
    final = "test" if "test" in reports else "val"
    shown = {k: round(v, 4) for k, v in reports.get(final, {}).items() if isinstance(v, float)}
    console.print(f"[green]done[/] in {seconds:.1f}s; {final} {shown}; saved {run / 'model.keras'}",
                  soft_wrap=True)
    return run


def _write_history(run: Path) -> None:
    """history.csv (CSVLogger) -> history.json: ``{metric: [value per epoch]}``."""
    import csv

    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    history = {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}
    write_json(run / "history.json", history)

