"""The TensorFlow-free tokenizers of ``rnn_apps.lite.text`` give the ids (and the decoded text)
that the TensorFlow ones give: hand-picked strings, every code point, real data, random text."""
from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_apps.data.inputs import TextInput
from rnn_apps.data.text import TextEncoder, TokenVocabulary, tokenize
from rnn_apps.lite.text import TokenTokenizer, VectorizerTokenizer, lower_utf8

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TRICKY = [
    "", " ", "\t\n \r\f\v", "!!!", "?!...", "'\"", "--", "[UNK]", "[START] [END]", "_", "__init__",
    "Don't stop-believing, O'Neil's 3.14 (really?) [yes] {no} ¿Qué? ¡Sí! «quoted» — dash… end.",
    "tab\tsep\tline\nnew  line\r\nwindows\x0bvtab\x0cff", "no\xa0break\u2007figure\u202fnarrow\u3000ideo",
    "line\u2028sep\u2029para\x85nel\x1c\x1d\x1e\x1f", "zero\u200bwidth\u200djoin\ufeffbom\u00adsoft",
    "emoji 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ 😀!", "cafe\u0301 café Å Å ñ n\u0303", "İstanbul ISTANBUL ıi İı", "i\u0307",
    "Straße STRASSE ẞ ß", "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ Σ ΑΣ' ΑΣ'Α ΌΣΟΣ", "Σ\u1734 ΑΣ\u1734Α ΑΣ\U00010570 ΑΣ\u0301Α",
    "中文字符，标点。日本語のテキスト！한국어", "ǅ ǈ ǋ ﬁ ﬀ Ⅻ ⅻ ① ½ ²", "\U00010570\U00010597 \u2c2f\ua7c0",
    "\U0001e4d0\U0001e4f0 \U00031350 \U0002ebf0", "a\x00b", "AB\x00CD", "\x00", "mixed123abc 123 4,5 6.7",
    "٣٤ ١٢٣ ٠", "\U0001d7d8\U0001d7d9", "\ue000\U000f0000 \ufffe\uffff \U0010ffff", "ok_x_1 x__y",
]
ALPHABET = ("aAbBeEzZéÉñÑßẞİıiIΣσςΑΩαωЖжΔ" "0129٣" "_" + string.punctuation + "¿¡«»—…‘’“”"
            " \t\n\r\f\v\xa0\u2028\u3000\x85" "\u0301\u0307\u1734" "\U00010570\u2c2f" "👍🏽中文" "\x00")
WORDS = ["the", "The", "THE", "don't", "ΟΔΟΣ", "οδος", "straße", "İstanbul", "café", "mañana",
         "good", "bad", "12", "x_y", "ЖАР"]
# The vocabularies are fitted on text without NUL: Keras' StringLookup turns its vocabulary into
# a NumPy array, which drops a trailing NUL, so a "\x00" token fails as a misplaced mask token "".
CORPUS = [text.replace("\0", "") for text in TRICKY + [ALPHABET, " ".join(WORDS * 2)] + [
    "the good film . THE BAD FILM ! don't , café ; mañana : straße ΟΔΟΣ οδος İstanbul"] * 3]


def _compiled(encode):
    """``encode`` as a ``tf.function`` over ``[batch]`` strings, as in a SavedModel (and faster)."""
    return tf.function(encode, input_signature=[tf.TensorSpec([None], tf.string)])


