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


def choose_as_before(logits, sampling, rng, banned=()):
    """The runtime's sampler before blocks of steps: one ``rng.choice`` per token."""
    logits = np.array(logits, dtype=np.float64)
    logits[list(banned)] = -np.inf
    if sampling.greedy or sampling.temperature == 0:
        return int(np.argmax(logits))
    probs = np.exp(decoding.log_softmax(decoding.filter_logits(logits, sampling.temperature, sampling.top_k,
                                                               sampling.top_p)))
    return int(rng.choice(len(probs), p=probs / probs.sum()))


@pytest.mark.parametrize("vocab", [3, 63, 5000])
def test_choosing_rows_at_once_gives_the_tokens_of_one_choice_per_step(vocab):
    source = np.random.default_rng(vocab)
    settings = [Sampling(greedy=True), Sampling(temperature=0.7), Sampling(top_k=5), Sampling(top_p=0.6),
                Sampling(temperature=1.4, top_k=20, top_p=0.9)]
    for trial in range(12):
        logits = source.normal(0, source.uniform(0.5, 6), size=(8, vocab)).astype(np.float32)
        logits[0, :2] = logits[0].max()  # a tie
        for sampling in settings:
            rng = np.random.default_rng(trial)
            want = [choose_as_before(row, sampling, rng, banned=(1,)) for row in logits]
            rng = np.random.default_rng(trial)
            uniforms = None if sampling.greedy else rng.random(len(logits))
            assert decoding.choose_rows(logits, sampling, uniforms, banned=(1,)).tolist() == want
            rng = np.random.default_rng(trial)
            assert [decoding.choose(row, sampling, rng, banned=(1,)) for row in logits] == want


def block_steps(wrong_every=0):
    """A ``steps`` function over the bigram table that proposes what ``choose_rows`` would choose,
    but every ``wrong_every``-th proposal one token off (a float32 boundary case, exaggerated)."""
    calls = {"n": 0, "proposed": 0}

    def steps(token, states, uniforms, sampling):
        calls["n"] += 1
        tokens, logits, seen = [], [], []
        for u in uniforms:
            logits.append(TABLE[token])
            chosen = int(decoding.choose_rows(TABLE[token][None], sampling, np.array([u]), (3,))[0])
            calls["proposed"] += 1
            if wrong_every and calls["proposed"] % wrong_every == 0:
                chosen = (chosen + 1) % VOCAB
            token = chosen
            tokens.append(token)
            seen.append(np.array([[token]], np.float32))  # a "state": the token just read
        return np.array(tokens), np.array(logits), {"h": np.array(seen)}

    return steps, calls


@pytest.mark.parametrize("sampling", [Sampling(greedy=True), Sampling(temperature=1.2, seed=4),
                                      Sampling(temperature=0.9, top_k=4, top_p=0.8, seed=9)], ids=["greedy", "t", "kp"])
@pytest.mark.parametrize("wrong_every", [0, 5])
@pytest.mark.parametrize("length", [0, 1, 7, 16, 40])
def test_blocks_of_steps_give_the_tokens_of_one_step_at_a_time(sampling, wrong_every, length):
    want = list(decoding.generate(numpy_step, TABLE[2], {}, length, sampling, banned=(3,)))
    steps, calls = block_steps(wrong_every)
    got = list(decoding.generate_in_blocks(lambda t, s, u: steps(t, s, u, sampling), 8, TABLE[2], {}, length,
                                           sampling, banned=(3,)))
    assert got == want
    if not wrong_every and length > 1:
        assert calls["n"] == -(-(length - 1) // 8)  # every block kept whole
