"""tf.data input pipelines shared by the tasks.

Examples go in as named Python lists (or chunk by chunk from a file read as a stream, see
``examples_dataset``); encoding (tokenizing, decoding images) runs inside
tf.data in batches of 1024, is cached, then shuffled, batched and prefetched:

    {name: values} -> batch(1024) -> encode -> unbatch -> cache -> shuffle -> batch -> prefetch

Pictures are not cached per example: many examples share one (VQA asks ~30 questions about
each image, a caption set has 5 captions per picture). An input kind with a ``table`` (an
image) decodes each distinct picture once into a uint8 table ``[pictures, H, W, C]``; the
examples carry an index into it, and each batch gathers its pictures after batching, so
memory grows with the pictures, not the examples (nor with the shuffle buffer).

Each element is ``({input name: tensor}, target)``. Every sequence in it is padded with
0 to the longest in its batch, each named sequence on its own; batches are formed by one
of three strategies (config ``batching``), on the length of one named sequence:

* ``bucket``: ``bucket_by_sequence_length``: sequences of similar length share a batch,
  so little time is spent on padding (boundaries from the training lengths' quantiles);
* ``longest``: ``padded_batch`` to the longest sequence in the batch;
* ``max``: that sequence padded to ``max_length`` in every batch (the slow, simple way;
  for comparison).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def vectorized_dataset(columns: Any, vectorize: Callable, cache: bool = True) -> tf.data.Dataset:
    """``columns`` (a dict or tuple of equal-length lists) -> dataset of single encoded examples.

    ``vectorize`` maps a batch of columns to a batch of ``(inputs, target)``, ragged where
    lengths vary.
    """
    ds = tf.data.Dataset.from_tensor_slices(columns).batch(1024)
    ds = ds.map(vectorize, num_parallel_calls=AUTOTUNE).unbatch().map(_dense)
    return ds.cache() if cache else ds


def _dense(*components):
    """One unbatched example: ragged rows (ragged rank 0) become plain tensors."""
    dense = tf.nest.map_structure(lambda c: c.to_tensor() if isinstance(c, tf.RaggedTensor) else c, components)
    return dense if len(dense) > 1 else dense[0]


def bucket_boundaries(lengths: Sequence[int], buckets: int = 8) -> list[int]:
    """Upper length limits of ``buckets`` buckets holding about equal numbers of examples."""
    qs = np.quantile(np.asarray(lengths), np.linspace(0, 1, buckets + 1)[1:-1])
    return sorted({int(q) + 1 for q in qs if q >= 1})


def batch_dataset(ds: tf.data.Dataset, *, batch_size: int, batching: str, max_length: int,
                  training: bool, seed: int, boundaries: Sequence[int] = (),
                  length_of: Callable = lambda x, *_: tf.shape(x)[0], size: int | None = None,
                  pad_to_max: Callable = lambda shapes: [shapes[0]], shuffle_buffer: int = 0,
                  finish: Callable | None = None) -> tf.data.Dataset:
    """Shuffle (training only), batch by the ``batching`` strategy and prefetch.

    Args:
        ds: single examples (any nesting of tensors).
        length_of: ``element -> length`` of the sequence that decides the bucket
            (default: the first dimension of the first component).
        pad_to_max: for ``batching: max``, picks from the element's padded shapes (static
            dimensions kept, the others None) the shape lists whose first entry is that
            sequence's steps (the sequence, its mask or characters, per-step targets); each
            first entry is then set to ``max_length``.
        size: number of examples; evaluation batches then have an exact count.
        shuffle_buffer: examples the training shuffle draws from (default: all ``size``; a
            stream uses a bounded buffer).
        finish: a map over whole batches before prefetching (gathering pictures from a table).

    Padding is 0, which the models mask.
    """
    if training:
        ds = ds.shuffle(shuffle_buffer or size or 10_000, seed=seed, reshuffle_each_iteration=True)
    if batching == "bucket" and boundaries:
        # Each bucket's last, part-filled batch comes out when the pass ends: up to one small
        # batch per bucket as the epoch's last steps. With batch norm those few examples set
        # the moving statistics that validation and inference use (momentum 0.9 keeps ~10
        # steps), which made VQA's validation loss jump between epochs (0.8 <-> 1.9). Training
        # drops them when they are a small part of a pass (other examples each pass: the
        # shuffle differs); evaluation keeps every example.
        buckets = len(boundaries) + 1
        drop = training and size is not None and size >= 10 * buckets * batch_size
        ds = ds.bucket_by_sequence_length(
            element_length_func=length_of, bucket_boundaries=list(boundaries),
            bucket_batch_sizes=[batch_size] * buckets, drop_remainder=drop)
    elif batching == "max":
        # a picture's height, width and channels stay static (a model's frame CNN needs them)
        padded = tf.nest.map_structure(lambda spec: list(spec.shape), ds.element_spec)
        for shape in pad_to_max(padded):
            shape[0] = max_length
        ds = ds.padded_batch(batch_size, padded_shapes=padded)
    else:
        ds = ds.padded_batch(batch_size)
    if not training and size is not None:  # order kept, so the batch count is exact
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-size // batch_size)))
    if finish is not None:
        ds = ds.map(finish, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def examples_dataset(inputs: dict[str, Any], examples: Any, targets_of: Callable, cfg: Any, training: bool,
                     encode_target: Callable = lambda target: ({}, target),
                     targets_per_step: bool = False) -> tf.data.Dataset:
    """Batches of ``({input name: tensor}, target[, weight])`` from ``examples``, the task's way.

    Args:
        inputs: the task's fitted input kinds by name; each ``prepare``s its column in
            Python and ``encode``s it in tf.data: text in batches of 1024, media
            (``per_example`` kinds: images, clips) one example at a time, in parallel,
            after which an encoding may add tensors (a clip adds its frame mask).
        examples: ``Examples`` in memory, or an ``ExampleStream`` (a file read as a stream,
            ``rnn_apps.data.streaming``): then nothing is cached, shuffling uses a buffer of
            ``cfg.shuffle_buffer`` examples and bucket boundaries come from its sample.
        targets_of: ``examples -> (examples kept, one target each)`` (ints, strings, ragged
            per-step labels ...); called once, or per chunk of a stream.
        cfg: ``batch_size``, ``batching``, ``cache``, ``seed``.
        encode_target: ``batch of targets -> (extra model inputs, target[, weight])``, inside
            tf.data (teacher forcing turns a sentence into a decoder input and output; a
            per-step target adds per-step weights, 0 on padding).
        targets_per_step: the targets (and weights) have a step per step of that input
            (a label per frame or token), so ``batching: max`` pads them to its length too.

    Batches are bucketed by the length of the first input that is a sequence, which is
    also what ``batching: max`` pads to its ``static_length``.
    """
    media = {name: kind for name, kind in inputs.items() if getattr(kind, "per_example", False)}
    streamed = hasattr(examples, "chunks")
    # Pictures decoded once into a table (in memory, so not when streaming or not caching)
    tabled = {name: kind for name, kind in media.items()
              if getattr(kind, "table", None) is not None and cfg.cache and not streamed}
    tables: dict[str, tf.Tensor] = {}

    def prepared(part):
        kept, targets = targets_of(part)
        columns = {}
        for name, kind in inputs.items():
            if name in tabled:  # an index per example into a table of distinct pictures
                columns[name], tables[name] = kind.table(kept[name], kept.origins)
            else:
                columns[name] = kind.prepare(kept[name], kept.origins)
        return columns, targets

    def vectorize(batch, target):
        extra, *target = encode_target(target)
        encoded = {}
        for name, kind in inputs.items():  # text: its ids (and its tokens' characters)
            encoded.update({name: batch[name]} if name in media else kind.model_tensors(batch[name]))
        return ({**encoded, **extra}, *target)

    def decoder(kinds: dict, gather: bool) -> Callable:
        def decode_media(x, *rest):
            x = dict(x)
            for name, kind in kinds.items():
                value = x.pop(name)
                encoded = kind.encode(tf.gather(tables[name], value) if gather else value)
                x.update(encoded if isinstance(encoded, dict) else {name: encoded})
            return (x, *rest)
        return decode_media

    if streamed:
        sample_columns, sample_targets = prepared(examples.sample)
        ds = streamed_batches(examples, prepared, (sample_columns, sample_targets))
        ds = ds.map(vectorize, num_parallel_calls=AUTOTUNE).unbatch().map(_dense)
    else:
        sample_columns, targets = prepared(examples)
        ds = vectorized_dataset((sample_columns, targets), vectorize, cache=False)
    decoded = {name: kind for name, kind in media.items() if name not in tabled}
    if decoded:
        ds = ds.map(decoder(decoded, gather=False), num_parallel_calls=AUTOTUNE)
    if cfg.cache and not streamed:
        ds = ds.cache()
    key = next((name for name, kind in inputs.items() if kind.sequence), None)
    boundaries: Sequence[int] = ()
    if key and training and cfg.batching == "bucket":  # lengths in one bulk call, not per element
        boundaries = bucket_boundaries(inputs[key].lengths(sample_columns[key]))
    batching = cfg.batching if training and key else "longest"
    return batch_dataset(ds, batch_size=cfg.batch_size, batching=batching,
                         max_length=inputs[key].static_length if key else 0, training=training, seed=cfg.seed,
                         boundaries=boundaries, length_of=lambda x, *_: tf.shape(x[key])[0],
                         pad_to_max=lambda padded: steps_of(padded, key, targets_per_step),
                         size=len(examples) if streamed else _count(targets),
                         shuffle_buffer=getattr(cfg, "shuffle_buffer", 0) if streamed else 0,
                         finish=decoder(tabled, gather=True) if tabled else None)


def steps_of(padded: tuple, key: str, targets_per_step: bool) -> list[list]:
    """The padded shapes whose first axis is the steps of input ``key``: its own, its
    companions' (``key_mask``, ``key_chars``) and, for per-step outputs, the targets' and
    weights' (``batching: max`` pads all of them to ``max_length``, or they would not line up)."""
    inputs, *targets = padded
    shapes = [shape for name, shape in inputs.items() if name == key or name.startswith(f"{key}_")]
    return shapes + (list(targets) if targets_per_step else [])


