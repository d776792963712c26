"""Result dicts of the output kinds, from NumPy arrays: one function per kind, used by both the
Keras side (``rnn_apps.outputs``) and the TF-free runtime (``rnn_apps.lite``), so a run and
its export answer with the same keys and the same values.

TensorFlow-free: NumPy and the standard library only (``tests/test_layering.py`` checks it).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

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


def sequence_result(source: str, shown: Any, noun: str, text: str, tokens: Sequence[str], ids: Sequence[int],
                    log_probability: float | None = None, seed: int | None = None) -> dict:
    """"sequence": one input's decoded output (a translation, a caption).

    Args:
        source, shown: the input's name and what to show of its value (the sentence, a file
            name; ``"array 2"`` for an array).
        noun: the output's name (``"translation"``, ``"caption"``); text: the decoded output.
        tokens, ids: ``[n]`` the output's tokens and their ids, the end token left out.
        log_probability: the sequence's log-probability (beam search; None otherwise).
        seed: the seed of a sampled output (None for greedy and beam search).
    Returns:
        ``{source: shown, noun: text, "tokens", "ids", "log_probability"?, "seed"?}`` with
        plain Python values (ids as ``int``, the log-probability as ``float``).
    """
    result = {source: shown, noun: text, "tokens": list(tokens), "ids": [int(i) for i in ids]}
    if log_probability is not None:
        result["log_probability"] = float(log_probability)
    if seed is not None:
        result["seed"] = seed
    return result


def continuation_result(prompt: str, text: str, seed: int) -> dict:
    """"next_token": one prompt's generated continuation.

    Args:
        prompt: the prompt as given; text: the new text after it (the prompt left out).
        seed: the seed it was sampled with (greedy decoding ignores it).
    Returns:
        ``{"prompt", "text", "seed"}``.
    """
    return {"prompt": prompt, "text": text, "seed": seed}


# --- a run and its export answering alike (``rnn-apps export --check``) ----------------------

@dataclasses.dataclass
class ParityProbe:
    """Held-out inputs that a run (``run.predict``) and its export (the runtime's ``predict``)
    must answer alike, and how to score the answers. Each output kind makes its own
    (``parity_probe``); ``rnn_apps.exporters.check`` compares the two sides the same way for
    every kind.

    Attributes:
        rows: the raw inputs, one dict per example.
        options: predict options that make the answer deterministic (greedy decoding).
        truth: the expected answer of each row, for ``score``.
        answer: the result key compared (``"label"``, ``"labels"``, ``"translation"``, ``"text"``).
        metric: what ``score`` measures, for the report ("accuracy %", "BLEU").
        score: ``(results, truth) -> float``, higher is better.
    """

    rows: list[dict]
    options: dict
    truth: list
    answer: str
    metric: str
    score: Callable[[list[dict], list], float]


def answer_agreement(reference: list[dict], exported: list[dict], answer: str) -> tuple[float, float | None]:
    """``(share of equal answers, largest probability difference or None)`` of two sides'
    results; a list answer (a label per step) is compared element by element."""
    pairs = []
    for a, b in zip(reference, exported, strict=True):
        x, y = a[answer], b[answer]
        if isinstance(x, list):
            pairs += [p == q for p, q in zip(x, y)] + [False] * abs(len(x) - len(y))
        else:
            pairs.append(x == y)
    diffs = [abs(a["probabilities"][k] - b["probabilities"].get(k, np.inf))
             for a, b in zip(reference, exported) if "probabilities" in a and "probabilities" in b
             for k in a["probabilities"]]
    return float(np.mean(pairs)) if pairs else 1.0, (float(max(diffs)) if diffs else None)


def accuracy_percent(results: list[dict], truth: list, answer: str) -> float:
    """% of answers equal to the truth; list answers (a label per step) count per element,
    over the steps both have (a clip or sentence longer than the model reads is cut)."""
    right = []
    for result, want in zip(results, truth):
        got = result[answer]
        if isinstance(want, list):
            right += [g == w for g, w in zip(got, want)]
        else:
            right.append(got == want)
    return 100 * float(np.mean(right)) if right else 0.0
