"""Reading images and clips into uint8 arrays, and resizing them as TensorFlow does.

Shared by the vision tasks (frame labelling, VQA, captioning) and the TF-free on-device
runtime, so it imports only the standard library, numpy, PIL and (for videos) OpenCV.
It returns what the TensorFlow input pipeline computes from the same files:

* PNG, BMP and GIF decode exactly as ``tf.io.decode_image(..., expand_animations=False)``;
  grey output (``channels=1``) from colour uses libpng's integer ITU-R 601 weights, so a
  PNG equals ``tf.io.decode_png(channels=1)``; 16-bit PNGs keep their high byte, as TF does.
* JPEG equals ``tf.io.decode_jpeg(dct_method="INTEGER_ACCURATE")`` exactly (grey is the
  decoder's luma, as in TF); TF's default (``""``, also what ``decode_image`` uses) is the
  fast integer DCT and differs by a few levels.
* GIF transparency reads as black, as in ``tf.io.decode_gif``.
* :func:`resize_bilinear` equals ``tf.image.resize(..., "bilinear", antialias=False)``.

Errors in files are :class:`~rnn_apps.errors.UserError` s of one line that name the file
and, when given, where it was listed (``"labels.csv:12: cat.png: no such image"``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from rnn_apps.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
VIDEO_SUFFIXES = (".mp4", ".avi", ".gif")

_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"GIF87a", b"GIF89a")
# libpng's rgb_to_gray weights (0.299, 0.587, 0.114 in 1/32768), as tf.io.decode_png uses them.
_GREY_WEIGHTS = np.array([9797, 19234, 3737], dtype=np.uint32)
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
MAX_PIXELS = Image.MAX_IMAGE_PIXELS * 2  # where Pillow refuses to decode (about 179 million)


def _where(path: str | os.PathLike, origin: str | None) -> str:
    """``"origin: path"`` for messages, or just the path (an absurdly long one shortened, so
    that the message stays one readable line)."""
    shown = str(path)
    if len(shown) > 240:
        shown = f"{shown[:120]}...{shown[-60:]} ({len(shown):,} characters)"
    if not shown.isprintable():  # a line break or control character in a name from a data file
        shown = repr(shown)[1:-1]
    return f"{origin}: {shown}" if origin else shown


def _reason(exc: BaseException) -> str:
    """An exception's message, cut to its first line."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_channels(channels: int) -> None:  # a programming mistake, not the user's
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")


def _truncated(head: bytes, tail: bytes, size: int) -> bool:
    """Whether an image file ends before its format's end marker: PNG's ``IEND`` chunk,
    JPEG's end-of-image marker, GIF's trailer, or the size a BMP header declares. A file cut
    short by a failed download or copy is the common damage; TensorFlow refuses to decode it."""
    if head.startswith(b"\x89PNG"):
        return b"IEND" not in tail
    if head.startswith(b"\xff\xd8\xff"):
        return b"\xff\xd9" not in tail
    if head.startswith(b"GIF8"):
        return b";" not in tail[-16:]
    if head.startswith(b"BM") and len(head) >= 6:
        return int.from_bytes(head[2:6], "little") > size
    return False


