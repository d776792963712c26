"""Hyperparameter search on Optuna: a space file, a study in storage, ordinary runs per trial.

    space file (YAML, the same keys as ``--set``)      study (Optuna storage)
      learning_rate: {log_uniform: [1e-4, 1e-2]}   ->   trial N: ask -> params -> rnn_apps.train
      cell: {choice: [gru, lstm]}                        -> STUDY_DIR/trials/000N (a run directory)
      units: {int: [32, 256], step: 32}                  -> tell(validation metric) or PRUNED
      epochs: 4                  (a plain value: fixed)

Why Optuna: small and pure Python, TPE sampling, median/Hyperband pruning fed by values
reported per epoch, and studies shared by several processes or hosts through its storage
(a journal file in ``--study-dir`` on a shared file system, or an RDB ``--storage`` URL).
Nothing here schedules work: every process runs trials one after another until the study
holds the requested number of finished ones (complete or pruned).

Decisions, each tested:
- A trial is ``rnn_apps.train`` into ``STUDY_DIR/trials/NNNN``; ``evaluate``, ``predict``,
  ``export`` and ``compare`` work on it. Its objective is the *validation* report's metric
  (``metrics.json``), never the test split; ``trial.json`` in the run names the study, the
  trial and its state.
- Pruning reports ``val_<metric>`` after each epoch; a pruned trial stops at the end of that
  epoch and is still an ordinary finished run (best checkpoint, reports) marked pruned.
- Resuming: a rerun counts finished trials and runs the rest. A trial left RUNNING by a
  process that died (its pid is gone on this host, or its heartbeat file is older than
  ``STALE_SECONDS``; RDB storages use Optuna's own heartbeat) is marked FAIL and its
  unfinished run directory removed, so at most the trials in flight are lost.
- Several processes may together start up to one trial more each than requested: a trial is
  started when finished + running < requested, and two can look at the same moment.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import socket
import threading
import time
import typing
import warnings
from pathlib import Path
from typing import Any, Iterable

import yaml

from rnn_apps.config import _checked, _hints, field_names, read_config_file, resolve_config
from rnn_apps.data.readers import read_text_file
from rnn_apps.errors import Interrupted, UserError

KINDS = ("uniform", "log_uniform", "int", "choice")
PRUNERS = ("median", "hyperband", "none")
LOWER_IS_BETTER = ("loss", "perplexity", "cer", "wer", "ter", "error")
JOURNAL = "study.journal"
STALE_SECONDS = 300  # a RUNNING trial whose heartbeat is older is taken as dead (other hosts)
HEARTBEAT_SECONDS = 30


# --- the space file ---------------------------------------------------------------------------

@dataclasses.dataclass
class Param:
    """One searched (or fixed) config key: ``kind`` is one of ``KINDS`` or ``fixed``."""

    key: str
    kind: str
    line: int
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list | None = None
    value: Any = None

    def suggest(self, trial: Any) -> Any:
        """The value of this key for an Optuna ``trial``."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step,
                                   log=self.kind == "log_uniform" or self.log)


@dataclasses.dataclass
class Space:
    """The parsed space file: ``params`` by config key, in file order; ``raw`` as written."""

    file: Path
    params: dict[str, Param]
    raw: dict

    def sample(self, trial: Any) -> dict[str, Any]:
        return {key: param.suggest(trial) for key, param in self.params.items()}


