"""Graphs kept per owner (``rnn_apps.graphs``): the model and the text step of predict,
evaluate and serve run as tf.functions from their second call."""
import gc
import weakref

import keras
import numpy as np

from rnn_apps.data.inputs import text_input
from rnn_apps.graphs import kept_graph
from rnn_apps.task import run_inference


def test_run_inference_is_the_eager_model_follows_new_weights_and_lets_the_model_go():
    """The graph kept per model (from its second call) answers what the eager call answers, on
    new shapes too; after the weights change it answers with the new ones; it does not keep a
    dropped model alive."""
    inputs = keras.Input((None,), dtype="int32", name="tokens")
    hidden = keras.layers.GRU(8)(keras.layers.Embedding(20, 4, mask_zero=True)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    rng = np.random.default_rng(0)
    for shape in [(2, 5), (7, 3), (1, 9)]:
        tokens = rng.integers(0, 20, shape).astype("int32")
        np.testing.assert_allclose(run_inference(model, {"tokens": tokens}).numpy(),
                                   model(tokens, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert kept_graph(model, "inference", None).graph is not None  # the later calls ran in the graph
    before = run_inference(model, {"tokens": tokens}).numpy()
    model.set_weights([w * 2 + 0.1 for w in model.get_weights()])
    after = run_inference(model, {"tokens": tokens}).numpy()
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, model(tokens, training=False).numpy(), rtol=1e-5, atol=1e-6)
    held = weakref.ref(model)
    del model
    gc.collect()
    assert held() is None


def test_the_text_step_gives_the_eager_ids_and_follows_a_new_vocabulary(tmp_path):
    """``TextInput.batch`` in its graph (second call on) gives the ids the eager ops give, the
    characters too; fitted again (a new vocabulary), it gives the new vocabulary's ids."""
    import tensorflow as tf

    kind = text_input("sentence", "vocab.json", "whitespace", max_tokens=50, chars_per_token=4)
    kind.fit(["Anna lives in Paris", "Bob left"])
    texts = ["Anna left Paris", "", "Zed lives in Oslo today"]
    for _ in range(3):  # eager, then the graph
        got = kind.batch(texts)
    eager = {name: t.to_tensor().numpy() for name, t in kind.model_tensors(tf.constant(texts)).items()}
    assert set(got) == {"sentence", "sentence_chars"}
    for name in got:
        np.testing.assert_array_equal(got[name].numpy(), eager[name])
    kind.fit(["Oslo today", "Zed lives"])
    again = kind.batch(texts)["sentence"].numpy()
    np.testing.assert_array_equal(again, kind.model_tensors(tf.constant(texts))["sentence"].to_tensor().numpy())
    assert not np.array_equal(again, got["sentence"].numpy())