def _count(targets: Any) -> int:
    """How many targets (a list, an array or a ragged tensor of per-step labels)."""
    return int(targets.nrows()) if isinstance(targets, tf.RaggedTensor) else len(targets)


def streamed_batches(stream: Any, prepared: Callable, sample: tuple, rows: int = 1024) -> tf.data.Dataset:
    """``(columns, targets)`` batches of ``rows`` examples read from ``stream`` chunk by chunk
    (``prepared``: ``chunk -> ({name: prepared values}, targets)``), in a Python generator:
    memory holds a chunk and the shuffle buffer, never the file. Types come from
    ``sample``, the stream's sample already ``prepared``."""
    def array(values) -> np.ndarray:
        return np.asarray(values, dtype=object if values and isinstance(values[0], str) else None)

    def spec(values) -> tf.TensorSpec:
        tensor = tf.convert_to_tensor(array(values[:1]))
        return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype)

    columns, targets = sample
    signature = ({name: spec(values) for name, values in columns.items()}, spec(targets))

    def generate():
        for chunk in stream.chunks():
            columns, targets = prepared(chunk)
            for start in range(0, len(targets), rows):
                yield ({name: array(values[start:start + rows]) for name, values in columns.items()},
                       array(targets[start:start + rows]))

    return tf.data.Dataset.from_generator(generate, output_signature=signature)


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
