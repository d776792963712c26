"""The training loop every task shares, in pieces:

    plan (config -> examples -> split -> fit features -> tf.data; nothing written yet)
      -> model (built and compiled, or the last checkpoint of a resumed run)
      -> run directory (created whole, atomically)
      -> fit (Keras ``fit`` with progress, NaN guard, checkpoints, logs, early stopping)
      -> finish (best model, history, validation and test reports)

Everything that can fail on bad input (reading, label checks, vectorization) happens in
the plan, before the run directory exists. Training then writes checkpoints, TensorBoard
logs and history as it goes, so an interrupted run continues with ``resume=RUN_DIR``.
Each piece is a plain function, so a distribution strategy's scope (around ``build``),
chief-only writes (``create_run``, the writing callbacks) or a custom train step (``fit``)
slot in without rewriting the others. ``train`` picks one of three starts (``chief_start``:
a new run; ``resumed_start``: a run's last checkpoint; a worker joining the chief's run) and
every start goes through the same tail, ``fit_and_finish``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

import keras
import tensorflow as tf
from rich.console import Console

from rnn_apps import vectors
from rnn_apps.config import resolve_config, save_config
from rnn_apps.data.examples import Examples
from rnn_apps.data.splits import load_splits
from rnn_apps.data.streaming import ExampleStream
from rnn_apps.errors import Interrupted, UserError
from rnn_apps.runs import (RUN_FILE, check_same_data, create_run_dir, default_run_dir, load_model, new_run_meta,
                           read_json_file, read_run, write_json)
from rnn_apps.task import Features, Task, model_inputs
from rnn_apps.training.callbacks import (Checkpoints, HParams, NaNGuard, NonFiniteError, RichProgress,
                                         StopOnInterrupt, TimeBudget)
from rnn_apps.training.distributed import Cluster, cluster_from_env, fit_distributed, wait_for_run
from rnn_apps.training.optimizers import optimizer_for


@dataclasses.dataclass
class Plan:
    """What a training run will do, decided and checked before anything is written.

    Attributes:
        task, cfg: the task record and the resolved config.
        data: the data source as stored in ``run.json`` (an absolute path, ``tfds:...``,
            or None for the built-in generator).
        splits: ``{"train", "val", "test"}`` examples.
        features: the fitted (or, resuming, loaded) inputs and output.
        datasets: tf.data batches for the non-empty splits.
        run: the run directory when resuming (else None until ``create_run``).
        state: the resumed run's ``checkpoints/state.json`` (else None).
        batch_size: examples per (global) batch: the config's ``batch_size`` x replicas.
        sharded: the training batches are this worker's own (a streamed file on several
            workers), not global batches to slice.
    """

    task: Task
    cfg: Any
    data: str | None
    splits: dict[str, Examples]
    features: Features
    datasets: dict[str, Any]
    run: Path | None = None
    state: dict | None = None
    batch_size: int = 0
    sharded: bool = False

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch. Bucketing makes the count vary a little between epochs, so the
        training set repeats and an epoch is a fixed number of steps (one pass on average)."""
        if getattr(self.cfg, "steps_per_epoch", 0):
            return self.cfg.steps_per_epoch
        steps = int(self.datasets["train"].cardinality())
        return steps if steps > 0 else math.ceil(len(self.splits["train"]) / (self.batch_size or self.cfg.batch_size))


PATH_KEYS = ("val_data", "test_data", "embeddings", "cnn_weights", "clip_dir")  # config keys naming files


def data_source(data: str | None) -> str | None:
    """How a data source is stored: files as absolute paths, so ``evaluate`` and ``--resume``
    work from any directory; ``tfds:`` names and None (built-in) as they are."""
    if data is None or data.startswith("tfds:"):
        return data
    return str(Path(data).expanduser().resolve())