def read_space(path: str | Path, config_class: type) -> Space:
    """Parse and check a space file against ``config_class`` before anything runs.

    Every entry is ``KEY: VALUE`` (fixed) or ``KEY: {KIND: ..., [step: S], [log: true]}``
    with KIND one of ``uniform: [LOW, HIGH]``, ``log_uniform: [LOW, HIGH]``, ``int: [LOW,
    HIGH]``, ``choice: [A, B, ...]``. An unknown key, a repeated key, a bad range, a value
    outside the key's bounds or of the wrong type is a ``UserError`` naming FILE:LINE."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"space file not found: {path}")
    text = read_text_file(path)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise UserError(f"{path}: the space file is empty; name config keys to search, e.g. "
                            f"learning_rate: {{log_uniform: [1e-4, 1e-2]}}")
        if not isinstance(root, yaml.MappingNode):
            raise UserError(f"{path}:{root.start_mark.line + 1}: a space file is a mapping of config key: range")
        params, raw = {}, {}
        for key_node, value_node in root.value:
            line = key_node.start_mark.line + 1
            key = loader.construct_object(key_node, deep=True)
            if key in params:
                raise UserError(f"{path}:{line}: {key!r} is given twice (first on line {params[key].line})")
            value = loader.construct_object(value_node, deep=True)
            params[key] = _param(config_class, str(key), value, f"{path}:{line}", line)
            raw[key] = value
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    finally:
        loader.dispose()
    if not any(p.kind != "fixed" for p in params.values()):
        raise UserError(f"{path}: nothing to search (every key has a fixed value); give a range, e.g. "
                        f"units: {{int: [32, 256], step: 32}}")
    return Space(path, params, raw)


def _param(cls: type, key: str, value: Any, where: str, line: int) -> Param:
    """One entry of the space file, checked against the config field's type and bounds."""
    hints = _hints(cls)
    if key not in hints:
        raise UserError(f"{where}: unknown config key {key!r}; valid keys: {', '.join(field_names(cls))}")
    hint = hints[key]
    value = _numbers(value) if hint in (int, float) else value
    if not isinstance(value, dict):
        _checked(cls, {key: value}, where)
        return Param(key, "fixed", line, value=value)
    kinds = [k for k in value if k in KINDS]
    extra = [k for k in value if k not in (*KINDS, "step", "log")]
    if len(kinds) != 1 or extra:
        raise UserError(f"{where}: {key!r} needs exactly one of {', '.join(KINDS)} (and optionally step, log); "
                        f"got {', '.join(map(str, value)) or 'nothing'}")
    kind, spec = kinds[0], value[kinds[0]]
    if kind == "choice":
        if not isinstance(spec, list) or not spec or "step" in value or "log" in value:
            raise UserError(f"{where}: {key!r}: choice takes a non-empty list of values, e.g. choice: [gru, lstm]")
        for option in spec:
            _checked(cls, {key: option}, where)
        if len({json.dumps(option) for option in spec}) != len(spec):
            raise UserError(f"{where}: {key!r}: a choice is listed twice")
        return Param(key, "choice", line, choices=list(spec))
    number = int if kind == "int" else float
    if hint is not number:
        want = ("{int: [LOW, HIGH]}" if hint is int else "{uniform: [LOW, HIGH]} or {log_uniform: [LOW, HIGH]}"
                if hint is float else "{choice: [...]}")
        raise UserError(f"{where}: {key!r} is {_kind_of(hint)}; {kind} does not fit it (use {want})")
    if (not isinstance(spec, list) or len(spec) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec)
            or (kind == "int" and not all(isinstance(v, int) for v in spec))):
        raise UserError(f"{where}: {key!r}: {kind} takes [LOW, HIGH] ({'integers' if kind == 'int' else 'numbers'}), "
                        f"got {spec!r}")
    low, high = spec
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise UserError(f"{where}: {key!r}: {kind} needs LOW < HIGH, got [{low}, {high}]")
    step, log = value.get("step"), value.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"{where}: {key!r}: log is true or false, got {log!r}")
    if (kind == "log_uniform" or log) and low <= 0:  # before the key's own range: the range's rule comes first
        raise UserError(f"{where}: {key!r}: a log range needs LOW > 0, got {low}")
    _checked(cls, {key: number(low)}, where)
    _checked(cls, {key: number(high)}, where)
    if step is not None:
        if (not isinstance(step, (int, float)) or isinstance(step, bool) or step <= 0
                or (kind == "int" and not isinstance(step, int))):
            raise UserError(f"{where}: {key!r}: step must be a positive {'integer' if kind == 'int' else 'number'}, "
                            f"got {step!r}")
        if log or kind == "log_uniform":
            raise UserError(f"{where}: {key!r}: step and a log range cannot be combined")
        if abs(round((high - low) / step) * step - (high - low)) > 1e-9 * max(1.0, abs(high - low)):
            raise UserError(f"{where}: {key!r}: HIGH - LOW ({high - low:g}) is not a multiple of step {step:g}")
    return Param(key, kind, line, low=low, high=high, step=step, log=log)


