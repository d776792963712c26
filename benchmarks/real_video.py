"""Video on data it was not built around: moving-digit clips in the stem layout of real datasets.

Why: the built-in clips (a square on a grey field) are what ``video`` was made on. This
builds a public stand-in for the clips a user brings: a handwritten digit that moves left,
right, up or down and pauses, labelled per frame with the motion that brought it there
(``still`` when it did not move; frame 0 is ``still``). The digits are scikit-learn's
bundled 8x8 digits (``sklearn.datasets.load_digits``, no download) when scikit-learn is
installed — it is *not* a dependency of rnn-apps: ``.venv/bin/pip install scikit-learn``
for this benchmark — and otherwise digits drawn from a small 5x7 bitmap font with random
stroke jitter. Clips are written as a real dataset lays them out, named by stem:

    labels_train.csv (clip,frame,label; clip = train_0000)   clips/train/train_0000.npy ...
    labels_test.csv                                           clips/test/test_0000.npy ...

and ``rnn_apps.train`` reads them through the same reader a user's files go through, with
``test_data=labels_test.csv``: the reported accuracy is per frame on the held-out test clips
(other digits, other paths). Rows, each on the same files:

* ``default``: the default config (``motion=auto``, i.e. ``pixels`` with the small CNN, since issue 25);
* ``motion=none``: the default before issue 25 (frames alone into the CNN + bidirectional GRU);
* ``motion=features``: the feature-difference variant (works with any CNN);
* ``single frame``: ``temporal=none motion=none``, a per-frame CNN that sees no motion;
* ``logistic regression on frame differences``: softmax regression on ``x_t - x_{t-1}``
  (2x2-pooled pixels), scikit-learn's ``LogisticRegression`` or, without it, the same model
  fitted by gradient descent in numpy.

Prints a table and writes ``benchmarks/results/real_video.json``; ``run(quick)`` returns
the rows (``bench_vision_real.py`` calls it).

    python benchmarks/real_video.py [--quick] [--train 1000] [--test 300] [--rows default,single]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
MOTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
CANVAS = 48  # pixels square; the default config resizes to 32
ROWS = {"default": [], "motion=none": ["motion=none"], "motion=features": ["motion=features"],
        "single frame": ["temporal=none", "motion=none"]}

# A 5x7 bitmap font of the ten digits, for when scikit-learn is not installed.
FONT = ["01110100011001110101110011000101110", "00100011000010000100001000010001110",
        "01110100010000100010001000100011111", "11111000100010000010000011000101110",
        "00010001100101010010111110001000010", "11111100001111000001000011000101110",
        "00110010001000011110100011000101110", "11111000010001000100010000100001000",
        "01110100011000101110100011000101110", "01110100011000101111000010001001100"]


def glyphs(seed: int) -> tuple[list[np.ndarray], str]:
    """Digit pictures, float 0..1, ``[h, w]``, shuffled; and where they come from."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(seed)
        out = []
        for k in range(2000):
            bits = np.array([int(c) for c in FONT[k % 10]], float).reshape(7, 5)
            jitter = np.clip(bits * rng.uniform(0.6, 1.0, bits.shape) + rng.uniform(0, 0.25, bits.shape) *
                             (rng.random(bits.shape) < 0.15), 0, 1)
            out.append(np.pad(jitter, ((0, 1), (1, 2))))  # 8x8, like the scikit-learn digits
        return out, "5x7 bitmap font with jitter (scikit-learn not installed)"
    images = load_digits().images / 16.0
    order = np.random.default_rng(seed).permutation(len(images))
    return [images[i] for i in order], "scikit-learn load_digits (8x8)"


