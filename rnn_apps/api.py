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
from typing import Any

from rnn_apps.config import load_config
from rnn_apps.errors import UserError
from rnn_apps.runs import atomic_dir, read_run
from rnn_apps.training import train  # noqa: F401  (re-exported)


@dataclasses.dataclass
class Run:
    """A trained run loaded back: its task, config, preprocessing and best model."""

    path: Path
    task: Any
    cfg: Any
    prep: Any
    model: Any
    meta: dict


def load_run(run_dir: str | Path) -> Run:
    import keras

    from rnn_apps.models import get_task

    path, meta = read_run(run_dir)
    task = get_task(meta["task"])
    cfg = load_config(task.config_class, path / "config.yaml")
    if not (path / "model.keras").is_file():
        raise UserError(f"{path} has no model.keras yet (training did not finish; continue it with --resume)")
    model = keras.models.load_model(path / "model.keras")
    return Run(path, task, cfg, task.load_preprocessing(cfg, path), model, meta)


def _checked_options(run: Run, options: dict, kind: str) -> dict:
    """The options that were given (not None); an error names those the task does not take."""
    given = {k: v for k, v in options.items() if v is not None}
    allowed = getattr(run.prep, f"{kind}_options", ())
    wrong = [k for k in given if k not in allowed]
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        valid = ", ".join("--" + k.replace("_", "-") for k in allowed) or "none"
        raise UserError(f"{flags}: not an option of {kind} for a {run.task.name} run; its options: {valid}")
    return given


def evaluate(run_dir: str | Path, data: str | None = None, **options) -> dict:
    """Metrics of the run's model on ``data`` (all of it), or on the run's own test split.

    ``options`` are the task's evaluation settings (translate: ``beam``,
    ``length_penalty``, ``max_length``); None means the default.
    """
    run = load_run(run_dir)
    options = _checked_options(run, options, "evaluate")
    if data is not None:
        examples = run.task.load_examples(run.cfg, data)
    else:
        examples = run.task.load_examples(run.cfg, run.meta["data"])
        splits = run.task.split_examples(examples, run.cfg)
        part = "test" if len(splits["test"]) else "val"
        examples = splits[part]
        if not len(examples):
            raise UserError(f"{run.path} was trained without test or validation split; pass --data")
    report = run.prep.evaluate(run.model, run.cfg, examples, **options)
    report["data"] = data or f"{run.meta['data'] or 'builtin'} ({part} split)"
    return report


def predict(run_dir: str | Path, inputs: list[str], **options) -> list[dict]:
    """Predictions for raw inputs (texts for the text tasks).

    ``options`` are the task's decoding settings, None meaning the run's default: for
    translate ``beam``, ``length_penalty``, ``max_length``, ``attention_plot`` (a PNG
    path) and the sampling settings ``temperature``, ``top_k``, ``top_p``, ``seed``; for
    textgen the sampling settings and ``max_length`` (tokens to generate).
    """
    if not inputs:
        raise UserError("nothing to predict: give texts as arguments or --input FILE")
    run = load_run(run_dir)
    return run.prep.predict(run.model, list(inputs), **_checked_options(run, options, "predict"))


def generate(run_dir: str | Path, prompt: str = "", length: int = 200, *, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, greedy: bool = False, seed: int | None = None,
             num_samples: int = 1, stream: bool = False):
    """Continue ``prompt`` with a language-model run.

    Returns ``{"prompt", "samples": [text, ...], "seed", ...}``; with ``stream=True`` an
    iterator of per-chunk lists of new text (one entry per sample) instead.
    """
    from rnn_apps.decoding import Sampling

    run = load_run(run_dir)
    if not hasattr(run.prep, "stream"):
        raise UserError(f"{run.path} is a {run.task.name} run; generate needs a language model (textgen)")
    try:
        sampling = Sampling(greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if stream:
        return run.prep.stream(run.model, prompt, length, sampling, num_samples)
    samples = run.prep.generate(run.model, prompt, length, sampling, num_samples)
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


def export(run_dir: str | Path, format: str = "savedmodel", out: str | Path | None = None) -> Path:
    """Write a SavedModel whose signatures take raw inputs; returns its directory.

    The run's vocabularies go to ``assets.extra/``. The export is written to a temporary
    sibling and renamed, so ``out`` is either a complete SavedModel or absent.
    """
    import keras

    if format != "savedmodel":
        raise UserError(f"unknown export format {format!r}; formats: savedmodel")
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.path / "export" / "savedmodel"
    if out.exists():
        raise UserError(f"{out} already exists; remove it or choose another --out")
    archive = keras.export.ExportArchive()
    archive.track(run.model)
    for trackable in run.prep.trackables():
        archive.track(trackable)
    for name, fn in run.prep.serving_functions(run.model).items():
        archive.add_endpoint(name, fn)
    with atomic_dir(out) as tmp:
        archive.write_out(str(tmp), verbose=False)
        (tmp / "assets.extra").mkdir(exist_ok=True)
        run.prep.save(tmp / "assets.extra")  # the vocabularies, for serving without strings (TFLite)
    return out