def build_pairs(corpus: list[str], directory: Path, many_calls: bool = True) -> list[tuple[str, object, object]]:
    """(label, TensorFlow ``[batch] strings -> ragged ids``, lite tokenizer) for every setting:
    vectorizer word/char x lowercase; tokens word/char/whitespace x lowercase x (no limit | cut + end token).
    Vocabularies are fitted with TensorFlow, saved as JSON and loaded by the lite classes.
    ``many_calls``: the TensorFlow side is a ``tf.function`` (traced once, then fast)."""
    compiled = _compiled if many_calls else (lambda encode: encode)
    pairs = []
    for level in ("word", "char", "whitespace"):
        for lowercase in (True, False):
            if level != "whitespace":  # the vectorizer has word and char levels only
                path = directory / f"vectorizer-{level}-{lowercase}.json"
                encoder = TextEncoder(level, 120 if level == "word" else 60, 12 if level == "word" else 50,
                                      lowercase=lowercase).adapt(corpus)
                encoder.save(path)
                pairs.append((path.stem, compiled(encoder.encode_ragged), VectorizerTokenizer.from_file(path)))
            for max_length, end_token in ((0, None), (40 if level == "char" else 10, "[END]")):
                name = f"tokens-{level}-{lowercase}-{max_length}"
                text_input = TextInput("text", f"{name}.json", tokenizer="tokens", level=level,
                                       max_tokens=70 if level == "char" else 150, max_length=max_length,
                                       lowercase=lowercase, end_token=end_token,
                                       reserved=("[START]", "[END]") if end_token else ())
                text_input.fit(corpus).save(directory)
                lite = TokenTokenizer.from_file(directory / f"{name}.json", lowercase=lowercase,
                                                max_length=max_length, end_token=end_token)
                pairs.append((name, compiled(text_input.encode), lite))
    return pairs


def assert_same_ids(pairs, texts: list[str]) -> None:
    """One TensorFlow call per setting for the whole batch; every text's ids must agree."""
    bad = []
    for label, tf_encode, lite in pairs:
        expected = tf_encode(tf.constant(texts, tf.string)).to_list()
        bad += [(label, text, want, lite.ids(text)) for text, want in zip(texts, expected)
                if lite.ids(text) != want]
    assert not bad, f"{len(bad)} mismatches, first: " + "; ".join(
        f"{label} {text!r}: tf {want} lite {got}" for label, text, want, got in bad[:3])


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return build_pairs(CORPUS, tmp_path_factory.mktemp("lite"))


def test_importing_the_lite_tokenizers_loads_no_tensorflow():
    code = ("import sys, rnn_apps.lite.text; "
            "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]; assert not loaded, loaded")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_tensorflow_behaviours_the_twins_rely_on():
    def lower(text, **kwargs):
        return tf.strings.lower(tf.constant([text]), **kwargs).numpy()[0].decode()

    assert lower("ÀBC İ") == "Àbc İ"  # no encoding: ASCII only
    assert lower("İ ΟΔΟΣ. ẞ Σ", encoding="utf-8") == "i\u0307 οδος. ß σ"  # ICU full, contextual
    assert lower("AB\0CD", encoding="utf-8") == "ab"  # ICU reads a C string
    assert lower("\U00010570\u2c2f", encoding="utf-8") == "\U00010570\u2c2f"  # Unicode 14: unknown to ICU
    assert lower("ΑΣ\u1734Α", encoding="utf-8") == "ασ\u1734α"  # U+1734 case-ignorable (Mn) to ICU
    whitespace = tf.strings.split(tf.constant(["a b\tc\nd\ve\ff\rg\xa0h\x85i\u2028j\u3000k"])).to_list()[0]
    assert whitespace == [s.encode() for s in ["a", "b", "c", "d", "e", "f", "g\xa0h\x85i\u2028j\u3000k"]]
    re2 = tf.strings.regex_replace(tf.constant(["a\tb\nc\vd\fe\rf g\xa0h"]), r"\s", "").numpy()[0].decode()
    assert re2 == "abc\vdefg\xa0h"  # RE2 \s: no \v, ASCII only
    re2 = tf.strings.regex_replace(tf.constant(["\U0001e4d0\U0002ebf0"]), r"\pL", "").numpy()[0].decode()
    assert re2 == "\U0002ebf0"  # RE2 letters: Unicode 15.0 (Nag Mundari) but not 15.1
    split = tf.strings.unicode_split(tf.constant(["a\0👍🏽"]), "UTF-8").to_list()[0]
    assert split == [c.encode() for c in "a\0👍🏽"]


def test_hand_picked_tricky_strings(pairs):
    assert_same_ids(pairs, TRICKY)
    assert lower_utf8("İ ΟΔΟΣ ẞ A\0B") == "i\u0307 οδος ß a"