def clip(rng: random.Random, glyph: np.ndarray, frames: int, canvas: int = CANVAS,
         speeds: tuple[int, ...] = (2, 3)) -> tuple[np.ndarray, list[str]]:
    """``[frames, canvas, canvas]`` uint8 of ``glyph`` (scaled x3) moving ``speeds`` pixels a
    frame and pausing, and the label of every frame: the motion from the frame before
    (``still`` for frame 0)."""
    digit = np.kron(glyph, np.ones((3, 3)))  # 24 x 24
    size, speed = digit.shape[0], rng.choice(speeds)
    brightness, noise = rng.uniform(150, 255), rng.uniform(0, 8)
    x, y = rng.randint(0, canvas - size), rng.randint(0, canvas - size)
    labels, pictures, motion, left = [], [], "still", 0
    for t in range(frames):
        if t:
            if left == 0:  # a new segment: a pause of 1-4 frames or a movement of 2-7
                fits = [m for m, (dx, dy) in MOTIONS.items()
                        if 0 <= x + 2 * speed * dx <= canvas - size and 0 <= y + 2 * speed * dy <= canvas - size]
                pause = motion != "still" and rng.random() < 0.6
                motion = "still" if pause or not fits else rng.choice([m for m in fits if m != motion] or fits)
                left = rng.randint(1, 4) if motion == "still" else rng.randint(2, 7)
            dx, dy = MOTIONS.get(motion, (0, 0))
            if not (0 <= x + speed * dx <= canvas - size and 0 <= y + speed * dy <= canvas - size):
                motion, dx, dy, left = "still", 0, 0, rng.randint(1, 3)  # at the edge: stop
            x, y, left = x + speed * dx, y + speed * dy, left - 1
        labels.append("still" if t == 0 else motion)
        picture = np.zeros((canvas, canvas))
        picture[y:y + size, x:x + size] = digit * brightness
        picture += np.random.default_rng(rng.randrange(2**32)).normal(12, noise, (canvas, canvas))
        pictures.append(np.clip(picture, 0, 255).astype(np.uint8))
    return np.stack(pictures), labels


def write_split(root: Path, split: str, digits: list[np.ndarray], n: int, seed: int,
                **shape) -> tuple[Path, list, list]:
    """``n`` clips as ``clips/<split>/<split>_0000.npy`` and ``labels_<split>.csv`` naming them by stem."""
    rng = random.Random(seed)
    (root / "clips" / split).mkdir(parents=True, exist_ok=True)
    lines, clips, labels = ["clip,frame,label"], [], []
    for i in range(n):
        frames, ls = clip(rng, digits[i % len(digits)], rng.randint(24, 36), **shape)
        np.save(root / "clips" / split / f"{split}_{i:04d}.npy", frames)
        lines += [f"{split}_{i:04d},{t},{label}" for t, label in enumerate(ls)]
        clips.append(frames)
        labels.append(ls)
    (root / f"labels_{split}.csv").write_text("\n".join(lines) + "\n")
    return root / f"labels_{split}.csv", clips, labels


def differences(clips: list[np.ndarray]) -> np.ndarray:
    """Per frame ``x_t - x_{t-1}`` (0 for frame 0) of 2x2-pooled pixels in 0..1: ``[frames, 576]``."""
    out = []
    for frames in clips:
        side = frames.shape[1] // 2
        pooled = frames.reshape(len(frames), side, 2, side, 2).mean((2, 4)) / 255.0
        diff = np.diff(pooled, axis=0, prepend=pooled[:1])
        out.append(diff.reshape(len(frames), -1))
    return np.concatenate(out)


def logistic_regression(train: tuple, test: tuple) -> dict:
    """Per-frame accuracy of softmax regression on frame differences (scikit-learn or numpy)."""
    started = time.perf_counter()
    names = sorted({label for ls in train[1] for label in ls})
    x, y = differences(train[0]), np.array([names.index(label) for ls in train[1] for label in ls])
    x_test = differences(test[0])
    y_test = np.array([names.index(label) for ls in test[1] for label in ls])
    try:
        from sklearn.linear_model import LogisticRegression

        predicted = LogisticRegression(max_iter=500, C=10.0).fit(x, y).predict(x_test)
        how = "scikit-learn LogisticRegression"
    except ImportError:
        w, b = np.zeros((x.shape[1], len(names))), np.zeros(len(names))
        onehot = np.eye(len(names))[y]
        for _ in range(800):  # full-batch gradient descent on the cross-entropy
            logits = x @ w + b
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            w -= 20.0 * x.T @ (p - onehot) / len(x)
            b -= 2.0 * (p - onehot).mean(0)
        predicted, how = (x_test @ w + b).argmax(1), "numpy softmax regression (gradient descent)"
    still = y_test == names.index("still")
    return {"accuracy": float((predicted == y_test).mean()), "still_recall": float((predicted[still] == y_test[still])
            .mean()), "seconds": time.perf_counter() - started, "how": how}


