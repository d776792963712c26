"""Pretrained word vectors (rnn_apps/layers/embedding.py): both text formats, clear errors,
frozen vectors that stay exactly as read, fine-tuned ones that move, word dropout."""
import gzip

import keras
import numpy as np
import pytest
from conftest import QUIET

import rnn_apps
from rnn_apps.errors import UserError
from rnn_apps.layers.embedding import pretrained_matrix, read_word_vectors, token_embedding

VECTORS = {"good": [0.5, 1.0, -1.0], "dull": [-0.5, -1.0, 1.0], "plot": [0.1, 0.2, 0.3]}


def write_vectors(path, header: bool = True):
    lines = [f"{w} {' '.join(map(str, v))}" for w, v in VECTORS.items()]
    text = "\n".join(([f"{len(VECTORS)} 3"] if header else []) + lines) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, header", [("w2v.txt", True), ("glove.txt", False), ("vectors.txt.gz", True)])
def test_reads_word2vec_and_glove_text_formats(tmp_path, name, header):
    dim, found = read_word_vectors(write_vectors(tmp_path / name, header), {"good", "plot", "absent"})
    assert dim == 3 and set(found) == {"good", "plot"}
    np.testing.assert_array_equal(found["good"], np.float32(VECTORS["good"]))


@pytest.mark.parametrize("content, message", [
    ("good 1 2 3\ndull 1 2\n", "v.txt:2: expected 3 numbers after the word, found 2"),
    ("good 1 x 3\n", "v.txt:1: a vector value is not a number"),
    ("", "v.txt: no word vectors in the file"),
])
def test_bad_vector_files_name_the_file_and_line(tmp_path, content, message):
    (tmp_path / "v.txt").write_text(content)
    with pytest.raises(UserError, match=message):
        read_word_vectors(tmp_path / "v.txt", {"good"})


def test_matrix_rows_are_the_vectors_and_unknown_words_random(tmp_path):
    matrix, found = pretrained_matrix(write_vectors(tmp_path / "v.txt"), ["", "[UNK]", "good", "Plot", "zzz"])
    assert found == 2 and matrix.shape == (5, 3)
    np.testing.assert_array_equal(matrix[2], VECTORS["good"])
    np.testing.assert_array_equal(matrix[3], np.float32(VECTORS["plot"]))  # found lower-cased
    assert not matrix[0].any() and matrix[4].any()


def test_word_dropout_drops_whole_words_only_in_training():
    tokens = keras.Input((None,), dtype="int32")
    model = keras.Model(tokens, token_embedding(tokens, [""] + [f"w{i}" for i in range(9)], 16, word_dropout=0.5))
    ids = np.arange(1, 10)[None].repeat(64, 0)
    train = model(ids, training=True).numpy()
    zero_words = (np.abs(train).sum(-1) == 0)
    assert 0.3 < zero_words.mean() < 0.7  # about half of the words, each one whole
    assert np.all((train == 0).all(-1) | (train != 0).all(-1))
    np.testing.assert_array_equal(model(ids, training=False).numpy(), model(ids).numpy())


@pytest.mark.parametrize("trainable", [False, True])
def test_frozen_vectors_stay_and_fine_tuned_ones_move(tmp_path, trainable):
    vectors = write_vectors(tmp_path / "v.txt")
    run = rnn_apps.train("sentiment", preset="tiny", epochs=1, run_dir=tmp_path / "run", console=QUIET,
                         overrides=[f"embeddings={vectors}", f"embeddings_trainable={str(trainable).lower()}",
                                    "embeddings_std=0"])  # as read
    loaded = rnn_apps.load(run)
    vocab = loaded.features.inputs["text"].id_tokens
    weights = loaded.model.get_layer("embedding").get_weights()[0]
    assert weights.shape[1] == 3  # the file's dimension, not embedding_dim
    moved = not np.allclose(weights[vocab.index("good")], VECTORS["good"])
    assert moved == trainable


