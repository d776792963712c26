"""Input kinds: what a task's model reads, by name, and how a raw value becomes a tensor.

A task declares its inputs as ``{name: kind}`` (``{"text": TextInput(...)}`` for
sentiment, ``{"source": ...}`` for translate; an image and a question for VQA). Each
kind knows how to

* ``fit`` itself on the training values (a vocabulary) and ``save``/``load`` that;
* ``prepare`` raw values in Python (text from a file, Unicode normalisation) and
  ``encode`` a batch of them inside tf.data or a SavedModel (``[batch]`` strings ->
  ragged ``[batch, (time)]`` ids);
* give dense batches of model tensors for prediction (``batch``);
* describe its serving signatures: the raw one (strings, float images) and the
  tensor-only one with static shapes (``[1, length]`` int32 ids, ``[1, H, W, C]`` pixels),
  which builtin-ops TFLite needs: ``raw_specs`` / ``tensor_specs`` (lists of named specs),
  ``from_raw`` / ``from_tensors`` (their tensors -> the model's inputs by name, in the
  graph) and ``raw_values`` / ``tensor_values`` (realistic arguments, for checks).

A sequence input reports its ``lengths`` so that batches can be bucketed by them and
padded with 0, which the models mask.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import tensorflow as tf

from rnn_apps.data.examples import as_text
from rnn_apps.data.subwords import SubwordVocabulary
from rnn_apps.data.text import OOV, PAD, TextEncoder, TokenVocabulary, at_least_one, detokenize, tokenize
from rnn_apps.graphs import kept_graph

Tokenizer = Literal["vectorizer", "tokens", "subwords"]


def normalize(texts: Sequence[str], form: str) -> list[str]:
    """Unicode normal form ``form`` (NFC, NFKC or none), applied in Python before any tensor
    sees the text (TensorFlow has no normalisation op without tensorflow-text)."""
    return [unicodedata.normalize(form, t) for t in texts] if form != "none" else list(texts)


class TextInput:
    """A text input: strings -> token ids ``[batch, time]`` int32, 0 = padding, 1 = unknown.

    Args:
        name: the input's name (a model input and a data column of that name).
        file: where the vocabulary is saved in a run directory.
        tokenizer: ``vectorizer`` (Keras ``TextVectorization``: lower-cased, punctuation
            stripped at word level; for classifiers), ``tokens`` (``TokenVocabulary``:
            case, punctuation and line breaks kept; for text that must come back) or
            ``subwords`` (a SentencePiece model, ``rnn_apps.data.subwords``: lossless).
        level: ``word``, ``char`` or ``whitespace`` (``subword`` for subwords).
        max_tokens: vocabulary cap, padding and unknown included.
        max_length: tokens kept per text (0 = all).
        lowercase: lower-case first (``tokens``; the vectorizer always lower-cases).
        unicode_form: NFC / NFKC / none, applied by ``prepare``.
        reserved: tokens that get the first ids after unknown (``[START]``, ``[END]``).
        end_token: append this reserved token to every text (an encoder then sees where
            the text stops, and no text is empty).
        stream: the values are the lines of one text (a language model's corpus): the
            vocabulary is fitted on them joined, each line ending in "\n".
        serving_name: the argument name of the raw serving signature (default ``name``).
        chars_per_token: > 0 adds ``{name}_chars``: ``[batch, time, chars_per_token]`` int32,
            the first characters of each token as ids of a character vocabulary fitted
            beside the token one (0 = padding, 1 = unknown), so a model can build a word's
            vector from its spelling (a char-CNN word encoder: a word never seen in training
            still has its capital letter and its suffix). Token tokenizer, words only.
    """

    kind = "text"
    sequence = True  # batches are padded (and bucketed) by its length

    def __init__(self, name: str, file: str, *, tokenizer: Tokenizer, level: str, max_tokens: int,
                 max_length: int = 0, lowercase: bool = False, unicode_form: str = "none",
                 reserved: Sequence[str] = (), end_token: str | None = None, stream: bool = False,
                 serving_name: str | None = None, subword_model: str = "unigram", chars_per_token: int = 0):
        self.name, self.file, self.tokenizer, self.level = name, file, tokenizer, level
        self.max_tokens, self.max_length, self.lowercase = max_tokens, max_length, lowercase
        self.unicode_form, self.reserved, self.end_token = unicode_form, tuple(reserved), end_token
        self.stream, self.serving_name, self.subword_model = stream, serving_name or name, subword_model
        self.vocab: TextEncoder | TokenVocabulary | SubwordVocabulary | None = None
        self.chars_per_token, self.chars = chars_per_token, None  # chars: a char-level TokenVocabulary
        if chars_per_token and (tokenizer != "tokens" or level == "char" or end_token or stream):
            raise ValueError("characters per token need the token tokenizer at a word level, without end token")

    MAX_CHARS = 300  # character ids at most (padding and unknown included): rare letters stay unknown

    @property
    def chars_file(self) -> str:
        return Path(self.file).stem + "_chars.json"

    # --- fitting and files ----------------------------------------------------------------
    def prepare(self, values: Sequence, origins: Sequence[str] | None = None) -> list[str]:
        """Raw values (as read) -> normalised strings, ready for ``encode``."""
        return normalize([as_text(v) for v in values], self.unicode_form)

    def fit(self, values: Sequence) -> "TextInput":
        texts = self.prepare(values)
        if self.tokenizer == "subwords":
            if self.lowercase:
                texts = [t.decode("utf-8") for t in self.lowered(tf.constant(texts)).numpy()]
            self.vocab = SubwordVocabulary.fit([t + "\n" for t in texts] if self.stream else texts, self.max_tokens,
                                               Path(self.file).stem + ".model", self.reserved, self.subword_model,
                                               symbols=("\n",) if self.stream else ())
            return self
        if self.stream:
            texts = ["".join(line + "\n" for line in texts)]
        if self.tokenizer == "vectorizer":
            self.vocab = TextEncoder(self.level, self.max_tokens, self.max_length or 10**9).adapt(texts)
        else:
            lowered = self.lowered(tf.constant(texts)).numpy() if self.lowercase else texts
            lowered = [t.decode("utf-8") if isinstance(t, bytes) else t for t in lowered]
            self.vocab = TokenVocabulary.fit(self.level, lowered, self.max_tokens, self.reserved)
            if self.chars_per_token:
                self.chars = TokenVocabulary.fit("char", lowered, self.MAX_CHARS)
        return self

    def save(self, directory: Path) -> None:
        self.vocab.save(directory / self.file)
        if self.chars is not None:
            self.chars.save(directory / self.chars_file)

    def load(self, directory: Path) -> "TextInput":
        cls = {"vectorizer": TextEncoder, "tokens": TokenVocabulary, "subwords": SubwordVocabulary}[self.tokenizer]
        self.vocab = cls.load(directory / self.file)
        if self.chars_per_token:
            self.chars = TokenVocabulary.load(directory / self.chars_file)
        return self

    # --- text -> ids --------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.vocab.vocab_size if self.tokenizer == "vectorizer" else self.vocab.size

    @property
    def id_tokens(self) -> list[str]:
        """The token of every id (id 0 is padding)."""
        return self.vocab.vocabulary if self.tokenizer == "vectorizer" else self.vocab.id_tokens

    def token_id(self, token: str) -> int:
        return self.id_tokens.index(token)

    @property
    def static_length(self) -> int:
        """The fixed length of the tensor-only signature: ``max_length`` (+ the end token)."""
        return self.max_length + (1 if self.end_token else 0)

    def lowered(self, texts: tf.Tensor) -> tf.Tensor:
        return tf.strings.lower(texts, encoding="utf-8") if self.lowercase else texts

    def ids(self, texts: tf.Tensor, serving: bool = False) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ids of their tokens, cut at ``max_length`` (not for the
        vectorizer). ``serving``: inside a SavedModel (subwords then need TensorFlow Text's op)."""
        lowered = self.lowered(texts)
        ids = self.vocab.encode_serving(lowered) if serving and self.tokenizer == "subwords" else \
            self.vocab.encode_graph(lowered)
        return ids[:, : self.max_length] if self.max_length else ids

    def encode(self, texts: tf.Tensor, serving: bool = False) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ``[batch, (time)]`` int32 ids, at least one per text
        (an empty text becomes ``[UNK]``, or just the end token). Runs in tf.data, eager code and
        (``serving``) SavedModels."""
        if self.tokenizer == "vectorizer":
            return self.vocab.encode_ragged(texts)
        ids = self.ids(texts, serving)
        if self.end_token:
            return tf.concat([ids, tf.fill([ids.nrows(), 1], self.token_id(self.end_token))], axis=1)
        return at_least_one(ids, OOV)  # an empty text becomes [UNK]

    def char_ids(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ``[batch, (time), chars_per_token]`` int32: each token's
        first ``chars_per_token`` characters (0 after its end), one row per id of ``encode``
        (the ``[UNK]`` of an empty text has no characters)."""
        tokens = tokenize(self.lowered(texts), self.level)
        if self.max_length:
            tokens = tokens[:, : self.max_length]
        width = self.chars_per_token
        spelled = self.chars.encode_graph(tokens.flat_values)[:, :width].to_tensor(shape=[None, width])
        rows = tf.RaggedTensor.from_row_lengths(spelled, tokens.row_lengths())
        return at_least_one(rows, PAD)  # as encode: an empty text gets one row (of padding)

    def model_tensors(self, texts: tf.Tensor, serving: bool = False) -> dict:
        """``[batch]`` strings -> ``{name: ragged ids, name_chars: ragged char ids}`` (the
        characters only with ``chars_per_token``): what tf.data and the raw signature feed."""
        tensors = {self.name: self.encode(texts, serving)}
        if self.chars_per_token:
            tensors[f"{self.name}_chars"] = self.char_ids(texts)
        return tensors

    def lengths(self, prepared: Sequence[str]) -> np.ndarray:
        """Token counts of prepared texts (for bucket boundaries), in one bulk call."""
        return self.encode(tf.constant(list(prepared))).row_lengths().numpy()

    def encode_padded(self, values: Sequence, length: int | None = None) -> np.ndarray:
        """Raw values -> ``[n, time]`` ids padded with 0 to the longest, or cut and padded to
        ``length`` (keeping the end token last, as a device app must)."""
        ids = self.encode(tf.constant(self.prepare(values), tf.string))
        if length and self.end_token:
            end = tf.fill([ids.nrows(), 1], self.token_id(self.end_token))
            ids = tf.concat([ids[:, :-1][:, : length - 1], end], axis=1)
        return ids.to_tensor(shape=[None, length] if length else None).numpy()

    def tokens_of(self, ids: Sequence[int]) -> list[str]:
        """Ids -> their tokens, padding dropped (for display, e.g. attention maps)."""
        vocab = self.id_tokens
        return [vocab[int(i)] for i in ids if int(i) != 0]

    def batch(self, values: Sequence, origins: Sequence[str] | None = None) -> dict:
        """Raw values -> ``{name: [n, time] int32}`` padded with 0 (what predict feeds the model),
        with ``chars_per_token`` also ``{name_chars: [n, time, chars_per_token]}``."""
        # a graph from the second call (``kept_graph``), kept while the vocabularies stay the
        # same objects: eager ragged ops cost 40 ms a call, most of a served prediction
        vocabularies = (id(self.vocab), id(getattr(self.vocab, "layer", None)), id(self.chars))
        padded = kept_graph(self, ("padded", vocabularies),
                            lambda kind, texts: {name: tensor.to_tensor()
                                                 for name, tensor in kind.model_tensors(texts).items()})
        return padded(tf.constant(self.prepare(values), tf.string))

    def step_mask(self, batch: dict) -> np.ndarray:
        """``[n, time]`` float tensor, 1.0 on real tokens, 0.0 on padding, of what ``batch`` (or a
        signature's ``{name}_ids``; arrays or tensors, in a graph too) holds: the one mask convention of every sequence input (frames give theirs
        as ``{name}_mask``), which per-step outputs read."""
        ids = batch[self.name] if self.name in batch else batch[f"{self.name}_ids"]
        return tf.cast(tf.not_equal(ids, 0), tf.float32)

    # --- serving --------------------------------------------------------------------------
    def raw_specs(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([None], tf.string, name=self.serving_name)]

    def tensor_specs(self, length: int | None = None) -> list[tf.TensorSpec]:
        """Ids with a static length (default ``static_length``): what a device runs, padded
        with 0 at the end (texts are cut to fit)."""
        specs = [tf.TensorSpec([1, length or self.static_length], tf.int32, name=f"{self.name}_ids")]
        if self.chars_per_token:
            specs.append(tf.TensorSpec([1, length or self.static_length, self.chars_per_token], tf.int32,
                                       name=f"{self.name}_chars"))
        return specs

    def from_raw(self, tensors: list) -> dict:
        return {name: tensor.to_tensor() for name, tensor in self.model_tensors(tensors[0], serving=True).items()}

    def from_tensors(self, tensors: list) -> dict:
        return {self.name: tensors[0], **({f"{self.name}_chars": tensors[1]} if self.chars_per_token else {})}

    def raw_values(self, values: Sequence) -> dict:
        return {self.serving_name: np.array(self.prepare(values), dtype=object)}

    def tensor_values(self, values: Sequence, length: int | None = None) -> dict:
        """``{name_ids: [n, length] int32}`` (and ``name_chars: [n, length, chars_per_token]``):
        one row per value (call a signature per row)."""
        length = length or self.static_length
        tensors = {f"{self.name}_ids": self.encode_padded(values, length).astype(np.int32)}
        if self.chars_per_token:
            chars = self.char_ids(tf.constant(self.prepare(values), tf.string))[:, :length]
            tensors[f"{self.name}_chars"] = chars.to_tensor(shape=[None, length, self.chars_per_token]).numpy()
        return tensors

    def decode_ragged(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Ragged ``[batch, (time)]`` ids -> ``[batch]`` texts, in TensorFlow ops (any SavedModel)."""
        if self.tokenizer == "subwords":
            return self.vocab.decode_ragged(ids)
        return detokenize(tf.gather(tf.constant(self.id_tokens), ids), self.level)

    def trackables(self) -> list:
        """Lookup tables (or a SentencePiece op) a SavedModel must carry to tokenize raw strings."""
        if self.tokenizer == "subwords":
            return self.vocab.serving_tokenizer()
        if self.tokenizer == "vectorizer":
            return [self.vocab.layer]
        return [self.vocab.lookup] + ([self.chars.lookup] if self.chars is not None else [])

    def settings(self) -> dict:
        """How text is tokenized, for an export's manifest."""
        return {"kind": self.kind, "tokenizer": self.tokenizer, "level": self.level, "lowercase":
                self.lowercase or self.tokenizer == "vectorizer", "unicode_form": self.unicode_form,
                "max_length": self.max_length, "end_token": self.end_token, "vocabulary": self.file,
                **({"model": self.vocab.model_file} if self.tokenizer == "subwords" else {}),
                **({"chars": self.chars_file, "chars_per_token": self.chars_per_token} if self.chars_per_token else {})}




def text_input(name: str, file: str, tokenizer: str, *, vectorize: bool = False, **kwargs) -> TextInput:
    """A task's text input from its config's ``tokenizer``: ``words``, ``chars``, ``subwords`` or
    ``whitespace`` (the text's own tokens, split on whitespace only: one per label in tagging).

    ``vectorize``: words and characters through Keras ``TextVectorization`` (lower-cased,
    punctuation stripped: what a classifier wants) instead of the exact token vocabulary.
    """
    if tokenizer == "subwords":
        return TextInput(name, file, tokenizer="subwords", level="subword", **kwargs)
    if tokenizer == "whitespace":
        return TextInput(name, file, tokenizer="tokens", level="whitespace", **kwargs)
    level = {"words": "word", "chars": "char"}[tokenizer]
    return TextInput(name, file, tokenizer="vectorizer" if vectorize else "tokens", level=level, **kwargs)
