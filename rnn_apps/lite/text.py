"""Pure-Python twins of the TensorFlow tokenizers, for an on-device runtime without TensorFlow.

``VectorizerTokenizer`` reproduces ``TextEncoder.encode_ragged`` (Keras ``TextVectorization``)
and ``TokenTokenizer`` reproduces ``TextInput.encode`` / ``TokenVocabulary.decode_graph`` (the
``tokens`` tokenizer), id for id, from the vocabulary JSON files a run saves. Only the standard
library is used. What TensorFlow 2.21 / Keras 3.15 do, verified by experiment on every code point:

* ``tf.strings.lower(s)`` (no encoding; the vectorizer's ``lower``) lower-cases ASCII A-Z only.
* ``tf.strings.lower(s, encoding="utf-8")`` (``TextInput.lowercase``) is ICU's full, contextual
  lower-casing, the same rules as ``str.lower()`` (``"İ"`` -> ``"i̇"``, final ``"Σ"`` -> ``"ς"``,
  ``"ẞ"`` -> ``"ß"``), but: (1) the text is cut at its first NUL (ICU reads a C string), and
  (2) TF's ICU knows Unicode 13 only: the 838 characters new in Unicode 14 (``_ICU_UNKNOWN``)
  are left alone and, being unassigned to ICU, are neither cased nor case-ignorable (they end
  a final-sigma context), so the text is lower-cased piecewise around them; and U+1734, a
  nonspacing mark (case-ignorable) in Unicode 13 but a spacing mark since 14, is skipped
  like the former when the final form of "Σ" is chosen.
* Keras' punctuation regex is exactly ``string.punctuation`` (ASCII), deleted character by character.
* ``tf.strings.split(s)`` splits on runs of C ``isspace`` bytes: `` \\t\\n\\v\\f\\r``, nothing else
  (no NBSP, no U+0085, no U+2028).
* ``tf.strings.unicode_split(s, "UTF-8")`` of valid UTF-8 (any Python ``str`` without lone
  surrogates) gives one token per code point, NUL included.
* RE2's ``\\s`` is ``[\\t\\n\\f\\r ]`` (no ``\\v``): ``[^\\S\\n]`` is ``[\\t\\f\\r ]``, and a ``\\v`` is
  a punctuation token. RE2's ``[\\pL\\pN_]`` is Python's ``\\w`` (code point by code point),
  except that RE2 follows Unicode 15.0: the characters in ``_RE2_WORD_EXTRA`` are letters and
  digits to RE2 but unassigned in Python 3.11's Unicode 14.0 database, so they are added.

With Python 3.11 (``unicodedata`` 14.0) the twins match TensorFlow on every code point tested,
so no character is excluded from the tests. On a Python with a newer Unicode database,
characters added after Unicode 15.0 could differ (TensorFlow would treat them as unassigned).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Sequence

PAD, OOV = 0, 1
UNKNOWN = "[UNK]"


def _ranges(spec: str) -> str:
    """``"61D 870-88E"`` (hex code points) -> a regex character-class body."""
    parts = [[int(x, 16) for x in item.split("-")] for item in spec.split()]
    return "".join(f"\\U{p[0]:08X}-\\U{p[-1]:08X}" for p in parts)


# Characters of Unicode 14.0, unknown to the ICU (Unicode 13) inside TensorFlow.
_ICU_UNKNOWN = re.compile("([" + _ranges(
    "61D 870-88E 890-891 898-89F 8B5 8C8-8D2 C3C C5D CDD 170D 1715 171F 180F 1AC1-1ACE 1B4C 1B7D-1B7E"
    " 1DFA 20C0 2C2F 2C5F 2E53-2E5D 9FFD-9FFF A7C0-A7C1 A7D0-A7D1 A7D3 A7D5-A7D9 A7F2-A7F4 FBC2"
    " FD40-FD4F FDCF FDFE-FDFF 10570-1057A 1057C-1058A 1058C-10592 10594-10595 10597-105A1"
    " 105A3-105B1 105B3-105B9 105BB-105BC 10780-10785 10787-107B0 107B2-107BA 10F70-10F89"
    " 11070-11075 110C2 116B9 11740-11746 11AB0-11ABF 12F90-12FF2 16A70-16ABE 16AC0-16AC9"
    " 1AFF0-1AFF3 1AFF5-1AFFB 1AFFD-1AFFE 1B11F-1B122 1CF00-1CF2D 1CF30-1CF46 1CF50-1CFC3"
    " 1D1E9-1D1EA 1DF00-1DF1E 1E290-1E2AE 1E7E0-1E7E6 1E7E8-1E7EB 1E7ED-1E7EE 1E7F0-1E7FE"
    " 1F6DD-1F6DF 1F7F0 1F979 1F9CC 1FA7B-1FA7C 1FAA9-1FAAC 1FAB7-1FABA 1FAC3-1FAC5 1FAD7-1FAD9"
    " 1FAE0-1FAE7 1FAF0-1FAF6 2A6DE-2A6DF 2B735-2B738") + "])")
# Letters and digits of Unicode 15.0 (RE2's \pL, \pN) that Unicode 14.0 has unassigned.
_RE2_WORD_EXTRA = _ranges(
    "1123F-11240 11F02 11F04-11F10 11F12-11F33 11F50-11F59 1342F 13441-13446 1B132 1B155"
    " 1D2C0-1D2D3 1DF25-1DF2A 1E030-1E06D 1E4D0-1E4EB 1E4F0-1E4F9 2B739 31350-323AF")
# WORD_PATTERN after [^\S\n]+ -> " ": word-character runs, or one character that is neither a
# word character nor RE2 whitespace other than "\n" (Python's \w is exactly [\pL\pN_]).
_WORD_TOKEN = re.compile(rf"[\w{_RE2_WORD_EXTRA}]+|[^\w{_RE2_WORD_EXTRA}\t\f\r ]")

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_KERAS_PUNCTUATION = {ord(c): None for c in "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'"}
_C_SPACE = re.compile("[ \t\n\v\f\r]+")  # tf.strings.split() separators
DETOKENIZE_RULES = ((r" ?\n ?", "\n"), (r" ([,.;:!?)\]}])", r"\1"), (r"([(\[{¿¡]) ", r"\1"))
_DETOKENIZE = tuple((re.compile(pattern), rewrite) for pattern, rewrite in DETOKENIZE_RULES)


def lower_utf8(text: str) -> str:
    """``tf.strings.lower(text, encoding="utf-8")``: cut at the first NUL, then full Unicode
    lower-casing of the pieces between characters TensorFlow's ICU does not know."""
    text = text.split("\0", 1)[0]
    pieces = _ICU_UNKNOWN.split(text)  # [text, unknown, text, unknown, ..., text]
    return "".join(piece if i % 2 else _lower_known(piece) for i, piece in enumerate(pieces))


