"""Everything the CLI does, callable from Python with the same names.

    >>> import rnn_apps
    >>> run = rnn_apps.train("sentiment", preset="small")
    >>> rnn_apps.predict(run, ["not boring at all"])
    >>> rnn_apps.export(run, out="export/sentiment")
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable

from rnn_apps.errors import UserError
from rnn_apps.options import checked
from rnn_apps.runs import load_model, read_json_file, read_run


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
        """The options that were given (not None); an error names those the task does not take,
        or a value out of range (a seed, a number that is not finite, a file that cannot be written)."""
        return checked_values(checked(options, getattr(self.output, f"{command}_options"), command,
                                      f"a {self.task.name} run"))

    def predict(self, inputs: list, **options) -> list[dict]:
        if not inputs:
            raise UserError("nothing to predict: give inputs as arguments or --input FILE")
        options = self.checked_options(options, "predict")
        if self.output.kind == "next_token":
            for i, value in enumerate(inputs):
                prompt = value.get(self.features.primary, "") if isinstance(value, dict) else value
                check_prompt(prompt, f"input {i + 1}")
        return self.output.predict(self.model, self.features, list(inputs), **options)

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
            for name, kind in self.features.inputs.items():  # images, clips: present and readable, by line
                if hasattr(kind, "check") and name in examples.columns:
                    kind.check(examples[name], examples.origins)
        else:
            from rnn_apps.data.splits import load_splits

            splits = load_splits(self.task, self.cfg, self.meta["data"])
            part = "test" if len(splits["test"]) else "val"
            examples, where = splits[part], f"{self.meta['data'] or 'builtin'} ({part} split)"
            if not len(examples):
                raise UserError(f"{self.path} has no test or validation part to evaluate on (its data, "
                                f"{len(splits['train']):,} training examples, were too few to hold any out); "
                                f"pass --data FILE")
        return {**self.output.evaluate(self.model, self.features, examples, **options), "data": where}


def _task(name_or_record: Any):
    from rnn_apps.models import get_task

    return get_task(name_or_record) if isinstance(name_or_record, str) else name_or_record


def load(path: str | Path) -> Any:
    """A run directory (``Run``) or a TFLite export folder (``rnn_apps.lite`` runner), ready
    to ``predict``; both give the same results for the same inputs."""
    from rnn_apps.lite.runtime import is_export

    try:
        export, folder = is_export(path), Path(path).is_dir()
    except OSError as exc:  # a name too long for the system
        shown = str(path) if len(str(path)) <= 240 else f"{str(path)[:120]}... ({len(str(path)):,} characters)"
        raise UserError(f"{shown}: {exc.strerror or exc}") from None
    if export:
        from rnn_apps.lite.runtime import load as load_export

        return load_export(path)
    if folder and not (Path(path) / "run.json").is_file():
        raise UserError(f"{path} is neither an rnn-apps run directory (no run.json) nor a TFLite export "
                        f"(no manifest.json)")
    return load_run(path)


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory back: config, features and ``model.keras`` (the best epoch)."""
    path, meta = read_run(run_dir)
    try:
        task = _task(meta["task"])
    except UserError as exc:  # a run of a task this installation does not have
        raise UserError(f"{path / 'run.json'}: {exc}") from None
    cfg = task.load_config(path / "config.yaml")
    if not (path / "model.keras").is_file():
        raise UserError(f"{path} has no model.keras yet (training did not finish; continue it with --resume)")
    features = task.features(cfg).load(path)
    model = load_model(path / "model.keras")
    _check_labels(path, features, model)
    return Run(path, task, cfg, features, model, meta)


