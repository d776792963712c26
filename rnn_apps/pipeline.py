"""tf.data input pipelines shared by the tasks.

Examples go in as Python lists; vectorization runs inside tf.data in batches of 1024
(``TextEncoder.encode_ragged``), is cached, then shuffled, batched and prefetched:

    strings -> batch(1024) -> vectorize -> unbatch -> cache -> shuffle -> batch -> prefetch

Three ways to batch variable-length sequences (config ``batching``):

* ``bucket``: ``bucket_by_sequence_length``: sequences of similar length share a batch,
  so little time is spent on padding (boundaries from the training lengths' quantiles);
* ``longest``: ``padded_batch`` to the longest sequence in the batch;
* ``max``: every batch padded to ``max_length`` (the slow, simple way; for comparison).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def vectorized_dataset(columns: tuple, vectorize: Callable, cache: bool = True) -> tf.data.Dataset:
    """``columns`` (equal-length lists) -> dataset of single vectorized examples.

    ``vectorize`` maps a batch of columns to a batch of model inputs/targets, ragged
    where lengths vary.
    """
    ds = tf.data.Dataset.from_tensor_slices(tuple(columns)).batch(1024)
    ds = ds.map(vectorize, num_parallel_calls=AUTOTUNE).unbatch().map(_dense)
    return ds.cache() if cache else ds


def _dense(*components):
    """One unbatched example: ragged rows (ragged rank 0) become plain tensors."""
    return tuple(c.to_tensor() if isinstance(c, tf.RaggedTensor) else c for c in components)


def bucket_boundaries(lengths: Sequence[int], buckets: int = 8) -> list[int]:
    """Upper length limits of ``buckets`` buckets holding about equal numbers of examples."""
    qs = np.quantile(np.asarray(lengths), np.linspace(0, 1, buckets + 1)[1:-1])
    return sorted({int(q) + 1 for q in qs if q >= 1})


def batch_dataset(ds: tf.data.Dataset, *, batch_size: int, batching: str, max_length: int,
                  training: bool, seed: int, boundaries: Sequence[int] = (),
                  size: int | None = None) -> tf.data.Dataset:
    """Shuffle (training only), batch by the ``batching`` strategy and prefetch.

    Each element of ``ds`` is ``(sequence [time], target)``; the first component's length
    decides the bucket. Padding is 0, which the models mask.
    """
    if training:
        ds = ds.shuffle(size or 10_000, seed=seed, reshuffle_each_iteration=True)
    if batching == "bucket" and boundaries:
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda x, *_: tf.shape(x)[0],
            bucket_boundaries=list(boundaries),
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))
    elif batching == "max":
        shapes = tf.nest.map_structure(lambda s: s, ds.element_spec)
        padded = tuple([max_length] + [None] * (len(s.shape) - 1) if i == 0 else [None] * len(s.shape)
                       for i, s in enumerate(shapes))
        ds = ds.padded_batch(batch_size, padded_shapes=padded)
    else:
        ds = ds.padded_batch(batch_size)
    if not training and size is not None:  # order kept, so the batch count is exact
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-size // batch_size)))
    return ds.prefetch(AUTOTUNE)


# --- one long token sequence (language models) --------------------------------------------

def stream_windows(ids: np.ndarray, streams: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Lay a token sequence out as ``streams`` contiguous rows and cut it into windows.

    This is the truncated-BPTT layout of char-rnn: row b holds one contiguous stretch of
    the text, and window j+1 of row b continues exactly where window j of row b stopped,
    so a recurrent state carried from batch j to batch j+1 keeps reading the same text.

    Args:
        ids: ``[n]`` token ids.
        streams: rows (the batch size).
        window: time steps per window (the truncation length).

    Returns:
        ``inputs, targets``, each ``[windows, streams, window]``; targets are the inputs
        shifted by one token. The tail that does not fill a row is dropped.
    """
    per_stream = (len(ids) - 1) // streams
    windows = per_stream // window
    if windows < 1:
        raise ValueError(f"{len(ids)} tokens cannot fill {streams} streams of {window + 1}")
    used = per_stream * streams
    x = np.asarray(ids[:used]).reshape(streams, per_stream)
    y = np.asarray(ids[1:used + 1]).reshape(streams, per_stream)
    cut = lambda a: a[:, :windows * window].reshape(streams, windows, window).transpose(1, 0, 2)  # noqa: E731
    return cut(x), cut(y)


def stream_dataset(ids: np.ndarray, streams: int, window: int) -> tf.data.Dataset:
    """Batches ``(inputs [streams, window], targets [streams, window])`` in stream order
    (never shuffled: the order is what lets a carried state keep reading)."""
    x, y = stream_windows(ids, streams, window)
    return tf.data.Dataset.from_tensor_slices((x, y)).prefetch(AUTOTUNE)


def window_dataset(ids: np.ndarray, window: int, batch_size: int, training: bool, seed: int) -> tf.data.Dataset:
    """Independent windows of ``window`` tokens (targets shifted by one), shuffled when training.

    Each window starts from a zero state; this is plain BPTT over short chunks.
    """
    n = (len(ids) - 1) // window
    if n < 1:
        raise ValueError(f"{len(ids)} tokens cannot fill one window of {window + 1}")
    x = np.asarray(ids[:n * window]).reshape(n, window)
    y = np.asarray(ids[1:n * window + 1]).reshape(n, window)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