def assert_same_tokens(label: str, expected: tf.RaggedTensor, got: list[str]) -> None:
    """TensorFlow's ``[1, (tokens)]`` == ``got``, compared as one joined text and the token lengths
    (millions of tokens: decoding each in Python would take longer than the tokenizing)."""
    flat = expected.flat_values
    lengths = tf.strings.length(flat, unit="UTF8_CHAR").numpy()
    if (tf.strings.reduce_join(flat).numpy().decode() == "".join(got) and len(lengths) == len(got)
            and (lengths == np.fromiter(map(len, got), np.int64, len(got))).all()):
        return
    want = [token.decode() for token in flat.numpy().tolist()]
    i = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    pytest.fail(f"{label}: tokens differ at {i}: tf {want[max(i - 3, 0):i + 3]!r} lite {got[max(i - 3, 0):i + 3]!r}")


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_every_code_point(pairs):
    """Each code point (but NUL, which ends ICU's input) between letters, "Σ" and spaces, in one
    text: the tokens of every setting, before the (dictionary) lookup."""
    chars = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    sigma = "".join("A" + x + "Σ" + x + "a" + x + "ΑΣ" + x + " " for x in chars)
    tf_lower = tf.strings.lower(tf.constant([sigma]), encoding="utf-8").numpy()[0].decode()
    lite_lower = lower_utf8(sigma)
    if lite_lower != tf_lower:
        i = next(i for i, (a, b) in enumerate(zip(lite_lower, tf_lower)) if a != b)
        pytest.fail(f"lower-casing differs at {i}: tf {tf_lower[i-12:i+12]!r} lite {lite_lower[i-12:i+12]!r}")
    text = tf.constant(["".join("a" + x + " " for x in chars)])  # x joins "a", stands alone or separates
    for label, _, lite in pairs:
        if label.startswith("vectorizer"):  # the standardize + split step of TextVectorization.call
            keras_layer = TextEncoder(lite.level, 10, 10, ["a"], lite.lowercase).layer
            assert_same_tokens(label, keras_layer._preprocess(text), lite.tokens(text.numpy()[0].decode()))
        elif label.endswith("-0"):  # what TextInput.ids looks up
            text_input = TextInput("t", "v.json", tokenizer="tokens", level=lite.level, max_tokens=10,
                                   lowercase=lite.lowercase)
            assert_same_tokens(label, tokenize(text_input.lowered(text), lite.level),
                               lite.tokens(text.numpy()[0].decode()))


def _data_sets():
    def lines(path, n):
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for _, line in zip(range(n), f)]

    def sst2():
        return [line.split("\t")[0] for line in lines(DATA / "sst2/train.tsv", 2001)[1:]]

    def spa_eng():
        return [side for line in lines(DATA / "spa-eng/spa.txt", 2000) for side in line.split("\t")[:2]]

    def shakespeare():
        text = lines(DATA / "tiny_shakespeare/input.txt", 2000)
        return text + ["\n".join(text[:400]) + "\n"]  # also one long text with line breaks

    return [("sst2/train.tsv", sst2), ("spa-eng/spa.txt", spa_eng), ("tiny_shakespeare/input.txt", shakespeare)]


@pytest.mark.parametrize("name,read", _data_sets(), ids=[name for name, _ in _data_sets()])
def test_real_data_lines(name, read, tmp_path):
    if not (DATA / name).is_file():
        pytest.skip(f"{DATA / name} is not there")
    texts = read()
    assert_same_ids(build_pairs(texts, tmp_path, many_calls=False), texts)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=30))
def test_arbitrary_unicode(pairs, texts):
    assert_same_ids(pairs, texts)


MIXED = st.lists(st.sampled_from(WORDS) | st.text(st.sampled_from(ALPHABET), min_size=1, max_size=4),
                 max_size=25).map("".join)


