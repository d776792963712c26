"""Beam search over a one-step decoder: keep the ``beam`` most probable sequences.

All beams of all examples are advanced by one ``step`` call per time step (``batch *
beam`` rows); ended beams keep their score; the final choice divides each beam's
log-probability by GNMT's length penalty ``((5 + length) / 6) ** alpha``. The ``step``
interface is the one of ``rnn_apps.decoding.sampling``.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from rnn_apps.decoding.sampling import NEG_INF, StepFn, ban_tokens


def beam_search(step: StepFn, logits: tf.Tensor, states: list, *, beam: int, max_length: int, end_id: int,
                length_penalty: float = 0.0, banned: Sequence[int] = ()) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Keep the ``beam`` most probable sequences, all beams advanced by one ``step`` call per time step.

    Args:
        step: the one-step function; it sees ``batch * beam`` rows.
        logits: ``[batch, vocab]`` logits for the first token; ``states`` the states after the prompt
            (``[batch, units]`` each; they are repeated for every beam).
        beam: beams per example (1 is greedy decoding that stops at ``end_id``).
        max_length: most tokens per sequence (including ``end_id``).
        end_id: the token that ends a sequence; an ended beam keeps its score.
        length_penalty: alpha of GNMT's ``((5 + length) / 6) ** alpha``; the final choice
            divides each beam's log-probability by it (0 = pure log-probability).
        banned: ids never produced.

    Returns:
        ``(tokens [batch, max_length] int32, padded with 0 after end_id; log-probability
        [batch]; length [batch])`` of the best beam of each example.
    """
    batch, vocab = tf.shape(logits)[0], int(logits.shape[-1])  # the batch may be unknown when traced
    repeat = lambda t: tf.repeat(t, beam, axis=0)  # noqa: E731  [batch, ...] -> [batch * beam, ...]
    logits, states = repeat(logits), [repeat(s) for s in states]
    # Only beam 0 is alive at the start, so the first top-k does not pick k copies of one token.
    scores = tf.tile(tf.constant([0.0] + [NEG_INF] * (beam - 1)), [batch])
    finished = tf.zeros([batch * beam], tf.bool)
    lengths = tf.zeros([batch * beam], tf.int32)
    tokens = tf.zeros([batch * beam, 0], tf.int32)
    end_only = tf.one_hot(end_id, vocab, on_value=0.0, off_value=NEG_INF)
    rows = tf.range(batch)[:, None] * beam

    def body(t, logits, states, scores, finished, lengths, tokens):
        log_probs = tf.nn.log_softmax(ban_tokens(tf.cast(logits, tf.float32), banned))
        log_probs = tf.where(finished[:, None], end_only[None, :], log_probs)  # ended: stay ended, free
        total = tf.reshape(scores[:, None] + log_probs, [batch, beam * vocab])
        best, index = tf.math.top_k(total, k=beam)  # [batch, beam]
        source = tf.reshape(rows + index // vocab, [-1])  # which old beam each new beam extends
        token = tf.reshape(index % vocab, [-1])
        was_finished = tf.gather(finished, source)
        tokens = tf.concat([tf.gather(tokens, source), tf.where(was_finished, 0, token)[:, None]], axis=1)
        lengths = tf.gather(lengths, source) + tf.cast(~was_finished, tf.int32)
        finished = was_finished | (token == end_id)
        states = [tf.gather(s, source) for s in states]
        new_logits, new_states = step(token[:, None], states)
        return t + 1, new_logits[:, -1, :], list(new_states), tf.reshape(best, [-1]), finished, lengths, tokens

    _, _, _, scores, finished, lengths, tokens = tf.while_loop(
        lambda t, logits, states, scores, finished, *_: (t < max_length) & ~tf.reduce_all(finished),
        body, (tf.constant(0), logits, list(states), scores, finished, lengths, tokens),
        shape_invariants=(tf.TensorShape([]), logits.shape, [s.shape for s in states], scores.shape,
                          finished.shape, lengths.shape, tf.TensorShape([None, None])))
    penalty = tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, length_penalty)
    choice = tf.argmax(tf.reshape(scores / penalty, [batch, beam]), axis=1, output_type=tf.int32)
    pick = tf.range(batch) * beam + choice
    best_tokens = tf.gather(tokens, pick)
    best_tokens = tf.pad(best_tokens, [[0, 0], [0, max_length - tf.shape(best_tokens)[1]]])
    return best_tokens, tf.gather(scores, pick), tf.gather(lengths, pick)
