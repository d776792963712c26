"""Input kinds for pictures: an image, and a clip of frames (see ``rnn_apps.data.inputs``).

Both read files a user has (``rnn_apps.data.media``: PNG/JPEG/BMP/GIF images; ``.mp4``,
``.avi``, ``.gif`` videos, ``.npy`` arrays and folders of frames) or arrays (built-in data,
TFDS). Files are checked before training (present, of a known format, a clip's frame
count) and decoded inside the tf.data pipeline, one example at a time in parallel
(``per_example``), then resized bilinearly to ``size`` x ``size`` and scaled to [0, 1].
Arrays are resized once, in Python, the same way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from rnn_apps.data import media


GREY_WEIGHTS = (9797, 19234, 3737)  # libpng's, in 1/32768: the grey of media.with_channels


def decode_picture(data: tf.Tensor, channels: int) -> tf.Tensor:
    """Encoded PNG/JPEG/BMP/GIF bytes -> ``[h, w, channels]`` uint8, the same pixels as
    ``media.read_image`` + ``media.with_channels``: JPEG with the accurate integer DCT, RGB
    first, grey from it with libpng's weights."""
    rgb = tf.cond(tf.io.is_jpeg(data),
                  lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
                  lambda: tf.io.decode_image(data, channels=3, expand_animations=False))
    if channels == 3:
        return rgb
    grey = tf.tensordot(tf.cast(rgb, tf.int32), tf.constant(GREY_WEIGHTS, tf.int32), axes=1) // 32768
    return tf.cast(grey, tf.uint8)[..., None]


