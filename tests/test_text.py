import pytest
import tensorflow as tf

from rnn_apps.errors import UserError
from rnn_apps.data.text import OOV, LabelVocabulary, TextEncoder


def test_word_encoder_pads_truncates_and_maps_unknown_to_oov():
    enc = TextEncoder("word", 100, max_length=3).adapt(["The plot, was good!", "good good acting"])
    ids = enc.encode(tf.constant(["good plot was good", "zebra", "", "!!!"])).numpy()
    assert ids.shape == (4, 3)
    assert enc.decode(ids[0]) == ["good", "plot", "was"]
    assert list(ids[1]) == [OOV, 0, 0]
    assert list(ids[2]) == [OOV, 0, 0] and list(ids[3]) == [OOV, 0, 0]  # never an empty sequence


def test_char_level_and_save_load_round_trip(tmp_path):
    enc = TextEncoder("char", 50, max_length=10).adapt(["abc", "Bad"])
    assert enc.decode(enc.encode(tf.constant(["cab"])).numpy()[0]) == ["c", "a", "b"]
    enc.save(tmp_path / "vocab.json")
    again = TextEncoder.load(tmp_path / "vocab.json")
    assert again.vocabulary == enc.vocabulary
    texts = tf.constant(["abcd", "dcba xyz"])
    assert (again.encode(texts).numpy() == enc.encode(texts).numpy()).all()


def test_vocabulary_cap_is_respected():
    enc = TextEncoder("word", 5, max_length=10).adapt(["a a a a b b b c c d e f"])
    assert enc.vocab_size == 5 and enc.vocabulary[:2] == ["", "[UNK]"]


def test_labels_sort_numerically_and_unknown_label_names_origin():
    labels = LabelVocabulary.fit(["10", "2", "1", "2"])
    assert labels.labels == ["1", "2", "10"]
    assert labels.encode(["10", "1"], ["f:1", "f:2"]) == [2, 0]
    with pytest.raises(UserError, match="f:7: unknown label 'x'; known labels: 1, 2, 10"):
        labels.encode(["x"], ["f:7"])


def test_single_label_is_an_error():
    with pytest.raises(UserError, match="at least two different labels"):
        LabelVocabulary.fit(["pos", "pos"])


def test_a_nul_character_in_the_text_does_not_break_the_vocabulary():
    from rnn_apps.data.text import TokenVocabulary

    for level in ("char", "word"):
        vocab = TokenVocabulary.fit(level, "ab\x00c a\x00 b\n", 50)
        assert "\x00" not in vocab.tokens
        assert vocab.decode(vocab.encode("ab c").tolist()) == "ab c"


def test_whitespace_tokens_keep_the_texts_own_tokens():
    """Tagging data comes tokenized, one label per token: the whitespace mode keeps every token
    as it is (the word mode splits ``U.S.`` into four and the vectorizer drops a lone ``,``)."""
    import tensorflow as tf

    from rnn_apps.data.inputs import text_input
    from rnn_apps.data.text import tokenize

    text = tf.constant(["U.S. officials , in  Washington\t( D.C. ) -DOCSTART-"])
    tokens = [t.decode() for t in tokenize(text, "whitespace")[0].numpy()]
    assert tokens == ["U.S.", "officials", ",", "in", "Washington", "(", "D.C.", ")", "-DOCSTART-"]
    assert len(tokenize(text, "word")[0]) > len(tokens)
    tagger = text_input("tokens", "v.json", "whitespace", max_tokens=50).fit(["U.S. officials , in Washington"])
    ids = tagger.batch(["U.S. officials , in Washington", "officials , Paris"])["tokens"].numpy()
    assert ids.tolist() == [[2, 3, 4, 5, 6], [3, 4, 1, 0, 0]]  # one id per token, [UNK] for Paris
    assert tagger.step_mask({"tokens": ids}).numpy().tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert tagger.decode_ragged(tagger.encode(tf.constant(["U.S. officials ,"])))[0].numpy() == b"U.S. officials ,"
