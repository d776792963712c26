"""Subword vocabularies: a SentencePiece model trained on the training split, saved with the run.

Words split into pieces the data show often ("▁vien" "dr" "ait"), so no word of a
language is unknown and a vocabulary of a few thousand covers it; the pieces carry their
spaces (``▁`` = a space before), so joining them gives back the text exactly, case and
punctuation included: no detokenizing rules to guess with. The model is SentencePiece's
(``unigram`` or ``bpe``, the ``sentencepiece`` package), trained without its own
normalisation (rnn-apps applies Unicode NFC itself) and with our ids: 0 padding, 1
unknown, then the reserved ``[START]``/``[END]`` when a task asks for them.

Where text is turned into ids:

* training and ``predict``: the ``sentencepiece`` package, in Python or inside tf.data
  (``tf.numpy_function``);
* a SavedModel's raw-string signatures: the same model encoded in core TensorFlow ops
  (``rnn_apps.data.subword_graph``: a piece table and a Viterbi or merge loop, held to the
  ``sentencepiece`` package by a test), so the SavedModel loads in plain TensorFlow and TF
  Serving, with no ``import tensorflow_text``;
* the TF-free runtime (``rnn_apps.lite``): the ``sentencepiece`` package.

Turning ids back into text is the same everywhere: join the pieces, ``▁`` becomes a space.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from rnn_apps.errors import UserError

SPACE = "\u2581"  # "▁": the piece starts a word


def _processor(model: bytes):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=model)


class SubwordVocabulary:
    """A trained SentencePiece model and its pieces (ids: 0 padding, 1 unknown, reserved next)."""

    level = "subword"

    def __init__(self, model: bytes, model_file: str):
        self.model, self.model_file = model, model_file
        self.processor = _processor(model)
        self.pieces = [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())]
        self._tokenizer = None

    @classmethod
    def fit(cls, texts: Sequence[str], size: int, model_file: str, reserved: Sequence[str] = (),
            model_type: str = "unigram", symbols: Sequence[str] = ()) -> "SubwordVocabulary":
        """Train on ``texts`` (at most a million, a seeded sample) for about ``size`` pieces;
        ``symbols`` are always pieces of their own (a language model's line break)."""
        import sentencepiece as spm

        texts = [t for t in texts if t.strip()]
        if not texts:
            raise UserError("no text to learn subwords from")
        if len(texts) > 1_000_000:
            texts = [texts[i] for i in np.random.default_rng(0).choice(len(texts), 1_000_000, replace=False)]
        alphabet = len(set("".join(texts[:100_000])))
        start_end = {"bos_id": 2, "eos_id": 3, "bos_piece": reserved[0], "eos_piece": reserved[1]} \
            if len(reserved) == 2 else {"bos_id": -1, "eos_id": -1}
        from rnn_apps.progress import status

        model = io.BytesIO()
        with status(f"learning {size:,} subwords from {len(texts):,} texts..."):
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts), model_writer=model, vocab_size=max(size, 8), model_type=model_type,
                pad_id=0, unk_id=1, pad_piece="[PAD]", unk_piece="[UNK]", **start_end,
                hard_vocab_limit=False,  # a small corpus gets fewer pieces rather than an error
                normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
                user_defined_symbols=list(symbols),
                character_coverage=1.0 if alphabet < 1000 else 0.9995, num_threads=2, minloglevel=2)
        return cls(model.getvalue(), model_file)

    # --- files ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """``path`` (JSON: the pieces, for reading) and the binary model beside it."""
        (path.parent / self.model_file).write_bytes(self.model)
        path.write_text(json.dumps({"tokenizer": "subwords", "model": self.model_file, "pieces": self.pieces},
                                   ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "SubwordVocabulary":
        info = json.loads(path.read_text(encoding="utf-8"))
        return cls((path.parent / info["model"]).read_bytes(), info["model"])

    # --- ids -----------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.pieces)

    @property
    def id_tokens(self) -> list[str]:
        """The piece of every id, padding shown as ""."""
        return [""] + self.pieces[1:]

    def id(self, piece: str) -> int:
        i = self.processor.piece_to_id(piece)
        if i == 1 and piece != "[UNK]":
            raise KeyError(f"{piece!r} is not in the vocabulary")
        return i

    def encode(self, text: str) -> np.ndarray:
        """One text -> ``[pieces]`` int32 ids."""
        return np.array(self.processor.encode(text), np.int32)

    def encode_graph(self, texts):
        """``[batch]`` strings -> ragged ``[batch, (pieces)]`` int32, inside tf.data or eager code
        (the Python model through ``tf.numpy_function``; not for SavedModels)."""
        import tensorflow as tf

        def encode(batch):
            rows = self.processor.encode([t.decode("utf-8") for t in batch])
            return np.array([i for row in rows for i in row], np.int32), np.array([len(r) for r in rows], np.int64)

        values, lengths = tf.numpy_function(encode, [texts], (tf.int32, tf.int64), stateful=False)
        values.set_shape([None])
        lengths.set_shape([None])
        return tf.RaggedTensor.from_row_lengths(values, lengths)

    def encode_serving(self, texts):
        """``[batch]`` strings -> ragged ids in core TensorFlow ops, for a SavedModel that
        tokenizes raw strings itself (it then loads without TensorFlow Text)."""
        self.serving_tokenizer()
        return self._tokenizer.encode(texts)

    def serving_tokenizer(self) -> list:
        """The module a SavedModel tracks for ``encode_serving`` (its piece table), made now,
        outside any trace."""
        if self._tokenizer is None:
            from rnn_apps.data.subword_graph import GraphSentencePiece

            self._tokenizer = GraphSentencePiece(self.model)
        return [self._tokenizer]

    def decode_graph(self, ids):
        """Dense ``[batch, time]`` ids (0 = padding) -> ``[batch]`` texts, in TensorFlow ops."""
        import tensorflow as tf

        ids = tf.convert_to_tensor(ids)
        return self.decode_ragged(tf.ragged.boolean_mask(ids, ids != 0))

    # --- text ----------------------------------------------------------------------------
    def decode(self, ids: Sequence[int], after: int | None = None) -> str:
        """Ids -> text (padding dropped). ``after`` (the id before ``ids``) keeps the space a
        streamed piece starts with."""
        pieces = [self.pieces[int(i)] for i in ids if int(i) != 0]
        text = "".join(pieces).replace(SPACE, " ")
        if after is None:
            return text[1:] if text.startswith(" ") else text
        return text

    def decode_ragged(self, ids):
        """Ragged ``[batch, (pieces)]`` ids -> ``[batch]`` texts, in TensorFlow ops only (usable in
        any SavedModel): join the pieces, ``▁`` -> space, drop the first space."""
        import tensorflow as tf

        text = tf.strings.reduce_join(tf.gather(tf.constant(self.id_tokens), ids), axis=-1)
        return tf.strings.regex_replace(tf.strings.regex_replace(text, SPACE, " "), "^ ", "")