def check_image(path: str | os.PathLike, origin: str | None = None, thorough: bool = False) -> Path:
    """Check that ``path`` is a non-empty PNG, JPEG, BMP or GIF file and return it as a Path.

    Reads only the first 8 bytes, so checking every image of a dataset before training
    (tens of thousands of files) costs about one ``open`` each; decoding is left to
    :func:`read_image`. ``thorough`` (before training, where a file that fails to decode
    could only crash the tf.data pipeline) also reads the last 4096 bytes, for the end marker
    of the format that a file cut short lacks.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            size = os.fstat(f.fileno()).st_size
            if thorough:
                f.seek(max(size - 4096, 0))
            tail = f.read() if thorough else b""
    except FileNotFoundError:
        raise UserError(f"{_where(path, origin)}: no such image") from None
    except IsADirectoryError:
        raise UserError(f"{_where(path, origin)}: is a folder, not an image") from None
    except OSError as exc:
        raise UserError(f"{_where(path, origin)}: cannot read ({exc.strerror or _reason(exc)})") from None
    if not head:
        raise UserError(f"{_where(path, origin)}: empty file, not an image")
    if not head.startswith(_MAGIC):
        raise UserError(f"{_where(path, origin)}: not a PNG, JPEG, BMP or GIF image")
    if thorough and _truncated(head, tail, size):
        raise UserError(f"{_where(path, origin)}: the image is cut short (a damaged or partial copy)")
    if thorough:
        _check_header(path, origin)
    return path


def _check_header(path: Path, origin: str | None) -> None:
    """Refuse, from the header alone, a picture the training pipeline's decoder
    (``tf.io.decode_image``) would fail on or read differently from :func:`read_image`: more
    pixels than ``MAX_PIXELS`` (a decompression bomb, or a picture no RNN input needs: it
    would fail only when its batch is decoded, e.g. in the final test report), and BMPs that
    are not 24/32-bit colour or 8-bit grey (TensorFlow cannot decode 1- or 4-bit BMPs and
    reads an 8-bit colour palette's indexes as grey)."""
    try:
        with Image.open(path) as image:
            pixels, mode, fmt = image.size[0] * image.size[1], image.mode, image.format
    except Image.DecompressionBombError as exc:  # Pillow refuses even to open it: far above the limit
        pixels, mode, fmt = int(re.search(r"(\d+) pixels", str(exc)).group(1)), None, None
    except _DECODE_ERRORS as exc:
        raise UserError(f"{_where(path, origin)}: cannot decode image ({_reason(exc)})") from None
    if pixels > MAX_PIXELS:
        raise UserError(f"{_where(path, origin)}: {pixels:,} pixels, over the limit of {MAX_PIXELS:,} "
                        f"(a decompression bomb?); make it smaller")
    if fmt == "BMP" and mode not in ("RGB", "RGBA", "L"):
        with open(path, "rb") as f:
            bits = int.from_bytes(f.read(30)[28:30], "little")  # BITMAPINFOHEADER's bits per pixel
        kind = f"{bits}-bit colour-palette" if mode == "P" else f"{bits}-bit"
        article = "an" if kind.startswith(("8", "11", "18")) else "a"
        raise UserError(f"{_where(path, origin)}: {article} {kind} BMP, which TensorFlow cannot read as shown "
                        f"(it reads 24/32-bit colour and 8-bit grey BMPs); save it as PNG")


def image_size(path: Path, origin: str | None = None) -> tuple[int, int]:
    """``(width, height)`` of a checked image from its header, without decoding its pixels."""
    try:
        with Image.open(check_image(path, origin, thorough=True)) as image:
            return image.size
    except _DECODE_ERRORS as exc:
        raise UserError(f"{_where(path, origin)}: cannot decode image ({_reason(exc)})") from None


def _grey(rgb: np.ndarray) -> np.ndarray:
    """``[..., 3]`` uint8 RGB -> ``[..., 1]`` uint8 grey, as libpng (and so TF) computes it."""
    return ((rgb.astype(np.uint32) @ _GREY_WEIGHTS) >> 15).astype(np.uint8)[..., None]


def _with_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """``[..., C]`` uint8 with C in 1/3/4 -> ``[..., channels]``: alpha dropped, grey
    repeated into RGB, RGB weighted into grey."""
    if pixels.shape[-1] == 4:
        pixels = pixels[..., :3]
    if pixels.shape[-1] == channels:
        return pixels
    return np.repeat(pixels, 3, axis=-1) if channels == 3 else _grey(pixels)


def _pil_pixels(image: Image.Image) -> np.ndarray:
    """The loaded frame of a PIL image as ``[H, W, 1]`` (grey) or ``[H, W, 3]`` uint8."""
    if image.format == "GIF":
        rgba = np.array(image.convert("RGBA"))
        rgba[rgba[..., 3] == 0] = 0  # tf.io.decode_gif shows transparent pixels as black
        return rgba[..., :3]
    if image.mode.startswith("I"):  # 16-bit grey PNG: keep the high byte, like TF
        return (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)[..., None]
    if image.mode in ("1", "L", "LA", "La"):
        return np.asarray(image.convert("L"))[..., None]
    return np.asarray(image.convert("RGB"))


def read_image(path: str | os.PathLike, channels: int = 3, origin: str | None = None) -> np.ndarray:
    """Decode a PNG, JPEG, BMP or GIF (its first frame) into uint8 ``[H, W, channels]``.

    ``channels`` is 1 (grey) or 3 (RGB); alpha is dropped. Undecodable files (truncated,
    corrupt) are a UserError naming the file.
    """
    _check_channels(channels)
    path = check_image(path, origin)
    _check_header(path, origin)  # the pictures training would refuse, refused here too
    try:
        with Image.open(path) as image:
            if image.format == "JPEG" and channels == 1:
                image.draft("L", image.size)  # decode luma directly, as libjpeg does for TF
            image.load()
            pixels = _pil_pixels(image)
    except _DECODE_ERRORS as exc:
        raise UserError(f"{_where(path, origin)}: cannot decode image ({_reason(exc)})") from None
    return _with_channels(pixels, channels)


def _natural_key(name: str) -> list:
    """Sort key that orders the numbers in names by value: frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _frame_names(folder: Path, where: str) -> list[str]:
    """The frame images of a folder in natural order; other files are ignored."""
    names = [p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not names:
        raise UserError(f"{where}: no frame images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return sorted(names, key=_natural_key)


def _npy_header(path: Path, where: str) -> np.ndarray:
    """A ``.npy`` clip memory-mapped (only its header is read), its shape and dtype checked."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":  # else numpy would try to unpickle it
            raise UserError(f"{where}: not a .npy array")
    try:
        clip = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{where}: cannot read .npy ({_reason(exc)})") from None
    shape = list(clip.shape)
    if not (clip.ndim == 3 or (clip.ndim == 4 and shape[-1] in (1, 3, 4))) or 0 in shape:
        raise UserError(f"{where}: expected a clip of shape [T, H, W] or [T, H, W, C] with C in 1/3/4 "
                        f"and every size above 0, got shape {shape}")
    if clip.dtype != np.uint8 and not np.issubdtype(clip.dtype, np.floating):
        raise UserError(f"{where}: expected uint8 or float (0..1) values, got {clip.dtype} of shape {shape}")
    return clip


def _check_float_range(clip: np.ndarray, where: str) -> None:
    """A float clip must be finite and hold 0..1. Values in 0..255 are refused rather than
    guessed: a dark 0..255 clip and a bright 0..1 clip overlap, so no rule on the values
    can tell them apart, and clipping would turn the 0..255 clip white."""
    if not np.isfinite(clip).all():
        raise UserError(f"{where}: the clip holds NaN or infinite values")
    low, high = float(clip.min()), float(clip.max())
    if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
        hint = "; divide by 255, or save it as uint8" if high <= 255 + _FLOAT_SLACK and low >= -_FLOAT_SLACK else ""
        raise UserError(f"{where}: float clips must hold values in 0..1, this one holds {low:g}..{high:g}{hint}")


_FLOAT_SLACK = 1e-3  # rounding error of a float clip computed in 0..1


def check_clip(path: str | os.PathLike, origin: str | None = None, thorough: bool = False) -> Path:
    """Check, without decoding pictures, that ``path`` can be a clip (see :func:`read_clip`):
    a ``.npy`` of a clip's shape and dtype, a folder with frame images, or a non-empty video.

    ``thorough`` (before training, once per clip) also reads what decoding inside the
    training pipeline would otherwise stop on, where a mistake could only crash it: every
    frame of a folder checked (present, whole) and of one size, a float ``.npy`` finite."""
    path = Path(path)
    where = _where(path, origin)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # a name too long for the system
        raise UserError(f"{where}: cannot read ({exc.strerror or _reason(exc)})") from None
    if not exists:
        raise UserError(f"{where}: no such clip")
    if is_dir:
        names = _frame_names(path, where)
        if thorough:
            sizes = [image_size(path / name, where) for name in names]
            for name, size in zip(names, sizes):
                if size != sizes[0]:
                    raise UserError(f"{where}: frame {name} is {size[0]}x{size[1]}, the first frame {names[0]} "
                                    f"is {sizes[0][0]}x{sizes[0][1]}")
    elif path.suffix.lower() == ".npy":
        clip = _npy_header(path, where)
        if thorough and clip.dtype != np.uint8:
            _check_float_range(clip, where)
    elif path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"{where}: not a clip; give a .npy file, a folder of frames or a "
                        f"{'/'.join(VIDEO_SUFFIXES)} video")
    elif path.stat().st_size == 0:
        raise UserError(f"{where}: empty file, not a video")
    return path