def _lower_known(text: str) -> str:
    """``text.lower()``, except that U+1734 (Mn in Unicode 13, Mc since 14) stays case-ignorable
    when the final form of a "Σ" is chosen, as it is to ICU."""
    if "\u1734" not in text or "Σ" not in text:
        return text.lower()
    reduced, k, out = text.replace("\u1734", ""), 0, []  # reduced[k] is the current character
    for char in text:
        if char == "Σ":  # final: a cased letter before, none after (case-ignorables skipped)
            final = (reduced[:k] + "Σ").lower()[-1] == "ς" and ("AΣ" + reduced[k + 1:]).lower()[1] == "ς"
            out.append("ς" if final else "σ")
        else:  # every other lower-casing is context-free
            out.append(char.lower())
        k += char != "\u1734"
    return "".join(out)


def tokenize(text: str, level: str) -> list[str]:
    """``rnn_apps.data.text.tokenize`` for one string: its characters (``char``), (``word``)
    runs of word characters, every other character alone, tab/form feed/CR/space dropped, or
    (``whitespace``) the pieces between runs of C whitespace (what ``tf.strings.split`` cuts at)."""
    if level == "whitespace":
        return [token for token in _C_SPACE.split(text) if token]
    return list(text) if level == "char" else _WORD_TOKEN.findall(text)


