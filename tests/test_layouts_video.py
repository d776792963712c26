"""Video label files in the layouts real datasets use, read record by record (nothing is trained).

Each layout is written at test time from three short built-in clips: clips named by stem
(``train_0000``) as ``.npy`` arrays, ``.mp4`` videos (OpenCV) or folders of PNG frames, in
``clips/`` or ``clips/<split>/`` beside the label file; clips named by path; clips in a
folder of their own given as ``clip_dir``. Every record must come back as the right file,
with the right frames and the right labels; a name that matches nothing says where it looked.
"""
import json

import numpy as np
import pytest
from PIL import Image

from rnn_apps.config import resolve_config
from rnn_apps.data import media
from rnn_apps.errors import UserError
from rnn_apps.models.video import VideoConfig, generate_clips, load_examples

cv2 = pytest.importorskip("cv2")

CLIPS = generate_clips(3, seed=7, frames=(6, 9))  # [T, 32, 32, 1] uint8 and per-frame labels


def write(kind: str, folder, stem: str, frames: np.ndarray) -> None:
    """One clip as ``stem.npy``, ``stem.mp4`` or a folder ``stem/`` of PNG frames."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "npy":
        np.save(folder / f"{stem}.npy", frames)
    elif kind == "frames":
        (folder / stem).mkdir()
        for t, frame in enumerate(frames):
            Image.fromarray(frame[..., 0]).save(folder / stem / f"img_{t + 1:05d}.png")  # natural order past 9
    else:
        writer = cv2.VideoWriter(str(folder / f"{stem}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
        for frame in frames:
            writer.write(np.repeat(frame, 3, axis=-1))
        writer.release()


def label_file(path, names: list[str], form: str = "frames") -> None:
    """A label file for the three clips named ``names``: per frame, segments or JSON lines."""
    if form == "frames":
        rows = [f"{name},{t},{label}" for name, labels in zip(names, CLIPS["labels"]) for t, label in enumerate(labels)]
        path.write_text("clip,frame,label\n" + "\n".join(rows) + "\n")
    elif form == "segments":
        from rnn_apps.metrics import segments

        rows = [f"{name},{start},{end - 1},{label}" for name, labels in zip(names, CLIPS["labels"])
                for label, start, end in segments(labels)]
        path.write_text("clip,start_frame,end_frame,label\n" + "\n".join(rows) + "\n")
    else:
        path.write_text("".join(json.dumps({"clip": name, "labels": labels}) + "\n"
                                for name, labels in zip(names, CLIPS["labels"])))


def check_records(data, files: list, kinds: list[str], overrides: tuple = ()) -> None:
    """Every record of ``data``: the expected file, its frames (exact, or close for lossy mp4), its labels."""
    read = load_examples(resolve_config(VideoConfig, overrides=list(overrides)), str(data))
    assert read["frames"] == [str(f) for f in files]
    assert read["labels"] == CLIPS["labels"]
    for path, kind, frames in zip(read["frames"], kinds, CLIPS["frames"]):
        got = media.read_clip(path, channels=1)
        assert got.shape == frames.shape, (path, got.shape)
        if kind == "mp4":  # lossy: close, and the square where it was drawn
            assert np.abs(got.astype(int) - frames).mean() < 6, path
        else:
            np.testing.assert_array_equal(got, frames)


@pytest.mark.parametrize("kind", ["npy", "mp4", "frames"])
@pytest.mark.parametrize("where", ["clips", "clips/train", "videos", "frames", "."])
def test_clips_named_by_stem(tmp_path, kind, where):
    """``labels_train.csv`` names ``train_0000`` ...; the clips sit in ``where`` beside it."""
    names = [f"train_{i:04d}" for i in range(3)]
    for name, frames in zip(names, CLIPS["frames"]):
        write(kind, tmp_path / where, name, frames)
    label_file(tmp_path / "labels_train.csv", names)
    files = [tmp_path / where / (name + ("" if kind == "frames" else f".{kind}")) for name in names]
    check_records(tmp_path / "labels_train.csv", [f.resolve() if where == "." else f for f in files], [kind] * 3)


@pytest.mark.parametrize("form", ["frames", "segments", "jsonl"])
def test_each_split_reads_its_own_folder(tmp_path, form):
    """The same stems in clips/train/ and clips/test/: each label file reads its split's clips."""
    names = ["0000", "0001", "0002"]
    for split, kind in (("train", "npy"), ("test", "frames")):
        for name, frames in zip(names, CLIPS["frames"]):
            write(kind, tmp_path / "clips" / split, name, frames if split == "train" else frames[::-1])
    suffix = ".jsonl" if form == "jsonl" else ".csv"
    label_file(tmp_path / f"labels_train{suffix}", names, form)
    check_records(tmp_path / f"labels_train{suffix}", [tmp_path / "clips/train" / f"{n}.npy" for n in names],
                  ["npy"] * 3)
    label_file(tmp_path / f"test{suffix}", names, form)
    read = load_examples(resolve_config(VideoConfig), str(tmp_path / f"test{suffix}"))
    assert read["frames"] == [str(tmp_path / "clips/test" / n) for n in names]
    for path, frames in zip(read["frames"], CLIPS["frames"]):
        np.testing.assert_array_equal(media.read_clip(path, 1), frames[::-1])