def _numbers(value: Any) -> Any:
    """YAML 1.1 (PyYAML) reads ``1e-4`` (no dot) as a string: numbers written so become numbers."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value) if any(c in value.lower() for c in ".e") else int(value)
        return value
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


def _kind_of(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "a choice of " + ", ".join(map(str, typing.get_args(hint)))
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def as_overrides(params: dict[str, Any]) -> list[str]:
    """Trial values as ``--set`` strings (booleans as true/false, floats exactly)."""
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return repr(value) if isinstance(value, float) else str(value)

    return [f"{key}={text(value)}" for key, value in params.items()]


# --- storage -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Study:
    """An Optuna study with where its runs live: ``runs`` = STUDY_DIR/trials."""

    study: Any
    storage: Any
    directory: Path
    journal: bool

    @property
    def settings(self) -> dict:
        return self.study.user_attrs.get("rnn_apps", {})


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UserError("rnn-apps tune needs Optuna: pip install 'rnn-apps[tune]' (optuna==5.0.0)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def open_storage(study_dir: str | Path | None, storage: str | None, create: bool) -> tuple[Any, Path, bool]:
    """The Optuna storage: ``storage`` (an RDB URL, with heartbeats) or the journal file in
    ``study_dir``; and the folder that holds the trial runs and the report."""
    optuna = _optuna()
    if storage is None and study_dir is None:
        raise UserError("give --study-dir DIR (a study in a folder) or --storage URL (e.g. sqlite:///study.db)")
    if storage is not None:
        try:
            with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5.0
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                backend = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_SECONDS,
                                                     grace_period=STALE_SECONDS)
        except (ImportError, ValueError, RuntimeError) as exc:
            raise UserError(f"cannot open storage {storage}: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # SQLAlchemy's errors (a bad URL, a server that does not answer)
            raise UserError(f"cannot open storage {storage}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        return backend, Path(study_dir) if study_dir else Path("runs") / "tune", False
    directory = Path(study_dir)
    journal = directory / JOURNAL
    if not journal.is_file():
        if not create:
            raise UserError(f"{directory} is not a study directory (no {JOURNAL}); give the --study-dir a study "
                            f"was run in")
        from rnn_apps.runs import check_new_path

        check_new_path(directory)
        directory.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    backend = JournalFileBackend(str(journal), lock_obj=JournalFileOpenLock(str(journal)))
    return optuna.storages.JournalStorage(backend), directory, True


def load_study(study_dir: str | Path | None = None, storage: str | None = None,
               study_name: str | None = None) -> Study:
    """An existing study (the only one in its storage when ``study_name`` is None)."""
    optuna = _optuna()
    backend, directory, journal = open_storage(study_dir, storage, create=False)
    names = [s.study_name for s in backend.get_all_studies()]
    if study_name is None:
        if len(names) != 1:
            raise UserError(f"{study_dir or storage} holds {'no study' if not names else 'several studies'}"
                            f"{': ' + ', '.join(names) if names else ''}; name one with --study-name")
        study_name = names[0]
    if study_name not in names:
        raise UserError(f"no study {study_name!r} in {study_dir or storage}; studies: {', '.join(names) or 'none'}")
    study = optuna.load_study(study_name=study_name, storage=backend)
    if storage is not None and study_dir is None:
        directory = directory / study_name
    return Study(study, backend, directory, journal)


# --- trials ---------------------------------------------------------------------------------------

def _process_start(pid: int) -> str:
    """When process ``pid`` started (ticks since boot, Linux), to tell a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or not _process_start(pid) or _process_start(pid) == started


