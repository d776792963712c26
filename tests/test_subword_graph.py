"""SentencePiece in core TensorFlow ops (rnn_apps/data/subword_graph.py): the same ids as
the ``sentencepiece`` package on generated text, for unigram and BPE models of several
sizes, and a subword SavedModel that loads in a fresh Python with TensorFlow Text absent."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import sentencepiece as spm

from rnn_apps.data.subword_graph import GraphSentencePiece, supported

WORDS = ["the", "old", "dogs", "saw", "a", "red", "boat", ".", "these", "kings", "did", "not", "find", "river",
         "today", "über", "naïve", "12", "1999", "Boat", "l'eau", "well-known"]
ODD = list("abcdefghijklmnopqrstuvwxyz .,!?'-0123456789ÄéXYZ\n") + ["  ", "☃", "🙂", "\u00a0"]


def train_model(texts, size: int, model_type: str) -> bytes:
    """A model trained as rnn-apps trains one (rnn_apps.data.subwords.SubwordVocabulary.fit)."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=size, model_type=model_type, pad_id=0,
        unk_id=1, pad_piece="[PAD]", unk_piece="[UNK]", bos_id=2, eos_id=3, bos_piece="[START]", eos_piece="[END]",
        hard_vocab_limit=False, normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
        user_defined_symbols=["\n"], character_coverage=1.0, minloglevel=2)
    return model.getvalue()


def generated_texts(n: int, seed: int) -> list[str]:
    """Sentences of known words and strings of odd characters (unknown ones, digits, runs of
    spaces, line breaks, emoji), plus the edge cases."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, rng.integers(1, 12))) if rng.random() < 0.5 else
             "".join(rng.choice(ODD, rng.integers(0, 25))) for _ in range(n)]
    return texts + ["", " ", "  a", "a  ", "\n", "x\ny", "ZZZ", "🙂🙂 a", "the  old\n\ndogs"]


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, rng.integers(3, 12))) for _ in range(1500)]


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
@pytest.mark.parametrize("size", [40, 300])
def test_core_ops_give_the_ids_sentencepiece_gives(corpus, model_type, size):
    import tensorflow as tf

    model = train_model(corpus, size, model_type)
    assert supported(model) is None
    reference = spm.SentencePieceProcessor(model_proto=model)
    texts = generated_texts(150, seed=size)
    got = GraphSentencePiece(model).encode(tf.constant(texts)).to_list()
    want = [reference.encode(t) for t in texts]
    wrong = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
    assert not wrong, f"{len(wrong)} of {len(texts)} differ, e.g. {wrong[:2]}"


def test_models_it_cannot_reproduce_are_named(corpus):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, vocab_size=40,
                                   minloglevel=2)  # the default nmt_nfkc normaliser
    assert "normaliser" in supported(model.getvalue())
    with pytest.raises(ValueError, match="cannot be encoded in core ops"):
        GraphSentencePiece(model.getvalue())


def test_a_subword_savedmodel_loads_without_tensorflow_text(translate_run, tmp_path):
    """The default translate run (subwords) exported, then loaded in a fresh Python where
    ``import tensorflow_text`` fails: plain ``tf.saved_model.load`` translates as ``predict`` does."""
    import rnn_apps

    run = rnn_apps.load_run(translate_run)
    assert run.cfg.tokenizer == "subwords"
    out = rnn_apps.export(translate_run, out=tmp_path / "savedmodel")
    sentences = ["the old dogs saw a red boat .", "a king sees the river ."]
    expected = [p["translation"] for p in run.predict(sentences)]
    code = ("import json, sys; sys.modules['tensorflow_text'] = None\n"  # any import of it now fails
            "import tensorflow as tf\n"
            f"model = tf.saved_model.load({str(out)!r})\n"
            f"out = model.signatures['translate'](text=tf.constant({sentences!r}))['translation']\n"
            "print(json.dumps([t.decode() for t in out.numpy()]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
