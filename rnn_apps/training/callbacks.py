"""Keras callbacks for training: rich progress, atomic checkpoints, TensorBoard HParams, a NaN guard, Ctrl-C."""
from __future__ import annotations

import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import keras
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rnn_apps.runs import save_model, write_json, write_text


def format_logs(logs: dict | None) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items() if isinstance(v, (int, float)))


class RichProgress(keras.callbacks.Callback):
    """A live bar per epoch (step, loss and metrics, ETA) and one summary line per epoch."""

    def __init__(self, console: Console, epochs: int, steps_per_epoch: int | None):
        super().__init__()
        self.console, self.epochs, self.steps = console, epochs, steps_per_epoch
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[metrics]}"), TimeRemainingColumn(),
                                 console=console, transient=True)

    def on_train_begin(self, logs=None):
        self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.bar = self.progress.add_task("", total=self.steps, epoch=f"{epoch + 1}/{self.epochs}", metrics="")

    def on_train_batch_end(self, batch, logs=None):
        self.progress.update(self.bar, completed=batch + 1, metrics=format_logs(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.steps = int(self.progress.tasks[-1].completed) or self.steps  # exact after one epoch
        self.progress.remove_task(self.bar)
        self.console.print(f"epoch {epoch + 1}/{self.epochs}  {format_logs(logs)}  "
                           f"({time.perf_counter() - self.started:.1f}s)", soft_wrap=True)

    def on_train_end(self, logs=None):
        self.progress.stop()


class Checkpoints(keras.callbacks.Callback):
    """Checkpoints and history, committed together once per epoch, so a run killed at any
    moment resumes from its last complete epoch with matching weights, history and best.

    Each epoch: the weights go to ``epoch-N.keras`` (atomically); then ``state.json`` is
    replaced atomically — the commit — naming the last and the best epoch's files and
    holding the history; then ``last.keras``/``best.keras``, ``history.csv`` and
    ``history.json`` are refreshed from it and files no longer named are removed. A crash
    before the commit leaves the previous state, whose files are all still there.
    """

    def __init__(self, directory: Path, monitor: str = "val_loss", state: dict | None = None):
        super().__init__()
        self.directory, self.monitor = directory, monitor
        state = state or {}
        self.best, self.best_epoch = state.get("best", math.inf), state.get("best_epoch", 0)
        self.files = {"last": state.get("last", "last.keras"), "best": state.get("best_file", "best.keras")}
        self.history: dict[str, list] = {k: list(v) for k, v in state.get("history", {}).items()}
        directory.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        done = epoch + 1
        epochs_seen = len(next(iter(self.history.values()), []))
        for key in set(self.history) | set(logs):  # a metric an epoch lacks is None
            self.history.setdefault(key, [None] * epochs_seen).append(logs.get(key))
        current = f"epoch-{done}.keras"
        save_model(self.model, self.directory / current)
        value = logs.get(self.monitor, logs.get("loss"))
        if value is not None and value < self.best:
            self.best, self.best_epoch, self.files["best"] = value, done, current
        self.files["last"] = current
        write_json(self.directory / "state.json",  # the commit
                   {"epochs_done": done, "monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch,
                    "last": self.files["last"], "best_file": self.files["best"], "history": self.history})
        for name in ("last", "best"):
            shutil.copyfile(self.directory / self.files[name], self.directory / f".{name}.keras.tmp")
            os.replace(self.directory / f".{name}.keras.tmp", self.directory / f"{name}.keras")
        for old in self.directory.glob("epoch-*.keras"):
            if old.name not in self.files.values():
                old.unlink()
        write_history(self.directory.parent, self.history)


def write_history(run: Path, history: dict[str, list]) -> None:
    """``history.json`` ``{metric: [value per epoch]}`` and the same as ``history.csv``, atomically."""
    write_json(run / "history.json", history)
    keys = sorted(history)
    rows = zip(*(history[k] for k in keys))
    write_text(run / "history.csv", ",".join(["epoch", *keys]) + "\n" + "".join(
        ",".join([str(i), *("" if v is None else repr(v) for v in row)]) + "\n" for i, row in enumerate(rows)))


class HParams(keras.callbacks.Callback):
    """The run's config as a TensorBoard HParams summary in ``RUN/logs``, so that
    ``tensorboard --logdir runs`` lists every run by its settings beside its epoch metrics
    (the ``epoch_<metric>`` scalars Keras writes to ``logs/train`` and ``logs/validation``).

    The session (the config's scalar values) is written when training begins; the
    experiment's metric list after the first epoch, when the logged names are known."""

    def __init__(self, log_dir: Path, cfg, name: str):
        super().__init__()
        import dataclasses

        self.log_dir, self.name, self.described = str(log_dir), name, False
        self.values = {k: v for k, v in dataclasses.asdict(cfg).items() if isinstance(v, (bool, int, float, str))}

    def _write(self, write) -> None:
        import tensorflow as tf

        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            write()
        writer.close()

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hp

        self._write(lambda: hp.hparams(self.values, trial_id=self.name))

    def on_epoch_end(self, epoch, logs=None):
        if self.described:
            return
        from tensorboard.plugins.hparams import api as hp

        names = sorted({k.removeprefix("val_") for k in (logs or {})})
        metrics = [hp.Metric(f"epoch_{name}", group=group, display_name=f"{name} ({group})")
                   for name in names for group in ("train", "validation")]
        self._write(lambda: hp.hparams_config(hparams=[hp.HParam(k) for k in self.values], metrics=metrics))
        self.described = True


class NonFiniteError(RuntimeError):
    """Training produced NaN or inf; the message says where (epoch, batch, what)."""


class NaNGuard(keras.callbacks.Callback):
    """Stop training at the first non-finite number, before anything is checkpointed.

    It checks the training loss after every batch, and at the end of every epoch the
    validation loss and every weight (a weight can turn inf while the loss stays finite,
    e.g. behind a saturated sigmoid). It raises ``NonFiniteError`` naming the epoch, the
    batch and what went wrong; put it before ``Checkpoints`` so a broken model is never
    saved. Epochs and batches are counted from 1.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteError(f"the training loss became {float(loss)} at epoch {self.epoch}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        val_loss = (logs or {}).get("val_loss")
        if val_loss is not None and not math.isfinite(float(val_loss)):
            raise NonFiniteError(f"the validation loss became {float(val_loss)} after epoch {epoch + 1}")
        broken = [w.path for w in self.model.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(w)))]
        if broken:
            raise NonFiniteError(f"weights became NaN/inf during epoch {epoch + 1} "
                                 f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''})")


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``minutes`` have passed (the epoch then ends early: it is still
    validated and checkpointed, so the run is complete and can be resumed)."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds, self.stopped_at = minutes * 60, None

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.started >= self.seconds and not self.model.stop_training:
            self.stopped_at = time.perf_counter() - self.started
            self.model.stop_training = True


class StopOnInterrupt(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) stops training at the end of the current batch.

    A ``KeyboardInterrupt`` raised by Python's default handler can be lost while TensorFlow
    runs a step in C++; this handler only records the signal, and the next batch end raises
    ``KeyboardInterrupt`` from Python, where ``fit`` always sees it. A second Ctrl-C
    interrupts at once. Use as a context manager around ``fit`` (it installs the handler).
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def on_train_batch_end(self, batch, logs=None):
        if self.requested:
            raise KeyboardInterrupt

    on_test_batch_end = on_train_batch_end