def detokenize(tokens: Sequence[str], level: str) -> str:
    """``rnn_apps.data.text.detokenize`` for one sequence: characters joined, or words joined
    by spaces, then the spaces before closing / after opening punctuation and around "\\n" removed."""
    if level == "char":
        return "".join(tokens)
    text = " ".join(tokens)
    if level == "whitespace":
        return text
    for pattern, rewrite in _DETOKENIZE:
        text = pattern.sub(rewrite, text)
    return text


def _read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class VectorizerTokenizer:
    """Text -> ids as ``TextEncoder.encode_ragged`` (Keras ``TextVectorization``) does.

    ``word`` level: ASCII lower-casing (if ``lowercase``), ASCII punctuation deleted, split on
    ASCII whitespace; ``char`` level: ASCII lower-casing (if ``lowercase``), one token per code
    point. Unknown tokens are 1 ([UNK]); at most ``max_length`` ids; no token at all gives ``[1]``.
    """

    def __init__(self, level: str, vocabulary: Sequence[str], max_length: int, lowercase: bool = True):
        if level not in ("word", "char"):
            raise ValueError(f"unknown level {level!r}; choose char or word")
        self.level, self.max_length, self.lowercase = level, max_length, lowercase
        self.vocabulary = list(vocabulary)  # [0] = "" (padding), [1] = "[UNK]"
        self.index = {token: i for i, token in enumerate(self.vocabulary)}

    @classmethod
    def from_dict(cls, d: dict) -> "VectorizerTokenizer":
        """From ``TextEncoder.to_dict()``: ``{"level", "max_tokens", "max_length", "lowercase", "vocabulary"}``."""
        return cls(d["level"], d["vocabulary"], d["max_length"], d["lowercase"])

    @classmethod
    def from_file(cls, path: str | Path) -> "VectorizerTokenizer":
        """From a JSON file written by ``TextEncoder.save``."""
        return cls.from_dict(_read_json(path))

    def tokens(self, text: str) -> list[str]:
        """The standardized, split tokens of ``text`` (before lookup and truncation)."""
        if self.lowercase:
            text = text.translate(_ASCII_LOWER)
        if self.level == "char":
            return list(text)
        return [token for token in _C_SPACE.split(text.translate(_KERAS_PUNCTUATION)) if token]

    def ids(self, text: str) -> list[int]:
        """Token ids of ``text``: unknown -> 1, cut at ``max_length``, never empty."""
        ids = [self.index.get(token, OOV) for token in self.tokens(text)][: self.max_length]
        return ids or [OOV]