def fail_stale_trials(study: Study, console: Any = None) -> list[int]:
    """Mark FAIL the RUNNING trials whose process is gone: same host and pid no longer
    running, or (journal) a heartbeat file older than ``STALE_SECONDS``; RDB storages also
    through Optuna's heartbeat. Their unfinished run directories are removed."""
    optuna = _optuna()
    if not study.journal:
        optuna.storages.fail_stale_trials(study.study)
    failed = []
    host = socket.gethostname()
    for trial in study.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if "pid" not in attrs:
            continue
        beat = study.directory / "heartbeats" / str(trial.number)
        dead = (attrs.get("host") == host and not _alive(int(attrs["pid"]), attrs.get("pid_start", ""))) or (
            study.journal and beat.is_file() and time.time() - beat.stat().st_mtime > STALE_SECONDS)
        if not dead:
            continue
        with contextlib.suppress(Exception):  # another process may have failed it first
            study.storage.set_trial_user_attr(trial._trial_id, "note", "its process died; failed at the next start")
            study.storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            failed.append(trial.number)
            run = study.directory / attrs.get("run", "")
            if attrs.get("run") and run.is_dir() and not (run / "metrics.json").is_file():
                shutil.rmtree(run, ignore_errors=True)
            beat.unlink(missing_ok=True)
    if failed and console is not None:
        console.print(f"trials {', '.join(map(str, failed))} were left running by a process that died: failed")
    return failed


@contextlib.contextmanager
def heartbeat(study: Study, trial: Any):
    """While a trial runs: touch ``heartbeats/N`` (journal) or record Optuna's heartbeat (RDB)."""
    stop = threading.Event()
    beat = study.directory / "heartbeats" / str(trial.number)

    def loop():
        while True:
            with contextlib.suppress(Exception):
                if study.journal:
                    beat.parent.mkdir(parents=True, exist_ok=True)
                    beat.touch()
                else:
                    study.storage.record_heartbeat(trial._trial_id)
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        beat.unlink(missing_ok=True)


def pruning_callback(trial: Any, metric: str):
    """A Keras callback: after each epoch report ``val_<metric>`` to ``trial`` (step = epoch
    number) and stop training, at the end of that epoch, when the pruner says so."""
    import keras

    class Pruning(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.pruned_after, self.missing = None, False

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(f"val_{metric}")
            if value is None or not math.isfinite(float(value)):
                self.missing = value is None
                return
            trial.report(float(value), epoch + 1)
            if trial.should_prune():
                self.pruned_after = epoch + 1
                self.model.stop_training = True

    return Pruning()


def deadline_callback(deadline: float):
    """A Keras callback that stops training at the end of the step during which the study's
    ``--time-budget`` runs out (``deadline`` on ``time.monotonic``); the epoch is still
    validated and checkpointed, so the trial is a complete run."""
    import keras

    class Deadline(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() >= deadline:
                self.model.stop_training = True

    return Deadline()


def direction_of(metric: str) -> str:
    return "minimize" if any(metric.endswith(word) for word in LOWER_IS_BETTER) else "maximize"


def make_pruner(name: str, epochs: int):
    """median: a trial below the median of earlier trials at the same epoch (after 3 finished
    trials, from epoch 2); hyperband: successive halving over 1..epochs epochs; none."""
    optuna = _optuna()
    if name not in PRUNERS:
        raise UserError(f"unknown pruner {name!r}; pruners: {', '.join(PRUNERS)}")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)  # steps are epoch numbers
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 2))
    return optuna.pruners.NopPruner()


# --- the study ------------------------------------------------------------------------------------

