"""A linear-chain conditional random field (CRF) over per-token scores, for tagging.

A softmax per token picks each tag alone; a CRF scores whole tag sequences, so a tagger
can learn that ``I-PER`` never follows ``O`` and that ``B-LOC I-LOC`` goes together. With
emission scores ``e[t, y]`` from the network (``[batch, time, tags]``, one vector per
token) and learned transition scores ``A[i, j]`` (tag ``i`` followed by tag ``j``), plus a
start score ``s[y]`` and an end score ``z[y]``, a tag sequence ``y_1..y_n`` scores

    score(y) = s[y_1] + sum_t e[t, y_t] + sum_{t>1} A[y_{t-1}, y_t] + z[y_n]

and its probability is ``exp(score(y)) / Z`` over all ``tags ** n`` sequences. Training
minimises ``log Z - score(gold)``; ``log Z`` comes from the **forward algorithm** (a
log-sum-exp over the previous tag at every step, linear in ``n``), and prediction is the
highest-scoring sequence from the **Viterbi algorithm** (the same recursion with max and
back-pointers). Both are written with ``keras.ops`` (``scan`` over time), so they train in
any Keras model and export to SavedModel and TFLite with builtin ops only (the loop
becomes a ``WHILE``). Keras 3 has no CRF layer (keras#20363) and TensorFlow Addons is gone.

Padding: ``mask [batch, time]`` is true on real tokens, which come first (padding at the
end, as every rnn-apps batch is padded). A padded step leaves the recursion unchanged, so
a sentence gets the same tags and the same likelihood alone or padded in a batch.
"""
from __future__ import annotations

import keras
from keras import ops


def _time_major(x):
    """``[batch, time, ...]`` -> ``[time, batch, ...]`` (what ``ops.scan`` walks along)."""
    return ops.moveaxis(x, 1, 0)


def _steps(emissions, m):
    """``[time-1, batch, tags + 1]``: the emissions after the first step with the mask as one
    more channel, one tensor for ``ops.scan`` (Keras' TensorFlow scan fails on several inputs
    whose time length is unknown, as in bucketed batches: it compares their static lengths)."""
    return _time_major(ops.concatenate([emissions[:, 1:], m[:, 1:, None]], axis=-1))


def _prepared_mask(emissions, mask):
    """A float mask ``[batch, time]`` (all ones when ``mask`` is None)."""
    if mask is None:
        return ops.ones(ops.shape(emissions)[:2], dtype=emissions.dtype)
    return ops.cast(mask, emissions.dtype)


def _argmax(x, axis: int):
    """The first index of the largest value along ``axis`` (int32), from ``max`` and ``where``
    only: Keras' TensorFlow ``argmax`` adds a ``BitwiseAnd`` that TFLite's builtin ops lack."""
    size = ops.shape(x)[axis]
    shape = [1] * len(x.shape)
    shape[axis] = size
    reversed_index = ops.reshape(size - 1 - ops.arange(size, dtype="int32"), shape)
    top = ops.max(x, axis=axis, keepdims=True)
    return size - 1 - ops.max(ops.where(x >= top, reversed_index, -1), axis=axis)


def sequence_score(emissions, tags, mask, transitions, start, end):
    """``score(y)`` of the given ``tags [batch, time]`` (int): ``[batch]``.

    Padded steps (mask 0) add nothing; the end score is taken at each sequence's last real tag.
    """
    m = _prepared_mask(emissions, mask)
    tags = ops.cast(tags, "int32")
    emitted = ops.squeeze(ops.take_along_axis(emissions, tags[..., None], axis=2), axis=2)  # [b, T]
    score = ops.sum(emitted * m, axis=1) + ops.take(start, tags[:, 0])
    pair = ops.take(ops.reshape(transitions, [-1]), tags[:, :-1] * ops.shape(transitions)[0] + tags[:, 1:])
    score = score + ops.sum(pair * m[:, 1:], axis=1)
    last = ops.maximum(ops.cast(ops.sum(m, axis=1), "int32") - 1, 0)  # index of the last real step
    last_tag = ops.squeeze(ops.take_along_axis(tags, last[:, None], axis=1), axis=1)
    return score + ops.take(end, last_tag)


def log_partition(emissions, mask, transitions, start, end):
    """``log Z`` by the forward algorithm: ``[batch]``.

    ``alpha_t[j] = log sum_i exp(alpha_{t-1}[i] + A[i, j]) + e[t, j]``, kept unchanged on padding.
    """
    m = _prepared_mask(emissions, mask)
    alpha0 = start[None, :] + emissions[:, 0]  # [b, K]

    def step(alpha, inputs):
        e_t, m_t = inputs[:, :-1], inputs[:, -1]  # [b, K], [b]
        scores = alpha[:, :, None] + transitions[None, :, :]  # [b, K from, K to]
        new = ops.logsumexp(scores, axis=1) + e_t
        alpha = ops.where(m_t[:, None] > 0, new, alpha)
        return alpha, alpha

    alpha, _ = ops.scan(step, alpha0, _steps(emissions, m))
    return ops.logsumexp(alpha + end[None, :], axis=1)


def negative_log_likelihood(emissions, tags, mask, transitions, start, end):
    """``log Z - score(tags)`` per sequence: ``[batch]`` (0 for a sequence with no real token)."""
    m = _prepared_mask(emissions, mask)
    nll = log_partition(emissions, m, transitions, start, end) - sequence_score(emissions, tags, m, transitions,
                                                                                start, end)
    return nll * ops.cast(ops.sum(m, axis=1) > 0, nll.dtype)


