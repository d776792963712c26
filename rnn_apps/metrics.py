"""Classification metrics computed from predicted probabilities (numpy).

The confusion matrix has true labels as rows and predicted labels as columns.
Precision, recall and F1 are per class; ``macro_f1`` is their unweighted mean.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(y_true: Sequence[int], probabilities: np.ndarray,
                          labels: Sequence[str]) -> dict:
    """Loss (mean cross-entropy in nats), accuracy, per-class P/R/F1, confusion matrix.

    Args:
        y_true: ``[n]`` true class indices.
        probabilities: ``[n, classes]`` predicted class probabilities.
        labels: ``[classes]`` label names.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y_pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    picked = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    return {
        "examples": int(len(y_true)),
        "loss": float(-np.log(picked).mean()),
        "accuracy": float((y_pred == y_true).mean()),
        "macro_f1": float(f1.mean()),
        "labels": list(labels),
        "per_class": [{"label": label, "precision": float(p), "recall": float(r), "f1": float(f),
                       "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, actual)],
        "confusion": matrix.tolist(),
    }


def sequence_cross_entropy(logits, targets, mask=None) -> tuple[float, int, int]:
    """Summed next-token cross-entropy (nats), correct argmax count and token count.

    Args:
        logits: ``[batch, time, vocab]``.
        targets: ``[batch, time]`` ids.
        mask: ``[batch, time]`` 1 for real tokens, 0 for padding (None: all real).

    Language models and the encoder-decoder's teacher-forced scores both sum these
    over windows or batches, then divide once.
    """
    import tensorflow as tf

    targets = tf.cast(targets, tf.int32)
    real = tf.ones_like(targets, tf.float32) if mask is None else tf.cast(mask, tf.float32)
    nats = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
    hits = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == targets, tf.float32)
    return float(tf.reduce_sum(nats * real)), int(tf.reduce_sum(hits * real)), int(tf.reduce_sum(real))