CLIP_SUFFIXES = (".npy", *VIDEO_SUFFIXES)  # what a clip named by its stem may end with
CLIP_FOLDERS = ("clips", "videos", "frames")  # where clips usually sit beside a label file


def clip_places(label_file: str | os.PathLike, clip_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders a label file's clip names are looked up in, in order.

    ``clip_dir`` first when given, then the label file's folder and its ``clips/``,
    ``videos/`` and ``frames/`` folders (those that exist). Each is followed by its
    sub-folders named like a word of the label file's name, so that ``labels_train.csv``
    also looks in ``clips/train/`` (the split layout of most datasets) and ``test.csv`` in
    ``clips/test/``. (The label file's own folders stay in the list with ``clip_dir``, so a
    run trained with it still reads a label file that names its clips by path.)"""
    label_file = Path(label_file)
    roots = [label_file.parent, *(label_file.parent / name for name in CLIP_FOLDERS)]
    if clip_dir:
        if not Path(clip_dir).is_dir():
            raise UserError(f"clip_dir: no such folder: {_where(clip_dir, None)}")
        roots.insert(0, Path(clip_dir))
    words = set(re.split(r"[^a-z0-9]+", label_file.stem.lower())) - {""}
    places: list[Path] = []
    for root in roots:
        if root.is_dir():
            places += [root, *(root / word for word in sorted(words) if (root / word).is_dir())]
    unique = {}
    for place in places:  # clip_dir may be one of the default folders
        unique.setdefault(os.path.abspath(place), place)
    return list(unique.values())


def find_clip(name: str, places: list[Path], origin: str | None = None) -> Path:
    """The clip a label file calls ``name``: a path (``a.mp4``, ``clips/b``) or a stem
    (``train_0000``) that, in the first of ``places`` holding it, is a ``.npy`` file, an
    ``.mp4``/``.avi``/``.gif`` video or a folder of frames. Two matches in one folder
    (``x.npy`` and ``x.mp4``) are ambiguous and refused; nothing found names what was tried."""
    stem = Path(name)
    if not name.strip():
        raise UserError(f"{origin + ': ' if origin else ''}the clip name is empty")
    if "\0" in name:
        raise UserError(f"{_where(name, origin)}: not a file name (it holds a NUL character)")
    for place in places:
        target = place / stem
        try:
            if target.exists():  # named by path, or a frame folder
                return target
            found = [target.with_name(target.name + suffix) for suffix in CLIP_SUFFIXES + tuple(s.upper() for s in
                                                                                               CLIP_SUFFIXES)]
            found = [path for path in found if path.is_file()]
        except (OSError, ValueError) as exc:  # a name too long for the system, or not a name at all
            raise UserError(f"{_where(target, origin)}: cannot read ({getattr(exc, 'strerror', None) or _reason(exc)})"
                            ) from None
        if len(found) > 1:
            raise UserError(f"{_where(name, origin)}: ambiguous clip name, "
                            f"{' and '.join(_where(p, None) for p in found)} both match; name the file")
        if found:
            return found[0]
    tried = ", ".join(_where(place, None) for place in places) or "(no folder)"
    raise UserError(f"{_where(places[0] / stem if places else name, origin)}: no such clip (looked for {name}, {name}"
                    f"{{{','.join(CLIP_SUFFIXES)}}} or a frame folder {name}/ in {tried}; "
                    f"--set clip_dir=DIR names the clips' folder)")


def clip_length(path: str | os.PathLike, origin: str | None = None) -> int:
    """Frames in a clip, T: the length of :func:`read_clip`'s array. Folders and ``.npy``
    files are counted without decoding pictures; ``.mp4``/``.avi`` are decoded once (and the
    count remembered while the file is unchanged), because the count a container declares
    is wrong for a truncated or badly written file, and labels must match the frames the
    training pipeline will see (see :func:`declared_length`)."""
    path = check_clip(path, origin)
    if path.is_dir():
        return len(_frame_names(path, ""))
    if path.suffix.lower() == ".npy":
        return int(_npy_header(path, "").shape[0])
    if path.suffix.lower() == ".gif":
        try:
            with Image.open(path) as image:
                return getattr(image, "n_frames", 1)
        except _DECODE_ERRORS as exc:
            raise UserError(f"{_where(path, origin)}: cannot decode GIF ({_reason(exc)})") from None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _DECODED_LENGTHS:
        _DECODED_LENGTHS[key] = len(_read_video(path, _where(path, origin)))
    if not _DECODED_LENGTHS[key]:
        raise UserError(f"{_where(path, origin)}: no frames could be decoded (corrupt or unsupported video)")
    return _DECODED_LENGTHS[key]


_DECODED_LENGTHS: dict[tuple, int] = {}  # (path, mtime, size) -> frames decoded


def declared_length(path: str | os.PathLike) -> int | None:
    """The frame count an ``.mp4``/``.avi`` container declares (None for other clips, or
    when it declares none): what a message shows beside :func:`clip_length` when a video
    decodes fewer frames than it claims."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in (".mp4", ".avi"):
        return None
    capture = _cv2(str(path)).VideoCapture(str(path))
    try:
        declared = int(capture.get(_cv2(str(path)).CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return declared if declared > 0 else None


def _read_npy(path: Path, where: str) -> np.ndarray:
    """``[T, H, W, C]`` uint8 from a checked ``.npy``: floats 0..1 are rounded to 0..255
    (other ranges are refused, see :func:`_check_float_range`)."""
    clip = np.array(_npy_header(path, where))
    clip = clip[..., None] if clip.ndim == 3 else clip
    if clip.dtype == np.uint8:
        return clip
    _check_float_range(clip, where)
    return np.rint(np.clip(clip, 0.0, 1.0) * 255.0).astype(np.uint8)


def _read_gif(path: Path, where: str) -> list[np.ndarray]:
    """Every frame of a GIF as ``[H, W, 3]``, composited by PIL as its disposal rules ask."""
    try:
        with Image.open(path) as image:
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frames.append(_pil_pixels(image))
    except _DECODE_ERRORS as exc:
        raise UserError(f"{where}: cannot decode GIF ({_reason(exc)})") from None
    return frames


def _cv2(where: str):
    """OpenCV, imported only when a video needs it (it is heavy)."""
    try:
        import cv2
    except ImportError:
        raise UserError(f"{where}: reading videos needs OpenCV: pip install opencv-python-headless") from None
    return cv2


def _read_video(path: Path, where: str) -> list[np.ndarray]:
    """Every frame of an ``.mp4``/``.avi`` as RGB ``[H, W, 3]``, decoded by OpenCV's FFmpeg."""
    capture, frames = _cv2(where).VideoCapture(str(path)), []
    try:
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame[..., ::-1])  # OpenCV gives BGR
    finally:
        capture.release()
    return frames


def read_clip(path: str | os.PathLike, channels: int = 3, origin: str | None = None) -> np.ndarray:
    """Read a clip into uint8 ``[T, H, W, channels]`` (1 = grey, 3 = RGB).

    ``path`` is a ``.npy`` array (``[T, H, W]`` or ``[T, H, W, C]``; uint8 as is, floats
    taken as 0..1 and rounded to 0..255), a folder of frame images (natural order, so
    ``frame2`` comes before ``frame10``), or a video: ``.mp4``/``.avi`` through OpenCV, and
    ``.gif`` through PIL, which composites GIF frames correctly and equals
    ``tf.io.decode_gif`` (OpenCV shows GIF transparency as white, TF as black).
    """
    _check_channels(channels)
    path = check_clip(path, origin)
    where = _where(path, origin)
    if path.is_dir():
        names = _frame_names(path, where)
        frames = [read_image(path / name, channels, where) for name in names]
        for name, frame in zip(names, frames):
            if frame.shape != frames[0].shape:
                raise UserError(f"{where}: frame {name} is {frame.shape[1]}x{frame.shape[0]}, "
                                f"the first frame {names[0]} is {frames[0].shape[1]}x{frames[0].shape[0]}")
        return np.stack(frames)
    if path.suffix.lower() == ".npy":
        return _with_channels(_read_npy(path, where), channels)
    frames = _read_gif(path, where) if path.suffix.lower() == ".gif" else _read_video(path, where)
    if not frames:
        raise UserError(f"{where}: no frames could be decoded (corrupt or unsupported video)")
    return _with_channels(np.stack(frames), channels)


def _bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index: the two input indices and the weight of the upper one.

    TF's half-pixel rule, in float32 as TF computes it: the output pixel ``i`` samples the
    input at ``(i + 0.5) * in_size / out_size - 0.5``; indices are clamped to the edges.
    """
    scale = np.float32(np.float32(in_size) / np.float32(out_size))
    x = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(x)
    lower = np.maximum(floor, 0).astype(np.intp)
    upper = np.minimum(np.ceil(x), in_size - 1).astype(np.intp)
    return lower, upper, (x - floor).astype(np.float32)


def resize_bilinear(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``[..., H, W, C]`` to float32 ``[..., h, w, C]`` (``size = (h, w)``).

    Equals ``tf.image.resize(images, size, method="bilinear", antialias=False)``: half-pixel
    centres, no antialiasing (downscaling samples, it does not average), float32 even for
    uint8 input and the same size; along W, then H, in TF's order of operations.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 3:
        raise ValueError(f"expected images of shape [..., H, W, C], got {images.shape}")
    (h, w), (in_h, in_w) = size, images.shape[-3:-1]
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size}")
    y0, y1, dy = _bilinear_taps(in_h, h)
    x0, x1, dx = _bilinear_taps(in_w, w)
    dx = dx[:, None]  # broadcast over channels: [w, 1]
    top, bottom = images[..., y0, :, :], images[..., y1, :, :]  # [..., h, W, C]
    top = top[..., x0, :] + (top[..., x1, :] - top[..., x0, :]) * dx
    bottom = bottom[..., x0, :] + (bottom[..., x1, :] - bottom[..., x0, :]) * dx
    return top + (bottom - top) * dy[:, None, None]


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1], bit for bit as ``tf.image.convert_image_dtype``
    (which multiplies by ``1 / 255`` rather than dividing)."""
    return np.asarray(images, dtype=np.float32) * np.float32(1.0 / 255.0)


def with_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """``[..., C]`` uint8 (C in 1/3/4) -> ``[..., channels]``: alpha dropped, grey repeated into
    RGB, RGB into grey with libpng's weights (the one grey rule of every input path)."""
    return _with_channels(pixels if pixels.ndim >= 3 and pixels.shape[-1] in (1, 3, 4) else pixels[..., None],
                          channels)


def fit_pictures(pixels: np.ndarray, size: int, channels: int, as_uint8: bool = False) -> np.ndarray:
    """uint8 pictures ``[..., h, w, C]`` -> ``[..., size, size, channels]``: the channels, then
    a bilinear resize as TensorFlow does it; float32 in [0, 1], or rounded back to uint8
    (clips keep uint8 in memory)."""
    pixels = with_channels(np.asarray(pixels), channels)
    resized = pixels.astype(np.float32) if pixels.shape[-3:-1] == (size, size) else \
        resize_bilinear(pixels, (size, size))
    if as_uint8:
        return np.clip(np.round(resized), 0, 255).astype(np.uint8)
    return to_float(resized)