def plan_training(task: Task, cfg: Any, data: str | None, run: Path | None = None,
                  state: dict | None = None, replicas: int = 1, worker: tuple[int, int] = (0, 1)) -> Plan:
    """Read and split the data, fit (or load, when resuming ``run`` or joining the chief's run)
    the features, make the datasets (of global batches: ``batch_size`` x ``replicas``).

    A streamed training split (``streaming: true``) on several workers is sharded instead:
    ``worker`` = ``(index, workers)`` reads every N-th training row into batches of its own
    (``batch_size`` x its replicas), so each worker encodes only its share."""
    keras.utils.set_random_seed(cfg.seed)
    splits = load_splits(task, cfg, data)
    features = task.features(cfg)
    train = splits["train"]
    streamed = isinstance(train, ExampleStream)
    if run is not None:
        features.load(run)
    else:
        features.fit(train.sample if streamed else train)
    batch = cfg.batch_size * replicas
    datasets = {name: features.dataset(part, training=(name == "train"), batch_size=batch)
                for name, part in splits.items() if len(part) and name != "train"}
    if streamed and worker[1] > 1:
        if len(train) < worker[1]:  # a worker with no rows would leave its peers waiting in every all-reduce
            raise UserError(f"{len(train)} training examples cannot be shared by {worker[1]} workers")
        datasets["train"] = features.dataset(train.sharded(*worker), training=True, batch_size=batch // worker[1])
    else:
        datasets["train"] = features.dataset(train, training=True, batch_size=batch)
    return Plan(task, cfg, data_source(data), splits, features, datasets, run, state, batch,
                sharded=streamed and worker[1] > 1)


def build(plan: Plan, cluster: Cluster | None = None) -> keras.Model:
    """The compiled model: new, or the last committed checkpoint of the run being resumed
    (inside the cluster's strategy scope, so its weights are mirrored on every worker)."""
    with cluster.strategy.scope() if cluster else contextlib.nullcontext():
        if plan.run is not None and plan.state:
            model = load_model(plan.run / "checkpoints" / plan.state.get("last", "last.keras"))
            if hasattr(plan.features.output, "bind"):  # an output whose loss holds a layer (a CRF's)
                plan.features.output.bind(model)
            return model
        with precision_policy(getattr(plan.cfg, "precision", "float32")):
            model = plan.task.build_model(plan.cfg, plan.features)
        jit = {"true": True, "false": False}.get(getattr(plan.cfg, "jit_compile", "auto"), "auto")
        model.compile(optimizer=optimizer_for(plan.cfg, plan.cfg.epochs * plan.steps_per_epoch),
                      jit_compile=jit, **plan.features.output.compile_args(plan.features))
        return model


@contextlib.contextmanager
def precision_policy(name: str):
    """Layers built inside compute in ``name``'s dtype (``mixed_bfloat16``: bfloat16 math on
    float32 weights); every model's output layer is float32 so the loss and the softmax stay
    exact. The policy is each layer's own and is saved with it; the global one is restored."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def create_run(plan: Plan, run_dir: Path | None) -> Path:
    """Write config, features and ``run.json`` into a new run directory, atomically."""
    def write(tmp: Path) -> None:
        save_config(plan.cfg, tmp / "config.yaml")
        plan.features.save(tmp)
        write_json(tmp / RUN_FILE, new_run_meta(plan.task.name, plan.data, plan.batch_size // plan.cfg.batch_size))

    return create_run_dir(Path(run_dir) if run_dir else default_run_dir(plan.task.name), write)


def make_callbacks(plan: Plan, run: Path, console: Console, chief: bool = True,
                   extra: Iterable = ()) -> tuple[RichProgress, list]:
    """Progress, the NaN guard (before anything saves), checkpoints with the history,
    TensorBoard logs and HParams (these three on the chief only), the output kind's own (resetting
    carried states), time budget, early stopping, then the caller's ``extra`` callbacks (e.g. a
    tuning study's pruning)."""
    has_val = "val" in plan.datasets
    progress = RichProgress(console, plan.cfg.epochs, plan.steps_per_epoch)
    writers = [Checkpoints(run / "checkpoints", monitor="val_loss" if has_val else "loss", state=plan.state),
               keras.callbacks.TensorBoard(log_dir=str(run / "logs"), write_graph=False),
               HParams(run / "logs", plan.cfg, run.name)] if chief else []
    callbacks = [progress, NaNGuard(), *writers, *plan.features.output.callbacks()]
    if plan.cfg.time_budget > 0:
        callbacks.append(TimeBudget(plan.cfg.time_budget))
    if plan.cfg.early_stopping > 0 and has_val:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=plan.cfg.early_stopping))
    return progress, [*callbacks, *extra]


