"""Data-parallel training on several workers with ``tf.distribute.MultiWorkerMirroredStrategy``.

Every worker runs the same ``rnn-apps train`` and finds its place in the cluster in the
``TF_CONFIG`` environment variable (the convention of TensorFlow and of Kubernetes' TFJob):

    {"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", "index": 0}}

Worker 0 is the chief: it writes the run directory. The others read the chief's
vocabularies from it (so every worker encodes text the same way) and write nothing that
outlives them.

Keras 3 ``fit`` does not run under this strategy (keras-team/keras#20585), so training
under it is a custom step driven by the same callbacks as ``fit`` (progress, NaN guard,
checkpoints, TensorBoard, early stopping, time budget):

* every worker builds the *global* batches (per-worker batch x workers) in the same
  seeded order and keeps its own slice of each (``shard_batches``), so two workers with
  batch B see exactly the examples, padding included, of one worker with batch 2B;
* each worker's loss is its slice's mean weighted by its share of the global batch; the
  gradients are summed over workers (an all-reduce), clipped by the config's
  ``global_clipnorm`` / ``clipnorm`` *after* the sum — as one worker would — and applied;
* a stop asked by any worker (time budget, early stopping, Ctrl-C) is agreed by all before
  the next step, so no worker waits forever in a collective its peers have left (a worker
  that dies is another matter: see ``rnn_apps.training.workers``).

``MirroredStrategy`` (several GPUs in one host) is the same path with one worker and
several replicas; ``--workers N`` (``launch``) starts N local workers on loopback ports.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from rnn_apps.errors import UserError
from rnn_apps.task import model_inputs

RUN_WAIT_SECONDS = 600  # how long a worker waits for the chief to create the run directory


@dataclasses.dataclass
class Cluster:
    """This process's place in a multi-worker run.

    Attributes:
        strategy: the ``MultiWorkerMirroredStrategy`` (or ``MirroredStrategy``).
        workers: number of workers; the global batch is ``batch_size * workers``.
        index: this worker's index; 0 is the chief.
    """

    strategy: Any
    workers: int
    index: int

    @property
    def chief(self) -> bool:
        return self.index == 0


def read_tf_config(text: str | None = None) -> tuple[int, int] | None:
    """``(workers, index)`` from ``TF_CONFIG`` (None when unset or naming one worker).

    A TF_CONFIG that is not the documented JSON is a ``UserError`` naming what is wrong.
    """
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    if not text.strip():
        return None
    expected = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}'
    try:
        config = json.loads(text)
        workers = [*_addresses(config["cluster"], "worker"), *_addresses(config["cluster"], "chief")]
        task_type, index = config["task"]["type"], config["task"]["index"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"TF_CONFIG is not valid ({exc}); expected {expected}") from None
    if isinstance(index, bool) or not isinstance(index, int):  # 1.5 or "1" would be read as some other worker
        raise UserError(f"TF_CONFIG task index must be a whole number (0 for the first worker), got "
                        f"{json.dumps(index)[:40]}")
    if task_type not in ("worker", "chief"):
        raise UserError(f"TF_CONFIG task type {task_type!r}: rnn-apps runs 'worker' tasks (a 'chief' task counts as "
                        "worker 0); parameter servers and evaluators are not used")
    if "chief" in config["cluster"]:
        index = 0 if task_type == "chief" else index + 1
    if not 0 <= index < len(workers):
        raise UserError(f"TF_CONFIG task index {index} is outside the {len(workers)} workers it lists")
    return (len(workers), index) if len(workers) > 1 else None


def _addresses(cluster: dict, role: str) -> list[str]:
    """The ``"host:port"`` addresses TF_CONFIG lists for ``role``: a list of strings, each with
    a port (a bare string would be read one worker per character; a host without a port
    waits for ever)."""
    if not isinstance(cluster, dict):
        raise UserError("TF_CONFIG cluster must be an object of roles, like {\"worker\": [\"host:port\", ...]}")
    addresses = cluster.get(role, [])
    if not isinstance(addresses, list):
        raise UserError(f"TF_CONFIG cluster.{role} must be a list of \"host:port\" strings, got "
                        f"{json.dumps(addresses)[:60]} (a list of one for one {role}: [\"host:port\"])")
    for address in addresses:
        host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise UserError(f"TF_CONFIG cluster.{role} address {json.dumps(address)[:60]} is not \"host:port\" "
                            f"(a port 1-65535 is needed)")
    return addresses


def cluster_from_env() -> Cluster | None:
    """The cluster ``TF_CONFIG`` describes, with its strategy made now (TensorFlow needs a
    multi-worker strategy before any other TensorFlow work), or None for one process."""
    place = read_tf_config()
    if place is None:
        return None
    workers, index = place
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING))
    return Cluster(strategy, workers, index)


def wait_for_run(run: Path, file: str = "run.json", seconds: float = RUN_WAIT_SECONDS) -> None:
    """A non-chief worker waits until the chief has written ``run/file`` (files of a run are
    written whole): ``run.json`` once the run exists, ``metrics.json`` once it is finished."""
    deadline = time.monotonic() + seconds
    while not (run / file).is_file():
        if time.monotonic() > deadline:
            raise UserError(f"worker waited {seconds:.0f}s for the chief to write {run / file}; is --run-dir on "
                            "storage every worker can read, and is the chief running?")
        time.sleep(0.2)


def shard_batches(ds: tf.data.Dataset, workers: int, index: int) -> tf.data.Dataset:
    """This worker's contiguous slice of every global batch in ``ds``.

    Batches smaller than ``workers`` (an epoch's last, at most) are dropped by every worker
    alike, so all workers always run the same number of steps.
    """
    def size(*batch):
        return tf.shape(tf.nest.flatten(batch)[0])[0]

    def part(*batch):
        n = size(*batch)
        start, end = n * index // workers, n * (index + 1) // workers
        return tf.nest.map_structure(lambda t: t[start:end], batch)

    return ds.filter(lambda *batch: size(*batch) >= workers).map(part, num_parallel_calls=tf.data.AUTOTUNE)


class DistributedSteps:
    """Compiled train and validation steps of ``model`` under ``cluster.strategy``.

    The model and its optimizer must have been built inside ``strategy.scope()``.
    ``loss_weight(targets, weights)`` is what the loss is a mean over (default: the
    examples; the real tokens or steps of a masked loss), so the workers' shares add up to
    the global mean.
    """

    def __init__(self, model: keras.Model, cluster: Cluster, sample_batch: Any, clipnorm: float = 0.0,
                 global_clipnorm: float = 0.0, loss_weight: Any = None):
        self.model, self.cluster = model, cluster
        self.loss_weight = loss_weight or (lambda targets, weights: tf.shape(tf.nest.flatten(targets)[0])[0])
        self.strategy = cluster.strategy
        self.clipnorm, self.global_clipnorm = clipnorm, global_clipnorm
        self.replicas = self.strategy.num_replicas_in_sync
        if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer):
            raise UserError("precision mixed_float16 is not supported on several workers or devices yet (its loss "
                            "scaling lives in Keras' own train step); use mixed_bfloat16 or float32")
        with self.strategy.scope():
            model.optimizer.build(model.trainable_variables)
        self.keras_scale = self._keras_loss_scale(sample_batch)

    def _compute_loss(self, batch, training: bool):
        x, y, *weight = batch
        y_pred = self.model(model_inputs(self.model, x), training=training)
        loss = self.model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=weight[0] if weight else None,
                                       training=training)
        return tf.cast(loss, tf.float32), y, weight[0] if weight else None

    def _keras_loss_scale(self, batch) -> float:
        """What Keras divides ``compute_loss`` by under the strategy: the replicas for a loss
        that reduces per-example values, 1 for a loss function that returns the batch mean
        itself (measured once on ``batch``, outside and inside the strategy's scope)."""
        plain = float(self._compute_loss(batch, training=False)[0])
        with self.strategy.scope():
            scaled = float(self._compute_loss(batch, training=False)[0])
        return plain / scaled if scaled else 1.0

    def distribute(self, ds: tf.data.Dataset, sharded: bool = False):
        """``ds`` of global batches -> a distributed dataset of each replica's slice: with
        several workers each keeps its slice (``shard_batches``); with several devices in one
        process (``MirroredStrategy``) TensorFlow splits every batch between them.
        ``sharded``: ``ds`` holds this worker's own batches already (a streamed file)."""
        if self.cluster.workers == 1:
            return self.strategy.experimental_distribute_dataset(ds)
        if self.replicas != self.cluster.workers:
            raise UserError(f"{self.replicas} devices on {self.cluster.workers} workers: rnn-apps runs one device "
                            "per worker (set CUDA_VISIBLE_DEVICES per worker)")
        if sharded:
            return self.strategy.distribute_datasets_from_function(lambda context: ds)
        return self.strategy.distribute_datasets_from_function(
            lambda context: shard_batches(ds, self.cluster.workers, context.input_pipeline_id))

    def _share(self, batch, training: bool):
        """``(this slice's share of the global batch's mean loss, examples in the slice)``: its
        mean loss (as compiled, plus the model's own losses) weighted by its part of what the
        loss averages over."""
        loss, y, sample_weight = self._compute_loss(batch, training)
        weight = tf.cast(self.loss_weight(y, sample_weight), tf.float32)
        total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, weight)
        examples = tf.cast(tf.shape(tf.nest.flatten(y)[0])[0], tf.float32)
        return loss * self.keras_scale * weight / total, examples

    @tf.function
    def train_step(self, iterator):
        """One step on every worker; returns ``[global batch mean loss, examples]``."""
        def step(batch):
            model = self.model
            with tf.GradientTape() as tape:
                share, examples = self._share(batch, training=True)
            grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)  # embeddings give sparse slices
                     for g, v in zip(tape.gradient(share, model.trainable_variables), model.trainable_variables)]
            grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
            if self.global_clipnorm > 0:
                grads, _ = tf.clip_by_global_norm(grads, self.global_clipnorm)
            elif self.clipnorm > 0:
                grads = [tf.clip_by_norm(g, self.clipnorm) for g in grads]
            # The optimizer sums its replicas' gradients once more and clips each replica's
            # part: hand it an equal part of the summed, clipped gradient (whose norm is
            # already below any clip threshold).
            model.optimizer.apply_gradients(zip([g / self.replicas for g in grads], model.trainable_variables))
            return tf.stack([share, examples])

        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(step, args=(next(iterator),)),
                                    axis=None)

    @tf.function(reduce_retracing=True)  # batches of every padded length share one trace
    def val_step(self, batch):
        """``[global batch mean loss, examples]`` of one validation batch."""
        def step(batch):
            return tf.stack(self._share(batch, training=False))

        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(step, args=(batch,)), axis=None)

    @tf.function
    def agree(self, flags):
        """``[k]`` bools -> ``[k]`` bools, each true on every worker when it is true on any
        (one all-reduce)."""
        value = self.strategy.run(lambda: tf.cast(flags, tf.float32))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) > 0

    def validate(self, dist_ds) -> float:
        """The mean validation loss over batches weighted by their examples (as ``fit`` reports it)."""
        loss = examples = 0.0
        for batch in dist_ds:
            batch_loss, batch_examples = self.val_step(batch).numpy()
            loss, examples = loss + batch_loss * batch_examples, examples + batch_examples
        return loss / max(examples, 1.0)


