"""rnn_apps.data.media: every format read as TensorFlow reads it, clips, resizing, errors."""
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rnn_apps.data.media import (check_clip, check_image, clip_length, clip_places, declared_length, find_clip,
                                 read_clip, read_image, resize_bilinear, to_float)
from rnn_apps.errors import UserError

RNG = np.random.default_rng(0)
PALETTE = RNG.integers(0, 256, (16, 3), dtype=np.uint8)  # few colours: GIF stays lossless
RGB = PALETTE[RNG.integers(0, 16, (13, 17))]
ALPHA = RNG.integers(0, 256, (13, 17), dtype=np.uint8)
SOURCES = {"grey": RGB[..., 1], "rgb": RGB, "rgba": np.dstack([RGB, ALPHA])}


def grey_601(rgb):
    """libpng's truncated integer ITU-R 601 weights (what tf.io.decode_png(channels=1) does)."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((9797 * r + 19234 * g + 3737 * b) >> 15).astype(np.uint8)[..., None]


def expected(source, channels):
    pixels = source[..., None] if source.ndim == 2 else source[..., :3]
    if channels == 3:
        return np.broadcast_to(pixels, (*pixels.shape[:2], 3))
    return pixels if pixels.shape[-1] == 1 else grey_601(pixels)


def save(path, array, fmt, **kwargs):
    Image.fromarray(array).save(path, fmt, **kwargs)
    return path


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("fmt,kind", [(f, k) for f in ("PNG", "BMP", "GIF") for k in SOURCES
                                      if (f, k) != ("GIF", "rgba")])  # GIF: a transparent index, below
def test_lossless_formats_round_trip_and_equal_tf(tmp_path, fmt, kind, channels):
    path = save(tmp_path / f"x.{fmt.lower()}", SOURCES[kind], fmt)
    got = read_image(path, channels)
    assert got.dtype == np.uint8 and got.shape == (13, 17, channels)
    np.testing.assert_array_equal(got, expected(SOURCES[kind], channels))
    if fmt != "PNG" and channels == 1:
        return  # TF decodes BMP and GIF only to 3 (or 4) channels
    tf_pixels = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False).numpy()
    np.testing.assert_array_equal(got, tf_pixels)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kind", ["grey", "rgb"])
def test_jpeg_equals_tf_accurate_dct(tmp_path, kind, channels):
    """PIL and TF share libjpeg-turbo: identical with dct_method="INTEGER_ACCURATE" (PIL's
    default); TF's default (fast integer DCT, also decode_image's) is a few levels off."""
    smooth = np.linspace(0, 255, 48 * 64 * 3).reshape(48, 64, 3)
    source = np.clip(smooth + RNG.normal(0, 30, smooth.shape), 0, 255).astype(np.uint8)
    source = source[..., 0] if kind == "grey" else source
    data = save(tmp_path / "x.jpg", source, "JPEG", quality=90).read_bytes()
    got = read_image(tmp_path / "x.jpg", channels)
    accurate = tf.io.decode_jpeg(data, channels=channels, dct_method="INTEGER_ACCURATE").numpy()
    np.testing.assert_array_equal(got, accurate)
    fast = tf.io.decode_image(data, channels=channels, expand_animations=False).numpy()
    assert np.abs(got.astype(int) - fast).max() <= 8  # seen: 3 to 5


def test_gif_first_frame_and_transparency_as_tf(tmp_path):
    frames = [Image.fromarray(RNG.integers(0, 4, (9, 11), dtype=np.uint8), "P") for _ in range(3)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10, 90, 90, 250] + [0] * 756)
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], transparency=3, optimize=False)
    got = read_image(tmp_path / "a.gif")
    tf_pixels = tf.io.decode_image((tmp_path / "a.gif").read_bytes(), channels=3, expand_animations=False)
    np.testing.assert_array_equal(got, tf_pixels.numpy())
    assert got[np.asarray(frames[0]) == 3].max() == 0  # transparent reads as black, like TF


def test_16_bit_png_keeps_high_byte_like_tf(tmp_path):
    deep = RNG.integers(0, 65536, (6, 5), dtype=np.uint16)
    path = save(tmp_path / "d.png", deep, "PNG")
    got = read_image(path, channels=1)
    np.testing.assert_array_equal(got[..., 0], deep >> 8)
    np.testing.assert_array_equal(got, tf.io.decode_png(path.read_bytes(), channels=1).numpy())


def moving_square(t=6, h=48, w=64):
    """[t, h, w, 3] uint8: dark blue with a bright 12x12 square moving right by 6 px a frame."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 2] = 40
    for i in range(t):
        frames[i, 16:28, 4 + 6 * i:16 + 6 * i] = (250, 240, 230)
    return frames