def fit(model: keras.Model, plan: Plan, callbacks: list, progress: RichProgress, run: Path,
        cluster: Cluster | None = None) -> float:
    """Keras ``fit`` over the repeated training set (under a cluster: the same callbacks
    driven by ``fit_distributed``); returns the seconds it took. A NaN/inf, Ctrl-C or a
    write that fails stops it with a ``UserError`` saying what the run keeps."""
    def named(ds):  # models saved before inputs were named take their one tensor
        return ds.map(lambda x, *rest: (model_inputs(model, x), *rest)) if isinstance(ds.element_spec[0], dict) else ds

    initial_epoch = plan.state["epochs_done"] if plan.state else 0
    started = time.perf_counter()
    try:
        with StopOnInterrupt() as interrupt:
            if cluster is not None:
                fit_distributed(model, plan, callbacks, cluster, initial_epoch, interrupt)
            else:
                model.fit(named(plan.datasets["train"]).repeat(), steps_per_epoch=plan.steps_per_epoch,
                          validation_data=named(plan.datasets["val"]) if "val" in plan.datasets else None,
                          epochs=plan.cfg.epochs, initial_epoch=initial_epoch,
                          callbacks=[interrupt, *callbacks], verbose=0, shuffle=False)  # tf.data already shuffles
    except NonFiniteError as exc:
        progress.on_train_end()
        raise UserError(f"{exc}; lower learning_rate or keep global_clipnorm on. Checkpoints up to the "
                        f"previous epoch are in {run}") from None
    except KeyboardInterrupt:
        progress.on_train_end()
        raise Interrupted(f"interrupted; {run} keeps every finished epoch: continue with --resume {run}") from None
    except tf.errors.InvalidArgumentError as exc:  # the input pipeline could not decode a file?
        progress.on_train_end()
        raise input_error(plan, run, exc, remove=cluster is None or cluster.chief) from None
    except OSError as exc:  # a disk that is full, a file-size limit, a folder gone read-only
        progress.on_train_end()
        raise UserError(f"cannot write to {run} ({exc.strerror or exc}); it keeps its last complete epoch: "
                        f"make room and continue with --resume {run}") from None
    return time.perf_counter() - started


def input_error(plan: Plan, run: Path, exc: Exception, remove: bool = True) -> Exception:
    """The ``UserError`` for a failure inside the tf.data pipeline: the file that cannot be
    decoded, found by decoding every file an input reads; a run that finished no epoch is
    removed (nothing in it could be resumed) when ``remove`` (the chief). Anything else is
    returned as it was."""
    if not any(hasattr(kind, "decode_all") for kind in plan.features.inputs.values()):
        return exc
    try:
        for examples in plan.splits.values():
            for name, kind in plan.features.inputs.items():
                if hasattr(kind, "decode_all"):
                    kind.decode_all(examples[name], examples.origins)
    except UserError as found:
        if remove and not (run / "checkpoints" / "state.json").is_file():
            shutil.rmtree(run, ignore_errors=True)
            if run.parent.parent.name == "runs":  # the default runs/TASK/TIME: runs/TASK and runs, if now empty
                for parent in (run.parent, run.parent.parent):
                    with contextlib.suppress(OSError):
                        parent.rmdir()
            return UserError(f"{found}; no epoch was finished, so {run} was removed")
        return UserError(f"{found}; {run} keeps its finished epochs")
    return exc


def finish(plan: Plan, run: Path, seconds: float) -> dict:
    """Promote the best checkpoint to ``model.keras`` and write the final reports."""
    state = read_json_file(run / "checkpoints" / "state.json")
    shutil.copyfile(run / "checkpoints" / state.get("best_file", "best.keras"), run / ".model.keras.tmp")
    (run / ".model.keras.tmp").replace(run / "model.keras")
    model = load_model(run / "model.keras")
    output = plan.features.output
    reports = {name: output.evaluate(model, plan.features, plan.splits[name])
               for name in ("val", "test") if len(plan.splits[name])}
    write_json(run / "metrics.json", {**reports, "train_seconds": round(seconds, 2)})
    return reports