def _check_labels(path: Path, features: Any, model: Any) -> None:
    """A run's label file must fit its model: as many labels as the model has classes (one
    sigmoid unit for two labels). A label file of another run, or a damaged one, is an error
    naming it, instead of labels that silently mean something else."""
    output = features.output
    labels = getattr(getattr(output, "labels", None), "labels", None)
    if not isinstance(labels, list) or len(model.outputs) != 1:
        return
    file = path / getattr(output, "file", "labels.json")
    if not all(isinstance(label, str) for label in labels):
        raise UserError(f"{file} is damaged (expected a JSON list of label names)")
    classes = model.outputs[0].shape[-1]
    expected = 1 if output.kind == "label" and len(labels) == 2 else len(labels)
    if classes != expected:
        raise UserError(f"{file} names {len(labels)} labels but {path / 'model.keras'} has {classes} output "
                        f"{'unit' if classes == 1 else 'classes'}: a label file of another run, or a damaged one")


# The limits and value checks live with the option catalogue (TensorFlow-free, so the
# on-device runtime uses them too); imported here under their old names.
from rnn_apps.options import (MAX_NEW_TOKENS, MAX_PROMPT_CHARS, MAX_SAMPLES, MAX_SEED,  # noqa: E402,F401
                              check_prompt, checked_values)


