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

from rnn_apps.layers.cells import CELLS, VanillaRNNCell
from rnn_apps.training.optimizers import make_optimizer


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
    cell = CELLS[name].step(units, dtype="float64")  # float64: products of 100 Jacobians underflow float32
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


# --- the long-range problem ----------------------------------------------------------------
# The adding problem (Hochreiter & Schmidhuber, 1997): at each of T steps the input is a
# pair (value in [0, 1], marker). Exactly two steps are marked, one among the first tenth
# of the sequence and one in its second half; the target is the sum of the two marked
# values. Predicting the mean (1.0) gives a mean squared error of about 0.167, so a model
# only beats that by carrying the first marked value across most of the sequence.

BASELINE_MSE = 1 / 6
TOLERANCE = 0.04  # a prediction this close to the target counts as correct


def adding_problem(n: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences: ``x [n, steps, 2]`` (value, marker) float32 and ``y [n]`` sums."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, size=(n, steps))
    first = rng.integers(0, max(1, steps // 10), size=n)
    second = rng.integers(steps // 2, steps, size=n)
    markers = np.zeros((n, steps))
    markers[np.arange(n), first] = 1
    markers[np.arange(n), second] = 1
    y = values[np.arange(n), first] + values[np.arange(n), second]
    return np.stack([values, markers], axis=-1).astype(np.float32), y.astype(np.float32)


@dataclasses.dataclass
class LongRangeRun:
    """One cell trained on the adding problem: per-step loss and gradient norm, final scores."""

    cell: str
    clipping: bool
    losses: np.ndarray
    grad_norms: np.ndarray
    test_mse: float
    test_accuracy: float

    @property
    def max_grad_norm(self) -> float:
        return float(np.nanmax(self.grad_norms))

    @property
    def solved(self) -> bool:
        """Clearly better than predicting the mean (a tenth of its error)."""
        return self.test_mse < BASELINE_MSE / 10


def train_long_range(cell: str, steps: int = 50, *, clipping: bool = True, train_steps: int = 400,
                     batch: int = 64, units: int = 32, learning_rate: float = 1e-3, optimizer: str = "adam",
                     clipnorm: float = 1.0, seed: int = 0) -> LongRangeRun:
    """Train ``cell`` on the adding problem of length ``steps``; record each step's loss and
    the global gradient norm before clipping (``clipping`` clips it to ``clipnorm``)."""
    from rnn_apps.layers.recurrent import rnn_layer

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((steps, 2)), rnn_layer(cell, units, return_sequences=False),
                              keras.layers.Dense(1)])
    opt = make_optimizer(optimizer, learning_rate)  # clipping by hand below, to record the norm first
    opt.build(model.trainable_variables)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)[:, 0] - y))
        grads = tape.gradient(loss, model.trainable_variables)
        norm = tf.linalg.global_norm(grads)
        if clipping:
            grads, _ = tf.clip_by_global_norm(grads, clipnorm, use_norm=norm)
        opt.apply(grads, model.trainable_variables)
        return loss, norm

    x_all, y_all = adding_problem(train_steps * batch, steps, seed)
    losses, norms = [], []
    for i in range(train_steps):
        loss, norm = train_step(x_all[i * batch:(i + 1) * batch], y_all[i * batch:(i + 1) * batch])
        losses.append(float(loss))
        norms.append(float(norm))
    x_test, y_test = adding_problem(1000, steps, seed + 10_000)
    error = model(x_test, training=False).numpy()[:, 0] - y_test
    mse = float(np.mean(error ** 2)) if np.all(np.isfinite(error)) else float("nan")
    return LongRangeRun(cell, clipping, np.array(losses), np.array(norms), mse,
                        float(np.mean(np.abs(error) < TOLERANCE)))


def plot_long_range(runs: Sequence[LongRangeRun], out, title: str = ""):
    """Loss (top, 10-step mean) and gradient norm (bottom, 10-step maximum, so spikes show)
    per training step; with and without clipping side by side."""
    from rnn_apps.plots import _pyplot, save_figure

    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, squeeze=False)
    for col, clipping in enumerate((True, False)):
        for run in (r for r in runs if r.clipping == clipping):
            smooth = np.convolve(run.losses, np.ones(10) / 10, mode="valid")
            axes[0, col].plot(np.arange(len(smooth)) + 10, smooth, label=run.cell)
            peaks = np.array([run.grad_norms[max(0, i - 9):i + 1].max() for i in range(len(run.grad_norms))])
            axes[1, col].plot(np.arange(1, len(peaks) + 1), peaks, label=run.cell, lw=1)
        axes[0, col].axhline(BASELINE_MSE, color="grey", ls="--", lw=1, label="predict the mean")
        axes[0, col].set(yscale="log", ylabel="training MSE (10-step mean)",
                         title="with gradient clipping" if clipping else "without clipping")
        axes[1, col].set(yscale="log", xlabel="training step", ylabel="gradient norm before clipping\n(largest of 10 steps)")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    path = save_figure(fig, out)
    plt.close(fig)
    return path