class TokenTokenizer:
    """Text <-> ids as the ``tokens`` tokenizer (``TokenVocabulary`` in ``TextInput``) does.

    Ids: 0 = padding, 1 = [UNK], ``tokens[i]`` -> ``i + 2``. ``lowercase``, ``max_length``
    (0 = no limit) and ``end_token`` are the ``TextInput`` settings (an export's manifest).
    """

    def __init__(self, level: str, tokens: Sequence[str], *, lowercase: bool = False,
                 max_length: int = 0, end_token: str | None = None):
        if level not in ("word", "char", "whitespace"):
            raise ValueError(f"unknown level {level!r}; choose char, word or whitespace")
        self.level, self.lowercase, self.max_length = level, lowercase, max_length
        self.id_tokens = ["", UNKNOWN] + list(tokens)  # the token of every id
        self.index: dict[str, int] = {}
        for i, token in enumerate(self.id_tokens):
            self.index.setdefault(token, i)
        if end_token and end_token not in self.index:
            raise KeyError(f"end token {end_token!r} is not in the vocabulary")
        self.end_id = self.index[end_token] if end_token else None  # as TextInput.token_id

    @classmethod
    def from_dict(cls, d: dict, *, lowercase: bool = False, max_length: int = 0,
                  end_token: str | None = None) -> "TokenTokenizer":
        """From ``{"level", "tokens"}`` (what ``TokenVocabulary.save`` writes)."""
        return cls(d["level"], d["tokens"], lowercase=lowercase, max_length=max_length, end_token=end_token)

    @classmethod
    def from_file(cls, path: str | Path, *, lowercase: bool = False, max_length: int = 0,
                  end_token: str | None = None) -> "TokenTokenizer":
        """From a JSON file written by ``TokenVocabulary.save``."""
        return cls.from_dict(_read_json(path), lowercase=lowercase, max_length=max_length, end_token=end_token)

    def id(self, token: str) -> int:
        """The id of a known token (e.g. ``[END]``); KeyError if it is not in the vocabulary."""
        if self.index.get(token, PAD) < 2:  # like TokenVocabulary.id: "" and [UNK] are no tokens
            raise KeyError(f"{token!r} is not in the vocabulary")
        return self.index[token]

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``, lower-cased first (as TensorFlow does) if ``lowercase``."""
        return tokenize(lower_utf8(text) if self.lowercase else text, self.level)

    def ids(self, text: str) -> list[int]:
        """``TextInput.encode``: ids cut at ``max_length``, then the end token's id if any;
        without an end token an empty result becomes ``[1]``."""
        ids = [self.index.get(token, OOV) for token in self.tokens(text)]
        if self.max_length:
            ids = ids[: self.max_length]
        if self.end_id is not None:
            return ids + [self.end_id]
        return ids or [OOV]

    def decode(self, ids: Iterable[int], after: int | None = None) -> str:
        """Ids -> text as ``TokenVocabulary.decode_graph`` gives it, padding (0) dropped first.
        ``after`` (the id just before ``ids``) keeps word spacing right when text is decoded
        piece by piece while it streams, as ``TokenVocabulary.decode`` does."""
        ids = [int(i) for i in ids]
        if after is not None and self.level != "char":
            alone = self.decode([after])
            return self.decode([after] + ids)[len(alone):]
        if any(not 0 <= i < len(self.id_tokens) for i in ids):
            raise ValueError(f"ids must be in [0, {len(self.id_tokens)}): {ids}")
        return detokenize([self.id_tokens[i] for i in ids if i != PAD], self.level)


class SubwordTokenizer:
    """Text <-> ids as a subword ``TextInput`` does, with the ``sentencepiece`` package and the
    run's SentencePiece model (``rnn_apps.data.subwords``): lower-cased first as TensorFlow does
    if ``lowercase``, cut at ``max_length``, then the end token's id if any."""

    def __init__(self, model: bytes, *, lowercase: bool = False, max_length: int = 0, end_token: str | None = None):
        import sentencepiece as spm

        self.processor = spm.SentencePieceProcessor(model_proto=model)
        self.lowercase, self.max_length = lowercase, max_length
        self.id_tokens = [""] + [self.processor.id_to_piece(i) for i in range(1, self.processor.get_piece_size())]
        self.end_id = self.processor.piece_to_id(end_token) if end_token else None

    @classmethod
    def from_file(cls, path: str | Path, **settings) -> "SubwordTokenizer":
        """From the JSON a subword input saves (``{"model": file}``), the model beside it."""
        path = Path(path)
        return cls((path.parent / _read_json(path)["model"]).read_bytes(), **settings)

    def ids(self, text: str) -> list[int]:
        ids = self.processor.encode(lower_utf8(text) if self.lowercase else text)
        if self.max_length:
            ids = ids[: self.max_length]
        return ids + [self.end_id] if self.end_id is not None else ids or [OOV]

    def decode(self, ids: Iterable[int], after: int | None = None) -> str:
        """Ids -> text: the pieces joined, "\u2581" -> space (the first dropped unless streaming)."""
        text = "".join(self.id_tokens[int(i)] for i in ids if int(i) != PAD).replace("\u2581", " ")
        return text[1:] if after is None and text.startswith(" ") else text


def spelled_tokens(tokens: Sequence[str], chars: TokenTokenizer, width: int, length: int) -> list[list[list[int]]]:
    """``TextInput.char_ids`` for one text: ``[1, length, width]`` character ids of its first
    ``length`` tokens (as the vocabulary sees them: lower-cased if it lower-cases), each cut
    or padded with 0 to ``width``; rows past the text's tokens are padding."""
    rows = [[chars.index.get(c, OOV) for c in token[:width]] for token in tokens[:length]]
    rows = [row + [PAD] * (width - len(row)) for row in rows]
    return [rows + [[PAD] * width for _ in range(length - len(rows))]]
