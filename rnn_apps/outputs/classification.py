"""One label per example (many-to-one): sentiment now, VQA's answers later.

The head is one sigmoid unit for two classes (binary cross-entropy) or a softmax over
more (sparse categorical cross-entropy). ``predict`` gives each input's label and class
probabilities, ``evaluate`` loss, accuracy, per-class P/R/F1 and the confusion matrix.
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
from rnn_apps.exporters.signatures import Signature
from rnn_apps.metrics import classification_report
from rnn_apps.task import Features, model_inputs


def class_probabilities(outputs: Any) -> Any:
    """Model outputs -> ``[batch, classes]`` probabilities (binary: ``[1 - p, p]``)."""
    if outputs.shape[-1] == 1:
        return tf.concat([1.0 - outputs, outputs], axis=-1)
    return outputs


class ClassLabel:
    """The output kind "label": one class per example, fitted from the ``name`` column."""

    kind = "label"
    predict_options: tuple[str, ...] = ()
    evaluate_options: tuple[str, ...] = ()

    def __init__(self, name: str = "label", file: str = "labels.json"):
        self.name, self.file = name, file
        self.labels: LabelVocabulary | None = None

    def fit(self, features: Features, train: Examples) -> None:
        self.labels = LabelVocabulary.fit([as_text(v) for v in train[self.name]])

    def save(self, directory: Path) -> None:
        self.labels.save(directory / self.file)

    def load(self, features: Features, directory: Path) -> None:
        self.labels = LabelVocabulary.load(directory / self.file)

    # --- model --------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def head(self, x: keras.KerasTensor) -> keras.KerasTensor:
        """``[batch, features]`` -> ``[batch, 1]`` sigmoid (2 classes) or ``[batch, C]`` softmax."""
        if self.num_classes == 2:
            return keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
        return keras.layers.Dense(self.num_classes, activation="softmax", name="probabilities")(x)

    def compile_args(self, features: Features) -> dict:
        if self.num_classes == 2:
            return {"loss": keras.losses.BinaryCrossentropy(),
                    "metrics": [keras.metrics.BinaryAccuracy(name="accuracy")]}
        return {"loss": keras.losses.SparseCategoricalCrossentropy(),
                "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def callbacks(self) -> list:
        return []

    # --- data ---------------------------------------------------------------------------
    def targets(self, examples: Examples) -> list[int]:
        """Class indices; an unknown label is a ``UserError`` with its file and line."""
        return self.labels.encode([as_text(v) for v in examples[self.name]], examples.origins)

    def dataset(self, features: Features, examples: Examples, cfg: Any, training: bool) -> tf.data.Dataset:
        return examples_dataset(features.inputs, examples, self.targets(examples), cfg, training)

    # --- results ------------------------------------------------------------------------
    def probabilities(self, model: keras.Model, features: Features, examples: Examples) -> np.ndarray:
        """``[n, classes]`` probabilities for the inputs of ``examples``."""
        out = [class_probabilities(model(model_inputs(model, batch), training=False)).numpy()
               for batch in features.encode(examples)]
        return np.concatenate(out) if out else np.zeros((0, self.num_classes))

    def predict(self, model: keras.Model, features: Features, inputs: list) -> list[dict]:
        """Each input (by name) with its ``label``, that label's ``probability`` and all ``probabilities``."""
        examples = features.as_examples(inputs)
        results = []
        for i, p in enumerate(self.probabilities(model, features, examples)):
            best = int(p.argmax())
            results.append({**{name: examples[name][i] for name in features.inputs},
                            "label": self.labels.labels[best], "probability": float(p[best]),
                            "probabilities": {label: float(q) for label, q in zip(self.labels.labels, p)}})
        return results

    def evaluate(self, model: keras.Model, features: Features, examples: Examples) -> dict:
        return classification_report(self.targets(examples), self.probabilities(model, features, examples),
                                     self.labels.labels)

    # --- serving --------------------------------------------------------------------------
    def signatures(self, model: keras.Model, features: Features, seq_len: int | None = None) -> dict[str, Signature]:
        """``serving_default``: raw inputs -> ``probabilities [batch, C]`` and ``label`` strings;
        ``classify``: the tensor-only twin on static ``[1, length]`` ids -> ``probabilities``."""
        label_names = tf.constant(self.labels.labels)
        names = list(features.inputs)

        def dense(t):
            return t.to_tensor() if isinstance(t, tf.RaggedTensor) else t

        @tf.function(input_signature=[kind.raw_spec() for kind in features.inputs.values()])
        def serve(*raw):
            tensors = {n: dense(kind.encode(r)) for (n, kind), r in zip(features.inputs.items(), raw)}
            probs = class_probabilities(model(model_inputs(model, tensors), training=False))
            return {"probabilities": probs, "label": tf.gather(label_names, tf.argmax(probs, axis=-1))}

        @tf.function(input_signature=[kind.tensor_spec(length=seq_len) for kind in features.inputs.values()])
        def classify(*tensors):
            return {"probabilities": class_probabilities(model(model_inputs(model, dict(zip(names, tensors))),
                                                               training=False))}

        return {"serving_default": Signature(serve), "classify": Signature(classify, tensor_only=True)}

    def signature_inputs(self, model: keras.Model, features: Features, examples: Examples,
                         seq_len: int | None = None) -> dict[str, list[dict]]:
        """Realistic inputs of each signature (see ``rnn_apps.exporters.check``): the raw
        values of ``examples`` as one batch, and each example's ids on its own."""
        raw = {kind.serving_name: np.array(kind.prepare(examples[n]), dtype=object)
               for n, kind in features.inputs.items()}
        ids = {f"{n}_ids": kind.encode_padded(examples[n], length=seq_len or kind.static_length).astype(np.int32)
               for n, kind in features.inputs.items()}
        return {"serving_default": [raw],
                "classify": [{k: v[i:i + 1] for k, v in ids.items()} for i in range(len(examples))]}

    def settings(self) -> dict:
        """For an export's manifest: the label of each output index."""
        return {"kind": self.kind, "labels": self.labels.labels, "binary": self.num_classes == 2}