def assert_square_where_drawn(clip):
    for i, frame in enumerate(clip):
        ys, xs = np.nonzero(frame.astype(int).sum(-1) > 600)
        assert abs(ys.mean() - 21.5) <= 1 and abs(xs.mean() - (9.5 + 6 * i)) <= 1


def test_npy_clips(tmp_path):
    frames = moving_square()
    np.save(tmp_path / "u8.npy", frames)
    np.testing.assert_array_equal(read_clip(tmp_path / "u8.npy"), frames)
    assert clip_length(tmp_path / "u8.npy") == 6
    np.save(tmp_path / "f.npy", frames / np.float32(255))
    np.testing.assert_array_equal(read_clip(tmp_path / "f.npy"), frames)  # rounds, no off-by-one
    np.save(tmp_path / "half.npy", np.full((2, 3, 4), 0.5))
    assert read_clip(tmp_path / "half.npy", channels=1).tolist() == np.full((2, 3, 4, 1), 128).tolist()
    np.save(tmp_path / "grey.npy", frames[..., 0])
    assert read_clip(tmp_path / "grey.npy").shape == (6, 48, 64, 3)
    np.testing.assert_array_equal(read_clip(tmp_path / "grey.npy", channels=1)[..., 0], frames[..., 0])
    np.save(tmp_path / "rgba.npy", np.concatenate([frames, frames[..., :1]], -1))
    np.testing.assert_array_equal(read_clip(tmp_path / "rgba.npy"), frames)
    np.testing.assert_array_equal(read_clip(tmp_path / "u8.npy", channels=1), grey_601(frames))


def test_frame_folder_in_natural_order(tmp_path):
    for i in RNG.permutation(12):
        save(tmp_path / f"frame{i}.png", np.full((4, 5, 3), i * 10, np.uint8), "PNG")
    (tmp_path / "notes.txt").write_text("not a frame")
    clip = read_clip(tmp_path)
    assert clip_length(tmp_path) == 12 and check_clip(tmp_path) == tmp_path
    assert clip.shape == (12, 4, 5, 3) and clip[:, 0, 0, 0].tolist() == [i * 10 for i in range(12)]


@pytest.mark.parametrize("fourcc,suffix", [("mp4v", ".mp4"), ("MJPG", ".avi")])
def test_video_files(tmp_path, fourcc, suffix):
    """Lossy codecs: mean error about 1 level, up to ~30 at the square's edges."""
    cv2 = pytest.importorskip("cv2")
    frames = moving_square()
    writer = cv2.VideoWriter(str(tmp_path / f"v{suffix}"), cv2.VideoWriter_fourcc(*fourcc), 10, (64, 48))
    assert writer.isOpened()
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV writes BGR
    writer.release()
    clip = read_clip(tmp_path / f"v{suffix}")
    assert clip.shape == frames.shape and clip.dtype == np.uint8 and clip_length(tmp_path / f"v{suffix}") == 6
    assert np.abs(clip.astype(int) - frames).mean() < 4
    assert_square_where_drawn(clip)
    assert read_clip(tmp_path / f"v{suffix}", channels=1).shape == (6, 48, 64, 1)


