"""Properties of the shared decoder: filtering, seeding, compiled loop, streaming."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_apps.decoding.beam import beam_search
from rnn_apps.decoding.sampling import Generator, choose_tokens, decode_loop, filter_logits
from rnn_apps.decoding.settings import Sampling
from rnn_apps.errors import UserError

VOCAB = 12
# A fixed random bigram table: the logits of the next token depend on the last token.
TABLE = np.random.default_rng(0).normal(0, 2, size=(VOCAB, VOCAB)).astype(np.float32)


def bigram_step(tokens, states):
    """A step function with a 'state' that counts steps, to check it is carried."""
    logits = tf.gather(tf.constant(TABLE), tokens)  # [batch, time, vocab]
    return logits, [states[0] + tf.cast(tf.shape(tokens)[1], tf.float32)]


def make_generator():
    return Generator(bigram_step, lambda b: [tf.zeros([b, 1])])


def emitted_with_context(prompt, sampling, length=60):
    ids = make_generator().generate(np.array([prompt] * 4, np.int32), length, sampling)
    previous = np.concatenate([np.full((4, 1), prompt[-1]), ids[:, :-1]], axis=1)
    return ids, previous


def test_greedy_follows_the_argmax_chain():
    ids = make_generator().generate(np.array([[3]], np.int32), 10, Sampling(greedy=True))
    expected, token = [], 3
    for _ in range(10):
        token = int(TABLE[token].argmax())
        expected.append(token)
    assert ids[0].tolist() == expected


def test_temperature_towards_zero_equals_greedy():
    greedy = make_generator().generate(np.array([[5]] * 3, np.int32), 40, Sampling(greedy=True))
    for seed in range(5):
        cold = make_generator().generate(np.array([[5]] * 3, np.int32), 40, Sampling(temperature=1e-4, seed=seed))
        np.testing.assert_array_equal(cold, greedy)
    zero = make_generator().generate(np.array([[5]] * 3, np.int32), 40, Sampling(temperature=0, seed=1))
    np.testing.assert_array_equal(zero, greedy)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_never_leaves_the_k_most_likely(k):
    ids, previous = emitted_with_context([2], Sampling(top_k=k, temperature=1.5, seed=k))
    ranks = (-TABLE).argsort(axis=1).argsort(axis=1)  # rank of each token after each token
    assert ranks[previous, ids].max() < k
    if k > 1:
        assert ranks[previous, ids].max() > 0  # it does sample, not just take the argmax


@pytest.mark.parametrize("p", [0.3, 0.6, 0.9])
def test_top_p_never_leaves_the_nucleus(p):
    ids, previous = emitted_with_context([7], Sampling(top_p=p, seed=11))
    probs = tf.nn.softmax(TABLE).numpy()
    for prev, token in zip(previous.ravel(), ids.ravel()):
        order = probs[prev].argsort()[::-1]
        mass_before = np.concatenate([[0], np.cumsum(probs[prev][order])[:-1]])
        nucleus = set(order[mass_before < p].tolist())
        assert token in nucleus


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.floats(0.05, 1.0), st.integers(0, 2**16))
def test_filter_keeps_exactly_top_k_then_nucleus(k, p, seed):
    logits = np.random.default_rng(seed).normal(0, 3, size=(2, 20)).astype(np.float32)
    kept = filter_logits(tf.constant(logits), tf.constant(1.0), tf.constant(k), tf.constant(p)).numpy() > -1e8
    for row, keep in zip(logits, kept):
        order = row.argsort()[::-1][:k]
        probs = np.exp(row[order] - row[order].max())
        probs /= probs.sum()
        before = np.concatenate([[0], np.cumsum(probs)[:-1]])
        assert set(np.flatnonzero(keep)) == set(order[before < p])


def test_same_seed_same_text_and_streaming_equals_one_call():
    sampling = Sampling(seed=1234)
    whole = make_generator().generate(np.array([[1], [1]], np.int32), 50, sampling)
    again = make_generator().generate(np.array([[1], [1]], np.int32), 50, Sampling(seed=1234))
    streamed = np.concatenate(list(make_generator().stream(np.array([[1], [1]], np.int32), 50, sampling, chunk=7)),
                              axis=1)
    np.testing.assert_array_equal(whole, again)
    np.testing.assert_array_equal(whole, streamed)
    other = make_generator().generate(np.array([[1], [1]], np.int32), 50, Sampling(seed=99))
    assert not np.array_equal(whole, other)
    assert not np.array_equal(whole[0], whole[1])  # samples in a batch are independent


def test_state_is_carried_one_step_per_token():
    logits = tf.constant(TABLE[[0]])
    _, _, states = decode_loop(bigram_step, logits, [tf.constant([[3.0]])], tf.constant(9), greedy=tf.constant(True),
                               temperature=tf.constant(1.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
                               seed=tf.constant(0, tf.int64))
    assert float(states[0][0, 0]) == 12.0  # 3 + one step for each of 9 tokens


def test_banned_tokens_are_never_chosen():
    favourite = int(TABLE[4].argmax())
    ids = Generator(bigram_step, lambda b: [tf.zeros([b, 1])], banned=(favourite,)).generate(
        np.array([[4]] * 8, np.int32), 30, Sampling(temperature=3.0, seed=5))
    assert favourite not in ids


def test_choose_tokens_samples_in_proportion():
    logits = tf.math.log(tf.constant([[0.7, 0.2, 0.1]] * 4000))
    picks = choose_tokens(logits, tf.constant(False), tf.constant(1.0), tf.constant(0), tf.constant(1.0),
                          tf.constant(7, tf.int64), tf.constant(0)).numpy()
    np.testing.assert_allclose(np.bincount(picks, minlength=3) / 4000, [0.7, 0.2, 0.1], atol=0.03)


@pytest.mark.parametrize("bad", [{"temperature": -1}, {"top_k": -2}, {"top_p": 0}, {"top_p": 1.5}])
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(UserError):
        Sampling(**bad)


END = 0  # in these tests token 0 ends a sequence


def sequence_log_prob(start, tokens):
    """log p(tokens | start) under the bigram table, up to and including END."""
    log_probs = tf.nn.log_softmax(TABLE).numpy()
    total, prev = 0.0, start
    for token in tokens:
        total += log_probs[prev, token]
        if token == END:
            break
        prev = token
    return total


def run_beam(start, beam, max_length=12, length_penalty=0.0):
    return beam_search(bigram_step, tf.constant(TABLE[start]), [tf.zeros([len(start), 1])], beam=beam,
                       max_length=max_length, end_id=END, length_penalty=length_penalty)


def greedy_until_end(start, max_length=12):
    out, token = [], start
    for _ in range(max_length):
        token = int(TABLE[token].argmax())
        out.append(token)
        if token == END:
            break
    return out


def test_beam_of_one_is_greedy():
    starts = [1, 2, 3, 4, 5]
    tokens, scores, lengths = run_beam(starts, beam=1)
    for row, start, score, length in zip(tokens.numpy(), starts, scores.numpy(), lengths.numpy()):
        expected = greedy_until_end(start)
        assert row[:length].tolist() == expected and (row[length:] == 0).all()
        assert score == pytest.approx(sequence_log_prob(start, expected), abs=1e-4)


@pytest.mark.parametrize("beam", [2, 4, 8])
def test_wider_beams_find_sequences_at_least_as_probable_as_greedy(beam):
    starts = list(range(VOCAB))
    tokens, scores, lengths = run_beam(starts, beam=beam)
    for row, start, score, length in zip(tokens.numpy(), starts, scores.numpy(), lengths.numpy()):
        assert score == pytest.approx(sequence_log_prob(start, row[:length].tolist()), abs=1e-4)
        assert score >= sequence_log_prob(start, greedy_until_end(start)) - 1e-5


def test_length_penalty_prefers_longer_finished_sequences():
    starts = list(range(VOCAB))
    _, _, short = run_beam(starts, beam=6, length_penalty=0.0)
    _, _, long = run_beam(starts, beam=6, length_penalty=2.0)
    assert long.numpy().mean() > short.numpy().mean() + 1  # alpha 2 keeps beams going for longer
