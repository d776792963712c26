"""Text to token ids and labels to indices, fitted on the training split and saved.

``TextEncoder`` wraps Keras ``TextVectorization`` (word or character level, a vocabulary
cap, index 0 = padding, index 1 = out-of-vocabulary). The same object vectorizes inside
``tf.data`` for training and inside the exported SavedModel for serving, so the two can
never disagree. ``LabelVocabulary`` maps label strings to class indices.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf

from rnn_apps.errors import UserError

PAD, OOV = 0, 1


class TextEncoder:
    """Strings -> token ids ``[batch, time]`` (0 = padding), truncated to ``max_length``.

    ``level`` is ``word`` (lower-cased, punctuation stripped, split on whitespace) or
    ``char`` (lower-cased characters). A text with no known token becomes one OOV token,
    so every sequence has at least one real step.
    """

    def __init__(self, level: str, max_tokens: int, max_length: int,
                 vocabulary: Sequence[str] | None = None, lowercase: bool = True):
        self.level, self.max_tokens, self.max_length, self.lowercase = level, max_tokens, max_length, lowercase
        if level == "word":
            standardize = "lower_and_strip_punctuation" if lowercase else "strip_punctuation"
        else:
            standardize = "lower" if lowercase else None
        self.layer = keras.layers.TextVectorization(
            max_tokens=max_tokens, standardize=standardize,
            split="whitespace" if level == "word" else "character",
            ragged=True, vocabulary=list(vocabulary) if vocabulary is not None else None,
            name="text_vectorization")
        self.layer.build(None)  # marks it built, which SavedModel export requires

    def adapt(self, texts: Sequence[str], batch_size: int = 1024) -> "TextEncoder":
        self.layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size))
        return self

    @property
    def vocabulary(self) -> list[str]:
        return [str(token) for token in self.layer.get_vocabulary()]

    @property
    def vocab_size(self) -> int:
        return self.layer.vocabulary_size()

    def encode_ragged(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ``[batch, (time)]`` int32 ids, at least one id each."""
        ids = tf.cast(self.layer(texts), tf.int32)[:, : self.max_length]
        # Append one OOV to every row, then keep max(length, 1) ids: empty rows become [OOV].
        lengths = ids.row_lengths()
        with_oov = tf.concat([ids, tf.RaggedTensor.from_tensor(tf.fill([ids.nrows(), 1], OOV))], axis=1)
        keep = tf.ragged.range(lengths + 1) < tf.expand_dims(tf.maximum(lengths, 1), 1)
        return tf.ragged.boolean_mask(with_oov, keep)

    def encode(self, texts: tf.Tensor) -> tf.Tensor:
        """``[batch]`` strings -> dense ``[batch, time]`` ids padded with 0 to the longest."""
        return self.encode_ragged(texts).to_tensor(default_value=PAD)

    def decode(self, ids: Sequence[int]) -> list[str]:
        vocab = self.vocabulary
        return [vocab[i] for i in ids if i != PAD]

    def to_dict(self) -> dict:
        return {"level": self.level, "max_tokens": self.max_tokens, "max_length": self.max_length,
                "lowercase": self.lowercase, "vocabulary": self.vocabulary}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "TextEncoder":
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(d["level"], d["max_tokens"], d["max_length"], d["vocabulary"], d["lowercase"])


class LabelVocabulary:
    """Label strings <-> class indices; the order is sorted (numerically if all integers)."""

    def __init__(self, labels: Sequence[str]):
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def fit(cls, values: Sequence[str]) -> "LabelVocabulary":
        unique = sorted(set(values))
        if all(v.lstrip("-").isdigit() for v in unique):
            unique = sorted(unique, key=int)
        if len(unique) < 2:
            raise UserError(f"need at least two different labels to train a classifier, found {unique}")
        return cls(unique)

    def encode(self, values: Sequence[str], origins: Sequence[str]) -> list[int]:
        out = []
        for value, origin in zip(values, origins):
            if value not in self.index:
                raise UserError(f"{origin}: unknown label {value!r}; known labels: {', '.join(self.labels)}")
            out.append(self.index[value])
        return out

    def __len__(self) -> int:
        return len(self.labels)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.labels, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "LabelVocabulary":
        return cls(json.loads(path.read_text(encoding="utf-8")))
