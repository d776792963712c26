"""The linear-chain CRF (rnn_apps/layers/crf.py): the forward algorithm and Viterbi against
brute-force enumeration of every tag sequence, padding, learning what a per-token softmax
cannot, saving, and export to TFLite with builtin ops."""
from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from rnn_apps.layers.crf import CRF, CRFLoss, log_partition, negative_log_likelihood, sequence_score, viterbi_decode


def brute_force(emissions, length, transitions, start, end):
    """Every tag sequence of the first ``length`` steps with its score (NumPy, by definition)."""
    scores = {}
    for path in itertools.product(range(transitions.shape[0]), repeat=length):
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
        scores[path] = score
    return scores


def logsumexp(values):
    values = np.asarray(list(values))
    return values.max() + np.log(np.exp(values - values.max()).sum())


@pytest.fixture
def case():
    rng = np.random.default_rng(7)
    batch, time, tags = 4, 5, 3
    emissions = rng.normal(size=(batch, time, tags)).astype("float32")
    lengths = np.array([5, 3, 1, 4])
    mask = np.arange(time)[None, :] < lengths[:, None]
    weights = [rng.normal(size=s).astype("float32") for s in ((tags, tags), (tags,), (tags,))]
    return emissions, lengths, mask, weights


def test_forward_algorithm_and_viterbi_match_enumeration(case):
    emissions, lengths, mask, (transitions, start, end) = case
    log_z = np.asarray(log_partition(emissions, mask, transitions, start, end))
    tags, best = (np.asarray(x) for x in viterbi_decode(emissions, mask, transitions, start, end))
    for b, length in enumerate(lengths):
        scores = brute_force(emissions[b], length, transitions, start, end)
        np.testing.assert_allclose(log_z[b], logsumexp(scores.values()), rtol=1e-5)
        path = max(scores, key=scores.get)
        assert tuple(tags[b, :length]) == path
        assert (tags[b, length:] == 0).all()
        np.testing.assert_allclose(best[b], scores[path], rtol=1e-5)


def test_gold_scores_and_likelihood_match_enumeration(case):
    emissions, lengths, mask, (transitions, start, end) = case
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, size=mask.shape)
    score = np.asarray(sequence_score(emissions, gold, mask, transitions, start, end))
    nll = np.asarray(negative_log_likelihood(emissions, gold, mask, transitions, start, end))
    for b, length in enumerate(lengths):
        scores = brute_force(emissions[b], length, transitions, start, end)
        np.testing.assert_allclose(score[b], scores[tuple(gold[b, :length])], rtol=1e-5)
        np.testing.assert_allclose(nll[b], logsumexp(scores.values()) - scores[tuple(gold[b, :length])],
                                   rtol=1e-4, atol=1e-5)
    # the probabilities of all sequences sum to one
    total = sum(np.exp(-np.asarray(negative_log_likelihood(emissions[1:2], np.array([path + (0, 0)]), mask[1:2],
                                                             transitions, start, end))[0])
                for path in itertools.product(range(3), repeat=3))
    np.testing.assert_allclose(total, 1.0, rtol=1e-4)


def test_a_sentence_gets_the_same_tags_and_likelihood_alone_or_padded(case):
    emissions, lengths, mask, (transitions, start, end) = case
    gold = np.zeros(mask.shape, "int32")
    padded_tags, _ = viterbi_decode(emissions, mask, transitions, start, end)
    padded_nll = negative_log_likelihood(emissions, gold, mask, transitions, start, end)
    b, length = 1, lengths[1]
    alone = emissions[b:b + 1, :length]
    alone_tags, _ = viterbi_decode(alone, None, transitions, start, end)
    np.testing.assert_array_equal(np.asarray(alone_tags)[0], np.asarray(padded_tags)[b, :length])
    np.testing.assert_allclose(np.asarray(negative_log_likelihood(alone, gold[b:b + 1, :length], None, transitions,
                                                                  start, end))[0],
                               np.asarray(padded_nll)[b], rtol=1e-5)


def alternating_data(n: int, time: int = 8, seed: int = 0):
    """Token 1 or 2 first, then noise tokens 3..6; the tags alternate 0/1 from the phase the
    first token sets. A per-token classifier sees the phase only at step 0."""
    rng = np.random.default_rng(seed)
    first = rng.integers(1, 3, size=n)
    tokens = np.concatenate([first[:, None], rng.integers(3, 7, size=(n, time - 1))], axis=1)
    tags = (np.arange(time)[None, :] + (first[:, None] - 1)) % 2
    return tokens.astype("int32"), tags.astype("int32")


