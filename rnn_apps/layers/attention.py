"""Soft attention over a sequence of encoder outputs (translation now, captioning later).

At decoder step t the query ``q_t`` (the decoder's hidden state) scores every encoder
output ``k_s``; a softmax over the real (unpadded) source positions turns the scores into
weights ``a_ts``, and the context is the weighted average of the encoder outputs:

    bahdanau (additive):        score(q_t, k_s) = v . tanh(W_q q_t + W_k k_s)
    luong (multiplicative,      score(q_t, k_s) = q_t . (W k_s)
           "general")
    a_ts = softmax_s(score(q_t, k_s) masked to -1e9 where s is padding)
    context_t = sum_s a_ts k_s

Padding gets weight exactly 0, so a sentence attends the same way alone or padded
inside a batch, and the weights over its real tokens sum to 1.
"""
from __future__ import annotations

import keras
from keras import ops

@keras.saving.register_keras_serializable(package="rnn_apps")
class Attention(keras.layers.Layer):
    """``(query [b, tq, dq], values [b, ts, dv], source_mask [b, ts] 1/0)`` ->
    ``(context [b, tq, dv], weights [b, tq, ts])``.

    Args:
        kind: ``bahdanau`` or ``luong``.
        units: size of the additive score's hidden layer (bahdanau only).
    """

    def __init__(self, kind: str = "bahdanau", units: int = 64, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("bahdanau", "luong"):
            raise ValueError(f"unknown attention {kind!r}; choose bahdanau or luong")
        self.kind, self.units = kind, units

    def build(self, query_shape, values_shape=None, source_mask_shape=None):
        query_dim, values_dim = query_shape[-1], values_shape[-1]
        if self.kind == "bahdanau":
            self.w_query = self.add_weight(name="w_query", shape=(query_dim, self.units))
            self.w_keys = self.add_weight(name="w_keys", shape=(values_dim, self.units))
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            self.v = self.add_weight(name="v", shape=(self.units,))
        else:
            self.w = self.add_weight(name="w", shape=(values_dim, query_dim))

    def scores(self, query, values):
        """Unmasked scores ``[b, tq, ts]``."""
        if self.kind == "bahdanau":
            q = ops.matmul(query, self.w_query)[:, :, None, :]  # [b, tq, 1, u]
            k = ops.matmul(values, self.w_keys)[:, None, :, :]  # [b, 1, ts, u]
            return ops.sum(ops.tanh(q + k + self.bias) * self.v, axis=-1)
        return ops.matmul(query, ops.transpose(ops.matmul(values, self.w), (0, 2, 1)))

    def call(self, query, values, source_mask):
        scores = self.scores(query, values)
        real = ops.cast(source_mask, scores.dtype)[:, None, :]  # [b, 1, ts]
        weights = ops.softmax(scores + (1.0 - real) * -1e9, axis=-1) * real
        return ops.matmul(weights, values), weights

    def compute_output_shape(self, query_shape, values_shape=None, source_mask_shape=None):
        return (tuple(query_shape[:2]) + (values_shape[-1],), tuple(query_shape[:2]) + (values_shape[1],))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "units": self.units}


