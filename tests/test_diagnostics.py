import numpy as np
import pytest

from rnn_apps.diagnostics import (adding_problem, gradient_flow, make_cell, plot_gradient_flow, plot_long_range,
                                  train_long_range)
from rnn_apps.plots import plot_history

PNG = b"\x89PNG\r\n\x1a\n"


def test_gradient_norms_match_hand_written_backprop():
    """Backpropagate dL/dh_t = (dL/dh_{t+1} * (1 - h_{t+1}^2)) W_hh^T in numpy and compare."""
    steps, units, features, batch, seed = 6, 4, 3, 2, 0
    flow = gradient_flow("vanilla", steps, units=units, features=features, batch=batch, seeds=[seed],
                         recurrent_scale=1.3)
    cell = make_cell("vanilla", units, seed, features, 1.3)
    W_xh, W_hh, b = (w.numpy() for w in (cell.W_xh, cell.W_hh, cell.b))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features))
    readout = rng.normal(size=(units, 1)) / np.sqrt(units)
    h, hs = np.zeros((batch, units)), []
    for t in range(steps):
        h = np.tanh(h @ W_hh + x[:, t] @ W_xh + b)
        hs.append(h)
    grad = np.repeat(readout.T, batch, axis=0)  # dL/dh_T
    expected = [None] * steps
    for t in reversed(range(steps)):
        expected[t] = np.linalg.norm(grad, axis=1).mean()
        grad = (grad * (1 - hs[t] ** 2)) @ W_hh.T
    np.testing.assert_allclose(flow.norms[0], expected, rtol=1e-10)


def test_recurrent_scale_moves_vanilla_from_vanishing_to_exploding():
    small = gradient_flow("vanilla", 40, seeds=[0], recurrent_scale=0.5).ratio[0]
    large = gradient_flow("vanilla", 40, seeds=[0], recurrent_scale=3.0).ratio[0]
    assert small < 1e-6 and large > small * 1e4


def test_lstm_keeps_more_gradient_than_vanilla_over_long_sequences():
    vanilla = gradient_flow("vanilla", 60, seeds=[0, 1]).ratio
    lstm = gradient_flow("lstm", 60, seeds=[0, 1]).ratio
    assert np.median(lstm) > 10 * np.median(vanilla)


def test_plots_are_valid_pngs(sentiment_run, tmp_path):
    flows = [gradient_flow(c, 10, seeds=[0, 1]) for c in ("vanilla", "gru")]
    for path in (plot_gradient_flow(flows, tmp_path / "g.png"), plot_history(sentiment_run, tmp_path / "c.png")):
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000


def test_plot_history_of_a_non_run_is_a_clear_error(tmp_path):
    from rnn_apps.errors import UserError

    with pytest.raises(UserError, match="has no history.json"):
        plot_history(tmp_path)


def test_adding_problem_targets_are_the_two_marked_values():
    x, y = adding_problem(50, 30, seed=1)
    assert x.shape == (50, 30, 2) and (x[:, :, 1].sum(axis=1) == 2).all()
    assert (x[:, :3, 1].sum(axis=1) == 1).all() and (x[:, 15:, 1].sum(axis=1) == 1).all()
    np.testing.assert_allclose((x[:, :, 0] * x[:, :, 1]).sum(axis=1), y, rtol=1e-6)


def test_lstm_solves_the_adding_problem_at_small_T():
    lstm = train_long_range("lstm", 10, train_steps=500, learning_rate=1e-2)
    assert lstm.solved and lstm.test_mse < 0.01 and lstm.test_accuracy > 0.6
    assert lstm.losses[-50:].mean() < lstm.losses[:50].mean() / 10


def test_without_clipping_a_high_learning_rate_blows_up_and_clipping_saves_it(tmp_path):
    runs = [train_long_range("vanilla", 30, clipping=clip, train_steps=150, optimizer="sgd", learning_rate=0.5)
            for clip in (True, False)]
    clipped, unclipped = runs
    assert np.isfinite(clipped.losses).all() and np.isfinite(clipped.test_mse)
    assert unclipped.max_grad_norm > 10 * clipped.max_grad_norm or not np.isfinite(unclipped.max_grad_norm)
    path = plot_long_range(runs, tmp_path / "lr.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