def viterbi_decode(emissions, mask, transitions, start, end):
    """The best tag sequence and its score: ``(tags [batch, time] int32, score [batch])``.

    ``delta_t[j] = max_i (delta_{t-1}[i] + A[i, j]) + e[t, j]``, remembering the best ``i``
    for every ``j``; the best last tag is followed back through those pointers. On padding
    the pointer is the identity (the last real tag is carried through) and the tag is 0.
    """
    m = _prepared_mask(emissions, mask)
    num_tags = ops.shape(transitions)[0]
    identity = ops.arange(num_tags, dtype="int32")[None, :]  # [1, K]
    delta0 = start[None, :] + emissions[:, 0]

    def forward(delta, inputs):
        e_t, m_t = inputs[:, :-1], inputs[:, -1]
        scores = delta[:, :, None] + transitions[None, :, :]  # [b, K from, K to]
        best_previous = _argmax(scores, axis=1)  # [b, K]
        new = ops.max(scores, axis=1) + e_t
        real = m_t[:, None] > 0
        pointer = ops.where(real, best_previous, identity)
        return ops.where(real, new, delta), ops.cast(pointer, delta.dtype)  # scan keeps the carry's dtype

    delta, pointers = ops.scan(forward, delta0, _steps(emissions, m))
    pointers = ops.cast(pointers, "int32")  # [T-1, b, K]
    final = delta + end[None, :]
    last_tag = _argmax(final, axis=1)  # [b]

    def backward(tag, pointer_t):  # pointer_t [b, K]: the best previous tag for each tag at t
        previous = ops.squeeze(ops.take_along_axis(pointer_t, tag[:, None], axis=1), axis=1)
        return previous, previous

    _, earlier = ops.scan(backward, last_tag, pointers, reverse=True)  # [T-1, b]: tags at 0..T-2
    tags = ops.concatenate([ops.moveaxis(earlier, 0, 1), last_tag[:, None]], axis=1)
    return tags * ops.cast(m, "int32"), ops.max(final, axis=1)


@keras.saving.register_keras_serializable(package="rnn_apps")
class CRF(keras.layers.Layer):
    """The CRF's weights (``transitions [tags, tags]``, ``start [tags]``, ``end [tags]``) and
    its two algorithms.

    In a model it passes the emission scores through unchanged (``[batch, time, tags]``, with
    their mask), so the model's output is what ``CRFLoss`` trains on; ``decode`` runs Viterbi
    on them for prediction and inside exported signatures.
    """

    def __init__(self, num_tags: int, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = num_tags
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.num_tags:
            raise ValueError(f"CRF over {self.num_tags} tags got emission scores of width {input_shape[-1]}")
        init = keras.initializers.RandomUniform(-0.1, 0.1)
        self.transitions = self.add_weight(shape=(self.num_tags, self.num_tags), initializer=init, name="transitions")
        self.start = self.add_weight(shape=(self.num_tags,), initializer=init, name="start")
        self.end = self.add_weight(shape=(self.num_tags,), initializer=init, name="end")

    def call(self, emissions, mask=None):
        return emissions

    def compute_mask(self, inputs, mask=None):
        return mask

    def weights_as_tensors(self) -> tuple:
        """``(transitions, start, end)`` read once, outside the time loop: a variable read inside
        the loop's body does not survive TFLite's freezing (``READ_VARIABLE`` fails in ``WHILE``)."""
        return tuple(ops.copy(w.value) for w in (self.transitions, self.start, self.end))

    def negative_log_likelihood(self, emissions, tags, mask=None):
        """``log Z - score(tags)``: ``[batch]``."""
        emissions = ops.cast(emissions, self.transitions.dtype)
        return negative_log_likelihood(emissions, tags, mask, *self.weights_as_tensors())

    def decode(self, emissions, mask=None):
        """Viterbi: ``(tags [batch, time] int32, score [batch])``."""
        emissions = ops.cast(emissions, self.transitions.dtype)
        return viterbi_decode(emissions, mask, *self.weights_as_tensors())

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags}


@keras.saving.register_keras_serializable(package="rnn_apps")
class CRFLoss(keras.losses.Loss):
    """The CRF's negative log-likelihood as a Keras loss, for ``model.compile``.

    ``y_true``: gold tags ``[batch, time]``; ``y_pred``: the emission scores the ``crf``
    layer passed through; ``sample_weight [batch, time]`` (0 on padding, as rnn-apps' per-step
    datasets give) is the mask. The loss is the summed negative log-likelihood divided by the
    number of real tokens, so it has the scale of a per-token cross-entropy whatever the
    sentence lengths.

    A model saved compiled with it reloads with the loss unbound (``crf`` None: a loss's
    config cannot hold a layer); ``bind(model)`` gives it the model's CRF layer again (what
    resuming a run does before training on).
    """

    def __init__(self, crf: CRF | None = None, name: str = "crf_loss"):
        super().__init__(name=name)
        self.crf = crf

    def bind(self, model: keras.Model, layer: str = "crf") -> "CRFLoss":
        self.crf = model.get_layer(layer)
        return self

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.crf is None:
            raise RuntimeError("CRFLoss has no CRF layer: call bind(model) on a reloaded model's loss")
        mask = None if sample_weight is None else ops.cast(ops.greater(sample_weight, 0), "float32")
        nll = self.crf.negative_log_likelihood(y_pred, y_true, mask)
        tokens = ops.cast(ops.size(y_true), "float32") if mask is None else ops.sum(mask)
        return ops.sum(nll) / ops.maximum(tokens, 1.0)

    def call(self, y_true, y_pred):
        return self.crf.negative_log_likelihood(y_pred, y_true)

    def get_config(self):
        return {"name": self.name}