@settings(max_examples=40, deadline=None)
@given(st.lists(MIXED, min_size=1, max_size=30))
def test_words_punctuation_and_whitespace(pairs, texts):
    assert_same_ids(pairs, texts)


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory) -> dict:
    """Word and char ``TokenVocabulary`` with reserved tokens, and their lite twins from the JSON."""
    out = {}
    for level in ("word", "char", "whitespace"):
        vocab = TokenVocabulary.fit(level, CORPUS, 120, reserved=("[START]", "[END]"))
        path = tmp_path_factory.mktemp("vocab") / f"{level}.json"
        vocab.save(path)
        out[level] = vocab, TokenTokenizer.from_file(path)
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_decode_gives_the_text_tensorflow_gives(vocabularies, data):
    vocab, lite = vocabularies[data.draw(st.sampled_from(["word", "char", "whitespace"]))]
    ids = data.draw(st.lists(st.integers(0, vocab.size - 1), max_size=30))
    kept = [i for i in ids if i != 0]  # padding is dropped
    expected = vocab.decode_graph(tf.constant([kept or [0]]))[0].numpy().decode()
    assert lite.decode(ids) == expected
    if kept:  # streaming: the piece that follows the id before it
        assert lite.decode(kept[1:], after=kept[0]) == vocab.decode(kept[1:], after=kept[0])


@pytest.mark.parametrize("level", ["word", "char", "whitespace"])
def test_decode_every_pair_and_many_runs(vocabularies, level):
    """Every two-token sequence and 5000 random ones of 3 to 8 tokens, no padding (one batch per length)."""
    vocab, lite = vocabularies[level]
    rng = np.random.default_rng(0)
    pairs = np.array([[i, j] for i in range(1, vocab.size) for j in range(1, vocab.size)])
    for batch in [pairs] + [rng.integers(1, vocab.size, (1000, n)) for n in range(3, 9)]:
        expected = [text.decode() for text in vocab.decode_graph(tf.constant(batch)).numpy().tolist()]
        bad = [(ids, want) for ids, want in zip(batch.tolist(), expected) if lite.decode(ids) != want]
        assert not bad, f"{len(bad)} differ, e.g. {bad[0][0]}: tf {bad[0][1]!r} lite {lite.decode(bad[0][0])!r}"


def test_ids_tokens_and_end_token(tmp_path):
    TokenVocabulary("word", ["[END]", "hello", "world", "!"]).save(tmp_path / "v.json")
    lite = TokenTokenizer.from_file(tmp_path / "v.json", lowercase=True, max_length=2, end_token="[END]")
    assert lite.tokens("Hello,\tWORLD!") == ["hello", ",", "world", "!"]
    assert lite.ids("Hello,\tWORLD!") == [3, 1, 2] and lite.ids("") == [2]
    assert lite.id("world") == 4 and lite.decode([3, 4, 5, 0, 0]) == "hello world!"
    with pytest.raises(KeyError):
        lite.id("[UNK]")


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
                      | st.text(alphabet="ab Ab\u00e9\u0130\t\n.,", max_size=60), min_size=1, max_size=6),
       lowercase=st.booleans())
def test_characters_of_each_token_match_tensorflow(texts, lowercase, tmp_path_factory):
    """A tagger's char-CNN reads each token's first characters (``TextInput.char_ids``); the
    runtime's ``spelled_tokens`` gives the same ids: unseen characters, long and cut words,
    texts longer than ``max_length``, empty and whitespace-only texts, lower-casing."""
    from rnn_apps.lite.text import spelled_tokens

    kind = TextInput("sentence", "v.json", tokenizer="tokens", level="whitespace", max_tokens=50, max_length=7,
                     lowercase=lowercase, chars_per_token=5)
    kind.fit(["Ab ab .", "xyz Q, é longword"])
    directory = tmp_path_factory.mktemp("chars")
    kind.save(directory)
    words = TokenTokenizer.from_file(directory / "v.json", lowercase=lowercase, max_length=7)
    chars = TokenTokenizer.from_file(directory / kind.chars_file)
    want = kind.tensor_values(texts)["sentence_chars"]
    for text, row in zip(texts, want):
        assert np.array_equal(row, np.array(spelled_tokens(words.tokens(text), chars, 5, 7))[0]), text