def test_clips_named_by_path_keep_working(tmp_path):
    """Paths relative to the label file, with or without the extension, in any folder."""
    write("npy", tmp_path / "data" / "a", "x", CLIPS["frames"][0])
    write("mp4", tmp_path / "videos", "y", CLIPS["frames"][1])
    write("frames", tmp_path / "frames", "z", CLIPS["frames"][2])
    label_file(tmp_path / "labels.csv", ["data/a/x.npy", "videos/y", "frames/z"])
    check_records(tmp_path / "labels.csv", [tmp_path / "data/a/x.npy", tmp_path / "videos/y.mp4",
                                            tmp_path / "frames/z"], ["npy", "mp4", "frames"])


def test_clip_dir_names_the_folder(tmp_path, monkeypatch):
    """``--set clip_dir=DIR`` (relative to the working directory) for clips kept apart from the labels."""
    names = ["a", "b", "c"]
    for name, frames, kind in zip(names, CLIPS["frames"], ["npy", "mp4", "frames"]):
        write(kind, tmp_path / "store" / "val", name, frames)
    (tmp_path / "labels").mkdir()
    label_file(tmp_path / "labels" / "val.csv", names)
    monkeypatch.chdir(tmp_path)
    files = [tmp_path / "store/val/a.npy", tmp_path / "store/val/b.mp4", tmp_path / "store/val/c"]
    check_records(tmp_path / "labels" / "val.csv", [f.relative_to(tmp_path) for f in files], ["npy", "mp4", "frames"],
                  overrides=("clip_dir=store",))
    with pytest.raises(UserError, match=r"^clip_dir: no such folder: elsewhere$"):
        load_examples(resolve_config(VideoConfig, overrides=["clip_dir=elsewhere"]), str(tmp_path / "labels/val.csv"))


def test_a_name_that_matches_nothing_says_what_was_tried(tmp_path):
    write("npy", tmp_path / "clips" / "train", "train_0000", CLIPS["frames"][0])
    (tmp_path / "videos").mkdir()
    (tmp_path / "labels_train.csv").write_text("clip,label\ntrain_0000,walk\ntrain_0001,run\n")
    with pytest.raises(UserError) as info:
        load_examples(resolve_config(VideoConfig), str(tmp_path / "labels_train.csv"))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'labels_train.csv'}:3: {tmp_path / 'train_0001'}: no such clip (looked "
                              f"for train_0001, "
                              f"train_0001{{.npy,.mp4,.avi,.gif}} or a frame folder train_0001/ in {tmp_path}, "
                              f"{tmp_path / 'clips'}, {tmp_path / 'clips/train'}, {tmp_path / 'videos'}; "
                              f"--set clip_dir=DIR"), message
    assert "\n" not in message
