"""Token embeddings: learned from scratch, or started from pretrained word vectors.

``embeddings: PATH`` names a file of word vectors in the word2vec / GloVe text format
(one ``word v1 v2 ... vD`` per line; word2vec's ``COUNT DIM`` header line is optional;
``.gz`` is read too). rnn-apps never downloads vectors: a user brings GloVe, fastText or
vectors trained on their own text (e.g. with gensim). Words of the vocabulary found in the
file start from their vector, the others from random vectors of the same scale; the
vectors are then fine-tuned with the model, or kept frozen (``embeddings_trainable: false``).

``embedding_dropout`` drops whole words (their vector is zeroed for that step, the rest
scaled up), a regulariser for small text classification sets.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from rnn_apps.errors import UserError


def read_word_vectors(path: str | Path, wanted: set[str]) -> tuple[int, dict[str, np.ndarray]]:
    """``(dimension, {word: vector})`` for the ``wanted`` words found in a text-format file.

    Only wanted words are parsed, so a multi-gigabyte GloVe file reads in one pass. A line
    with the wrong number of values is a ``UserError`` naming the file and line.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"embeddings: no such file: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    dim, found = None, {}
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as lines:
            for number, line in enumerate(lines, 1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])  # word2vec header: COUNT DIM
                    continue
                if len(parts) < 2:
                    if line.strip():
                        raise UserError(f"{path}:{number}: expected a word and its vector")
                    continue
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) - 1 != dim:
                    raise UserError(f"{path}:{number}: expected {dim} numbers after the word, found {len(parts) - 1}")
                if parts[0] in wanted and parts[0] not in found:
                    try:
                        found[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise UserError(f"{path}:{number}: a vector value is not a number") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason}); expected word vectors in text format") from None
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read word vectors ({exc})") from None
    if dim is None:
        raise UserError(f"{path}: no word vectors in the file")
    return dim, found


def pretrained_matrix(path: str | Path, id_tokens: Sequence[str], seed: int = 0) -> tuple[np.ndarray, int]:
    """``([vocab, dim] matrix, words found)``: row i is the vector of token i (tried as it is,
    then lower-cased); tokens without one get random vectors with the file's scale; row 0
    (padding) is zero."""
    wanted = {t for t in id_tokens} | {t.lower() for t in id_tokens}
    dim, vectors = read_word_vectors(path, wanted)
    scale = float(np.std(np.stack(list(vectors.values())))) if vectors else 0.1
    matrix = np.random.default_rng(seed).normal(0.0, scale, (len(id_tokens), dim)).astype(np.float32)
    found = 0
    for i, token in enumerate(id_tokens):
        vector = vectors.get(token, vectors.get(token.lower()))
        if vector is not None and i > 0:
            matrix[i], found = vector, found + 1
    matrix[0] = 0.0
    return matrix, found


def token_embedding(tokens: keras.KerasTensor, id_tokens: Sequence[str], dim: int, *, vectors: str = "",
                    trainable: bool = True, word_dropout: float = 0.0, seed: int = 0,
                    name: str = "embedding") -> keras.KerasTensor:
    """``[batch, time]`` ids -> ``[batch, time, dim]`` vectors, masked where the id is 0.

    ``vectors``: a word-vector file to start from (its dimension replaces ``dim``);
    ``trainable`` False keeps them frozen; ``word_dropout`` drops whole words in training.
    """
    matrix = None
    if vectors:
        from rnn_apps.progress import note

        matrix, found = pretrained_matrix(vectors, id_tokens, seed)
        dim = matrix.shape[1]
        note(f"embeddings: {found:,} of {len(id_tokens) - 1:,} vocabulary words have a vector in {vectors} "
             f"({dim} dimensions, {'fine-tuned' if trainable else 'frozen'})")
    layer = keras.layers.Embedding(len(id_tokens), dim, mask_zero=True, trainable=trainable, name=name)
    x = layer(tokens)
    if matrix is not None:
        layer.embeddings.assign(matrix)
    if word_dropout > 0:  # one draw per (example, word), shared by the word's whole vector
        x = keras.layers.Dropout(word_dropout, noise_shape=(None, None, 1), name=f"{name}_word_dropout")(x)
    return x
