"""Text -> class: the preprocessing, output head and serving shared by classifying tasks.

``TextClassification`` holds the fitted ``TextEncoder`` and ``LabelVocabulary`` of a run
and knows how to turn examples into batches, probabilities into labels, and how to serve
raw strings from a SavedModel. Two classes use one sigmoid unit (binary cross-entropy);
more use a softmax (sparse categorical cross-entropy).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.metrics import classification_report
from rnn_apps.pipeline import batch_dataset, bucket_boundaries, vectorized_dataset
from rnn_apps.readers import Examples
from rnn_apps.text import LabelVocabulary, TextEncoder

VOCAB_FILE, LABELS_FILE = "vocab.json", "labels.json"


def classifier_output(x: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    """``[batch, features]`` -> ``[batch, 1]`` sigmoid (2 classes) or ``[batch, C]`` softmax."""
    if num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def classifier_compile_args(num_classes: int) -> dict:
    if num_classes == 2:
        return {"loss": keras.losses.BinaryCrossentropy(),
                "metrics": [keras.metrics.BinaryAccuracy(name="accuracy")]}
    return {"loss": keras.losses.SparseCategoricalCrossentropy(),
            "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}


def class_probabilities(outputs: Any) -> Any:
    """Model outputs -> ``[batch, classes]`` probabilities (binary: ``[1 - p, p]``)."""
    if outputs.shape[-1] == 1:
        return tf.concat([1.0 - outputs, outputs], axis=-1)
    return outputs


class TextClassification:
    """Fitted preprocessing of a text classification run (see ``rnn_apps.task.Preprocessing``)."""

    predict_options: tuple[str, ...] = ()
    evaluate_options: tuple[str, ...] = ()

    def __init__(self, encoder: TextEncoder, labels: LabelVocabulary):
        self.encoder, self.labels = encoder, labels

    @classmethod
    def fit(cls, cfg: Any, train: Examples) -> "TextClassification":
        encoder = TextEncoder(cfg.level, cfg.vocab_size, cfg.max_length).adapt(train["text"])
        return cls(encoder, LabelVocabulary.fit(train["label"]))

    @classmethod
    def load(cls, cfg: Any, run_dir: Path) -> "TextClassification":
        return cls(TextEncoder.load(run_dir / VOCAB_FILE), LabelVocabulary.load(run_dir / LABELS_FILE))

    def save(self, run_dir: Path) -> None:
        self.encoder.save(run_dir / VOCAB_FILE)
        self.labels.save(run_dir / LABELS_FILE)

    def dataset(self, cfg: Any, examples: Examples, training: bool) -> tf.data.Dataset:
        """Batches of ``(tokens [batch, time] int32, label [batch])`` in example order unless training."""
        targets = self.labels.encode(examples["label"], examples.origins)
        ds = vectorized_dataset((list(examples["text"]), targets),
                                lambda text, y: (self.encoder.encode_ragged(text), y), cache=cfg.cache)
        boundaries = ()
        if training and cfg.batching == "bucket":  # lengths in one bulk call, not per element
            boundaries = bucket_boundaries(self.encoder.encode_ragged(tf.constant(examples["text"]))
                                           .row_lengths().numpy())
        return batch_dataset(ds, batch_size=cfg.batch_size, batching=cfg.batching if training else "longest",
                             max_length=cfg.max_length, training=training, seed=cfg.seed,
                             boundaries=boundaries, size=len(examples))

    def probabilities(self, model: keras.Model, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """``[n]`` strings -> ``[n, classes]`` probabilities."""
        out = []
        for start in range(0, len(texts), batch_size):
            tokens = self.encoder.encode(tf.constant(texts[start:start + batch_size]))
            out.append(class_probabilities(model(tokens, training=False)).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)))

    def predict(self, model: keras.Model, texts: list[str]) -> list[dict]:
        probs = self.probabilities(model, texts)
        results = []
        for text, p in zip(texts, probs):
            best = int(p.argmax())
            results.append({"text": text, "label": self.labels.labels[best], "probability": float(p[best]),
                            "probabilities": {label: float(q) for label, q in zip(self.labels.labels, p)}})
        return results

    def evaluate(self, model: keras.Model, cfg: Any, examples: Examples) -> dict:
        targets = self.labels.encode(examples["label"], examples.origins)
        return classification_report(targets, self.probabilities(model, list(examples["text"])),
                                     self.labels.labels)

    def serving_functions(self, model: keras.Model) -> dict[str, Any]:
        """``serving_default``: ``text [batch] string`` -> probabilities ``[batch, C]`` and label."""
        label_names = tf.constant(self.labels.labels)
        encoder = self.encoder

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            probs = class_probabilities(model(encoder.encode(text), training=False))
            return {"probabilities": probs, "label": tf.gather(label_names, tf.argmax(probs, axis=-1))}

        return {"serving_default": serve}

    def trackables(self) -> list:
        """Objects (lookup tables) the SavedModel must carry besides the model."""
        return [self.encoder.layer]

    def callbacks(self, model: keras.Model) -> list:
        return []
