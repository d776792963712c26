"""Greedy, sampling and beam decoding in NumPy, over a device's one-step function.

The same algorithms as ``rnn_apps.decoding`` (which run as TensorFlow graphs), written
again for a runtime without TensorFlow, with the same settings (``Sampling``,
``Decoding`` from ``rnn_apps.decoding.settings``) and the same order of filters:
temperature, then top-k, then the nucleus. A step function takes one token id and the
states and returns ``(logits [vocab], states)``; on a device it is one call of a
TFLite signature with static batch-1 shapes, so beams are stepped one at a time.
Greedy decoding gives exactly the TensorFlow decoders' tokens (a test checks it);
random draws come from NumPy, so a seed repeats here but not across the two.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator, Sequence

import numpy as np

from rnn_apps.decoding.settings import Sampling

Step = Callable[[int, dict], tuple[np.ndarray, dict]]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - math.log(np.exp(shifted).sum())


def filter_logits(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """``[vocab]`` logits -> tempered logits with everything outside top-k and the nucleus at -inf."""
    logits = logits.astype(np.float64) / max(temperature, 1e-6)
    if 0 < top_k < len(logits):
        kth = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits < kth, -np.inf, logits)
    if top_p < 1:
        order = np.argsort(-logits, kind="stable")
        probs = np.exp(log_softmax(logits[order]))
        before = np.concatenate([[0.0], np.cumsum(probs)[:-1]])  # probability of the tokens above
        smallest_kept = logits[order][before < top_p].min()
        logits = np.where(logits < smallest_kept, -np.inf, logits)
    return logits


def choose(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator, banned: Sequence[int] = ()) -> int:
    """The next token: the argmax, or a draw from the filtered distribution."""
    logits = np.array(logits, dtype=np.float64)
    logits[list(banned)] = -np.inf
    if sampling.greedy or sampling.temperature == 0:
        return int(np.argmax(logits))
    filtered = filter_logits(logits, sampling.temperature, sampling.top_k, sampling.top_p)
    probs = np.exp(log_softmax(filtered))
    return int(rng.choice(len(probs), p=probs / probs.sum()))


def generate(step: Step, logits: np.ndarray, states: dict, length: int, sampling: Sampling,
             banned: Sequence[int] = (), end_id: int | None = None) -> Iterator[int]:
    """Yield up to ``length`` tokens, one ``step`` each; stop after ``end_id`` (not yielded)."""
    rng = np.random.default_rng(sampling.seed)
    for _ in range(length):
        token = choose(logits, sampling, rng, banned)
        if token == end_id:
            return
        yield token
        logits, states = step(token, states)


def beam_search(step: Step, logits: np.ndarray, states: dict, *, beam: int, max_length: int, end_id: int,
                length_penalty: float = 0.0, banned: Sequence[int] = ()) -> tuple[list[int], float]:
    """The most probable sequence of ``beam`` hypotheses (ids without ``end_id``, its log-probability).

    Like ``rnn_apps.decoding.beam.beam_search``: every step extends every live beam by
    every token, keeps the ``beam`` best, lets ended beams keep their score, and chooses
    at the end by log-probability divided by ``((5 + length) / 6) ** length_penalty``.
    """
    beams = [([], 0.0, False, logits, states)]  # tokens, log-probability, ended, next logits, states
    for _ in range(max_length):
        if all(ended for _, _, ended, _, _ in beams):
            break
        candidates = []
        for index, (tokens, score, ended, logits, states) in enumerate(beams):
            if ended:
                candidates.append((score, index, None))
                continue
            log_probs = np.array(logits, dtype=np.float64)
            log_probs[list(banned)] = -np.inf
            log_probs = log_softmax(log_probs)
            for token in np.argsort(-log_probs, kind="stable")[:beam]:
                candidates.append((score + float(log_probs[token]), index, int(token)))
        candidates.sort(key=lambda c: -c[0])
        extended = []
        for score, index, token in candidates[:beam]:
            tokens, _, ended, logits, states = beams[index]
            if token is None:
                extended.append((tokens, score, True, logits, states))
            elif token == end_id:
                extended.append((tokens, score, True, logits, states))
            else:
                new_logits, new_states = step(token, states)
                extended.append((tokens + [token], score, False, new_logits, new_states))
        beams = extended

    def penalised(b):
        length = len(b[0]) + (1 if b[2] else 0)  # an ended beam counts its end token
        return b[1] / ((5.0 + length) / 6.0) ** length_penalty

    best = max(beams, key=penalised)
    return best[0], best[1]