def train_row(overrides: list[str], data: Path, test: Path, run_dir: Path) -> dict:
    """Train through ``rnn_apps.train`` on the label file; per-frame test accuracy and ``still`` recall."""
    from rich.console import Console

    import rnn_apps

    started = time.perf_counter()
    rnn_apps.train("video", data=str(data), run_dir=run_dir, overrides=[*overrides, f"test_data={test}"],
                   console=Console(stderr=True, quiet=True))
    metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
    recall = {row["label"]: row["recall"] for row in metrics.get("per_class", [])}
    return {"accuracy": metrics["accuracy"], "still_recall": recall.get("still"), "edit": metrics.get("edit"),
            "seconds": time.perf_counter() - started,
            "epochs": len(json.loads((run_dir / "history.json").read_text())["loss"])}


def run(quick: bool, train_clips: int | None = None, test_clips: int | None = None,
        rows: list[str] | None = None, seed: int = 0, canvas: int = CANVAS,
        speeds: tuple[int, ...] = (2, 3)) -> list[dict]:
    """Rows ``{task, data, model, overrides, accuracy, still_recall, seconds, ...}``: the default
    config and the baselines on the same moving-digit clips (quick: 300 training clips);
    ``canvas`` and ``speeds`` (pixels a frame) vary the clips (the model sees 32 x 32)."""
    train_clips = train_clips or (300 if quick else 1000)
    test_clips = test_clips or (100 if quick else 300)
    digits, source = glyphs(seed)
    cut = len(digits) * 3 // 4  # test clips show digits no training clip shows
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shape = {"canvas": canvas, "speeds": speeds}
        train_file, *train = write_split(root, "train", digits[:cut], train_clips, seed, **shape)
        test_file, *test = write_split(root, "test", digits[cut:], test_clips, seed + 1, **shape)
        data = (f"moving digits ({source}), {train_clips} train / {test_clips} test clips, 24-36 frames, "
                f"{canvas}x{canvas}, {'/'.join(map(str, speeds))} px a frame")
        for name in rows or [*ROWS, "logistic regression"]:
            if name == "logistic regression":
                result = logistic_regression(train, test)
                model, overrides = f"logistic regression on frame differences ({result.pop('how')})", []
            else:
                overrides = ROWS[name]
                result, model = train_row(overrides, train_file, test_file, root / "runs" / name), f"video {name}"
            out.append({"task": "video", "data": data, "model": model, "overrides": overrides, **result})
            print(f"{model}: per-frame accuracy {result['accuracy']:.4f}", file=sys.stderr)
    return out


def print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "per-frame accuracy", "still recall", "epochs", "seconds", title=rows[0]["data"])
    for r in rows:
        table.add_row(r["model"], f"{r['accuracy']:.4f}",
                      "-" if r.get("still_recall") is None else f"{r['still_recall']:.3f}",
                      str(r.get("epochs", "-")), f"{r['seconds']:.0f}")
    Console(width=140).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 training and 100 test clips")
    parser.add_argument("--train", type=int, default=None, help="training clips (default 1000, quick 300)")
    parser.add_argument("--test", type=int, default=None, help="test clips (default 300, quick 100)")
    parser.add_argument("--rows", default="",
                        help=f"comma-separated subset of {', '.join([*ROWS, 'logistic regression'])}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--canvas", type=int, default=CANVAS, help="clip size in pixels (even, at least 32)")
    parser.add_argument("--speeds", default="2,3", help="pixels a frame a moving digit travels, one per clip")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "real_video.json")
    args = parser.parse_args()
    rows = run(args.quick, args.train, args.test, [r.strip() for r in args.rows.split(",") if r.strip()] or None,
               args.seed, args.canvas, tuple(int(v) for v in args.speeds.split(",")))
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temp = args.out.with_name(f".{args.out.name}.tmp")
    temp.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    temp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