def train(task: Task, *, data: str | None = None, config: str | Path | None = None,
          overrides: Iterable[str] = (), preset: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, seed: int | None = None, run_dir: str | Path | None = None,
          resume: str | Path | None = None, console: Console | None = None,
          cluster: Cluster | None = None, callbacks: Iterable = (), allow_new_data: bool = False) -> Path:
    """Train ``task`` and return its run directory (``rnn_apps.train`` resolves task names).

    Args:
        task: the ``Task`` record (with ``resume``: the record of the run's task).
        data: ``None`` for the built-in generator, a file path, or ``tfds:NAME[:SPLIT]``.
        config, overrides, preset, epochs, batch_size, seed: see ``rnn_apps.config``.
        run_dir: where to write the run (default ``runs/<task>/<timestamp>``).
        resume: a run directory to continue from its last checkpoint; ``epochs`` is then
            the new total number of epochs. It continues on the run's own data: another
            ``data``, or a data file changed since, is refused unless ``allow_new_data``.
        cluster: train data-parallel under this ``Cluster`` (default: the one ``TF_CONFIG``
            names, if any; see ``rnn_apps.training.distributed``). ``batch_size`` is then
            per worker; the chief writes the run, the other workers join it.
        callbacks: Keras callbacks run after the run's own (``make_callbacks``).
    """
    console = console or Console(stderr=True)
    cluster = cluster if cluster is not None else cluster_from_env()
    chief = cluster is None or cluster.chief
    replicas = cluster.strategy.num_replicas_in_sync if cluster else 1  # global batch: batch_size x replicas
    worker = (cluster.index, cluster.workers) if cluster else (0, 1)
    if resume is not None:
        if config is not None or list(overrides) or preset is not None or batch_size or seed is not None:
            raise UserError("--resume continues a run with its saved config; only --epochs may change")
        start = resumed_start(task, resume, data, epochs, allow_new_data, console, cluster, replicas, worker)
    else:
        cfg = new_config(task, config, overrides, preset, epochs, batch_size, seed)
        if cluster is not None and cluster.workers > 1 and run_dir is None:
            raise UserError("training on several workers needs --run-dir, on storage every worker can read "
                            "(the chief writes it; the others read its vocabularies and checkpoints)")
        if chief:
            start = chief_start(task, cfg, data, run_dir, console, cluster, replicas, worker)
        else:  # join the chief's run: its vocabularies, so every worker encodes alike
            run = Path(run_dir)
            wait_for_run(run)
            plan = plan_training(task, cfg, data, run, None, replicas, worker)
            start = Start(plan, build(plan, cluster), run)
    if start.model is None:  # a resumed run that had done all its epochs: only its reports were missing
        return start.run
    return fit_and_finish(start, console, chief, cluster, callbacks)


@dataclasses.dataclass
class Start:
    """Where training starts: the plan, the compiled model (None: nothing left to train) and the run."""

    plan: Plan
    model: keras.Model | None
    run: Path


def new_config(task: Task, config, overrides, preset, epochs, batch_size, seed) -> Any:
    """A new run's config (defaults < preset < file < --set < flags), files stored absolute
    like ``--data``; a vectors name (glove-6b-50d) is kept as the name."""
    cfg = resolve_config(task.config_class, presets=task.presets, preset=preset, file=config,
                         overrides=overrides, epochs=epochs, batch_size=batch_size, seed=seed)
    return dataclasses.replace(cfg, **{key: data_source(getattr(cfg, key)) for key in PATH_KEYS
                                       if getattr(cfg, key, "") and not (key == "embeddings" and
                                                                         vectors.is_name(getattr(cfg, key)))})


