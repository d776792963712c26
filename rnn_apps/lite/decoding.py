"""Greedy, sampling and beam decoding in NumPy, over a device's one-step function.

The same algorithms as ``rnn_apps.decoding`` (which run as TensorFlow graphs), written
again for a runtime without TensorFlow, with the same settings (``Sampling``,
``Decoding`` from ``rnn_apps.decoding.settings``) and the same order of filters:
temperature, then top-k, then the nucleus. A step function takes one token id and the
states and returns ``(logits [vocab], states)``; on a device it is one call of a
TFLite signature with static batch-1 shapes, so beams are stepped one at a time.
Greedy decoding gives exactly the TensorFlow decoders' tokens (a test checks it);
random draws come from NumPy, so a seed repeats here but not across the two.

``generate_in_blocks`` gives ``generate``'s tokens with several steps per model call (a
language model's ``steps`` signature): the model chooses them with the uniforms NumPy would
draw, and ``choose_rows`` checks every choice in float64, keeping its own where they differ.
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


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """``log_softmax`` of each row of ``[n, vocab]``, with the very same float operations
    (``math.log`` per row: NumPy's vectorised log may differ from it in the last bit)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    sums = np.exp(shifted).sum(axis=-1)
    return shifted - np.array([math.log(s) for s in sums])[:, None]


def filter_rows(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """``[n, vocab]`` logits -> tempered logits with everything outside top-k and the nucleus at -inf."""
    logits = logits.astype(np.float64) / max(temperature, 1e-6)
    vocab = logits.shape[-1]
    if 0 < top_k < vocab:
        kth = np.partition(logits, vocab - top_k, axis=-1)[:, vocab - top_k, None]
        logits = np.where(logits < kth, -np.inf, logits)
    if top_p < 1:
        ordered = np.take_along_axis(logits, np.argsort(-logits, axis=-1, kind="stable"), axis=-1)
        probs = np.exp(log_softmax_rows(ordered))
        before = np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, axis=-1)[:, :-1]], axis=-1)
        smallest_kept = np.where(before < top_p, ordered, np.inf).min(axis=-1, keepdims=True)  # the first is kept
        logits = np.where(logits < smallest_kept, -np.inf, logits)
    return logits


def filter_logits(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """``[vocab]`` logits -> tempered logits with everything outside top-k and the nucleus at -inf."""
    return filter_rows(np.asarray(logits)[None], temperature, top_k, top_p)[0]


def is_greedy(sampling: Sampling) -> bool:
    return sampling.greedy or sampling.temperature == 0


def choose_rows(logits: np.ndarray, sampling: Sampling, uniforms: np.ndarray | None,
                banned: Sequence[int] = ()) -> np.ndarray:
    """``[n, vocab]`` logits -> ``[n]`` next tokens: the argmax of each row, or a draw from its
    filtered distribution with ``uniforms [n]`` (floats in [0, 1), one per row).

    A draw is what ``np.random.Generator.choice(vocab, p=probs)`` gives when its one call of
    ``random()`` returns that uniform: the first index whose normalised cumulative
    probability exceeds it. So rows decided together (a block of steps checked at once)
    get exactly the tokens that one ``choice`` per step gives.
    """
    logits = np.array(logits, dtype=np.float64)
    logits[:, list(banned)] = -np.inf
    if is_greedy(sampling):
        return logits.argmax(axis=-1)
    probs = np.exp(log_softmax_rows(filter_rows(logits, sampling.temperature, sampling.top_k, sampling.top_p)))
    if np.isnan(probs).any():
        raise ValueError("probabilities contain NaN")
    cdf = np.cumsum(probs / probs.sum(axis=-1, keepdims=True), axis=-1)
    cdf /= cdf[:, -1:]
    return (cdf <= np.asarray(uniforms)[:, None]).sum(axis=-1)  # searchsorted(cdf, u, side="right") per row


def choose(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator, banned: Sequence[int] = ()) -> int:
    """The next token: the argmax, or a draw from the filtered distribution (one ``rng.random()``)."""
    uniforms = None if is_greedy(sampling) else np.array([rng.random()])
    return int(choose_rows(np.asarray(logits)[None], sampling, uniforms, banned)[0])


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


# ``steps(token, states, uniforms [k]) -> (tokens [k], logits [k, vocab], states after each step
# {name: [k, ...]})``: k steps in one call, from ``token`` (not yet read) and the states before it;
# step i reads the token chosen at step i - 1 (``token`` first) and chooses with ``uniforms[i]``.
Steps = Callable[[int, dict, np.ndarray], tuple[np.ndarray, np.ndarray, dict]]


def generate_in_blocks(steps: Steps, block: int, logits: np.ndarray, states: dict, length: int,
                       sampling: Sampling, banned: Sequence[int] = ()) -> Iterator[int]:
    """The tokens of ``generate`` (same seed, same text), ``block`` steps per model call.

    The model chooses each block's tokens itself (argmax, or the sample that the same
    uniforms give); NumPy then chooses again from the logits the model returned, exactly as
    ``generate`` does, and keeps the block up to the first token it would choose otherwise
    (float32 in the model against float64 here: rare, near a boundary), which it replaces;
    the next block starts from there.
    """
    rng = np.random.default_rng(sampling.seed)
    # generate draws one uniform per sampled token (rng.choice), so drawing them at once is the same stream
    uniforms = np.zeros(length) if is_greedy(sampling) else rng.random(length)
    if length < 1:
        return
    token = int(choose_rows(np.asarray(logits)[None], sampling, uniforms[:1], banned)[0])  # after the prompt
    yield token
    done = 1
    while done < length:
        drawn = np.zeros(block)
        drawn[:min(block, length - done)] = uniforms[done:done + block]
        proposed, block_logits, block_states = steps(token, states, drawn)
        chosen = choose_rows(block_logits, sampling, drawn, banned)
        differ = np.flatnonzero(chosen != proposed)
        keep = min(int(differ[0]) + 1 if len(differ) else block, length - done)  # chosen[:keep] are all right
        for t in chosen[:keep]:
            yield int(t)
        done += keep
        token, states = int(chosen[keep - 1]), {name: s[keep - 1] for name, s in block_states.items()}


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