class ImageInput:
    """An image -> ``[size, size, channels]`` float 0..1; served raw and tensor-only as
    float images ``[batch, size, size, channels]`` (batch 1 for the tensor-only signature)."""

    kind = "image"
    sequence = False
    per_example = True

    def __init__(self, name: str, *, size: int, channels: int = 3):
        self.name, self.size, self.channels, self.serving_name = name, size, channels, name

    def fit(self, values: Sequence):
        return self  # nothing to learn

    def save(self, directory: Path) -> None:
        pass

    def load(self, directory: Path):
        return self

    @staticmethod
    def _files(values: Sequence, origins: Sequence[str]):
        """``(path, origin)`` of each distinct file named in ``values`` (arrays are skipped)."""
        seen = set()
        for value, origin in zip(values, origins):
            if not isinstance(value, np.ndarray) and str(value) not in seen:
                seen.add(str(value))
                yield Path(str(value)), origin

    def check(self, values: Sequence, origins: Sequence[str]) -> None:
        """Every file named in ``values`` is present and readable as its kind (each checked once)."""
        for path, origin in self._files(values, origins):
            self._check_file(path, origin)

    def _check_file(self, path: Path, origin: str) -> Path:
        return media.check_image(path, origin, thorough=True)  # decoding errors in tf.data could only crash

    def decode_all(self, values: Sequence, origins: Sequence[str]) -> None:
        """Decode every file named in ``values`` in full: the slow search, after the tf.data
        pipeline failed, for the file that made it fail (a ``UserError`` naming it)."""
        for path, origin in self._files(values, origins):
            self._decode_file(path, origin)

    def _decode_file(self, path: Path, origin: str) -> None:
        media.read_image(path, self.channels, origin)

    def sized(self, picture: np.ndarray) -> np.ndarray:
        """One uint8 array ``[h, w(, c)]`` (or ``[T, h, w, c]``) with ``channels``, resized, uint8."""
        return media.fit_pictures(picture, self.size, self.channels, as_uint8=True)

    def prepare(self, values: Sequence, origins: Sequence[str] | None = None):
        """Paths (checked, as strings) or arrays (resized, ``[n, size, size, channels]`` uint8)."""
        if all(isinstance(v, np.ndarray) for v in values) and len(values):
            return np.stack([self.sized(np.asarray(v)) for v in values])
        return [str(Path(str(v))) for v in values]  # checked by ``check`` before training

    def table(self, values: Sequence, origins: Sequence[str] | None = None) -> tuple[np.ndarray, tf.Tensor]:
        """Each distinct picture of ``values`` decoded once: ``(indices [n] int32, table
        [pictures, size, size, channels] uint8)``, ``table[indices[i]]`` being example i's.

        A training set asks many questions about one image (VQA: ~30); decoding per example
        and caching that holds each image's pixels once per question. Files are told apart
        by path, arrays by identity (the built-in data repeat one array per question). Files
        are decoded in parallel in tf.data, resized as ``encode`` does and rounded to uint8
        (as arrays are, ``sized``): within 0.5/255 of ``encode``'s floats when resized,
        exact when a picture already has ``size`` pixels.
        """
        keys = [id(v) if isinstance(v, np.ndarray) else str(v) for v in values]
        first: dict = {}  # key -> the first example with it, in order of appearance
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        number = {key: j for j, key in enumerate(first)}
        indices = np.array([number[key] for key in keys], np.int32)
        distinct = [values[i] for i in first.values()]
        if all(isinstance(v, np.ndarray) for v in distinct) and distinct:
            table = np.stack([self.sized(np.asarray(v)) for v in distinct])
        elif distinct:
            files = tf.data.Dataset.from_tensor_slices([str(Path(str(v))) for v in distinct])
            files = files.map(self.decode_file, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
            try:
                table = np.concatenate([batch.numpy() for batch in files])
            except tf.errors.OpError:  # a file TensorFlow cannot decode: find it and name it
                where = list(origins) if origins is not None else [f"input {i + 1}" for i in range(len(values))]
                self.decode_all(distinct, [where[i] for i in first.values()])
                raise
        else:
            table = np.zeros((0, self.size, self.size, self.channels), np.uint8)
        return indices, tf.constant(table)

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """One file path -> ``[size, size, channels]`` uint8: decoded and resized as ``encode``
        does, rounded."""
        image = decode_picture(tf.io.read_file(path), self.channels)
        image = tf.image.resize(tf.cast(image, tf.float32), (self.size, self.size))  # same size: unchanged
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return tf.ensure_shape(image, (self.size, self.size, self.channels))

    def encode(self, value: tf.Tensor) -> tf.Tensor:
        """One path (string) or uint8 image -> ``[size, size, channels]`` float32 in [0, 1]
        (or uint8 images ``[..., size, size, channels]`` -> float32, gathered from a ``table``)."""
        if value.dtype == tf.string:
            image = decode_picture(tf.io.read_file(value), self.channels)
            value = tf.image.resize(tf.cast(image, tf.float32), (self.size, self.size))
            value.set_shape((self.size, self.size, self.channels))
        return tf.cast(value, tf.float32) * (1.0 / 255.0)  # as tf.image.convert_image_dtype

    def batch(self, values: Sequence, origins: Sequence[str] | None = None) -> dict:
        self.check(values, origins or [f"input {i + 1}" for i in range(len(values))])
        prepared = self.prepare(values, origins)
        if isinstance(prepared, np.ndarray):
            return {self.name: media.to_float(prepared)}
        return {self.name: np.stack([media.fit_pictures(media.read_image(Path(p), 3), self.size, self.channels)
                                     for p in prepared])}

    def raw_specs(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([None, self.size, self.size, self.channels], tf.float32, name=self.name)]

    def tensor_specs(self, length: int | None = None) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([1, self.size, self.size, self.channels], tf.float32, name=self.name)]

    def from_raw(self, tensors: list) -> dict:
        return {self.name: tensors[0]}

    from_tensors = from_raw

    def raw_values(self, values: Sequence) -> dict:
        return {k: v.astype(np.float32) for k, v in self.batch(values).items()}

    def tensor_values(self, values: Sequence, length: int | None = None) -> dict:
        return self.raw_values(values)

    def trackables(self) -> list:
        return []

    def settings(self) -> dict:
        return {"kind": self.kind, "size": self.size, "channels": self.channels, "scale": "0..1",
                "resize": "bilinear, half-pixel centres (tf.image.resize)"}