def tune(task: Any = None, space: str | Path | None = None, *, trials: int = 20, time_budget: float | None = None,
         metric: str = "loss", direction: str | None = None, study_dir: str | Path | None = None,
         storage: str | None = None, study_name: str | None = None, pruner: str = "median",
         data: str | None = None, config: str | Path | None = None, overrides: Iterable[str] = (),
         preset: str | None = None, epochs: int | None = None, batch_size: int | None = None,
         seed: int | None = None, sampler_seed: int | None = None, report: str | Path | None = None,
         console: Any = None) -> dict:
    """Search ``space`` for ``task`` (or, with ``report=STUDY_DIR``, only report that study).

    Runs trials until the study holds ``trials`` finished ones (complete or pruned) or
    ``time_budget`` minutes have passed (the trial then running stops at its next step and is
    kept); a rerun of the same call continues the study. Returns the report (``study_report``).

    Args:
        task: a task name; space: the YAML space file (see ``read_space``).
        metric, direction: the validation report's metric to optimise; direction ``min`` or
            ``max`` (default: min for losses, perplexity and error rates, else max).
        study_dir: the study's folder (journal storage, ``trials/`` runs, ``report/``).
        storage, study_name: an Optuna RDB URL shared by several hosts (then ``study_dir``
            only holds runs: default ``runs/tune/STUDY_NAME``) and the study's name
            (default: the task's name).
        pruner: median, hyperband or none.
        data, config, overrides, preset, epochs, batch_size, seed: as for ``rnn_apps.train``;
            the trial's values are added after ``overrides``.
        sampler_seed: seed of the TPE sampler (default: random; processes sharing a study
            should not share one).
    """
    from rich.console import Console

    console = console or Console(stderr=True)
    if report is not None:
        # report: the study folder, or with ``storage`` the study's name
        if storage is None:
            return study_report(load_study(report, None, study_name))
        return study_report(load_study(study_dir, storage, study_name or str(report)))
    if task is None or space is None:
        raise UserError("name a TASK and a --space file (or --report STUDY_DIR)")
    plan = _plan(task, space, metric, direction, data, config, overrides, preset, epochs, batch_size, seed,
                 trials, pruner, time_budget)
    study = _open_study(plan, study_dir, storage, study_name, sampler_seed)
    console.print(f"[bold]study[/] {study.study.study_name} in {study.directory}: {plan['metric']} "
                  f"({plan['direction']}), {trials} trials, pruner {pruner}", highlight=False)
    deadline = time.monotonic() + time_budget * 60 if time_budget else None
    try:
        while _run_one(study, plan, deadline, console):
            pass
    except BaseException:  # Ctrl-C, a metric the task does not report: the report of what is done
        with contextlib.suppress(Exception):
            study_report(study)
        raise
    return study_report(study)


def _plan(task, space, metric, direction, data, config, overrides, preset, epochs, batch_size, seed, trials,
          pruner, time_budget) -> dict:
    """Everything checked before a study is opened: task, space, base config, metric."""
    from rnn_apps.api import _task
    from rnn_apps.training.loop import data_source

    record = _task(task)
    if trials < 1:
        raise UserError(f"--trials must be at least 1, got {trials}")
    if time_budget is not None and not (math.isfinite(time_budget) and time_budget > 0):
        raise UserError(f"--time-budget is minutes > 0, got {time_budget}")
    if direction not in (None, "min", "max", "minimize", "maximize"):
        raise UserError(f"--direction is min or max, got {direction!r}")
    if pruner not in PRUNERS:
        raise UserError(f"unknown pruner {pruner!r}; pruners: {', '.join(PRUNERS)}")
    parsed = read_space(space, record.config_class)
    overrides = list(overrides)
    twice = sorted({item.partition("=")[0].strip() for item in overrides} & set(parsed.params))
    if twice:
        raise UserError(f"{', '.join(twice)} {'is' if len(twice) == 1 else 'are'} in the space file {space} and in "
                        f"--set; keep one")
    base = resolve_config(record.config_class, presets=record.presets, preset=preset, file=config,
                          overrides=overrides, epochs=epochs, batch_size=batch_size, seed=seed)
    if not (base.val_fraction > 0 or base.val_data):
        raise UserError("tuning chooses on the validation split; val_fraction is 0 and there is no val_data")
    for key, given in {"epochs": epochs, "batch_size": batch_size, "seed": seed}.items():
        if key in parsed.params and given is not None:
            raise UserError(f"{key} is in the space file {space} and given as --{key.replace('_', '-')}; keep one")
    max_epochs = parsed.params["epochs"].high if "epochs" in parsed.params and parsed.params["epochs"].high \
        else base.epochs
    settings = {"task": record.name, "space": parsed.raw, "metric": metric,
                "direction": "minimize" if direction in ("min", "minimize") else "maximize" if direction else
                direction_of(metric),
                "data": data_source(data), "preset": preset,
                "config": read_config_file(config) if config else None, "overrides": overrides,
                "epochs": epochs, "batch_size": batch_size, "seed": seed}
    return {**settings, "record": record, "parsed": parsed, "trials": trials, "pruner": pruner,
            "max_epochs": int(max_epochs), "config_file": config, "stored": settings}