def test_animated_gif_clip_equals_tf(tmp_path):
    frames = moving_square()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(tmp_path / "a.gif", save_all=True, append_images=images[1:], duration=100, loop=0)
    clip = read_clip(tmp_path / "a.gif")
    assert clip_length(tmp_path / "a.gif") == 6
    np.testing.assert_array_equal(clip, frames)
    np.testing.assert_array_equal(clip, tf.io.decode_gif((tmp_path / "a.gif").read_bytes()).numpy())
    assert_square_where_drawn(clip)


@settings(max_examples=150, deadline=None)
@given(in_size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
       out_size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
       channels=st.sampled_from([1, 3]), batch=st.sampled_from([(), (2,), (2, 3)]),
       seed=st.integers(0, 2**16))
def test_resize_bilinear_equals_tf(in_size, out_size, channels, batch, seed):
    images = np.random.default_rng(seed).uniform(0, 255, (*batch, *in_size, channels)).astype(np.float32)
    ours = resize_bilinear(images, out_size)
    flat = images.reshape(-1, *in_size, channels) if batch else images
    theirs = tf.image.resize(flat, out_size, method="bilinear", antialias=False).numpy()
    assert ours.dtype == np.float32 and ours.shape == (*batch, *out_size, channels)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), rtol=0, atol=1e-4)


def test_resize_identity_uint8_and_to_float():
    pixels = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    same = resize_bilinear(pixels, (5, 7))
    assert same.dtype == np.float32 and np.array_equal(same, pixels)
    assert np.array_equal(same, tf.image.resize(pixels, (5, 7)).numpy())
    all_levels = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_float(all_levels), tf.image.convert_image_dtype(all_levels, tf.float32))