def per_token_model(crf: bool):
    """Embedding -> Dense per token (no context) -> softmax, or -> CRF."""
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(8, 16)(tokens)
    x = keras.layers.Dense(2)(x)
    if crf:
        layer = CRF(2)
        model = keras.Model(tokens, layer(x))
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=CRFLoss(layer))
        return model, layer
    model = keras.Model(tokens, keras.layers.Softmax()(x))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    return model, None


def test_the_crf_learns_what_a_per_token_softmax_cannot():
    tokens, tags = alternating_data(512)
    test_tokens, test_tags = alternating_data(256, seed=1)
    weights = np.ones(tags.shape, "float32")
    softmax, _ = per_token_model(crf=False)
    softmax.fit(tokens, tags, sample_weight=weights, epochs=30, batch_size=64, verbose=0)
    softmax_accuracy = (softmax.predict(test_tokens, verbose=0).argmax(-1) == test_tags).mean()
    model, crf = per_token_model(crf=True)
    model.fit(tokens, tags, sample_weight=weights, epochs=30, batch_size=64, verbose=0)
    predicted, _ = crf.decode(model.predict(test_tokens, verbose=0))
    crf_accuracy = (np.asarray(predicted) == test_tags).mean()
    assert softmax_accuracy < 0.7      # about 0.5 after step 0: the phase is not in the token
    assert crf_accuracy > 0.98, crf_accuracy
    transitions = np.asarray(crf.transitions)
    assert transitions[0, 1] > transitions[0, 0] and transitions[1, 0] > transitions[1, 1]


def test_the_layer_saves_and_loads_safely(tmp_path):
    model, crf = per_token_model(crf=True)
    tokens, tags = alternating_data(64)
    model.fit(tokens, tags, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False, safe_mode=True)
    again = next(layer for layer in loaded.layers if isinstance(layer, CRF))
    np.testing.assert_array_equal(np.asarray(again.transitions), np.asarray(crf.transitions))
    emissions = model.predict(tokens[:4], verbose=0)
    np.testing.assert_array_equal(np.asarray(again.decode(emissions)[0]), np.asarray(crf.decode(emissions)[0]))


def test_viterbi_exports_to_tflite_with_builtin_ops(tmp_path):
    """Viterbi inside a static-shape signature ([1, time, tags] + mask) converts with
    TFLITE_BUILTINS only and gives the same tags in the LiteRT interpreter."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    emissions = np.random.default_rng(0).normal(size=(1, 6, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 0, 0]], "float32")
    crf = CRF(4)
    crf.build((None, None, 4))

    def decode(emissions, mask):
        tags, score = crf.decode(emissions, mask)
        return {"tags": tags, "score": score}

    archive = keras.export.ExportArchive()  # as rnn-apps writes its SavedModels
    archive.track(crf)
    archive.add_endpoint("decode", decode, input_signature=[tf.TensorSpec([1, 6, 4], tf.float32),
                                                            tf.TensorSpec([1, 6], tf.float32)])
    archive.write_out(str(tmp_path / "saved"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved"), signature_keys=["decode"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path = tmp_path / "crf.tflite"
    path.write_bytes(converter.convert())
    runner = Interpreter(model_path=str(path)).get_signature_runner("decode")
    out = runner(emissions=emissions, mask=mask)
    expected = decode(emissions, mask)
    np.testing.assert_array_equal(out["tags"], np.asarray(expected["tags"]))
    np.testing.assert_allclose(out["score"], np.asarray(expected["score"]), rtol=1e-5)
    assert (out["tags"][0, 4:] == 0).all()


def test_batches_of_unknown_length_in_a_graph():
    """Bucketed batches have no static length: the forward algorithm and Viterbi trace with
    ``[None, None, K]`` inputs (Keras' scan compares static lengths of several inputs, so the
    mask rides along as a channel) and give what eager code gives."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    transitions, start, end = (tf.constant(rng.normal(size=s), tf.float32) for s in ((4, 4), (4,), (4,)))
    emissions = tf.constant(rng.normal(size=(3, 5, 4)), tf.float32)
    mask = tf.constant([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 4]), tf.TensorSpec([None, None])])
    def both(e, m):
        return log_partition(e, m, transitions, start, end), viterbi_decode(e, m, transitions, start, end)[0]

    log_z, tags = both(emissions, mask)
    np.testing.assert_allclose(log_z, log_partition(emissions, mask, transitions, start, end), rtol=1e-6)
    np.testing.assert_array_equal(tags, viterbi_decode(emissions, mask, transitions, start, end)[0])