def _open_study(plan: dict, study_dir, storage, study_name, sampler_seed) -> Study:
    optuna = _optuna()
    backend, directory, journal = open_storage(study_dir, storage, create=True)
    name = study_name or plan["task"]
    if storage is not None and study_dir is None:
        directory = directory / name
    study = optuna.create_study(storage=backend, study_name=name, direction=plan["direction"], load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=sampler_seed),
                                pruner=make_pruner(plan["pruner"], plan["max_epochs"]))
    stored = json.loads(json.dumps(plan["stored"]))  # as the storage gives it back
    before = study.user_attrs.get("rnn_apps")
    if before is None:
        study.set_user_attr("rnn_apps", stored)
    elif before != stored:
        differ = [key for key in stored if before.get(key) != stored[key]]
        raise UserError(f"study {name!r} in {study_dir or storage} was started with another {', '.join(differ)}; "
                        f"rerun it as it was started, or choose another --study-dir / --study-name")
    return Study(study, backend, directory, journal)


def _count(study: Study) -> tuple[int, int]:
    """(finished: complete or pruned, running) trials of the study."""
    from optuna.trial import TrialState

    trials = study.study.get_trials(deepcopy=False)
    return (sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials),
            sum(t.state == TrialState.RUNNING for t in trials))


def _run_one(study: Study, plan: dict, deadline: float | None, console: Any) -> bool:
    """Run one trial if the study needs one and time is left; False when there is nothing to do."""
    import keras
    from optuna.trial import TrialState

    import rnn_apps

    fail_stale_trials(study, console)
    finished, running = _count(study)
    left = deadline - time.monotonic() if deadline else None
    if finished + running >= plan["trials"] or (left is not None and left <= 1):
        if running and finished < plan["trials"]:
            console.print(f"{finished} trials finished, {running} running in other processes: leaving them those")
        return False
    trial = study.study.ask()
    run = study.directory / "trials" / f"{trial.number:04d}"
    for key, value in {"pid": os.getpid(), "pid_start": _process_start(os.getpid()), "host": socket.gethostname(),
                       "run": str(run.relative_to(study.directory))}.items():
        trial.set_user_attr(key, value)
    params = plan["parsed"].sample(trial)
    console.print(f"[bold]trial {trial.number}[/] ({finished + 1}/{plan['trials']}): "
                  f"{'  '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in params.items())}",
                  highlight=False)
    pruning = pruning_callback(trial, plan["metric"])
    extra = [pruning] + ([deadline_callback(deadline)] if deadline is not None else [])
    try:
        if run.exists():  # left by an earlier storage of the same folder
            shutil.rmtree(run)
        with heartbeat(study, trial):
            rnn_apps.train(plan["record"], data=plan["data"], config=plan["config_file"],
                           overrides=[*plan["overrides"], *as_overrides(params)], preset=plan["preset"],
                           epochs=plan["epochs"], batch_size=plan["batch_size"], seed=plan["seed"], run_dir=run,
                           console=console, callbacks=extra)
        value = trial_value(run, plan["metric"])
    except Interrupted:
        study.study.tell(trial, state=TrialState.FAIL)
        raise Interrupted(f"interrupted; trial {trial.number} failed, the study keeps every finished trial: "
                          f"rerun the same command to continue") from None
    except UserError as exc:
        if "not in the validation report" in str(exc):
            study.study.tell(trial, state=TrialState.FAIL)
            raise
        trial.set_user_attr("error", str(exc))
        study.study.tell(trial, state=TrialState.FAIL)
        console.print(f"[red]trial {trial.number} failed[/]: {exc}", soft_wrap=True, highlight=False)
        return True
    except BaseException:
        with contextlib.suppress(Exception):
            study.study.tell(trial, state=TrialState.FAIL)
        raise
    finally:
        keras.backend.clear_session()
    state = TrialState.PRUNED if pruning.pruned_after else TrialState.COMPLETE
    if pruning.pruned_after:
        trial.set_user_attr("pruned_after_epoch", pruning.pruned_after)
    if pruning.missing:
        trial.set_user_attr("note", f"val_{plan['metric']} is not logged per epoch: not pruned")
    trial.set_user_attr("value", value)
    _write_trial_file(run, study, trial.number, params, state.name.lower(), value, pruning.pruned_after)
    study.study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    what = f"pruned after epoch {pruning.pruned_after}" if pruning.pruned_after else "complete"
    console.print(f"trial {trial.number} {what}: val {plan['metric']} {value:.4f}", highlight=False)
    return True


