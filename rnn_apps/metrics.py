"""Classification metrics computed from predicted probabilities (numpy).

The confusion matrix has true labels as rows and predicted labels as columns.
Precision, recall and F1 are per class; ``macro_f1`` is their unweighted mean.
"""
from __future__ import annotations

import logging
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


# --- labels per step: segments (action segmentation) ------------------------------------------

def segments(labels: Sequence) -> list[tuple]:
    """Runs of equal labels: ``[(label, start, end)]`` with ``end`` exclusive."""
    runs, start = [], 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            runs.append((labels[start], start, t))
            start = t
    return runs


def edit_score(predicted: Sequence, true: Sequence) -> float:
    """Segmental edit score (MS-TCN): ``100 * (1 - Levenshtein(segment labels) / longest)``,
    so over-segmentation (many short flickering segments) costs even when frames are right."""
    a, b = [s[0] for s in segments(predicted)], [s[0] for s in segments(true)]
    if not a and not b:
        return 100.0
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return 100.0 * (1 - previous[-1] / max(len(a), len(b)))


def segment_matches(predicted: Sequence, true: Sequence, overlap: float) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of predicted segments at IoU >= ``overlap``:
    a predicted segment is right when it overlaps an unmatched true segment of its label enough."""
    truth = segments(true)
    used = [False] * len(truth)
    tp = fp = 0
    for label, start, end in segments(predicted):
        ious = [max(0, min(end, e) - max(start, s)) / (max(end, e) - min(start, s)) if lab == label else 0.0
                for lab, s, e in truth]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= overlap and not used[best]:
            tp, used[best] = tp + 1, True
        else:
            fp += 1
    return tp, fp, len(truth) - sum(used)


def segmentation_report(predicted: Sequence[Sequence[int]], true: Sequence[Sequence[int]], labels: Sequence[str],
                        overlaps: Sequence[float] = (0.1, 0.25, 0.5)) -> dict:
    """Per-frame accuracy and per-class P/R/F1 (``classification_report`` over every real frame),
    the mean segmental edit score, F1@IoU for each overlap, and clip accuracy by majority vote."""
    flat_true = np.concatenate([np.asarray(t) for t in true]) if true else np.zeros(0, int)
    flat_pred = np.concatenate([np.asarray(p) for p in predicted]) if predicted else np.zeros(0, int)
    report = classification_report(flat_true, np.eye(len(labels))[flat_pred], labels)
    del report["loss"]  # from one-hot guesses; the model's loss is reported by the caller
    report["frames"], report["examples"] = report.pop("examples"), len(true)
    report["edit"] = float(np.mean([edit_score(p, t) for p, t in zip(predicted, true)])) if true else 0.0
    for k in overlaps:
        tp, fp, fn = map(sum, zip(*[segment_matches(p, t, k) for p, t in zip(predicted, true)]))
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        report[f"f1@{k:g}"] = 100 * 2 * precision * recall / max(precision + recall, 1e-12)
    majority = [np.bincount(np.asarray(p), minlength=len(labels)).argmax() ==
                np.bincount(np.asarray(t), minlength=len(labels)).argmax() for p, t in zip(predicted, true)]
    report["clip_accuracy"] = float(np.mean(majority)) if majority else 0.0
    return report


# --- labels per token: entities (tagging, the CoNLL conlleval definition) ---------------------

SCHEME_PREFIXES = ("B", "I", "E", "S")  # begin, inside, end, single (BIO / IOB1 / BIOES); "O" is outside


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``: the prefix before the first
    hyphen and the entity type after it (a tag without a hyphen is its own prefix, as conlleval has it)."""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def _ends(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """Whether an entity ends between the tag ``previous`` and ``current`` (conlleval's endOfChunk)."""
    (p, p_type), (c, c_type) = previous, current
    return p in ("E", "S") or (p in ("B", "I") and c in ("B", "S", "O")) or (p != "O" and p_type != c_type)


def _starts(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """Whether an entity starts at ``current`` (conlleval's startOfChunk): an ``I-`` after ``O``
    starts one too, so IOB1 data (where ``I-`` begins entities) is read as its authors meant."""
    (p, p_type), (c, c_type) = previous, current
    return c in ("B", "S") or (p in ("E", "S", "O") and c in ("E", "I")) or (c != "O" and p_type != c_type)


def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tagged sentence: ``[(type, start, end)]``, ``end`` exclusive, exactly
    as CoNLL's conlleval script finds them (BIO, IOB1 and BIOES tags alike)."""
    spans, start, previous = [], None, ("O", "")
    for t, tag in enumerate([*tags, "O"]):  # a final O closes the last entity
        current = split_tag(str(tag))
        if start is not None and _ends(previous, current):
            spans.append((previous[1], start, t))
            start = None
        if _starts(previous, current):
            start = t
        previous = current
    return spans


def entity_report(predicted: Sequence[Sequence[str]], true: Sequence[Sequence[str]]) -> dict:
    """Entity-level precision, recall and F1 (exact span and type, conlleval's micro average),
    overall and per type, and token accuracy.

    Args:
        predicted, true: one list of tags per sentence (the same lengths).
    Returns:
        ``{"token_accuracy", "precision", "recall", "f1", "entities", "predicted_entities",
        "by_type": {type: {"precision", "recall", "f1", "support"}}}``, scores in 0..1.
    """
    found: dict[str, list[int]] = {}  # type -> [true positives, predicted, true]
    right = tokens = 0
    for guess, gold in zip(predicted, true):
        if len(guess) != len(gold):
            raise ValueError(f"{len(guess)} predicted tags for {len(gold)} tokens")
        right += sum(a == b for a, b in zip(guess, gold))
        tokens += len(gold)
        guessed, correct = set(entity_spans(guess)), set(entity_spans(gold))
        for kind, *_ in guessed | correct:
            found.setdefault(kind, [0, 0, 0])
        for span in guessed:
            found[span[0]][1] += 1
            found[span[0]][0] += span in correct
        for span in correct:
            found[span[0]][2] += 1

    def scores(hits: int, guessed: int, gold: int) -> dict:
        precision, recall = hits / guessed if guessed else 0.0, hits / gold if gold else 0.0
        return {"precision": precision, "recall": recall,
                "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}

    totals = [sum(counts[i] for counts in found.values()) for i in range(3)]
    return {"token_accuracy": right / tokens if tokens else 0.0, **scores(*totals),
            "entities": totals[2], "predicted_entities": totals[1],
            "by_type": {kind: {**scores(*found[kind]), "support": found[kind][2]} for kind in sorted(found)}}


class OncePerMessage(logging.Filter):
    """A logging filter that lets each distinct message through once per process."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def sacrebleu_warnings_once() -> None:
    """sacreBLEU warns about tokenized-looking text on every corpus score (evaluate scores
    cased, lower-cased and 1- to 4-gram BLEU: up to 18 lines); say it once."""
    logger = logging.getLogger("sacrebleu")
    if not any(isinstance(f, OncePerMessage) for f in logger.filters):
        logger.addFilter(OncePerMessage())


def cider(hypotheses: list[str], references: list[list[str]]) -> dict:
    """CIDEr-D (pycocoevalcap's scorer, pure Python) of tokenized ``hypotheses`` against
    each one's ``references``; empty when pycocoevalcap is not installed."""
    try:
        from pycocoevalcap.cider.cider import Cider
    except ImportError:  # optional: the captioning extra
        return {}
    if not hypotheses:
        return {"cider": 0.0}
    score, _ = Cider().compute_score({i: refs for i, refs in enumerate(references)},
                                     {i: [h] for i, h in enumerate(hypotheses)})
    return {"cider": float(score)}


# --- generated text: diversity ------------------------------------------------------------------

def caption_diversity(texts: Sequence[str]) -> dict:
    """How varied generated sentences are: a decoder that collapses onto one sentence form
    can still share many n-grams with the references (BLEU), so report beside it

    * ``distinct_captions``: the number of different texts (of ``captions``), and their ratio;
    * ``distinct_1`` / ``distinct_2``: distinct word unigrams / bigrams over all of them
      (Li et al. 2016's distinct-n; words split on whitespace, case kept; 0 when there are none).
    """
    texts = [t.strip() for t in texts]
    words = [t.split() for t in texts]
    report: dict = {"captions": len(texts), "distinct_captions": len(set(texts)),
                    "distinct_ratio": len(set(texts)) / len(texts) if texts else 0.0}
    for n in (1, 2):
        grams = [tuple(w[i:i + n]) for w in words for i in range(len(w) - n + 1)]
        report[f"distinct_{n}"] = len(set(grams)) / len(grams) if grams else 0.0
    return report