@keras.saving.register_keras_serializable(package="rnn_apps")
class AttendingCell(keras.layers.Layer):
    """A decoder step that looks before it speaks (Show, Attend and Tell).

    At step t the previous hidden state scores every location l of an image grid,
    ``e_tl = v . tanh(W_h h_{t-1} + W_a a_l + b)``, a softmax gives ``alpha_t`` over the L
    locations, and the context ``z_t`` is

    * soft: the weighted mix ``sum_l alpha_tl a_l``;
    * hard: one location: during training a sample of ``alpha_t`` (straight-through
      Gumbel-softmax, so gradients still reach the scores), at inference the most likely.

    ``z_t`` (and, with ``image_vector``, the mean of the grid: the lecture's third weight
    matrix ``W_ih v`` added at every step) joins the word embedding as the inner cell's input.

    Keras 3 RNN layers take no constant inputs, so the flattened grid travels with the word
    embedding in every step's input: ``[embedding (E) | grid (L * D)]``. Output per step:
    ``[h_t (units) | z_t (D) | alpha_t (L)]``.
    """

    def __init__(self, cell: str, units: int, locations: int, depth: int, embedding: int, attention_units: int = 64,
                 mode: str = "soft", image_vector: bool = False, temperature: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        from rnn_apps.layers.cells import CELLS

        if mode not in ("soft", "hard"):
            raise ValueError(f"unknown attention mode {mode!r}; choose soft or hard")
        self.cell_name, self.units, self.locations, self.depth, self.embedding = cell, units, locations, depth, embedding
        self.attention_units, self.mode, self.image_vector, self.temperature = attention_units, mode, image_vector, \
            temperature
        self.inner = CELLS[cell].step(units, name="inner")
        self.state_size = self.inner.state_size
        self.output_size = units + depth + locations
        self.seed = keras.random.SeedGenerator(0)

    def build(self, input_shape):
        self.w_h = self.add_weight(name="w_h", shape=(self.units, self.attention_units))
        self.w_a = self.add_weight(name="w_a", shape=(self.depth, self.attention_units))
        self.b = self.add_weight(name="b", shape=(self.attention_units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.attention_units,))
        self.inner.build((None, self.embedding + self.depth * (2 if self.image_vector else 1)))

    def attend(self, h, grid, training=False):
        """``h [b, units]``, ``grid [b, L, D]`` -> ``(alpha [b, L], z [b, D])``."""
        scores = ops.sum(ops.tanh(ops.matmul(h, self.w_h)[:, None, :] + ops.matmul(grid, self.w_a) + self.b) * self.v,
                         axis=-1)
        alpha = ops.softmax(scores, axis=-1)
        if self.mode == "hard":
            if training:  # straight-through Gumbel-softmax: one location forward, soft gradients back
                uniform = keras.random.uniform(ops.shape(scores), minval=1e-6, maxval=1.0, seed=self.seed)
                soft = ops.softmax((ops.log(alpha + 1e-9) - ops.log(-ops.log(uniform))) / self.temperature, axis=-1)
                chosen = ops.one_hot(ops.argmax(soft, axis=-1), self.locations, dtype=soft.dtype)
                alpha = chosen + soft - ops.stop_gradient(soft)
            else:
                alpha = ops.one_hot(ops.argmax(alpha, axis=-1), self.locations, dtype=alpha.dtype)
        return alpha, ops.sum(alpha[:, :, None] * grid, axis=1)

    def call(self, inputs, states, training=False):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        words = inputs[:, :self.embedding]
        grid = ops.reshape(inputs[:, self.embedding:], (-1, self.locations, self.depth))
        alpha, context = self.attend(states[0], grid, training=training)
        x = [words, context] + ([ops.mean(grid, axis=1)] if self.image_vector else [])
        h, new_states = self.inner(ops.concatenate(x, axis=-1), states, training=training)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        return ops.concatenate([h, context, alpha], axis=-1), new_states

    def get_config(self):
        return {**super().get_config(), "cell": self.cell_name, "units": self.units, "locations": self.locations,
                "depth": self.depth, "embedding": self.embedding, "attention_units": self.attention_units,
                "mode": self.mode, "image_vector": self.image_vector, "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="rnn_apps")
class DoublyStochastic(keras.layers.Layer):
    """Show-Attend-Tell's regulariser: every location attended about once over the caption.

    ``(weights [b, T, L], token mask [b, T], carry)`` -> ``carry`` unchanged (``weights``
    when there is none); adds the loss ``strength * mean_b sum_l (1 - sum_t alpha_tl)^2`` over
    the real steps, which pushes the decoder to look at every part of the image at some point
    instead of staring at one. Pass a tensor the model's output depends on as ``carry`` (the
    decoder's outputs): a Keras model keeps only the layers on the way to its outputs, so a
    penalty whose output nothing reads is never added to the loss.
    """

    def __init__(self, strength: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.strength = strength

    def call(self, weights, mask, carry=None):
        coverage = ops.sum(weights * mask[:, :, None], axis=1)  # [b, L]
        self.add_loss(self.strength * ops.mean(ops.sum(ops.square(1.0 - coverage), axis=-1)))
        return weights if carry is None else carry

    def compute_output_shape(self, weights_shape, mask_shape=None, carry_shape=None):
        return weights_shape if carry_shape is None else carry_shape

    def get_config(self):
        return {**super().get_config(), "strength": self.strength}
