"""Text to token ids and labels to indices, fitted on the training split and saved.

``TextEncoder`` wraps Keras ``TextVectorization`` (word or character level, a vocabulary
cap, index 0 = padding, index 1 = out-of-vocabulary). The same object vectorizes inside
``tf.data`` for training and inside the exported SavedModel for serving, so the two can
never disagree. ``LabelVocabulary`` maps label strings to class indices.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

import keras
import tensorflow as tf

from rnn_apps.errors import UserError

PAD, OOV = 0, 1
UNKNOWN = "[UNK]"  # the token of id 1 in every vocabulary


class TextEncoder:
    """Strings -> token ids ``[batch, time]`` (0 = padding), truncated to ``max_length``.

    ``level`` is ``word`` (lower-cased, punctuation stripped, split on whitespace) or
    ``char`` (lower-cased characters). A text with no known token becomes one OOV token,
    so every sequence has at least one real step.
    """

    def __init__(self, level: str, max_tokens: int, max_length: int,
                 vocabulary: Sequence[str] | None = None, lowercase: bool = True):
        self.level, self.max_tokens, self.max_length, self.lowercase = level, max_tokens, max_length, lowercase
        if level == "word":
            standardize = "lower_and_strip_punctuation" if lowercase else "strip_punctuation"
        else:
            standardize = "lower" if lowercase else None
        self.layer = keras.layers.TextVectorization(
            max_tokens=max_tokens, standardize=standardize,
            split="whitespace" if level == "word" else "character",
            ragged=True, vocabulary=list(vocabulary) if vocabulary is not None else None,
            name="text_vectorization")
        self.layer.build(None)  # marks it built, which SavedModel export requires

    def adapt(self, texts: Sequence[str], batch_size: int = 1024) -> "TextEncoder":
        self.layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size))
        return self

    @property
    def vocabulary(self) -> list[str]:
        return [str(token) for token in self.layer.get_vocabulary()]

    @property
    def vocab_size(self) -> int:
        return self.layer.vocabulary_size()

    def encode_ragged(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ``[batch, (time)]`` int32 ids, at least one id each."""
        ids = tf.cast(self.layer(texts), tf.int32)[:, : self.max_length]
        return at_least_one(ids, OOV)  # an empty text becomes [OOV]

    def encode(self, texts: tf.Tensor) -> tf.Tensor:
        """``[batch]`` strings -> dense ``[batch, time]`` ids padded with 0 to the longest."""
        return self.encode_ragged(texts).to_tensor(default_value=PAD)

    def token_of(self, word: str) -> str | None:
        """The vocabulary token that ``word`` alone becomes under this encoder's standardisation
        (``"n't"`` -> ``"nt"``, ``"Well-made"`` -> ``"wellmade"``), or None when it becomes no
        token or several: how a pretrained vector's word finds its row. The TensorFlow-free twin
        (``rnn_apps.lite.text``) standardises exactly as the layer does, and fast for 400k words."""
        if not hasattr(self, "_twin"):
            from rnn_apps.lite.text import VectorizerTokenizer

            self._twin = VectorizerTokenizer(self.level, [], 1, self.lowercase)
        tokens = self._twin.tokens(word)
        return tokens[0] if len(tokens) == 1 else None

    def extend(self, words: Sequence[str]) -> "TextEncoder":
        """Append ``words`` (standardised tokens) the vocabulary lacks, after the fitted ones,
        so every fitted id keeps its meaning (pretrained vectors' words never seen in training)."""
        vocab = self.vocabulary
        known = set(vocab)
        new = [w for w in dict.fromkeys(words) if w and w not in known]
        if new:
            self.max_tokens = len(vocab) + len(new)
            self.__init__(self.level, self.max_tokens, self.max_length, vocab + new, self.lowercase)
        return self

    def decode(self, ids: Sequence[int]) -> list[str]:
        vocab = self.vocabulary
        return [vocab[i] for i in ids if i != PAD]

    def to_dict(self) -> dict:
        return {"level": self.level, "max_tokens": self.max_tokens, "max_length": self.max_length,
                "lowercase": self.lowercase, "vocabulary": self.vocabulary}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "TextEncoder":
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(d["level"], d["max_tokens"], d["max_length"], d["vocabulary"], d["lowercase"])