class FramesInput(ImageInput):
    """A clip -> frames ``[T, size, size, channels]`` float 0..1 and ``{name}_mask [T]``.

    Clips are cut to ``max_frames``. The mask (1 per real frame) comes with the frames
    because clips of different lengths are padded with 0 in a batch: it keeps the padding
    out of the recurrent layers, the loss and the metrics. The tensor-only signature has
    ``max_frames`` frames (pad with zeros and a zero mask).
    """

    kind = "frames"
    sequence = True
    table = None  # clips differ in length and are rarely shared: decoded per example

    def __init__(self, name: str, *, size: int, channels: int = 3, max_frames: int = 64):
        super().__init__(name, size=size, channels=channels)
        self.max_frames = max_frames

    @property
    def static_length(self) -> int:
        return self.max_frames

    def prepare(self, values: Sequence, origins: Sequence[str] | None = None):
        """Paths (checked, as strings) or arrays (a ragged uint8 tensor ``[n, (T), size, size, C]``)."""
        if all(isinstance(v, np.ndarray) for v in values) and len(values):
            clips = [self.sized(np.asarray(v)[: self.max_frames]) for v in values]
            return tf.RaggedTensor.from_row_lengths(np.concatenate(clips), [len(c) for c in clips])
        return [str(Path(str(v))) for v in values]  # checked by ``check`` before training

    def _check_file(self, path: Path, origin: str) -> Path:
        return media.check_clip(path, origin, thorough=True)  # decoding errors in tf.data could only crash

    def _decode_file(self, path: Path, origin: str) -> None:
        media.read_clip(path, 3, origin)

    def lengths(self, prepared) -> np.ndarray:
        """Frames per clip (cut at ``max_frames``), without decoding the pictures."""
        if isinstance(prepared, tf.RaggedTensor):
            return prepared.row_lengths().numpy()
        return np.minimum([media.clip_length(Path(p)) for p in prepared], self.max_frames)

    def read(self, path: str | bytes) -> np.ndarray:
        """One clip file -> ``[T <= max_frames, size, size, channels]`` uint8."""
        path = path.decode() if isinstance(path, bytes) else path
        return self.sized(media.read_clip(Path(path), 3)[: self.max_frames])

    def encode(self, value: tf.Tensor) -> dict:
        """One path or uint8 clip -> ``{name: [T, size, size, C] float32, name_mask: [T]}``."""
        if value.dtype == tf.string:
            value = tf.numpy_function(self.read, [value], tf.uint8, stateful=False)
            value.set_shape((None, self.size, self.size, self.channels))
        frames = tf.cast(value, tf.float32) * (1.0 / 255.0)
        return {self.name: frames, f"{self.name}_mask": tf.ones(tf.shape(frames)[:1], tf.float32)}

    def step_mask(self, batch: dict) -> np.ndarray:
        """``[n, frames]`` float tensor, 1.0 on real frames, 0.0 on padding (``{name}_mask``): the mask
        convention every sequence input shares (``TextInput.step_mask``)."""
        return tf.cast(batch[f"{self.name}_mask"], tf.float32)

    def batch(self, values: Sequence, origins: Sequence[str] | None = None, length: int | None = None) -> dict:
        """Clips padded (with a zero mask) to the longest, or cut and padded to ``length``."""
        self.check(values, origins or [f"input {i + 1}" for i in range(len(values))])
        prepared = self.prepare(values, origins)
        clips = [c.numpy() for c in prepared] if isinstance(prepared, tf.RaggedTensor) else \
            [self.read(p) for p in prepared]
        frames = length or max((len(c) for c in clips), default=1)
        out = np.zeros((len(clips), frames, self.size, self.size, self.channels), np.float32)
        mask = np.zeros((len(clips), frames), np.float32)
        for i, clip in enumerate(clips):
            clip = clip[:frames]
            out[i, :len(clip)], mask[i, :len(clip)] = media.to_float(clip), 1.0
        return {self.name: out, f"{self.name}_mask": mask}

    def raw_specs(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([None, None, self.size, self.size, self.channels], tf.float32, name=self.name),
                tf.TensorSpec([None, None], tf.float32, name=f"{self.name}_mask")]

    def tensor_specs(self, length: int | None = None) -> list[tf.TensorSpec]:
        frames = length or self.max_frames
        return [tf.TensorSpec([1, frames, self.size, self.size, self.channels], tf.float32, name=self.name),
                tf.TensorSpec([1, frames], tf.float32, name=f"{self.name}_mask")]

    def from_raw(self, tensors: list) -> dict:
        return {self.name: tensors[0], f"{self.name}_mask": tensors[1]}

    from_tensors = from_raw

    def raw_values(self, values: Sequence) -> dict:
        return self.batch(values)

    def tensor_values(self, values: Sequence, length: int | None = None) -> dict:
        return self.batch(values, length=length or self.max_frames)

    def settings(self) -> dict:
        return {**super().settings(), "max_frames": self.max_frames, "static_length": self.max_frames,
                "mask": f"{self.name}_mask: 1 per real frame, 0 on padding"}