def train(task: Any = None, *, data: str | None = None, config: str | Path | None = None,
          overrides: Iterable[str] = (), preset: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, seed: int | None = None, run_dir: str | Path | None = None,
          resume: str | Path | None = None, console: Any = None, cluster: Any = None,
          callbacks: Iterable[Any] = (), allow_new_data: bool = False) -> Path:
    """Train ``task`` (a registered name, or a ``Task`` record of your own) and return its
    run directory; with ``resume=RUN_DIR`` continue that run instead (on its own task and
    data: another task is refused, other data unless ``allow_new_data``); with ``cluster`` (or a
    ``TF_CONFIG`` naming several workers) data-parallel; ``callbacks``: Keras callbacks added
    after the run's own (see ``rnn_apps.training.loop.train`` for every argument)."""
    from rnn_apps.training.distributed import cluster_from_env
    from rnn_apps.training.loop import train as train_loop

    from rnn_apps.runs import check_run_dir, default_run_dir

    if cluster is None and resume is None and run_dir is None:  # before the strategy waits for its peers
        from rnn_apps.training.distributed import read_tf_config

        if read_tf_config() is not None:
            raise UserError("training on several workers (TF_CONFIG) needs --run-dir, on storage every worker can "
                            "read (the chief writes it; the others read its vocabularies and checkpoints)")
    cluster = cluster if cluster is not None else cluster_from_env()  # before any other TensorFlow work
    if resume is not None:
        path, meta = read_run(resume)
        try:
            record = _task(meta["task"])
        except UserError as exc:
            raise UserError(f"{path / 'run.json'}: {exc}") from None
        named = task if task is None or isinstance(task, str) else getattr(task, "name", None)
        if named is not None and named != record.name:
            raise UserError(f"{path} is a {record.name} run; --resume continues it as {record.name}, not {named} "
                            f"(leave out the task, or train {named} without --resume)")
    elif task is None:
        raise UserError("name a task to train (or --resume RUN_DIR)")
    else:
        record = _task(task)
        if cluster is None or cluster.chief:  # before the data are read: fail fast where no run can be written
            check_run_dir(Path(run_dir) if run_dir is not None else default_run_dir(record.name))
    from rnn_apps.task import NotStreamed

    try:
        return train_loop(record, data=data, config=config, overrides=overrides, preset=preset, epochs=epochs,
                          batch_size=batch_size, seed=seed, run_dir=run_dir, resume=resume, console=console,
                          cluster=cluster, callbacks=callbacks, allow_new_data=allow_new_data)
    except NotStreamed as exc:
        from rnn_apps.models import TASKS, get_task

        streaming = ", ".join(sorted(name for name in TASKS if get_task(name).stream_examples is not None))
        raise UserError(f"{exc}; the tasks that read files as a stream are {streaming}") from None


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
    check_prompt(prompt)
    checked_values({"temperature": float(temperature), "top_p": float(top_p), "seed": seed, "length": length})
    if not 1 <= num_samples <= MAX_SAMPLES:
        raise UserError(f"--num-samples must be between 1 and {MAX_SAMPLES:,}, got {num_samples:,}")
    sampling = Sampling(greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    if stream:
        return model.stream(prompt, length, sampling, num_samples)
    samples = model.generate(prompt, length, sampling, num_samples)
    return {"prompt": prompt, "samples": samples, "length": length, "seed": sampling.seed,
            "sampling": dataclasses.asdict(sampling)}


def info(run_dir: str | Path) -> dict:
    """Task, data, config, parameter count and final metrics of a run; of a run whose
    training has not finished (no ``model.keras`` yet): how far it got instead (``finished``
    False, ``epochs_done`` of ``config["epochs"]``, the last checkpoint, the history so far)."""
    path, meta = read_run(run_dir)
    if not (path / "model.keras").is_file():
        return _unfinished(path, meta)
    run = load_run(run_dir)
    metrics_file = run.path / "metrics.json"
    return {"run": str(run.path), "task": run.task.name, "shape": run.task.shape, "data": run.meta["data"] or "builtin",
            "created": run.meta.get("created"), "parameters": int(run.model.count_params()),
            "config": dataclasses.asdict(run.cfg), "finished": True,
            "metrics": _metrics(metrics_file)}


def _unfinished(path: Path, meta: dict) -> dict:
    """``info`` of a run still training, or stopped before its end: read from its checkpoint
    state (``checkpoints/state.json``) and ``history.json``, nothing loaded or written."""
    try:
        task = _task(meta["task"])
    except UserError as exc:
        raise UserError(f"{path / 'run.json'}: {exc}") from None
    cfg = task.load_config(path / "config.yaml")
    state_file, history_file = path / "checkpoints" / "state.json", path / "history.json"
    state = read_json_file(state_file) if state_file.is_file() else {}
    history = read_json_file(history_file) if history_file.is_file() else state.get("history", {})
    if not isinstance(state, dict) or not isinstance(history, dict):
        raise UserError(f"{state_file if not isinstance(state, dict) else history_file} is damaged "
                        f"(expected a JSON object)")
    last = state.get("last")
    checkpoint = path / "checkpoints" / str(last) if last else None
    return {"run": str(path), "task": task.name, "shape": task.shape, "data": meta["data"] or "builtin",
            "created": meta.get("created"), "parameters": None, "config": dataclasses.asdict(cfg),
            "finished": False, "epochs_done": int(state.get("epochs_done", 0)), "epochs": cfg.epochs,
            "last_checkpoint": str(checkpoint) if checkpoint is not None and checkpoint.is_file() else None,
            "history": {k: v for k, v in history.items() if isinstance(v, list)},
            "resume": f"rnn-apps train --resume {path}", "metrics": {}}


def _metrics(path: Path) -> dict:
    """A run's ``metrics.json`` ({} before training finished); a damaged one names the file."""
    if not path.is_file():
        return {}
    metrics = read_json_file(path)
    if not isinstance(metrics, dict):
        raise UserError(f"{path} is damaged (expected a JSON object of reports)")
    return metrics


def export(run_dir: str | Path, format: str = "savedmodel", out: str | Path | None = None, **options) -> Path:
    """Export a run in ``format`` (see ``rnn_apps.exporters.EXPORTERS``) to ``out`` (default
    ``RUN_DIR/export/FORMAT``); returns the directory, written atomically."""
    from rnn_apps.exporters import EXPORTERS
    from rnn_apps.exporters import export as write_export

    if format not in EXPORTERS:  # before loading the run: a typo should fail fast
        raise UserError(f"unknown export format {format!r}; formats: {', '.join(EXPORTERS)}")
    if out is not None:  # before loading the run: fail fast, write nothing
        from rnn_apps.runs import check_new_path

        check_new_path(out)
        if Path(out).exists():
            raise UserError(f"{out} already exists; remove it or choose another --out")
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.path / "export" / format
    return write_export(run, format, out, **options)
