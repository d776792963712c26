import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_apps.layers.cells import VanillaRNN


def twin_layers(units=5, features=3, return_sequences=True):
    """A VanillaRNN and a SimpleRNN holding the same weights."""
    vanilla = VanillaRNN(units, return_sequences=return_sequences)
    simple = keras.layers.SimpleRNN(units, return_sequences=return_sequences)
    vanilla.build((None, None, features))
    simple.build((None, None, features))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(features, units)), rng.normal(size=(units, units)) * 0.5, rng.normal(size=units)]
    vanilla.set_weights([w.astype("float32") for w in weights])
    simple.set_weights([w.astype("float32") for w in weights])
    return vanilla, simple


@pytest.mark.parametrize("masked", [False, True])
def test_vanilla_cell_equals_simple_rnn_outputs_and_gradients(masked):
    vanilla, simple = twin_layers()
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 7, 3)).astype("float32"))
    mask = tf.constant(np.arange(7)[None, :] < np.array([[7], [3], [5], [1]])) if masked else None
    results = []
    for layer in (vanilla, simple):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=mask)
            loss = tf.reduce_sum(tf.sin(y))
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append((y.numpy(), [g.numpy() for g in grads]))
    (y_v, g_v), (y_s, g_s) = results
    np.testing.assert_allclose(y_v, y_s, atol=1e-6)
    for a, b in zip(g_v, g_s):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_vanilla_cell_is_the_lecture_equation():
    vanilla, _ = twin_layers(return_sequences=False)
    cell = vanilla.cell
    x = np.random.default_rng(2).normal(size=(2, 3, 3)).astype("float32")
    h = np.zeros((2, 5), dtype="float32")
    for t in range(3):
        h = np.tanh(h @ cell.W_hh.numpy() + x[:, t] @ cell.W_xh.numpy() + cell.b.numpy())
    np.testing.assert_allclose(vanilla(x).numpy(), h, atol=1e-6)
    assert sorted(w.path.split("/")[-1] for w in cell.weights) == ["W_hh", "W_xh", "b"]


def test_model_with_vanilla_cell_saves_and_reloads(tmp_path):
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    model = keras.Model(tokens, VanillaRNN(6)(x))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    np.testing.assert_allclose(again(ids).numpy(), model(ids).numpy(), atol=1e-7)
