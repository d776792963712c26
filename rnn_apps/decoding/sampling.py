"""Turning next-token logits into sequences: greedy, temperature, top-k and nucleus sampling.

Every decoder in rnn-apps (the language model, the translation and captioning decoders)
is driven through one function,

    step(tokens [batch, time] int32, states) -> (logits [batch, time, vocab], states)

where ``states`` is the list of recurrent states ``[batch, units]``. A prompt is run
through ``step`` once; after that each new token costs one ``step`` on ``[batch, 1]``
with the carried states, so generating ``n`` tokens is O(n), never a re-run of the
growing window. The per-token loop is a ``tf.while_loop`` inside a ``tf.function``
(``decode_loop``), so it runs as one graph, in Python and inside an exported SavedModel
alike.

``rnn_apps.decoding.beam.beam_search`` keeps the ``beam`` most probable sequences
instead, driven by the same ``step`` function.

Sampling is seeded per step (``stateless_categorical`` keyed on ``(seed, step)``), so a
seed fixes the text whether it is produced in one call or streamed in chunks.

KerasHub's samplers were considered: they fit an RNN state as their cache, but they
bring ``tensorflow-text`` and ``kagglehub`` with them and step through a fixed-size
prompt buffer; this module is small, has no such dependencies and is what the
SavedModel signatures run.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from rnn_apps.decoding.settings import Sampling

StepFn = Callable[[tf.Tensor, list], tuple]
NEG_INF = -1e9


def sampling_tensors(sampling: Sampling) -> dict:
    """The settings as graph inputs (one trace serves every setting)."""
    return {"greedy": tf.constant(sampling.greedy or sampling.temperature == 0),
            "temperature": tf.constant(max(sampling.temperature, 1e-6), tf.float32),
            "top_k": tf.constant(sampling.top_k, tf.int32), "top_p": tf.constant(sampling.top_p, tf.float32),
            "seed": tf.constant(sampling.seed, tf.int64)}


def filter_logits(logits: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor) -> tf.Tensor:
    """``[batch, vocab]`` logits -> tempered logits with tokens outside top-k / the nucleus at -1e9.

    Temperature is applied first, then top-k, then top-p on what is left (the usual order).
    """
    logits = tf.cast(logits, tf.float32) / temperature
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth_largest = tf.math.top_k(logits, k=k).values[:, -1:]
    logits = tf.where(logits < kth_largest, NEG_INF, logits)
    # Nucleus: sort descending; keep a token while the probability before it is < p.
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    before = tf.math.cumsum(tf.nn.softmax(ordered), axis=-1, exclusive=True)
    smallest_kept = tf.reduce_min(tf.where(before < top_p, ordered, tf.float32.max), axis=-1, keepdims=True)
    return tf.where(logits < smallest_kept, NEG_INF, logits)


def choose_tokens(logits: tf.Tensor, greedy: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor,
                  top_p: tf.Tensor, seed: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    """``[batch, vocab]`` logits -> ``[batch]`` int32 next tokens (argmax or a seeded sample)."""
    def sample():
        filtered = filter_logits(logits, temperature, top_k, top_p)
        return tf.random.stateless_categorical(filtered, 1, seed=tf.stack([seed, tf.cast(step, tf.int64)]),
                                               dtype=tf.int32)[:, 0]

    # tf.cond, not tf.where: greedy decoding must not pay for filtering (two sorts of the vocabulary)
    return tf.cond(greedy, lambda: tf.argmax(logits, axis=-1, output_type=tf.int32), sample)


def ban_tokens(logits: tf.Tensor, banned: Sequence[int]) -> tf.Tensor:
    """Set the logits of ``banned`` ids (padding, unknown) to -1e9 so they are never chosen."""
    if not banned:
        return logits
    vocab = logits.shape[-1]
    mask = np.zeros([vocab], np.float32)
    mask[list(banned)] = NEG_INF
    return logits + mask


def decode_loop(step: StepFn, logits: tf.Tensor, states: list, length: tf.Tensor, *, greedy, temperature,
                top_k, top_p, seed, first_step: tf.Tensor | int = 0, banned: Sequence[int] = (),
                end_id: int | None = None) -> tuple[tf.Tensor, tf.Tensor, list]:
    """Choose up to ``length`` tokens, one ``step`` each, inside a ``tf.while_loop``.

    Args:
        step: the one-step function (see the module docstring).
        logits: ``[batch, vocab]`` logits for the first new token (from the prompt).
        states: the states after the prompt.
        length: most tokens to produce (a scalar tensor: no retrace per length).
        greedy, temperature, top_k, top_p, seed: see ``Sampling.tensors``.
        first_step: index of the first new token, which keys its random draw.
        banned: ids never produced.
        end_id: the token that ends a sequence (translation): after it a row gets padding
            (0), and the loop stops once every row has ended. None: always ``length`` tokens.

    Returns:
        ``(tokens [batch, n <= length] int32, logits for the token after them, states)``.
    """
    tokens = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=tf.TensorShape([logits.shape[0]]))
    finished = tf.zeros(tf.shape(logits)[:1], tf.bool)

    def running(i, logits, states, tokens, finished):
        return (i < length) & ~tf.reduce_all(finished) if end_id is not None else i < length

    def body(i, logits, states, tokens, finished):
        token = choose_tokens(ban_tokens(logits, banned), greedy, temperature, top_k, top_p, seed,
                              first_step + i)
        if end_id is not None:
            token = tf.where(finished, 0, token)
            finished = finished | (token == end_id)
        new_logits, new_states = step(token[:, None], states)
        return i + 1, new_logits[:, -1, :], list(new_states), tokens.write(i, token), finished

    _, logits, states, tokens, _ = tf.while_loop(running, body,
                                                 (tf.constant(0), logits, list(states), tokens, finished))
    return tf.transpose(tokens.stack()), logits, states


class Generator:
    """Generates from a one-step model: prompt once, then compiled chunks of steps.

    Args:
        step: the one-step function; a Keras model ``[tokens, *states] -> [logits, *states]``
            is wrapped by ``keras_step``.
        initial_states: ``batch -> list of zero states``.
        banned: ids never produced (padding, unknown).
    """

    def __init__(self, step: StepFn, initial_states: Callable[[int], list], banned: Sequence[int] = ()):
        self.step, self.initial_states, self.banned = step, initial_states, tuple(banned)
        # ``run_window(tokens [batch, time], states)``: the compiled step over a whole window
        self.run_window = tf.function(lambda tokens, states: step(tokens, states), reduce_retracing=True)
        self._loop = tf.function(self._run, reduce_retracing=True)

    def _run(self, logits, states, length, first_step, greedy, temperature, top_k, top_p, seed):
        return decode_loop(self.step, logits, states, length, greedy=greedy, temperature=temperature, top_k=top_k,
                           top_p=top_p, seed=seed, first_step=first_step, banned=self.banned)

    def start(self, prompt: np.ndarray) -> tuple[tf.Tensor, list]:
        """``[batch, time]`` prompt ids -> (logits for the next token ``[batch, vocab]``, states)."""
        prompt = tf.constant(prompt, tf.int32)
        logits, states = self.run_window(prompt, self.initial_states(int(prompt.shape[0])))
        return logits[:, -1, :], list(states)

    def stream(self, prompt: np.ndarray, length: int, sampling: Sampling, chunk: int = 32) -> Iterator[np.ndarray]:
        """Yield ``[batch, k]`` new ids, ``chunk`` at a time, until ``length`` are out."""
        logits, states = self.start(prompt)
        settings = sampling_tensors(sampling)
        done = 0
        while done < length:
            n = min(chunk, length - done)
            ids, logits, states = self._loop(logits, states, tf.constant(n), tf.constant(done), **settings)
            done += n
            yield ids.numpy()

    def generate(self, prompt: np.ndarray, length: int, sampling: Sampling) -> np.ndarray:
        """``[batch, time]`` prompt ids -> ``[batch, length]`` new ids, in one compiled loop."""
        return next(self.stream(prompt, length, sampling, chunk=max(length, 1))) if length else \
            np.zeros((len(prompt), 0), np.int32)


def keras_step(model) -> StepFn:
    """Adapt a Keras model ``[tokens, *states] -> [logits, *states]`` to the step interface."""

    def step(tokens, states):
        logits, *new_states = model([tokens, *states], training=False)
        return logits, new_states

    return step
