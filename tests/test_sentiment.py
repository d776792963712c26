import collections
import re

import pytest
from harness import check_task, check_tflite
from conftest import QUIET

import rnn_apps
from rnn_apps.config import resolve_config
from rnn_apps.models.sentiment import POSITIVE, PRESETS, TASK, SentimentConfig, build_model, generate_reviews
from rnn_apps.data.examples import Examples


def test_generator_is_deterministic_balanced_and_order_sensitive():
    a, b = generate_reviews(400, seed=1), generate_reviews(400, seed=1)
    assert a["text"] == b["text"] and a["text"] != generate_reviews(400, seed=2)["text"]
    assert collections.Counter(a["label"]) == {"positive": 200, "negative": 200}
    words = " ".join(a["text"]).split()
    for marker in ("not", "but", "although", "never", "nobody"):
        assert marker in words
    # Negation flips a clause: in one-clause reviews "was not <positive>" is negative
    # and "was <positive>" positive, so the word "good" alone does not decide.
    single = re.compile(r"^(?:[a-z ,.]*?[,.] )?the [a-z ]+ was (not )?(" + "|".join(POSITIVE) + r") \.$")
    seen = collections.Counter()
    for text, label in zip(*generate_reviews(4000, seed=0).columns.values()):
        match = None if re.search(r" and | but |although", text) else single.match(text)
        if match:
            negated = bool(match.group(1))
            assert label == ("negative" if negated else "positive"), text
            seen[negated] += 1
    assert seen[True] > 10 and seen[False] > 10


@pytest.mark.parametrize("labels, units", [(["neg", "pos"], 1), (["a", "b", "c"], 3)])
def test_model_output_shape_binary_and_multiclass(labels, units):
    cfg = resolve_config(SentimentConfig, presets=PRESETS, preset="tiny")
    examples = Examples({"text": ["good film", "bad film", "ok"], "label": labels + labels[:3 - len(labels)]},
                        ["x:1", "x:2", "x:3"])
    features = TASK.features(cfg).fit(examples)
    model = build_model(cfg, features)
    probs = model(features.inputs["text"].encode_padded(["good film", "a"]))
    assert probs.shape == (2, units)


def train_accuracy(tmp_path, name, **overrides):
    sets = [f"{k}={v}" for k, v in overrides.items()]
    run = rnn_apps.train("sentiment", run_dir=tmp_path / name, console=QUIET,
                         overrides=["builtin_examples=6000", "units=32", "embedding_dim=32", *sets], epochs=4)
    return rnn_apps.evaluate(run)["accuracy"]


@pytest.mark.slow
def test_rnn_learns_order_that_bag_of_words_cannot(tmp_path):
    """The built-in data need word order: the RNN must beat bag-of-words by a wide margin."""
    rnn = train_accuracy(tmp_path, "rnn")
    bow = train_accuracy(tmp_path, "bow", encoder="bow")
    # Measured 0.92 / 0.70, identical with AVX-512 on 2 threads and with AVX2 on 1 thread
    # (ONEDNN_MAX_CPU_ISA=AVX2 taskset -c 0); the bars leave room for other processors.
    assert bow < 0.8        # counts alone are not enough
    assert rnn > 0.87
    assert rnn - bow > 0.12


def test_the_shared_task_checks(sentiment_run, tmp_path):
    check_task(sentiment_run, tmp_path)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_the_shared_tflite_checks(sentiment_run, tmp_path):
    check_tflite(sentiment_run, tmp_path, ("none", "dynamic", "float16"))


def test_extra_words_from_the_vectors_keep_their_vector_for_held_out_text(tmp_path):
    """``embeddings_extra_words``: words the training text lacks but the vectors know (most
    frequent first) join the vocabulary after the fitted ids, with their vector, so a held-out
    "superb" is not [UNK]."""
    import dataclasses

    import numpy as np
    import tensorflow as tf

    (tmp_path / "v.txt").write_text("the 1 0\nsuperb 0 1\nn't 1 1\nawful -1 0\nrare 5 5\n")
    cfg = resolve_config(SentimentConfig, overrides=[f"embeddings={tmp_path / 'v.txt'}", "embeddings_extra_words=2",
                                                     "embeddings_std=0", "embedding_dim=2", "units=4"])
    train = Examples({"text": ["the plot is n't dull", "the good cast"], "label": ["negative", "positive"]}, ["a", "b"])
    fitted = TASK.features(dataclasses.replace(cfg, embeddings_extra_words=0)).fit(train).inputs["text"].id_tokens
    features = TASK.features(cfg).fit(train)
    vocab = features.inputs["text"].id_tokens
    assert vocab[:len(fitted)] == fitted and vocab[len(fitted):] == ["superb", "awful"]  # 2 most frequent new ones
    ids = features.inputs["text"].vocab.encode(tf.constant(["superb"])).numpy()[0]
    assert vocab[ids[0]] == "superb"
    table = build_model(cfg, features).get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(table[vocab.index("superb")], [0, 1])
    np.testing.assert_array_equal(table[vocab.index("nt")], [1, 1])  # n't, standardised as the text is
    features.save(tmp_path)
    assert TASK.features(cfg).load(tmp_path).inputs["text"].id_tokens == vocab

