"""Result dicts of the output kinds, from NumPy arrays: one function per kind, used by both the
Keras side (``rnn_apps.outputs``) and the TF-free runtime (``rnn_apps.lite``), so a run and
its export answer with the same keys and the same values.

TensorFlow-free: NumPy and the standard library only (``tests/test_layering.py`` checks it).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rnn_apps.metrics import entity_spans, segments


def label_result(shown: dict, labels: Sequence[str], probabilities: np.ndarray) -> dict:
    """"label": one example's class.

    Args:
        shown: the inputs by name as they are shown (file names, texts; ``"array 2"`` for arrays).
        labels: ``[K]`` class names; probabilities: ``[K]``.
    Returns:
        ``{**shown, "label", "probability", "top": the five best [{"label", "probability"}]}``
        and, for 20 classes or fewer, every class's ``"probabilities"``.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    best, top = int(p.argmax()), np.argsort(-p, kind="stable")[:5]
    result = {**shown, "label": labels[best], "probability": float(p[best]),
              "top": [{"label": labels[k], "probability": float(p[k])} for k in top]}
    if len(labels) <= 20:
        result["probabilities"] = {label: float(q) for label, q in zip(labels, p)}
    return result


def step_result(input_name: str, shown: Any, labels: Sequence[str], confidence: np.ndarray | None = None,
                tokens: Sequence[str] | None = None) -> dict:
    """"labels_per_step": one label per real step of the input.

    Args:
        input_name, shown: the input's name and what to show of its value (a file name, the text).
        labels: ``[steps]`` label names.
        confidence: ``[steps]`` probability of each label (None where the decoder gives none: CRF).
        tokens: ``[steps]`` the text's tokens, for a text input (tagging).
    Returns:
        ``{input: shown, "labels", "segments", "confidence"?}``; with ``tokens`` also ``"tokens"``
        and ``"entities"``: ``[{"type", "start", "end", "text"}]`` by CoNLL's definition
        (``rnn_apps.metrics.entity_spans``). ``start`` and ``end`` are the first and the last
        step of a run or an entity, both included and numbered from 0 (``0-7`` is eight steps),
        the convention of segment label files.
    """
    labels = list(labels)
    result = {input_name: shown, "labels": labels,
              "segments": [{"label": label, "start": s, "end": e - 1} for label, s, e in segments(labels)]}
    if confidence is not None:
        result["confidence"] = [round(float(p), 4) for p in confidence]
    if tokens is not None:
        tokens = list(tokens)
        result["tokens"] = tokens
        result["entities"] = [{"type": kind, "start": s, "end": e - 1, "text": " ".join(tokens[s:e])}
                              for kind, s, e in entity_spans(labels)]
    return result
