"""The recurrent cells a user can choose (``cell: vanilla | simple | lstm | gru``), and the
vanilla cell written from the lecture's equations.

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)

Keras multiplies row vectors from the left, so here ``x_t`` is ``[batch, input]`` and
the weights are stored transposed: ``W_xh`` is ``[input, units]`` and ``W_hh`` is
``[units, units]``, giving ``h_t = tanh(h_{t-1} W_hh + x_t W_xh + b)``. It computes what
``keras.layers.SimpleRNN`` computes (a test checks outputs and gradients), but every
weight carries the name it has in the notes, which is what the gradient diagnostics
scale and inspect. Use it anywhere as ``cell: vanilla``.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class VanillaRNNCell(keras.layers.Layer):
    """One step of the vanilla RNN: ``([batch, input], [h_{t-1}]) -> (h_t, [h_t])``."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.W_xh = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="W_xh")
        self.W_hh = self.add_weight(shape=(self.units, self.units), initializer="orthogonal", name="W_hh")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x_t, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h_t = ops.tanh(ops.matmul(h_prev, self.W_hh) + ops.matmul(x_t, self.W_xh) + self.b)
        return h_t, [h_t]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def VanillaRNN(units: int, **rnn_kwargs) -> keras.layers.RNN:
    """A recurrent layer of :class:`VanillaRNNCell` (same arguments as ``keras.layers.RNN``)."""
    return keras.layers.RNN(VanillaRNNCell(units), **rnn_kwargs)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One choice of recurrent cell.

    Attributes:
        step: the one-step cell class (``cell(x_t, states) -> (h_t, states)``), which the
            gradient diagnostics unroll by hand.
        layer: ``(units, **rnn_kwargs) -> layer`` running the cell over a sequence.
        states: the names of the states it carries: ``h``, and ``c`` for the LSTM's cell state.
    """

    step: type
    layer: Callable
    states: tuple[str, ...] = ("h",)


# "simple" is Keras's SimpleRNN; "vanilla" the same equations written out above.
CELLS = {"vanilla": Cell(VanillaRNNCell, VanillaRNN),
         "simple": Cell(keras.layers.SimpleRNNCell, keras.layers.SimpleRNN),
         "lstm": Cell(keras.layers.LSTMCell, keras.layers.LSTM, ("h", "c")),
         "gru": Cell(keras.layers.GRUCell, keras.layers.GRU)}