def test_std_rescales_a_fine_tuned_table_by_one_factor_and_leaves_a_frozen_one_as_read(tmp_path):
    """``embeddings_std``: read as they are, GloVe 50d rows are 22x a fresh table's scale (std 0.64
    vs 0.029); with ``std`` the table starts at a fresh table's scale, one factor for every row
    (directions and distances kept). The default, and a frozen table, are as read."""
    from rnn_apps.layers.embedding import FRESH_STD
    from rnn_apps.models.sentiment import SentimentConfig

    big = {w: [10 * x for x in v] for w, v in VECTORS.items()}
    (tmp_path / "v.txt").write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in big.items()))
    tokens = keras.Input((None,), dtype="int32")
    id_tokens = ["", "[UNK]", "good", "dull", "plot", "zzz"]

    def table(**kwargs):
        model = keras.Model(tokens, token_embedding(tokens, id_tokens, 3, **kwargs))
        return model.get_layer(index=1).get_weights()[0]

    fresh = table()
    scaled = table(vectors=str(tmp_path / "v.txt"), std=FRESH_STD)
    assert 0.5 < scaled[1:].std() / fresh[1:].std() < 2  # the scale of a fresh table, not 10x GloVe's
    ratios = scaled[2:5] / np.float32([big["good"], big["dull"], big["plot"]])
    np.testing.assert_allclose(ratios, ratios[0, 0], rtol=1e-5)  # one factor
    assert SentimentConfig().embeddings_std == 0  # as read by default
    for as_read in (table(vectors=str(tmp_path / "v.txt")),
                    table(vectors=str(tmp_path / "v.txt"), std=FRESH_STD, trainable=False)):
        np.testing.assert_allclose(as_read[2], big["good"], rtol=1e-6)


def test_missing_vectors_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="embeddings: no such file: .*nope.txt"):
        rnn_apps.train("sentiment", preset="tiny", run_dir=tmp_path / "run", console=QUIET,
                       overrides=[f"embeddings={tmp_path / 'nope.txt'}"])
    assert not (tmp_path / "run").exists()


def test_spelled_words_is_a_char_cnn_max_pooled_over_real_characters(tmp_path):
    """``SpelledWords`` against NumPy: characters embedded, a width-3 convolution ("same",
    zero-padded at the word's ends) with ReLU, then the max over the real characters only;
    more padding after a word does not change its vector; it saves and loads."""
    from rnn_apps.layers.embedding import SpelledWords

    layer = SpelledWords(10, dim=4, filters=3, width=3)
    chars = np.array([[[2, 5, 7, 0, 0, 0], [3, 0, 0, 0, 0, 0]], [[9, 9, 1, 4, 2, 8], [0, 0, 0, 0, 0, 0]]], np.int32)
    got = np.asarray(layer(chars))
    table = np.asarray(layer.embedding.embeddings)
    kernel, bias = (np.asarray(w) for w in layer.conv.weights)  # [1, 3, 4, 3], [3]
    want = np.zeros((2, 2, 3), np.float32)
    for b in range(2):
        for t in range(2):
            x = np.pad(table[chars[b, t]], ((1, 1), (0, 0)))  # [C + 2, dim]
            conv = np.stack([sum(x[c + k] @ kernel[0, k] for k in range(3)) + bias for c in range(6)])
            real = chars[b, t] != 0
            want[b, t] = (np.maximum(conv, 0) * real[:, None]).max(axis=0)
    assert np.allclose(got, want, atol=1e-6)
    assert np.all(got[1, 1] == 0)  # a padding step (no characters) is all zero
    assert np.asarray(layer.compute_mask(chars)).tolist() == [[True, True], [True, False]]  # kept beside a word mask
    longer = np.concatenate([chars, np.zeros((2, 2, 4), np.int32)], axis=2)
    assert np.allclose(np.asarray(layer(longer))[0], got[0], atol=1e-6)  # words shorter than the width: same
    inputs = keras.Input((None, 6), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert np.allclose(np.asarray(again(chars)), got)
