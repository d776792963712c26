"""Everything the CLI does, callable from Python with the same names.

    >>> import rnn_apps
    >>> run = rnn_apps.train("sentiment", preset="small")
    >>> rnn_apps.predict(run, ["not boring at all"])
    >>> rnn_apps.export(run, out="export/sentiment")
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterable

from rnn_apps.config import load_config
from rnn_apps.errors import UserError
from rnn_apps.options import checked
from rnn_apps.runs import load_model, read_run


@dataclasses.dataclass
class Run:
    """A trained run loaded back: its task, config, fitted features and best model."""

    path: Path
    task: Any
    cfg: Any
    features: Any
    model: Any
    meta: dict

    @property
    def output(self) -> Any:
        """The output kind (``.kind`` is "label", "sequence", "next_token" ...)."""
        return self.features.output

    @property
    def input_names(self) -> list[str]:
        return list(self.features.inputs)

    def checked_options(self, options: dict, command: str) -> dict:
        """The options that were given (not None); an error names those the task does not take."""
        return checked(options, getattr(self.output, f"{command}_options"), command, f"a {self.task.name} run")

    def predict(self, inputs: list, **options) -> list[dict]:
        if not inputs:
            raise UserError("nothing to predict: give inputs as arguments or --input FILE")
        return self.output.predict(self.model, self.features, list(inputs), **self.checked_options(options, "predict"))

    def generate(self, prompt: str, length: int, sampling: Any, num_samples: int = 1) -> list[str]:
        """Language models: ``num_samples`` continuations of ``prompt``."""
        return self.output.generate(self.model, prompt, length, sampling, num_samples)

    def stream(self, prompt: str, length: int, sampling: Any, num_samples: int = 1):
        """Language models: per chunk, the new text of each sample."""
        return self.output.stream(self.model, prompt, length, sampling, num_samples)

    def evaluate(self, data: str | None = None, **options) -> dict:
        options = self.checked_options(options, "evaluate")
        if data is not None:
            examples, where = self.task.load_examples(self.cfg, data), data
        else:
            splits = self.task.split_examples(self.task.load_examples(self.cfg, self.meta["data"]), self.cfg)
            part = "test" if len(splits["test"]) else "val"
            examples, where = splits[part], f"{self.meta['data'] or 'builtin'} ({part} split)"
            if not len(examples):
                raise UserError(f"{self.path} was trained without test or validation split; pass --data")
        return {**self.output.evaluate(self.model, self.features, examples, **options), "data": where}


def _task(name_or_record: Any):
    from rnn_apps.models import get_task

    return get_task(name_or_record) if isinstance(name_or_record, str) else name_or_record


def load(path: str | Path) -> Any:
    """A run directory (``Run``) or a TFLite export folder (``rnn_apps.lite`` runner), ready
    to ``predict``; both give the same results for the same inputs."""
    from rnn_apps.lite.runtime import is_export

    if is_export(path):
        from rnn_apps.lite.runtime import load as load_export

        return load_export(path)
    if Path(path).is_dir() and not (Path(path) / "run.json").is_file():
        raise UserError(f"{path} is neither an rnn-apps run directory (no run.json) nor a TFLite export "
                        f"(no manifest.json)")
    return load_run(path)


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory back: config, features and ``model.keras`` (the best epoch)."""
    path, meta = read_run(run_dir)
    task = _task(meta["task"])
    cfg = load_config(task.config_class, path / "config.yaml")
    if not (path / "model.keras").is_file():
        raise UserError(f"{path} has no model.keras yet (training did not finish; continue it with --resume)")
    features = task.features(cfg).load(path)
    return Run(path, task, cfg, features, load_model(path / "model.keras"), meta)