def resumed_start(task: Task, resume, data: str | None, epochs: int | None, allow_new_data: bool,
                  console: Console, cluster: Cluster | None, replicas: int, worker: tuple[int, int]) -> Start:
    """Continue a run from its last committed checkpoint, on its own config, data and global
    batch (``epochs``: the new total); a run killed after its last epoch is only finished."""
    run, meta = read_run(resume)
    cfg = task.load_config(run / "config.yaml")
    cfg = dataclasses.replace(cfg, epochs=epochs) if epochs is not None else cfg
    trained = meta.get("replicas", replicas)  # runs written before this field are not checked
    if trained != replicas:
        how = f"--workers {trained}" if trained > 1 else "without --workers"
        raise UserError(f"{run} trained with a global batch of {cfg.batch_size * trained} ({trained} "
                        f"replica{'s' if trained > 1 else ''} x {cfg.batch_size}); resume it {how} so that its "
                        f"batches stay the same")
    state_file = run / "checkpoints" / "state.json"
    state = read_json_file(state_file) if state_file.is_file() else None  # none: killed in epoch 1
    done = state["epochs_done"] if state else 0
    if done >= cfg.epochs and (run / "metrics.json").is_file():
        raise UserError(f"{run} already trained {done} epochs; pass --epochs N with N > {done} to train further")
    if not allow_new_data:
        check_same_data(run, meta, data_source(data) if data is not None else None)
    plan = plan_training(task, cfg, data if data is not None else meta["data"], run, state, replicas, worker)
    if done >= cfg.epochs:  # killed after its last epoch, before the final reports
        if cluster is None or cluster.chief:
            console.print(f"[bold]finishing[/] {run}: all {done} epochs were done")
            finish(plan, run, 0.0)
        return Start(plan, None, run)
    model = build(plan, cluster)
    console.print(f"[bold]resuming[/] {run} at epoch {done + 1}/{cfg.epochs}")
    return Start(plan, model, run)


def chief_start(task: Task, cfg: Any, data: str | None, run_dir, console: Console, cluster: Cluster | None,
                replicas: int, worker: tuple[int, int]) -> Start:
    """A new run: read and split the data, build the model, write the run directory (before
    building, under a cluster: the other workers wait for it), and say what is trained."""
    plan = plan_training(task, cfg, data, replicas=replicas, worker=worker)
    if cluster is None:
        model = build(plan)
        run = create_run(plan, run_dir)
    else:
        run = create_run(plan, run_dir)
        try:
            model = build(plan, cluster)
        except BaseException:
            shutil.rmtree(run, ignore_errors=True)
            raise
    describe = getattr(plan.features.output, "describe_splits", None)
    sizes = describe(plan) if describe else " / ".join(f"{len(plan.splits[n]):,} {n}" for n in
                                                       ("train", "val", "test")) + " examples"
    console.print(f"[bold]{task.name}[/]: {sizes}, {model.count_params():,} parameters -> {run}", soft_wrap=True)
    if cluster is not None:
        console.print(f"{cluster.workers} workers, {replicas} replicas, global batch "
                      f"{cfg.batch_size * replicas} ({cfg.batch_size} per replica)", highlight=False)
    if plan.splits.note:
        console.print(plan.splits.note, soft_wrap=True, highlight=False)
    return Start(plan, model, run)


def fit_and_finish(start: Start, console: Console, chief: bool, cluster: Cluster | None,
                   extra_callbacks: Iterable = ()) -> Path:
    """The tail every start shares: callbacks, ``fit``, then (the chief) the final reports."""
    plan, run = start.plan, start.run
    progress, callbacks = make_callbacks(plan, run, console, chief, extra_callbacks)
    seconds = fit(start.model, plan, callbacks, progress, run, cluster)
    budget = next((c for c in callbacks if isinstance(c, TimeBudget)), None)
    if budget and budget.stopped_at:
        console.print(f"time budget of {plan.cfg.time_budget:g} min reached after {budget.stopped_at:.0f}s; stopped")
    if not chief:  # stay until the chief's reports are written: a worker that leaves first
        wait_for_run(run, "metrics.json")  # alarms the chief's TensorFlow ("the tasks have crashed")
        return run
    reports = finish(plan, run, seconds)
    final = "test" if "test" in reports else "val"
    shown = {k: round(v, 4) for k, v in reports.get(final, {}).items() if isinstance(v, float)}
    console.print(f"[green]done[/] in {seconds:.1f}s; {final} {shown}; saved {run / 'model.keras'}",
                  soft_wrap=True)
    return run