def fit_distributed(model: keras.Model, plan: Any, callbacks: list, cluster: Cluster, initial_epoch: int = 0,
                    interrupt: Any = None) -> None:
    """Train ``model`` on ``plan``'s datasets the way ``model.fit`` would, under ``cluster``.

    ``callbacks`` get the calls ``fit`` makes (train begin/end, epoch begin/end, train batch
    begin/end, test begin/end) with ``loss`` (the epoch's running mean over examples, as
    ``fit`` shows it) and ``val_loss`` in the logs.
    Accuracy and the other metrics are left to the final reports. ``interrupt`` (a
    ``StopOnInterrupt``, not in ``callbacks``): Ctrl-C on any worker raises
    ``KeyboardInterrupt`` on every worker after the same step.
    """
    cfg = plan.cfg
    # A batch to measure Keras' loss scaling on: a validation one, as iterating the training
    # set once more would move its shuffling on (then fit and the distributed loop would differ).
    replicas = cluster.strategy.num_replicas_in_sync
    sample = next(iter(shard_batches(plan.datasets.get("val", plan.datasets["train"]), replicas, 0)), None)
    sample = sample or next(iter(shard_batches(plan.datasets["train"], replicas, 0)))
    steps = DistributedSteps(model, cluster, sample, clipnorm=cfg.clipnorm, global_clipnorm=cfg.global_clipnorm,
                             loss_weight=getattr(plan.features.output, "loss_weight", None))
    train = iter(steps.distribute(plan.datasets["train"].repeat(), sharded=plan.sharded))
    val = steps.distribute(plan.datasets["val"]) if "val" in plan.datasets else None
    hooks = keras.callbacks.CallbackList(callbacks, model=model, epochs=cfg.epochs, steps=plan.steps_per_epoch)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(initial_epoch, cfg.epochs):
        hooks.on_epoch_begin(epoch)
        loss = examples = 0.0
        for step in range(plan.steps_per_epoch):
            hooks.on_train_batch_begin(step)
            batch_loss, batch_examples = steps.train_step(train).numpy()
            loss, examples = loss + batch_loss * batch_examples, examples + batch_examples
            logs = {"loss": loss / examples}
            hooks.on_train_batch_end(step, logs)
            stop, interrupted = steps.agree([model.stop_training, bool(interrupt and interrupt.requested)]).numpy()
            if interrupted:
                raise KeyboardInterrupt
            if stop:
                model.stop_training = True
                break
        if val is not None:
            hooks.on_test_begin()
            logs["val_loss"] = steps.validate(val)
            hooks.on_test_end()
        hooks.on_epoch_end(epoch, logs)
        if steps.agree([model.stop_training, False]).numpy()[0]:
            break
    hooks.on_train_end()
