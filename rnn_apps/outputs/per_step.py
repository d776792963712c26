"""A label per step (many-to-many, one output per step): video frame classification.

Targets are one label per frame of the task's sequence input (``frames``); a clip of T
frames has T labels. Clips of different lengths are padded in a batch and every padded
step gets weight 0 (Keras sample weights), so padding counts in neither the loss nor the
accuracy. ``evaluate`` gives per-frame accuracy and per-class F1, and what action
segmentation papers report: the segmental edit score, F1@IoU 0.1/0.25/0.5 and clip
accuracy by majority vote. ``predict`` gives each frame's label, the runs of equal
labels as segments (first and last frame, both included, as in segment label files),
and optionally a strip of frames with their labels (``--plot``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.data.examples import Examples, as_text
from rnn_apps.data.pipeline import examples_dataset
from rnn_apps.data.text import LabelVocabulary
from rnn_apps.errors import UserError
from rnn_apps.exporters.signatures import Signature
from rnn_apps.metrics import segmentation_report, segments, sequence_cross_entropy
from rnn_apps.task import Features, model_inputs


class LabelPerStep:
    """The output kind "labels_per_step": one class per step of the sequence input ``input``."""

    kind = "labels_per_step"
    predict_options = ("plot",)
    evaluate_options: tuple[str, ...] = ()

    def __init__(self, name: str = "labels", input: str = "frames", file: str = "labels.json"):
        self.name, self.input, self.file = name, input, file
        self.labels: LabelVocabulary | None = None

    def fit(self, features: Features, train: Examples) -> None:
        self.labels = LabelVocabulary.fit([as_text(v) for row in train[self.name] for v in row], source=train.source)

    def save(self, directory: Path) -> None:
        self.labels.save(directory / self.file)

    def load(self, features: Features, directory: Path) -> None:
        self.labels = LabelVocabulary.load(directory / self.file)

    def head(self, x: keras.KerasTensor) -> keras.KerasTensor:
        """``[b, T, features]`` -> ``[b, T, classes]`` softmax at every step."""
        return keras.layers.Dense(len(self.labels), activation="softmax", name="probabilities", dtype="float32")(x)

    def compile_args(self, features: Features) -> dict:
        return {"loss": keras.losses.SparseCategoricalCrossentropy(),
                "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def callbacks(self) -> list:
        return []

    @staticmethod
    def loss_weight(targets, weights):
        """What the loss averages over: the real (unpadded) steps, weight > 0 (for summing
        the shares of several workers, ``rnn_apps.training.distributed``)."""
        return keras.ops.sum(keras.ops.cast(keras.ops.greater(weights, 0), "int32"))

    # --- data -----------------------------------------------------------------------------
    def targets(self, examples: Examples, features: Features) -> list[list[int]]:
        """Class indices per step, cut like the clips (``max_frames``); an unknown label is a
        ``UserError`` with its origin."""
        steps = features.inputs[self.input].static_length
        return [self.labels.encode([as_text(v) for v in row[:steps]], [origin] * min(len(row), steps))
                for row, origin in zip(examples[self.name], examples.origins)]

    def dataset(self, features: Features, examples: Examples, cfg: Any, training: bool) -> tf.data.Dataset:
        """Batches of ``({frames, frames_mask}, labels [b, T], weights [b, T])``, 0 weight on padding."""
        def targets_of(part: Examples) -> tuple[Examples, tf.RaggedTensor]:
            return part, tf.ragged.constant(self.targets(part, features), dtype=tf.int32, ragged_rank=1)

        return examples_dataset(features.inputs, examples, targets_of, cfg, training,
                                encode_target=lambda t: ({}, t, tf.ones_like(t, tf.float32)))

    # --- results --------------------------------------------------------------------------
    def probabilities(self, model: keras.Model, features: Features, examples: Examples) -> list[np.ndarray]:
        """Per example ``[T, classes]`` probabilities of its real steps."""
        out = []
        for batch in features.encode(examples, batch_size=32):
            probs = model(model_inputs(model, batch), training=False).numpy()
            for p, mask in zip(probs, batch[f"{self.input}_mask"]):
                out.append(p[: int(np.sum(mask))])
        return out

    def predict(self, model: keras.Model, features: Features, inputs: list, plot: str | Path | None = None) -> list[dict]:
        """Each input with its frame ``labels``, their ``segments`` and each frame's
        ``confidence``; with ``plot`` a PNG strip per clip.

        A segment is ``{"label", "start", "end"}`` with ``start`` and ``end`` the first and the
        last frame of the run, both included and numbered from 0: the convention of the
        segment label files (``clip,start_frame,end_frame,label``) and of the table ``predict``
        prints (``0-7`` is frames 0 to 7, eight frames). The TFLite runtime returns the same."""
        examples = features.as_examples(inputs)
        results = []
        for i, probs in enumerate(self.probabilities(model, features, examples)):
            best = probs.argmax(-1)
            labels = [self.labels.labels[k] for k in best]
            results.append({self.input: examples[self.input][i] if isinstance(examples[self.input][i], str)
                            else f"array {i + 1}", "labels": labels,
                            "segments": [{"label": label, "start": s, "end": e - 1} for label, s, e in segments(labels)],
                            "confidence": [round(float(p), 4) for p in probs.max(-1)]})
        if plot is not None:
            from rnn_apps.plots import plot_frame_labels

            path = Path(plot)
            for i, result in enumerate(results):
                out = path if len(results) == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix or '.png'}")
                frames = features.inputs[self.input].batch(examples[self.input][i:i + 1])[self.input][0]
                result["plot"] = str(plot_frame_labels(frames[: len(result["labels"])], result["labels"], out))
        return results

    def evaluate(self, model: keras.Model, features: Features, examples: Examples) -> dict:
        targets = self.targets(examples, features)
        probs = self.probabilities(model, features, examples)
        if any(len(p) != len(t) for p, t in zip(probs, targets)):
            bad = next(i for i, (p, t) in enumerate(zip(probs, targets)) if len(p) != len(t))
            raise UserError(f"{examples.origins[bad]}: {len(targets[bad])} labels for {len(probs[bad])} frames")
        report = segmentation_report([p.argmax(-1) for p in probs], targets, self.labels.labels)
        nats, _, count = sequence_cross_entropy(tf.math.log(tf.constant(np.concatenate(probs)) + 1e-7)[None],
                                                np.concatenate(targets)[None])
        return {"loss": nats / max(count, 1), **report}

    # --- serving --------------------------------------------------------------------------
    def signatures(self, model: keras.Model, features: Features, seq_len: int | None = None) -> dict[str, Signature]:
        """``serving_default``: frames ``[b, T, H, W, C]`` + mask -> ``probabilities [b, T, K]``
        and ``labels [b, T]``; ``label_frames``: the same at ``[1, max_frames]``, tensor-only."""
        kind = features.inputs[self.input]
        label_names = tf.constant(self.labels.labels)

        @tf.function(input_signature=kind.raw_specs())
        def serve(*args):
            probs = model(model_inputs(model, kind.from_raw(list(args))), training=False)
            return {"probabilities": probs, "labels": tf.gather(label_names, tf.argmax(probs, axis=-1))}

        @tf.function(input_signature=kind.tensor_specs(seq_len))
        def label_frames(*args):
            return {"probabilities": model(model_inputs(model, kind.from_tensors(list(args))), training=False)}

        return {"serving_default": Signature(serve), "label_frames": Signature(label_frames, tensor_only=True)}

    def signature_inputs(self, model: keras.Model, features: Features, examples: Examples,
                         seq_len: int | None = None) -> dict[str, list[dict]]:
        kind = features.inputs[self.input]
        tensors = kind.tensor_values(examples[self.input], seq_len)
        return {"serving_default": [kind.raw_values(examples[self.input])],
                "label_frames": [{k: v[i:i + 1] for k, v in tensors.items()} for i in range(len(examples))]}

    def settings(self) -> dict:
        return {"kind": self.kind, "input": self.input, "labels": self.labels.labels}
