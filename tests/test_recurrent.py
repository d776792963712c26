import itertools

import keras
import numpy as np
import pytest

from rnn_apps.config import RecurrentConfig
from rnn_apps.layers.recurrent import SequencePooling, recurrent_stack


def stack_model(pooling=None, **kw):
    cfg = RecurrentConfig(units=6, embedding_dim=5, **kw)
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, cfg.embedding_dim, mask_zero=True)(tokens)
    x = recurrent_stack(x, cfg)
    if pooling:
        x = SequencePooling(pooling, bidirectional=cfg.bidirectional)(x)
    return keras.Model(tokens, x)


@pytest.mark.parametrize("cell, bidirectional, residual, pooling", [
    (c, b, r, p) for (c, b), r, p in zip(itertools.product(["vanilla", "simple", "lstm", "gru"], [False, True]),
                                         [False, True, False, True, False, True, False, True],
                                         ["last", "mean", "max", "last", "mean", "last", None, "max"])])
def test_padding_does_not_change_results(cell, bidirectional, residual, pooling):
    """A sentence alone gives the same output as inside a padded batch, for every cell."""
    keras.utils.set_random_seed(0)
    model = stack_model(pooling, cell=cell, bidirectional=bidirectional, residual=residual, layers=2)
    sentence = np.array([[3, 7, 2, 9]])
    batch = np.array([[3, 7, 2, 9, 0, 0, 0], [5, 1, 4, 4, 8, 6, 2]])
    alone = model(sentence).numpy()[0]
    padded = model(batch).numpy()[0]
    if pooling is None:
        padded = padded[:4]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_stack_shapes_and_residual_layers():
    model = stack_model(None, cell="gru", bidirectional=True, residual=True, layers=3)
    assert model(np.ones((2, 5), dtype="int32")).shape == (2, 5, 12)
    assert sum("residual" in layer.name for layer in model.layers) == 2  # between layers 1-2 and 2-3


def test_last_pooling_reads_last_real_step_and_backward_first_step():
    seq = np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4)
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    forward = SequencePooling("last")(seq, mask=mask).numpy()
    np.testing.assert_array_equal(forward, [seq[0, 1], seq[1, 3]])
    both = SequencePooling("last", bidirectional=True)(seq, mask=mask).numpy()
    np.testing.assert_array_equal(both[0], np.concatenate([seq[0, 1, :2], seq[0, 0, 2:]]))


def test_mean_and_max_pooling_ignore_padding():
    seq = np.array([[[1.0], [3.0], [100.0]]], dtype="float32")
    mask = np.array([[True, True, False]])
    assert SequencePooling("mean")(seq, mask=mask).numpy()[0, 0] == pytest.approx(2.0)
    assert SequencePooling("max")(seq, mask=mask).numpy()[0, 0] == pytest.approx(3.0)
