"""Video frame classification: many-to-many, one label per frame (CNN + RNN).

A CNN reads every frame together with what changed since the frame before; a recurrent
stack reads the frames' features in order and a softmax labels every frame:

    frames [b, T, H, W, C] -> FrameDifference -> [b, T, H, W, 2C] (x_t and x_t - x_{t-1})
        -> per-frame CNN -> flatten -> Dense -> (bi)RNN stack (masked) -> Dense softmax
        -> labels [b, T, classes]

Why the difference (``motion``, see ``rnn_apps.layers.motion``): a motion label belongs to
a pair of frames. Fed frames alone, the RNN must compare features across steps, and its
state carries a movement on into a short pause (a ``still`` frame right after a movement
reads as the movement: 94.6 % per frame on moving-digit clips, nearly every error a
``still`` frame). With the difference, a still frame is a blank picture and a direction is
a local pattern, and the same clips reach 99-100 % (``benchmarks/real_video.py``).
``motion: features`` appends the change of each frame's features instead (what the
default, ``auto``, does with a keras.applications backbone, which takes RGB only);
``motion: none`` feeds frames alone.

Clips of different lengths are padded and masked (``frames_mask``): padded frames count in
neither the loss nor the accuracy. ``temporal: none`` drops the recurrent stack, which
leaves a per-frame CNN (with ``motion: none``, the single-frame baseline that shows what
seeing time adds).

The built-in clips show a small square moving on a grey field with a still circle beside
it; the square moves left, right, up or down, or stays still, for a few frames at a time,
and each frame is labelled with the motion that brought the square there. One frame shows
where the square is, not where it is going, so a single-frame CNN cannot tell the labels
apart; a model that compares frames can.

Real data: a label file (``--data labels.csv``), one of ``clip,frame,label`` (a label per
frame), ``clip,start_frame,end_frame,label`` (segments: first and last frame, numbered from
0, both included; frames in no segment get ``background_label``) or ``clip,label`` (one
label for the whole clip); or JSON lines ``{"clip": ..., "labels": [...]}``. Every frame
has exactly one label (overlaps and repeats are refused). Clips are ``.npy`` arrays
(uint8, or float 0..1), video files (.mp4, .avi, .gif) or folders of frame images, named
either by path relative to the label file (``clips/a.mp4``) or by stem (``train_0000``),
looked up with those extensions in ``clip_dir`` when set, then beside the label file and
in its ``clips/``, ``videos/`` or ``frames/`` folder, each followed by its sub-folder named
like a word of the label file's name (``labels_train.csv`` -> ``clips/train/``). TFDS video datasets
with a clip label (``tfds:ucf101``) work too.
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Literal

import keras
import numpy as np

from rnn_apps.config import RecurrentConfig, TrainConfig, VisionConfig, setting
from rnn_apps.data import media
from rnn_apps.data.examples import Examples
from rnn_apps.data.readers import json_type, read_records, read_source
from rnn_apps.data.shapes import Shape, render
from rnn_apps.data.vision import FramesInput
from rnn_apps.errors import UserError
from rnn_apps.layers.cnn import PerFrame, image_encoder
from rnn_apps.layers.motion import FeatureDifference, FrameDifference
from rnn_apps.layers.recurrent import recurrent_stack
from rnn_apps.outputs.per_step import LabelPerStep
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class VideoConfig(VisionConfig, RecurrentConfig, TrainConfig):
    image_size: int = setting(32, "frames are resized to this many pixels square", min=8)
    channels: int = setting(1, "colour channels: 1 (grey) or 3 (RGB)", min=1, max=3)
    cnn_filters: int = setting(16, "filters of each layer of the small conv net", min=1)
    cnn_layers: int = setting(3, "3x3 stride-2 conv layers of the small conv net", min=1)
    temporal: Literal["rnn", "none"] = setting("rnn", "rnn: recurrent stack over frames; none: per-frame CNN "
                                                      "baseline")
    motion: Literal["auto", "pixels", "features", "none"] = setting(
        "auto", "what the network sees of the change between frames (rnn_apps.layers.motion): pixels: each "
                "frame stacked with its difference from the previous frame before the CNN (small CNN only); "
                "features: each frame's features with their change from the previous frame before the RNN "
                "(any CNN); none: frames alone; auto: pixels with the small CNN, features with a backbone")
    frame_features: int = setting(64, "size of each frame's feature vector fed to the RNN", min=1)
    units: int = setting(64, "hidden units per recurrent layer (per direction)", min=1)
    max_frames: int = setting(64, "frames kept per clip (longer clips are cut)", min=1)
    epochs: int = setting(12, "passes over the training clips", min=1)
    batch_size: int = setting(16, "clips per mini-batch", min=1)
    clip_dir: str = setting("", "folder of the clips a label file names, looked in first (then beside the label "
                                "file, and in its clips/, videos/ or frames/ folder or their <split>/ sub-folder)")
    background_label: str = setting("background", "label of frames that no segment covers (segment files)")
    builtin_examples: int = setting(1200, "clips of the built-in data", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources")


PRESETS = {
    "tiny": {"image_size": 16, "cnn_filters": 8, "cnn_layers": 2, "frame_features": 16, "units": 16, "epochs": 2,
             "builtin_examples": 60, "batch_size": 8, "max_frames": 24},
    "small": {"epochs": 8, "builtin_examples": 800},
    "default": {},
    "rgb": {"image_size": 64, "channels": 3, "cnn_layers": 4, "cnn_filters": 24},
}


def inputs(cfg: VideoConfig) -> dict:
    return {"frames": FramesInput("frames", size=cfg.image_size, channels=cfg.channels, max_frames=cfg.max_frames)}


def motion_of(cfg: VideoConfig) -> str:
    """The ``motion`` setting resolved: ``auto`` is ``pixels`` for the small CNN (which reads
    any number of channels) and ``features`` for a keras.applications backbone (RGB only)."""
    if cfg.motion == "auto":
        return "pixels" if cfg.cnn == "small" else "features"
    return cfg.motion


def build_model(cfg: VideoConfig, features: Features) -> keras.Model:
    """``{frames [b, T, H, W, C], frames_mask [b, T]}`` -> ``[b, T, classes]`` probabilities."""
    frames = keras.Input((None, cfg.image_size, cfg.image_size, cfg.channels), name="frames")
    frames_mask = keras.Input((None,), name="frames_mask")
    x, cnn_cfg, motion = frames, cfg, motion_of(cfg)
    if motion == "pixels":  # [b, T, H, W, 2C]: the frame and what changed since the last one
        if cfg.cnn != "small":
            raise UserError(f"motion=pixels stacks frames and their differences as channels, which the small CNN "
                            f"reads but cnn {cfg.cnn} does not; set motion=features or motion=none")
        x, cnn_cfg = FrameDifference(name="frame_difference")(x), dataclasses.replace(cfg, channels=2 * cfg.channels)
    grid = PerFrame(image_encoder(cnn_cfg), name="frame_cnn")(x)  # [b, T, h, w, D]
    x = keras.layers.Reshape((-1, int(np.prod(grid.shape[2:]))), name="frame_flatten")(grid)  # keeps *where*
    x = keras.layers.Dense(cfg.frame_features, activation="relu", name="frame_features")(x)
    if motion == "features":  # [b, T, 2F]: the features and their change since the last frame
        x = FeatureDifference(name="feature_difference")(x)
    if cfg.temporal == "rnn":
        x = recurrent_stack(x, cfg, mask=keras.ops.greater(frames_mask, 0.5))
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return keras.Model([frames, frames_mask], features.output.head(x), name=f"video_{cfg.temporal}")


# --- built-in data: a square on the move ---------------------------------------------------

MOTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1), "still": (0, 0)}


def _clip(rng: random.Random, frames: int, size: int = 32, speed: float = 2.0) -> tuple[np.ndarray, list[str]]:
    """``[frames, size, size, 1]`` uint8 and the motion label of every frame."""
    square = Shape("square", "white", rng.uniform(6, size - 6), rng.uniform(6, size - 6), 3.0)
    still = Shape("circle", rng.choice(["red", "blue", "green"]), rng.uniform(4, size - 4), rng.uniform(4, size - 4), 2.5)
    labels, pictures, motion, left = [], [], rng.choice(list(MOTIONS)), rng.randint(3, 8)
    for t in range(frames):
        if t:
            dx, dy = MOTIONS[motion]
            x, y = square.x + speed * dx, square.y + speed * dy
            if left == 0 or not (4 <= x <= size - 4 and 4 <= y <= size - 4):  # a new segment
                motion = rng.choice([m for m in MOTIONS if m != motion and _fits(square, m, size, speed)])
                left, dx, dy = rng.randint(3, 8), *MOTIONS[motion]
                x, y = square.x + speed * dx, square.y + speed * dy
            square, left = dataclasses.replace(square, x=x, y=y), left - 1
        labels.append(motion)
        picture = render([still, square], size, channels=1, background=60).astype(np.int16)
        picture += np.array([rng.gauss(0, 6) for _ in range(size * size)]).reshape(size, size, 1).astype(np.int16)
        pictures.append(np.clip(picture, 0, 255).astype(np.uint8))
    return np.stack(pictures), labels


def _fits(square: Shape, motion: str, size: int, speed: float) -> bool:
    dx, dy = MOTIONS[motion]
    return 4 <= square.x + speed * dx <= size - 4 and 4 <= square.y + speed * dy <= size - 4


def generate_clips(n: int, seed: int, frames: tuple[int, int] = (16, 32)) -> Examples:
    """``n`` clips of 16-32 frames with their per-frame motion labels, deterministic for a seed."""
    rng = random.Random(seed)
    clips, labels = zip(*(_clip(rng, rng.randint(*frames)) for _ in range(n)))
    return Examples({"frames": list(clips), "labels": [list(x) for x in labels]}, [f"builtin:{i}" for i in range(n)])


# --- real data: a label file beside the clips ---------------------------------------------

def read_clip_labels(source: str, cfg: VideoConfig) -> Examples:
    """Per-frame, segment or clip labels (see the module docstring), checked against each clip's
    frame count; a mistake names the label file and line.

    Clips are found by :func:`rnn_apps.data.media.find_clip`: a path relative to the label
    file, or a stem looked up in ``clip_dir``, then beside the label file and in its ``clips/``,
    ``videos/`` or ``frames/`` folder (each with its ``<split>/`` sub-folder). Every frame gets
    exactly one label: a frame labelled twice, overlapping segments or a clip listed twice
    (under two names, or twice in a clip- or JSON-lines file) are refused with both lines."""
    path = Path(source)
    rows = read_records(path)  # [(origin, {column: value})]
    places = media.clip_places(path, cfg.clip_dir or None)
    clips: dict[str, dict] = {}
    for origin, row in rows:
        if "clip" not in row or not ({"label", "labels"} & set(row)):
            raise UserError(f"{origin}: needs columns clip and label (or labels); found {', '.join(row)}")
        if not isinstance(row["clip"], str):
            raise UserError(f"{origin}: clip must be a file name (a string), got {json_type(row['clip'])}")
        clip = clips.setdefault(row["clip"], {"origin": origin, "rows": []})
        clip["rows"].append((origin, row))
    examples, labels, origins, seen = [], [], [], {}
    for name, clip in clips.items():
        clip_path = media.check_clip(media.find_clip(name, places, clip["origin"]), clip["origin"])
        if (key := clip_path.resolve()) in seen:
            raise UserError(f"{clip['origin']}: {name} is the clip {seen[key][0]} names at {seen[key][1]}; "
                            f"give each clip one name")
        seen[key] = (name, clip["origin"])
        frames = media.clip_length(clip_path)
        try:
            labels.append(_frame_labels(clip["rows"], frames, name, cfg))
        except UserError as exc:  # say so when the video claims more frames than decode
            declared = media.declared_length(clip_path)
            if declared in (None, frames):
                raise
            raise UserError(f"{exc} ({name} declares {declared} frames but only {frames} decode: "
                            f"a truncated or damaged video?)") from None
        examples.append(str(clip_path))
        origins.append(clip["origin"])
    return Examples({"frames": examples, "labels": labels}, origins)


def _frame_labels(rows: list, frames: int, name: str, cfg: VideoConfig) -> list[str]:
    """One label per frame of the clip ``name`` (``frames`` long) from its ``rows`` of the label file."""
    origin, first = rows[0]
    if ("labels" in first or not ({"start_frame", "frame"} & set(first))) and len(rows) > 1:
        raise UserError(f"{rows[1][0]}: {name} is listed again (first at {origin}); a clip-level or JSON lines "
                        f"file gives each clip one line")
    if "labels" in first:  # JSON lines: the whole list
        if not isinstance(first["labels"], list):
            raise UserError(f"{origin}: labels must be a list of one label per frame, got {json_type(first['labels'])}")
        labels = [str(v) for v in first["labels"]]
    elif "start_frame" in first:  # segments, first and last frame included
        labels, owner = [cfg.background_label] * frames, [None] * frames
        for where, row in rows:
            start, end = _int(_value(row, "start_frame", where), where), _int(_value(row, "end_frame", where), where)
            if not 0 <= start <= end < frames:
                raise UserError(f"{where}: segment {start}-{end} is outside {name}'s {frames} frames (0-{frames - 1})")
            if (taken := next((t for t in range(start, end + 1) if owner[t] is not None), None)) is not None:
                raise UserError(f"{where}: segment {start}-{end} overlaps the segment at {owner[taken]} "
                                f"(frame {taken} of {name} would get two labels)")
            labels[start:end + 1] = [str(_value(row, "label", where))] * (end - start + 1)
            owner[start:end + 1] = [where] * (end - start + 1)
    elif "frame" in first:
        by_frame: dict[int, tuple[str, str]] = {}
        for where, row in rows:
            t = _int(_value(row, "frame", where), where)
            if not 0 <= t < frames:
                raise UserError(f"{where}: frame {t} is outside {name}'s {frames} frames (0-{frames - 1})")
            if t in by_frame:
                raise UserError(f"{where}: frame {t} of {name} is labelled twice (first at {by_frame[t][1]})")
            by_frame[t] = (str(_value(row, "label", where)), where)
        labels = [by_frame[t][0] if t in by_frame else None for t in range(frames)]
    else:  # one label for the clip
        labels = [str(first["label"])] * frames
    if len(labels) != frames or None in labels:
        raise UserError(f"{origin}: {name} has {frames} frames but the labels cover "
                        f"{sum(label is not None for label in labels)}")
    return labels


def _value(row: dict, key: str, origin: str):
    """``row[key]``; a JSON line of the clip that lacks it names its line (table rows all have it)."""
    if key not in row:
        raise UserError(f"{origin}: missing key {key!r}")
    return row[key]


def _int(value, origin: str) -> int:
    """A frame number: an integer, or text or a JSON number that is one (``3``, ``"3"``, ``3.0``)."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{origin}: expected a frame number, got {value!r}") from None


def load_examples(cfg: VideoConfig, source: str | None) -> Examples:
    if source is None:
        return generate_clips(cfg.builtin_examples, cfg.seed)
    if source.startswith("tfds:"):  # clip-level labels (UCF101 ...): every frame gets the clip's label
        read = read_source(source, {"frames": "video", "label": "label"}, {}, tfds_data_dir=cfg.tfds_data_dir or None)
        return Examples({"frames": read["frames"], "labels": [[label] * len(clip) for clip, label in
                                                              zip(read["frames"], read["label"])]}, read.origins)
    return read_clip_labels(source, cfg)


TASK = Task(
    name="video",
    shape="many-to-many (one output per step)",
    description="label every frame of a clip: a CNN per frame, an RNN across frames",
    config_class=VideoConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=lambda cfg: LabelPerStep("labels", input="frames"),
    build_model=build_model,
)