class LabelVocabulary:
    """Label strings <-> class indices; the order is sorted (numerically if all integers)."""

    def __init__(self, labels: Sequence[str]):
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def fit(cls, values: Sequence[str], max_labels: int = 0, source: str = "",
            purpose: str = "labels to train a classifier") -> "LabelVocabulary":
        """Labels seen in ``values`` (texts, see ``examples.as_text``), at least two; with
        ``max_labels`` only that many of the most frequent (VQA's top-K answers). ``source``
        (the data file) and ``purpose`` (what the labels are for) are named when there are
        fewer than two."""
        import collections

        unique = sorted(set(values))
        if max_labels and len(unique) > max_labels:
            counts = collections.Counter(values)
            unique = sorted(sorted(unique, key=lambda v: (-counts[v], v))[:max_labels])
        if all(v.lstrip("-").isdigit() for v in unique):
            unique = sorted(unique, key=int)
        if len(unique) < 2:
            where = f"{source}: " if source else ""
            raise UserError(f"{where}need at least two different {purpose}, found {unique}")
        return cls(unique)

    def encode(self, values: Sequence[str], origins: Sequence[str], unknown: int | None = None) -> list[int]:
        """Class indices; an unknown label is a ``UserError`` naming its origin, or ``unknown``
        (e.g. -1) when given (labels left out of a top-K set)."""
        out = []
        for value, origin in zip(values, origins):
            if value not in self.index:
                if unknown is not None:
                    out.append(unknown)
                    continue
                known = ", ".join(self.labels[:20]) + (f", ... ({len(self.labels)} in all)" if len(self) > 20 else "")
                raise UserError(f"{origin}: unknown label {value!r}; known labels: {known}")
            out.append(self.index[value])
        return out

    def __len__(self) -> int:
        return len(self.labels)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.labels, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "LabelVocabulary":
        return cls(json.loads(path.read_text(encoding="utf-8")))


# --- tokens for generation ---------------------------------------------------------------
# A language model must give back what it read, so ``TokenVocabulary`` keeps case,
# punctuation and line breaks: ``char`` level splits into Unicode characters, ``word``
# level into runs of letters/digits, single punctuation marks and "\n". Tokenization is
# written once, in TensorFlow ops, so the SavedModel's ``generate`` signature and the
# Python side split a prompt identically.

WORD_PATTERN = r"([\pL\pN_]+|[^\pL\pN_\s]|\n)"
# Joining word tokens with spaces, then removing the spaces that text does not have.
DETOKENIZE_RULES = ((r" ?\n ?", "\n"), (r" ([,.;:!?)\]}])", r"\1"), (r"([(\[{¿¡]) ", r"\1"))


LEVELS = ("char", "word", "whitespace")


def at_least_one(rows: tf.RaggedTensor, filler: int) -> tf.RaggedTensor:
    """Ragged ``[batch, (time), ...]`` -> the same, with an empty row given one item of
    ``filler`` (every text yields at least one step; graph-safe: append one item to every row,
    then keep ``max(length, 1)``)."""
    lengths = rows.row_lengths()
    extra = tf.fill(tf.concat([[rows.nrows(), 1], tf.shape(rows.flat_values)[1:]], 0),
                    tf.constant(filler, rows.dtype))
    appended = tf.concat([rows, tf.RaggedTensor.from_tensor(extra)], axis=1)
    keep = tf.ragged.range(lengths + 1) < tf.expand_dims(tf.maximum(lengths, 1), 1)
    return tf.ragged.boolean_mask(appended, keep)


def tokenize(texts: tf.Tensor, level: str) -> tf.RaggedTensor:
    """``[batch]`` strings -> ragged ``[batch, (tokens)]`` token strings.

    ``whitespace``: the text's own tokens, split on runs of whitespace and nothing else
    (``U.S.`` and a lone ``,`` stay tokens), for data that comes tokenized with one label
    per token (tagging: the labels must line up with the tokens)."""
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8")
    if level == "whitespace":
        return tf.strings.split(texts)
    spaced = tf.strings.regex_replace(tf.strings.regex_replace(texts, r"[^\S\n]+", " "), WORD_PATTERN, r" \1 ")
    tokens = tf.strings.split(spaced, sep=" ")
    return tf.ragged.boolean_mask(tokens, tf.not_equal(tokens, ""))


