"""The runtime's NumPy decoders against the TensorFlow ones on the same step function."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_apps.decoding.beam import beam_search as tf_beam_search
from rnn_apps.decoding.sampling import decode_loop, filter_logits as tf_filter_logits
from rnn_apps.decoding.settings import Sampling
from rnn_apps.lite import decoding

VOCAB = 12
TABLE = np.random.default_rng(0).normal(0, 2, size=(VOCAB, VOCAB)).astype(np.float32)  # a bigram model


def numpy_step(token, states):
    return TABLE[token], states


def tf_step(tokens, states):
    return tf.gather(tf.constant(TABLE), tokens), states


@pytest.mark.parametrize("start", range(VOCAB))
def test_greedy_gives_the_tensorflow_tokens(start):
    tokens, _, _ = decode_loop(tf_step, tf.constant(TABLE[[start]]), [tf.zeros([1, 1])], tf.constant(15),
                               greedy=tf.constant(True), temperature=tf.constant(1.0), top_k=tf.constant(0),
                               top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64), banned=(3,), end_id=0)
    expected = [t for t in tokens.numpy()[0].tolist()]
    expected = expected[:expected.index(0)] if 0 in expected else expected
    got = list(decoding.generate(numpy_step, TABLE[start], {}, 15, Sampling(greedy=True), banned=(3,), end_id=0))
    assert got == expected


@pytest.mark.parametrize("beam, penalty", [(1, 0.0), (3, 0.0), (5, 1.0)])
def test_beam_search_gives_the_tensorflow_sequence_and_score(beam, penalty):
    for start in range(VOCAB):
        tokens, score, length = tf_beam_search(tf_step, tf.constant(TABLE[[start]]), [tf.zeros([1, 1])], beam=beam,
                                               max_length=10, end_id=0, length_penalty=penalty, banned=(3,))
        row = tokens.numpy()[0].tolist()[:int(length[0])]
        want = row[:-1] if row and row[-1] == 0 else row
        got, got_score = decoding.beam_search(numpy_step, TABLE[start], {}, beam=beam, max_length=10, end_id=0,
                                              length_penalty=penalty, banned=(3,))
        assert got == want and got_score == pytest.approx(float(score[0]), abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 20), st.floats(0.05, 1.0), st.floats(0.3, 3.0), st.integers(0, 2**16))
def test_filters_keep_the_same_tokens_as_tensorflow(k, p, temperature, seed):
    logits = np.random.default_rng(seed).normal(0, 3, size=20).astype(np.float32)
    want = tf_filter_logits(tf.constant(logits[None]), tf.constant(temperature), tf.constant(k),
                            tf.constant(p)).numpy()[0] > -1e8
    got = np.isfinite(decoding.filter_logits(logits, temperature, k, p))
    assert (got == want).all()


def test_sampling_follows_the_filtered_distribution_and_repeats_with_a_seed():
    logits = np.log(np.array([0.6, 0.3, 0.1]))
    rng = np.random.default_rng(1)
    draws = [decoding.choose(logits, Sampling(seed=1), rng) for _ in range(4000)]
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 4000, [0.6, 0.3, 0.1], atol=0.03)
    assert decoding.choose(logits, Sampling(top_k=1, seed=1), rng) == 0
    first = list(decoding.generate(numpy_step, TABLE[2], {}, 30, Sampling(temperature=1.5, seed=7)))
    assert first == list(decoding.generate(numpy_step, TABLE[2], {}, 30, Sampling(temperature=1.5, seed=7)))
