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
