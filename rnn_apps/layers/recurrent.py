"""Recurrent building blocks shared by every task.

``recurrent_stack`` turns an embedded, masked sequence into a sequence of hidden states
through ``layers`` stacked RNNs (cell ``vanilla``/``simple``/``lstm``/``gru``, optionally
bidirectional, optionally with residual connections between layers, as in the notes on
multilayer RNNs). It can start from given states and return its final ones, which is
what an encoder hands its decoder and what generation carries from token to token.
``SequencePooling`` summarises a masked sequence into one vector for many-to-one tasks.
Padding (id 0) is masked everywhere, so a sentence gives the same result alone or padded
inside a batch.
"""
from __future__ import annotations

import keras
from keras import ops

from rnn_apps.config import RecurrentConfig
from rnn_apps.errors import UserError
from rnn_apps.layers.cells import CELLS


def rnn_layer(cell: str, units: int, *, return_sequences: bool = True, return_state: bool = False,
              stateful: bool = False, recurrent_dropout: float = 0.0, name: str | None = None) -> keras.layers.Layer:
    """One recurrent layer of the chosen cell type. ``recurrent_dropout`` drops parts of the
    state ``h_{t-1}`` inside each step (one mask per sequence, as in Gal & Ghahramani)."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
    if recurrent_dropout and cell == "vanilla":
        raise UserError("recurrent_dropout needs cell simple, lstm or gru (the vanilla cell is the bare equations)")
    extra = {"recurrent_dropout": recurrent_dropout} if recurrent_dropout else {}
    return CELLS[cell].layer(units, return_sequences=return_sequences, return_state=return_state,
                             stateful=stateful, name=name, **extra)


def state_names(cfg: RecurrentConfig) -> list[str]:
    """Names of the recurrent states of a (unidirectional) stack, in order:
    ``h_1`` per layer, plus ``c_1`` for LSTM layers (the cell state)."""
    return [f"{kind}_{k + 1}" for k in range(cfg.layers) for kind in CELLS[cfg.cell].states]


def recurrent_stack(x: keras.KerasTensor, cfg: RecurrentConfig, name: str = "rnn", *,
                    initial_states: list | None = None, return_states: bool = False, stateful: bool = False,
                    bidirectional: bool | None = None, mask: keras.KerasTensor | None = None):
    """Stack ``cfg.layers`` recurrent layers over ``x``.

    Args:
        x: ``[batch, time, features]``, masked if it comes from ``Embedding(mask_zero=True)``.
        cfg: cell, units, layers, bidirectional, residual, dropout, recurrent_dropout.
        name: prefix of the layer names (``{name}_{cell}_{k}``): a training model and its
            decoding twins are built with the same names, so weights move between them.
        initial_states: tensors ``[batch, units]`` in ``state_names(cfg)`` order to start
            from (unidirectional only), or None for zeros (or, with ``stateful``, the
            states the layers kept from their last call).
        return_states: also return each layer's final states.
        stateful: keep the final states inside the layers between calls (truncated
            BPTT); needs a static batch size.
        bidirectional: overrides ``cfg.bidirectional`` (a decoder reads left to right).
        mask: ``[batch, time]`` bool, when ``x`` carries no Keras mask (frames of padded clips).

    Returns:
        ``[batch, time, units * (2 if bidirectional else 1)]``; the mask is carried along.
        With ``residual``, layer k > 1 adds its input to its output (same width), which
        keeps a short gradient path through deep stacks. With ``return_states``, also the
        final states in ``state_names(cfg)`` order, each ``[batch, units * directions]``
        (forward and backward halves concatenated).
    """
    bidirectional = cfg.bidirectional if bidirectional is None else bidirectional
    if bidirectional and (initial_states is not None or stateful):
        raise ValueError("a bidirectional stack cannot start from given or carried states")
    per_layer = len(CELLS[cfg.cell].states)
    final: list = []
    for k in range(cfg.layers):
        layer = rnn_layer(cfg.cell, cfg.units, return_state=return_states, stateful=stateful,
                          recurrent_dropout=getattr(cfg, "recurrent_dropout", 0.0), name=f"{name}_{cfg.cell}_{k + 1}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"{name}_bi_{k + 1}")
        start = None if initial_states is None else list(initial_states[k * per_layer:(k + 1) * per_layer])
        explicit = {"mask": mask} if mask is not None else {}  # else the Keras mask x carries, if any
        y = layer(x, initial_state=start, **explicit) if start else layer(x, **explicit)
        if return_states:
            y, *states = y
            if bidirectional:  # [fwd h, (fwd c), bwd h, (bwd c)] -> [h, (c)] concatenated
                states = [keras.layers.Concatenate(name=f"{name}_state_{k + 1}_{i}")([states[i], states[i + per_layer]])
                          for i in range(per_layer)]
            final += states
        if cfg.dropout > 0:
            y = keras.layers.Dropout(cfg.dropout, name=f"{name}_dropout_{k + 1}")(y)
        x = keras.layers.Add(name=f"{name}_residual_{k + 1}")([x, y]) if cfg.residual and k > 0 else y
    return (x, final) if return_states else x


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Give ``target`` the weights of the same-named layers of ``source`` (a training
    model and its decoding twins are built from the same layer names)."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


@keras.saving.register_keras_serializable(package="rnn_apps")
class SequencePooling(keras.layers.Layer):
    """Masked summary of a sequence: ``[batch, time, features]`` -> ``[batch, features]``.

    Modes:
        ``last``: the state after the last real step. For a bidirectional sequence
        (``bidirectional=True``) the forward half is read at the last real step and the
        backward half at step 0, where the backward RNN has seen the whole sentence.
        ``mean`` / ``max``: over real steps only.
    """

    def __init__(self, mode: str = "last", bidirectional: bool = False, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("last", "mean", "max"):
            raise ValueError(f"unknown pooling {mode!r}; choose last, mean or max")
        self.mode, self.bidirectional = mode, bidirectional
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)  # [batch, time, 1]
        if self.mode == "mean":
            return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        if self.mode == "max":
            return ops.max(ops.where(weights > 0, inputs, ops.full_like(inputs, -1e9)), axis=1)
        last_index = ops.maximum(ops.sum(ops.cast(mask, "int32"), axis=1) - 1, 0)  # [batch]
        last = ops.take_along_axis(inputs, ops.reshape(last_index, (-1, 1, 1)), axis=1)[:, 0, :]
        if not self.bidirectional:
            return last
        half = ops.shape(inputs)[-1] // 2
        return ops.concatenate([last[:, :half], inputs[:, 0, half:]], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "bidirectional": self.bidirectional}