def trial_value(run: Path, metric: str) -> float:
    """The trial's objective: ``metric`` of the run's validation report."""
    from rnn_apps.runs import read_json_file

    report = read_json_file(run / "metrics.json").get("val", {})
    value = report.get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        names = [k for k, v in report.items() if isinstance(v, float)]
        raise UserError(f"metric {metric!r} is not in the validation report of {run}; metrics: {', '.join(names)}")
    return float(value)


def _write_trial_file(run: Path, study: Study, number: int, params: dict, state: str, value: float,
                      pruned_after: int | None) -> None:
    from rnn_apps.runs import write_json

    write_json(run / "trial.json", {"study": study.study.study_name, "study_dir": str(study.directory.resolve()),
                                    "trial": number, "state": state, "value": value, "params": params,
                                    "pruned_after_epoch": pruned_after})


# --- the report -----------------------------------------------------------------------------------

def study_report(study: Study, out: str | Path | None = None) -> dict:
    """The best trial's config and metrics, a row per trial, and plots (optimisation history,
    parameter importances, parallel coordinates) as PNGs in ``out`` (default STUDY_DIR/report),
    with ``report.json`` beside them."""
    from optuna.trial import TrialState

    from rnn_apps.runs import read_json_file, write_json

    settings = study.settings
    out = Path(out) if out is not None else study.directory / "report"
    rows = []
    for trial in study.study.get_trials(deepcopy=False):
        run = study.directory / trial.user_attrs.get("run", f"trials/{trial.number:04d}")
        history = run / "history.json"
        epochs = len(read_json_file(history).get("loss", [])) if history.is_file() else 0
        rows.append({"trial": trial.number, "state": trial.state.name.lower(),
                     "value": trial.user_attrs.get("value", trial.value), "params": trial.params,
                     "epochs": epochs, "pruned_after_epoch": trial.user_attrs.get("pruned_after_epoch"),
                     "run": str(run) if run.is_dir() else None,
                     "note": trial.user_attrs.get("error") or trial.user_attrs.get("note")})
    complete = [t for t in study.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = None
    if complete:
        trial = study.study.best_trial
        run = study.directory / trial.user_attrs.get("run", f"trials/{trial.number:04d}")
        metrics = read_json_file(run / "metrics.json") if (run / "metrics.json").is_file() else {}
        config = read_config_file(run / "config.yaml") if (run / "config.yaml").is_file() else {}
        best = {"trial": trial.number, "value": trial.value, "params": trial.params, "run": str(run),
                "config": config, "metrics": {k: v for k, v in metrics.items() if k in ("val", "test")}}
    plots = _plots(study, out) if complete else {}
    result = {"study": study.study.study_name, "study_dir": str(study.directory), "task": settings.get("task"),
              "metric": settings.get("metric"), "direction": settings.get("direction"), "best": best,
              "trials": rows, "pruned": sum(r["state"] == "pruned" for r in rows), "plots": plots}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", _jsonable(result))
    result["report"] = str(out / "report.json")
    return result


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _plots(study: Study, out: Path) -> dict[str, str]:
    """History, importances and parallel coordinates as PNGs (matplotlib Agg, offline); a plot
    that cannot be drawn yet (importances need two complete trials that differ) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis

    from rnn_apps.runs import temp_sibling

    drawn = {}
    for name, draw in (("history", vis.plot_optimization_history), ("importance", vis.plot_param_importances),
                       ("parallel", vis.plot_parallel_coordinate)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                axes = draw(study.study)
            except (ValueError, RuntimeError, ZeroDivisionError, IndexError):
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(8, 4.5)
        out.mkdir(parents=True, exist_ok=True)
        tmp = temp_sibling(out / f"{name}.png", ".png")
        try:
            figure.savefig(tmp, dpi=110, bbox_inches="tight")
            os.replace(tmp, out / f"{name}.png")
        finally:
            tmp.unlink(missing_ok=True)
            plt.close(figure)
        drawn[name] = str(out / f"{name}.png")
    return drawn
