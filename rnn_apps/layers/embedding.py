"""Token embeddings: learned from scratch, or started from pretrained word vectors.

``embeddings`` names the vectors (``rnn_apps.vectors``): a file in the word2vec / GloVe text
format, or a set an installed package carries (``glove-6b-50d``). rnn-apps never downloads
vectors. Words of the vocabulary found among the vectors start from their vector, the others
from random vectors of the same scale; the vectors are then fine-tuned with the model, or kept
frozen (``embeddings_trainable: false``).

Which row a word gets is decided by the vocabulary's standardisation: the vectors' words pass
through it too (``standardize``), so the vocabulary's ``nt`` (``n't`` with its punctuation
stripped) gets GloVe's ``n't`` and ``wellmade`` gets ``well-made``, not a random row.

Scale: pretrained vectors are far larger than a fresh table (GloVe 50d: std 0.64; Keras'
uniform(-0.05, 0.05): std 0.029). Under Adam every row moves by about the learning rate per
step whatever its size, so at their own scale the vectors change ~20x more slowly, relative to
what they hold, than a fresh table does. ``std`` rescales a fine-tuned table by one factor (the
geometry of the vectors is kept), e.g. to a fresh table's ``FRESH_STD``. Measured on SST-2
(seeds 42, 1, 2, 3) it steadies training (0.779-0.797, where as read one seed of four fell to
0.750) but does not raise the mean (0.790 vs 0.792), so the default is as read. A frozen table,
which does not learn, is always used as read (scaled down, its small inputs only slow the
layers behind it: 0.722 vs 0.763).

``embedding_dropout`` drops whole words (their vector is zeroed for that step, the rest
scaled up), a regulariser for small text classification sets.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np

from rnn_apps.vectors import WordVectors, load_vectors

FRESH_STD = 0.05 / 3 ** 0.5  # std of keras.layers.Embedding's default uniform(-0.05, 0.05)


def read_word_vectors(path: str | Path, wanted: set[str]) -> tuple[int, dict[str, np.ndarray]]:
    """``(dimension, {word: vector})`` for the ``wanted`` words found in a text-format file
    (as written, lower-cased only). A bad line is a ``UserError`` naming the file and line."""
    vectors = load_vectors(str(path), wanted, standardize=lambda word: word)
    return vectors.dim, dict(zip(vectors.words, vectors.matrix))


def pretrained_matrix(vectors: WordVectors | str, id_tokens: Sequence[str], seed: int = 0,
                      standardize: Callable[[str], str | None] = str,
                      std: float = 0.0) -> tuple[np.ndarray, int]:
    """``([vocab, dim] matrix, words found)``: row i is the vector of token i; tokens without
    one (tried as it is, then lower-cased) get random vectors at the vectors' scale; row 0 (padding) is zero. ``vectors``: read
    ones, or a name/path to read (its words put through ``standardize``). ``std`` > 0: the
    whole table is scaled so that its standard deviation is ``std``."""
    if not isinstance(vectors, WordVectors):
        vectors = load_vectors(vectors, set(id_tokens) | {t.lower() for t in id_tokens}, standardize)
    index = vectors.index()
    scale = vectors.scale
    matrix = np.random.default_rng(seed).normal(0.0, scale, (len(id_tokens), vectors.dim)).astype(np.float32)
    found = 0
    for i, token in enumerate(id_tokens):
        row = index.get(token, index.get(token.lower()))
        if row is not None and i > 0:
            matrix[i], found = vectors.matrix[row], found + 1
    if std > 0:
        matrix *= np.float32(std / scale)
    matrix[0] = 0.0
    return matrix, found


def token_embedding(tokens: keras.KerasTensor, id_tokens: Sequence[str], dim: int, *,
                    vectors: WordVectors | str | None = None, trainable: bool = True, word_dropout: float = 0.0,
                    seed: int = 0, standardize: Callable[[str], str | None] = str, std: float = 0.0,
                    name: str = "embedding") -> keras.KerasTensor:
    """``[batch, time]`` ids -> ``[batch, time, dim]`` vectors, masked where the id is 0.

    ``vectors``: pretrained vectors to start from (read ones, or a name/path; their dimension
    replaces ``dim``), their words put through ``standardize`` (the vocabulary's), the table
    rescaled to ``std`` (> 0); ``trainable`` False keeps them frozen; ``word_dropout`` drops
    whole words in training.
    """
    matrix = None
    if vectors:
        from rnn_apps.progress import note

        if not isinstance(vectors, WordVectors):
            vectors = load_vectors(vectors, set(id_tokens) | {t.lower() for t in id_tokens}, standardize)
        std = std if trainable else 0.0  # a frozen table does not learn: small inputs only slow what follows
        matrix, found = pretrained_matrix(vectors, id_tokens, seed, std=std)
        dim = matrix.shape[1]
        version = f" {vectors.identity['version']}" if vectors.identity.get("version") else ""
        note(f"embeddings: {found:,} of {len(id_tokens) - 1:,} vocabulary words have a vector in "
             f"{vectors.identity['name']}{version} ({dim} dimensions, {'fine-tuned' if trainable else 'frozen'}"
             f"{f', rescaled to std {std:g}' if std > 0 else ''})")
    layer = keras.layers.Embedding(len(id_tokens), dim, mask_zero=True, trainable=trainable, name=name)
    x = layer(tokens)
    if matrix is not None:
        layer.embeddings.assign(matrix)
    if word_dropout > 0:  # one draw per (example, word), shared by the word's whole vector
        x = keras.layers.Dropout(word_dropout, noise_shape=(None, None, 1), name=f"{name}_word_dropout")(x)
    return x


@keras.saving.register_keras_serializable(package="rnn_apps")
class SpelledWords(keras.layers.Layer):
    """A char-CNN word encoder (Ma & Hovy 2016, Chiu & Nichols 2016): ``[batch, time, chars]``
    character ids of each token -> ``[batch, time, filters]``, its characters embedded,
    convolved ``width`` at a time (ReLU) and max-pooled over the word's real characters (id 0
    is padding). A word never seen in training still has its capital letter, its digits and its
    suffix. One 2-D convolution with a ``(1, width)`` kernel runs over every word at once, so
    the layer exports to TFLite with builtin ops."""

    def __init__(self, vocab_size: int, dim: int = 24, filters: int = 48, width: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.dim, self.filters, self.width = vocab_size, dim, filters, width
        self.embedding = keras.layers.Embedding(vocab_size, dim, name="char_embedding")
        self.conv = keras.layers.Conv2D(filters, (1, width), padding="same", activation="relu", name="char_conv")

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.conv.build((*input_shape, self.dim))

    def call(self, chars):
        x = self.conv(self.embedding(chars))  # [b, T, C, filters], >= 0
        real = keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(chars, 0), x.dtype), -1)
        return keras.ops.max(x * real, axis=2)  # padding contributes 0, never more than a real character

    def compute_mask(self, chars, mask=None):
        """``[batch, time]``: True where the token has characters. Keras' Concatenate ORs the
        masks it joins, treating a missing one as all True, so without this the word
        embedding's padding mask would be lost beside the spelling."""
        return keras.ops.not_equal(chars[..., 0], 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.filters)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim, "filters": self.filters,
                "width": self.width}