def detokenize(tokens: tf.Tensor, level: str) -> tf.Tensor:
    """``[batch, time]`` token strings -> ``[batch]`` texts (in-graph inverse of ``tokenize``)."""
    if level == "char":
        return tf.strings.reduce_join(tokens, axis=-1)
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    if level == "whitespace":
        return tf.strings.strip(text)  # padding ("" tokens) at the end adds separators only
    for pattern, rewrite in DETOKENIZE_RULES:
        text = tf.strings.regex_replace(text, pattern, rewrite)
    return text


class TokenVocabulary:
    """Tokens <-> ids for language models: 0 = padding, 1 = unknown, then by frequency.

    Args:
        level: ``char``, ``word`` or ``whitespace`` (see ``tokenize``).
        tokens: the known tokens, most frequent first (without padding/unknown).
    """

    def __init__(self, level: str, tokens: Sequence[str]):
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; choose {', '.join(LEVELS)}")
        self.level, self.tokens = level, list(tokens)
        self.lookup = keras.layers.StringLookup(vocabulary=self.tokens, mask_token="", oov_token=UNKNOWN,
                                                name="token_lookup")
        self.lookup.build(None)

    @classmethod
    def fit(cls, level: str, text: str | Sequence[str], max_tokens: int,
            reserved: Sequence[str] = ()) -> "TokenVocabulary":
        """``reserved`` tokens (e.g. ``[START]``, ``[END]``), then the most frequent tokens of
        ``text`` (one string or many; ties in first-seen order), ``max_tokens`` ids in all."""
        import collections

        texts = [text] if isinstance(text, str) else list(text)
        counts: collections.Counter = collections.Counter()
        from rnn_apps.progress import track

        starts = range(0, len(texts), 4096)
        for start in track(starts, len(starts), f"counting the tokens of {len(texts):,} texts"):
            counts.update(tokenize(tf.constant(texts[start:start + 4096]), level).flat_values.numpy().tolist())
        reserved = list(reserved)
        ranked = [token.decode("utf-8") for token, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
        # Keras keeps a vocabulary in a NumPy string array, which drops a trailing NUL: a
        # token ending in "\x00" would collide with another (or the mask), so it stays unknown.
        # A text's own "[UNK]" (a whitespace token) is the unknown token, not a second entry.
        ranked = [token for token in ranked if token not in reserved and token != UNKNOWN and not token.endswith("\x00")]
        return cls(level, reserved + ranked[: max(max_tokens - 2 - len(reserved), 1)])

    @property
    def size(self) -> int:
        """Number of ids, including padding and unknown."""
        return len(self.tokens) + 2

    @property
    def id_tokens(self) -> list[str]:
        """The token of every id: ``["", "[UNK]", *tokens]`` (id 0 is padding)."""
        return ["", UNKNOWN] + self.tokens

    def id(self, token: str) -> int:
        """The id of a known token (e.g. a reserved ``[START]``); KeyError if unknown."""
        try:
            return self.tokens.index(token) + 2
        except ValueError:
            raise KeyError(f"{token!r} is not in the vocabulary") from None

    def encode(self, text: str) -> "np.ndarray":
        """One text -> ``[tokens]`` int32 ids."""
        return self.encode_graph(tf.constant([text]))[0].numpy()

    def encode_graph(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ``[batch, (tokens)]`` int32 ids (usable in a SavedModel)."""
        return tf.cast(self.lookup(tokenize(texts, self.level)), tf.int32)

    encode_serving = encode_graph  # TensorFlow ops only: a SavedModel takes them as they are

    def decode_graph(self, ids: tf.Tensor) -> tf.Tensor:
        """``[batch, time]`` ids -> ``[batch]`` texts."""
        words = tf.gather(tf.constant(self.id_tokens), ids)
        return detokenize(words, self.level)

    def decode(self, ids: Sequence[int], after: int | None = None) -> str:
        """Ids -> text. ``after`` (the id just before ``ids``) keeps word spacing right
        when text is decoded piece by piece while it streams."""
        ids = [int(i) for i in ids]
        if after is None or self.level == "char":
            return self.decode_graph(tf.constant([ids or [0]]))[0].numpy().decode("utf-8")
        both = self.decode_graph(tf.constant([[after] + ids]))[0].numpy().decode("utf-8")
        alone = self.decode_graph(tf.constant([[after]]))[0].numpy().decode("utf-8")
        return both[len(alone):]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"level": self.level, "tokens": self.tokens}, ensure_ascii=False),
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "TokenVocabulary":
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(d["level"], d["tokens"])