def user_error(call, *args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_malformed_images_name_file_and_origin(tmp_path):
    missing = user_error(read_image, tmp_path / "cat.png", origin="labels.csv:12")
    assert missing == f"labels.csv:12: {tmp_path / 'cat.png'}: no such image"
    (tmp_path / "empty.png").write_bytes(b"")
    assert user_error(check_image, tmp_path / "empty.png").endswith("empty.png: empty file, not an image")
    (tmp_path / "text.png").write_text("hello, I am text\n" * 3)
    assert "text.png: not a PNG, JPEG, BMP or GIF image" in user_error(read_image, tmp_path / "text.png")
    data = save(tmp_path / "ok.png", RNG.integers(0, 256, (64, 64, 3), np.uint8), "PNG").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert check_image(tmp_path / "cut.png") == tmp_path / "cut.png"  # magic bytes are fine ...
    message = user_error(read_image, tmp_path / "cut.png", origin="data.jsonl:3")
    assert message.startswith(f"data.jsonl:3: {tmp_path / 'cut.png'}: cannot decode image (")  # ... decoding is not
    assert "is a folder" in user_error(check_image, tmp_path)


def test_malformed_clips_name_file(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((4, 5), np.uint8))
    assert user_error(read_clip, tmp_path / "flat.npy", origin="clips.csv:2").startswith(
        f"clips.csv:2: {tmp_path / 'flat.npy'}: expected a clip of shape")
    assert "got shape [4, 5]" in user_error(read_clip, tmp_path / "flat.npy")
    np.save(tmp_path / "wide.npy", np.zeros((2, 3, 4, 5), np.uint8))
    assert "got shape [2, 3, 4, 5]" in user_error(read_clip, tmp_path / "wide.npy")
    np.save(tmp_path / "i16.npy", np.zeros((2, 3, 4), np.int16))
    assert "int16" in user_error(read_clip, tmp_path / "i16.npy")
    (tmp_path / "text.npy").write_text("1 2 3")
    assert "text.npy: not a .npy array" in user_error(check_clip, tmp_path / "text.npy")
    (tmp_path / "empty").mkdir()
    assert "empty: no frame images" in user_error(read_clip, tmp_path / "empty")
    (tmp_path / "empty.avi").write_bytes(b"")
    assert "empty.avi: empty file" in user_error(read_clip, tmp_path / "empty.avi")
    assert "nothing.gif: no such clip" in user_error(clip_length, tmp_path / "nothing.gif")
    (tmp_path / "notes.txt").write_text("hi")
    assert user_error(check_clip, tmp_path / "notes.txt", "clips.csv:9").startswith(
        f"clips.csv:9: {tmp_path / 'notes.txt'}: not a clip; give a .npy file")
    (tmp_path / "corrupt.mp4").write_bytes(RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    pytest.importorskip("cv2")
    assert "corrupt.mp4: no frames could be decoded" in user_error(read_clip, tmp_path / "corrupt.mp4")
    assert "corrupt.mp4: no frames could be decoded" in user_error(clip_length, tmp_path / "corrupt.mp4")


def test_zero_size_npy_clips_are_refused_before_decoding(tmp_path):
    """A ``[5, 0, 16, 1]`` clip passed the header check and crashed resizing (or hung training)."""
    for shape in ([5, 0, 16, 1], [5, 16, 0], [3, 4, 4, 0]):
        np.save(tmp_path / "z.npy", np.zeros(shape, np.uint8))
        for read in (check_clip, clip_length, read_clip):
            message = user_error(read, tmp_path / "z.npy", origin="clips.csv:4")
            assert message.startswith(f"clips.csv:4: {tmp_path / 'z.npy'}: expected a clip of shape"), message
            assert f"got shape {shape}" in message


def test_float_clips_outside_0_1_are_refused_not_clipped(tmp_path):
    """Floats in 0..255 were clipped to 1.0 (white frames); they are refused, naming the file."""
    frames = RNG.integers(0, 256, (3, 4, 5, 1)).astype(np.float32)
    np.save(tmp_path / "f255.npy", frames)
    for read in (read_clip, lambda p, origin: check_clip(p, origin, thorough=True)):
        message = user_error(read, tmp_path / "f255.npy", origin="clips.csv:2")
        assert message.startswith(f"clips.csv:2: {tmp_path / 'f255.npy'}: float clips must hold values in 0..1")
        assert "divide by 255" in message
    np.save(tmp_path / "neg.npy", np.full((2, 3, 3), -0.5, np.float32))
    message = user_error(read_clip, tmp_path / "neg.npy")
    assert "holds -0.5..-0.5" in message and "divide" not in message
    np.save(tmp_path / "ok.npy", frames / 255 + 1e-6)  # rounding error of a 0..1 clip is fine
    np.testing.assert_array_equal(read_clip(tmp_path / "ok.npy", 1), frames.astype(np.uint8))


def test_a_truncated_video_counts_the_frames_it_decodes(tmp_path):
    """An .avi cut short still declares 12 frames; its length is what decodes (as training sees it)."""
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(tmp_path / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32), isColor=True)
    for _ in range(12):
        writer.write(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    writer.release()
    data = (tmp_path / "v.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: int(len(data) * 0.7)])
    assert clip_length(tmp_path / "v.avi") == 12 and declared_length(tmp_path / "v.avi") == 12
    assert declared_length(tmp_path / "cut.avi") == 12
    assert clip_length(tmp_path / "cut.avi") == len(read_clip(tmp_path / "cut.avi")) < 12
    assert declared_length(tmp_path / "v.npy") is None


def test_find_clip_by_path_or_stem_and_what_it_tried(tmp_path):
    (tmp_path / "clips" / "train").mkdir(parents=True)
    (tmp_path / "clips" / "test").mkdir()
    (tmp_path / "videos").mkdir()
    np.save(tmp_path / "clips" / "train" / "0001.npy", np.zeros((2, 4, 4), np.uint8))
    np.save(tmp_path / "clips" / "test" / "0001.npy", np.zeros((3, 4, 4), np.uint8))
    (tmp_path / "videos" / "walk.MP4").write_bytes(b"x")
    (tmp_path / "clips" / "frames_of_a").mkdir()
    train = clip_places(tmp_path / "labels_train.csv")
    assert train == [tmp_path, tmp_path / "clips", tmp_path / "clips" / "train", tmp_path / "videos"]
    assert find_clip("0001", train) == tmp_path / "clips" / "train" / "0001.npy"
    assert find_clip("0001", clip_places(tmp_path / "test.csv")) == tmp_path / "clips" / "test" / "0001.npy"
    assert find_clip("walk", train) == tmp_path / "videos" / "walk.MP4"
    assert find_clip("frames_of_a", train) == tmp_path / "clips" / "frames_of_a"
    assert find_clip("clips/test/0001.npy", train) == tmp_path / "clips" / "test" / "0001.npy"  # by path
    assert find_clip("clips/test/0001", train) == tmp_path / "clips" / "test" / "0001.npy"
    message = user_error(find_clip, "0002", train, "labels_train.csv:3")
    assert message.startswith(f"labels_train.csv:3: {tmp_path / '0002'}: no such clip (looked for 0002, "
                              "0002{.npy,.mp4,.avi,.gif}")
    assert f"{tmp_path / 'clips' / 'train'}" in message and "clip_dir" in message
    (tmp_path / "clips" / "train" / "0001.gif").write_bytes(b"GIF89a")
    assert "ambiguous" in user_error(find_clip, "0001", train)
    assert clip_places(tmp_path / "test.csv", tmp_path / "clips") == [
        tmp_path / "clips", tmp_path / "clips" / "test", tmp_path, tmp_path / "videos"]  # clip_dir first
    assert "clip_dir: no such folder" in user_error(clip_places, tmp_path / "x.csv", tmp_path / "nope")


def test_import_loads_neither_tensorflow_nor_keras():
    code = ("import sys, rnn_apps.data.media; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'cv2'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def png_header(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header declares ``width`` x ``height`` (its pixels are never decoded)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("mode, words", [("1", "a 1-bit BMP"), ("P", "an 8-bit colour-palette BMP")])
def test_bmps_tensorflow_reads_otherwise_are_refused_before_training_and_in_predict(tmp_path, mode, words):
    path = tmp_path / "p.bmp"
    Image.fromarray(RGB).convert(mode).save(path)
    with pytest.raises(tf.errors.InvalidArgumentError if mode == "1" else AssertionError):  # why: TF's decoder
        decoded = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False).numpy()
        np.testing.assert_array_equal(decoded, np.asarray(Image.open(path).convert("RGB")))
    for check in (lambda: check_image(path, "a.tsv:2", thorough=True), lambda: read_image(path, 3, "a.tsv:2")):
        with pytest.raises(UserError, match=f"^a.tsv:2: .*p.bmp: {words}, which TensorFlow cannot read as shown"):
            check()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_bmps_tensorflow_reads_as_pillow_does_pass(tmp_path, mode):
    path = tmp_path / "p.bmp"
    Image.fromarray(RGB).convert(mode).save(path)
    check_image(path, thorough=True)
    decoded = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False).numpy()
    np.testing.assert_array_equal(read_image(path, 3), decoded)


@pytest.mark.parametrize("side", [20_000, 60_000])
def test_a_picture_declaring_too_many_pixels_is_refused_from_its_header(tmp_path, side):
    path = tmp_path / "big.png"
    path.write_bytes(png_header(side, side))
    for check in (lambda: check_image(path, "q.jsonl:3", thorough=True), lambda: read_image(path, 3, "q.jsonl:3")):
        with pytest.raises(UserError, match=rf"^q.jsonl:3: .*big.png: {side * side:,} pixels, over the limit of "
                                            rf"178,956,970 \(a decompression bomb\?\)"):
            check()
    path.write_bytes(png_header(40, 30))
    assert check_image(path, thorough=True) == path  # the same file with a small size is fine
