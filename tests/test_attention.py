"""Attention: scores against the equations in numpy, padding masked out, save/load."""
import keras
import numpy as np
import pytest

from rnn_apps.layers.attention import Attention

RNG = np.random.default_rng(0)


def numpy_attention(layer: Attention, query, values, mask):
    """The module docstring's equations, written out in numpy."""
    w = {v.name: v.numpy() for v in layer.weights}
    if layer.kind == "bahdanau":
        hidden = np.tanh((query @ w["w_query"])[:, :, None, :] + (values @ w["w_keys"])[:, None, :, :] + w["bias"])
        scores = hidden @ w["v"]
    else:
        scores = np.einsum("bqd,bsd->bqs", query, values @ w["w"])
    scores = np.where(mask[:, None, :] > 0, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ values, weights


@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_matches_the_equations_and_masks_padding(kind):
    query = RNG.normal(size=(3, 4, 5)).astype("float32")  # [b, tq, dq]
    values = RNG.normal(size=(3, 6, 7)).astype("float32")  # [b, ts, dv]
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], "float32")
    layer = Attention(kind, units=8)
    context, weights = (t.numpy() for t in layer(query, values, mask))
    want_context, want_weights = numpy_attention(layer, query, values, mask)
    np.testing.assert_allclose(weights, want_weights, atol=1e-5)
    np.testing.assert_allclose(context, want_context, atol=1e-5)
    assert np.all(weights[mask[:, None, :].repeat(4, 1) == 0] == 0)  # padding gets exactly nothing
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)  # the real tokens share all of it
    np.testing.assert_allclose(weights[2, :, 0], 1.0)  # one real token: all the weight


@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_padding_changes_nothing(kind):
    query = RNG.normal(size=(1, 2, 4)).astype("float32")
    values = RNG.normal(size=(1, 3, 4)).astype("float32")
    layer = Attention(kind, units=4)
    alone = layer(query, values, np.ones((1, 3), "float32"))
    padded_values = np.concatenate([values, RNG.normal(size=(1, 5, 4)).astype("float32") * 100], axis=1)
    padded = layer(query, padded_values, np.array([[1, 1, 1, 0, 0, 0, 0, 0]], "float32"))
    np.testing.assert_allclose(padded[0].numpy(), alone[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(padded[1].numpy()[..., :3], alone[1].numpy(), atol=1e-6)


def test_survives_save_and_load(tmp_path):
    query = keras.Input((None, 4))
    values = keras.Input((None, 6))
    mask = keras.Input((None,))
    model = keras.Model([query, values, mask], Attention("bahdanau", 5, name="attention")(query, values, mask))
    inputs = [RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 4, 6)), np.array([[1, 1, 0, 0], [1, 1, 1, 1]])]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for a, b in zip(model(inputs), loaded(inputs)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="choose bahdanau or luong"):
        Attention("dot")
