"""Seeing inside: how far back does the gradient reach through a recurrent cell?

For a sequence of T steps and a loss on the last step only, ``L = w . h_T``, the
gradient flowing back to an earlier hidden state is

    dL/dh_{t-1} = dL/dh_t . dh_t/dh_{t-1}

a product of T - t Jacobians. For the vanilla RNN each Jacobian is
``diag(1 - h_t^2) W_hh^T``: the same matrix at every step, squashed by tanh. With the
spectral radius of ``W_hh`` below 1 the product shrinks exponentially (vanishing);
above 1 it can grow (exploding). The LSTM's cell state and the GRU's update gate give
paths with element-wise, input-dependent factors instead, so the gradient survives.

``gradient_flow`` measures ``||dL/dh_t||`` for every t by unrolling the cell step by step
under a ``tf.GradientTape`` and asking for the gradient with respect to each h_t.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.cells import VanillaRNNCell

CELL_CLASSES = {"vanilla": VanillaRNNCell, "simple": keras.layers.SimpleRNNCell,
                "lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


@dataclasses.dataclass
class GradientFlow:
    """``norms[seed, t]`` = mean over the batch of ``||dL/dh_{t+1}||`` for one cell."""

    cell: str
    norms: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        """``||dL/dh_1|| / ||dL/dh_T||`` per seed: < 1 vanishing, > 1 exploding."""
        return self.norms[:, 0] / self.norms[:, -1]


def recurrent_weight(cell: keras.layers.Layer) -> keras.Variable:
    """The matrix multiplied at every step: ``W_hh`` (vanilla) or Keras's ``recurrent_kernel``."""
    return cell.W_hh if isinstance(cell, VanillaRNNCell) else cell.recurrent_kernel


def make_cell(name: str, units: int, seed: int, features: int, recurrent_scale: float) -> keras.layers.Layer:
    """A built cell with seeded weights; its recurrent matrix is multiplied by ``recurrent_scale``.

    The recurrent matrices start orthogonal (spectral radius 1 for the square vanilla
    ``W_hh``), so for ``vanilla``/``simple`` the scale *is* the spectral radius.
    """
    keras.utils.set_random_seed(seed)
    cell = CELL_CLASSES[name](units, dtype="float64")  # float64: products of 100 Jacobians underflow float32
    cell.build((None, features))
    weight = recurrent_weight(cell)
    weight.assign(weight * recurrent_scale)
    return cell


def unroll(cell: keras.layers.Layer, x: tf.Tensor, tape: tf.GradientTape) -> list[tf.Tensor]:
    """Run ``cell`` over ``x [batch, T, features]`` from zero state; return ``[h_1 .. h_T]``."""
    batch = tf.shape(x)[0]
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    states = [tf.zeros([batch, s], dtype=x.dtype) for s in sizes]
    hidden = []
    for t in range(x.shape[1]):
        h, states = cell(x[:, t], states)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        tape.watch(h)
        hidden.append(h)
    return hidden


def gradient_flow(cell: str, steps: int = 100, *, units: int = 32, features: int = 8, batch: int = 16,
                  seeds: Sequence[int] = (0, 1, 2), recurrent_scale: float = 1.0) -> GradientFlow:
    """``||dL/dh_t||`` for t = 1..steps, for a loss on the last step only, over ``seeds``."""
    rows = []
    for seed in seeds:
        c = make_cell(cell, units, seed, features, recurrent_scale)
        rng = np.random.default_rng(seed)
        x = tf.constant(rng.normal(size=(batch, steps, features)))
        readout = tf.constant(rng.normal(size=(units, 1)) / np.sqrt(units))
        with tf.GradientTape() as tape:
            hidden = unroll(c, x, tape)
            loss = tf.reduce_sum(hidden[-1] @ readout)  # summed over the batch: per-example gradients
        grads = tape.gradient(loss, hidden)
        rows.append([float(tf.reduce_mean(tf.norm(g, axis=-1))) for g in grads])
    return GradientFlow(cell, np.array(rows))


def plot_gradient_flow(flows: Sequence[GradientFlow], out, title: str = ""):
    """One log-scale curve per cell (median over seeds), shaded between min and max."""
    from rnn_apps.plots import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for flow in flows:
        t = np.arange(1, flow.norms.shape[1] + 1)
        ax.plot(t, np.median(flow.norms, axis=0), label=flow.cell)
        ax.fill_between(t, flow.norms.min(axis=0), flow.norms.max(axis=0), alpha=0.25)
    ax.set_yscale("log")
    ax.set(xlabel="time step t", ylabel="||dL/dh_t||  (loss on the last step)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    path = save_figure(fig, out)
    plt.close(fig)
    return path