def train(task: Any = None, *, data: str | None = None, config: str | Path | None = None,
          overrides: Iterable[str] = (), preset: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, seed: int | None = None, run_dir: str | Path | None = None,
          resume: str | Path | None = None, console: Any = None) -> Path:
    """Train ``task`` (a registered name, or a ``Task`` record of your own) and return its
    run directory; with ``resume=RUN_DIR`` continue that run instead (see
    ``rnn_apps.training.loop.train`` for every argument)."""
    from rnn_apps.training.loop import train as train_loop

    if resume is not None:
        record = _task(read_run(resume)[1]["task"])
    elif task is None:
        raise UserError("name a task to train (or --resume RUN_DIR)")
    else:
        record = _task(task)
    return train_loop(record, data=data, config=config, overrides=overrides, preset=preset, epochs=epochs,
                      batch_size=batch_size, seed=seed, run_dir=run_dir, resume=resume, console=console)


def evaluate(run_dir: str | Path, data: str | None = None, **options) -> dict:
    """Metrics of the run's model on ``data`` (all of it), or on the run's own test split.

    ``options`` are the output kind's evaluation settings (sequences: ``beam``,
    ``length_penalty``, ``max_length``); None means the default.
    """
    return load_run(run_dir).evaluate(data, **options)


def predict(run_dir: str | Path, inputs: list, **options) -> list[dict]:
    """Predictions for raw inputs: bare values for the task's first input (texts for the
    text tasks), or dicts by input name. ``run_dir`` may also be a TFLite export folder,
    which runs without TensorFlow.

    ``options`` are the output kind's settings, None meaning the run's default: for
    sequences ``beam``, ``length_penalty``, ``max_length``, ``attention_plot`` (a PNG path)
    and the sampling settings ``temperature``, ``top_k``, ``top_p``, ``seed``; for
    language models the sampling settings and ``max_length`` (tokens to generate).
    """
    return load(run_dir).predict(inputs, **options)


def generate(run_dir: str | Path, prompt: str = "", length: int = 200, *, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, greedy: bool = False, seed: int | None = None,
             num_samples: int = 1, stream: bool = False):
    """Continue ``prompt`` with a language-model run (or its TFLite export).

    Returns ``{"prompt", "samples": [text, ...], "seed", ...}``; with ``stream=True`` an
    iterator of per-chunk lists of new text (one entry per sample) instead.
    """
    from rnn_apps.decoding.settings import Sampling

    model = load(run_dir)
    if model.output.kind != "next_token":
        what = f"{model.task.name} run" if isinstance(model, Run) else f"{model.task} export"
        raise UserError(f"{run_dir} is a {what}; generate needs a language model (textgen)")
    sampling = Sampling(greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    if stream:
        return model.stream(prompt, length, sampling, num_samples)
    samples = model.generate(prompt, length, sampling, num_samples)
    return {"prompt": prompt, "samples": samples, "length": length, "seed": sampling.seed,
            "sampling": dataclasses.asdict(sampling)}


def info(run_dir: str | Path) -> dict:
    """Task, data, config, parameter count and final metrics of a run."""
    run = load_run(run_dir)
    metrics_file = run.path / "metrics.json"
    return {"run": str(run.path), "task": run.task.name, "shape": run.task.shape, "data": run.meta["data"] or "builtin",
            "created": run.meta.get("created"), "parameters": int(run.model.count_params()),
            "config": dataclasses.asdict(run.cfg),
            "metrics": json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}}


def export(run_dir: str | Path, format: str = "savedmodel", out: str | Path | None = None, **options) -> Path:
    """Export a run in ``format`` (see ``rnn_apps.exporters.EXPORTERS``) to ``out`` (default
    ``RUN_DIR/export/FORMAT``); returns the directory, written atomically."""
    from rnn_apps.exporters import EXPORTERS
    from rnn_apps.exporters import export as write_export

    if format not in EXPORTERS:  # before loading the run: a typo should fail fast
        raise UserError(f"unknown export format {format!r}; formats: {', '.join(EXPORTERS)}")
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.path / "export" / format
    return write_export(run, format, out, **options)
