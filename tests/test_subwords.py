"""Subword vocabularies: lossless text, one tokenization in Python, tf.data, SavedModels and the runtime."""
import json

import pytest
import tensorflow as tf
from conftest import QUIET
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn_apps
from rnn_apps.data.inputs import text_input
from rnn_apps.data.subwords import SubwordVocabulary
from rnn_apps.lite.text import SubwordTokenizer

CORPUS = ["Tom m'a promis qu'il viendrait.", "Êtes-vous prêt ? « Oui », dit-elle.", "Where is the train station?",
          "She reads a book every night.", "Él no está aquí; ¿dónde está?", "It's 5 o'clock -- \"really\"!"] * 30


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    fitted = SubwordVocabulary.fit(CORPUS, 120, "v.model", reserved=("[START]", "[END]"))
    fitted.save(folder / "v.json")
    return SubwordVocabulary.load(folder / "v.json"), folder


def test_text_comes_back_exactly_with_its_case_and_punctuation(vocab):
    vocab, _ = vocab
    assert (vocab.id("[START]"), vocab.id("[END]")) == (2, 3) and vocab.id_tokens[:2] == ["", "[UNK]"]
    for text in dict.fromkeys(CORPUS):
        ids = vocab.encode(text)
        assert 1 not in ids.tolist() and vocab.decode(ids) == text
    decoded = vocab.decode_ragged(tf.ragged.constant([vocab.encode(t).tolist() for t in CORPUS[:6]]))
    assert [t.decode() for t in decoded.numpy()] == CORPUS[:6]


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40))
def test_python_tfdata_savedmodel_op_and_runtime_give_the_same_ids(vocab, text):
    vocab, folder = vocab
    want = vocab.encode(text).tolist()
    assert vocab.encode_graph(tf.constant([text])).to_list()[0] == want  # tf.data (numpy_function)
    assert vocab.encode_serving(tf.constant([text])).to_list()[0] == want  # TensorFlow Text, in a SavedModel
    assert SubwordTokenizer.from_file(folder / "v.json").ids(text) == (want or [1])


def test_text_input_cuts_ends_and_lowercases_like_the_runtime(vocab, tmp_path):
    source = text_input("source", "source_tokens.json", "subwords", max_tokens=120, max_length=5, lowercase=True,
                        reserved=("[START]", "[END]"), end_token="[END]").fit(CORPUS)
    source.save(tmp_path)
    runtime = SubwordTokenizer.from_file(tmp_path / "source_tokens.json", lowercase=True, max_length=5,
                                         end_token="[END]")
    texts = ["Tom m'a promis qu'il viendrait.", "ÉTES-VOUS", ""]
    encoded = source.encode(tf.constant(texts)).to_list()
    assert encoded == [runtime.ids(t) for t in texts]
    assert all(row[-1] == 3 and len(row) <= 6 for row in encoded)


def test_every_text_task_can_use_subwords(tmp_path):
    for task in ("sentiment", "textgen"):
        run = rnn_apps.train(task, preset="tiny", run_dir=tmp_path / task, console=QUIET, epochs=1,
                             overrides=["tokenizer=subwords", "vocab_size=200"])
        files = json.loads((run / ("vocab.json" if task == "sentiment" else "tokens.json")).read_text())
        assert files["tokenizer"] == "subwords" and (run / files["model"]).is_file()
    sample = rnn_apps.generate(tmp_path / "textgen", "ROSA: ", 30, greedy=True)["samples"][0]
    assert "\u2581" not in sample and len(sample) > 0
    assert rnn_apps.predict(tmp_path / "sentiment", ["not bad at all"])[0]["label"] in ("negative", "positive")
