"""Pictures a user would rather look at than read: training curves, attention maps, frame
strips, answered image questions.

Figures are drawn with matplotlib's Agg backend (no screen needed) and written
atomically (temporary file, then rename).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from rnn_apps.errors import UserError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: Path) -> Path:
    """Write ``fig`` to ``out`` in the format its extension names (``runs.IMAGE_FORMATS``),
    atomically; a place where it cannot be written is a ``UserError`` naming it, and only a
    file that is really there is returned."""
    from rnn_apps.runs import IMAGE_FORMATS, check_output_file, temp_sibling

    out = check_output_file(out, image=True)
    tmp = temp_sibling(out, out.suffix)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=IMAGE_FORMATS[out.suffix.lower()])
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"cannot write {out} ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
        _pyplot().close(fig)
    return out


def plot_history(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Loss and metrics per epoch, train and validation, from ``RUN_DIR/history.json``."""
    run_dir = Path(run_dir)
    history_file = run_dir / "history.json"
    if not history_file.is_file():
        raise UserError(f"{run_dir} has no history.json (is it a finished rnn-apps run?)")
    history = json.loads(history_file.read_text())
    names = [k for k in history if k != "epoch" and not k.startswith("val_")]
    if not names or not history[names[0]]:
        raise UserError(f"{history_file} holds no epochs yet")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    epochs = np.arange(1, len(history[names[0]]) + 1)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [np.nan if v is None else v for v in history[name]], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, [np.nan if v is None else v for v in history[f"val_{name}"]], marker="o",
                    label="validation")
        ax.set(title=name, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(run_dir.name)
    path = save_figure(fig, Path(out) if out else run_dir / "curves.png")
    plt.close(fig)
    return path


def plot_attention(attention: dict, out: str | Path, title: str = "") -> Path:
    """Heatmap of attention weights: one row per output token, one column per source token.

    Args:
        attention: ``{"weights": [T, S], "source_tokens": [S], "target_tokens": [T]}``
            (``Seq2Seq.attention``); each row sums to 1 over the real source tokens.
    """
    weights = np.asarray(attention["weights"])
    source, target = attention["source_tokens"], attention["target_tokens"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(3.0, 0.45 * len(source) + 1.5), max(2.5, 0.4 * len(target) + 1.2)))
    image = ax.imshow(weights[: len(target), : len(source)], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set(xlabel="source", ylabel="output")
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    if title:
        ax.set_title(title, fontsize=9)
    path = save_figure(fig, Path(out))
    plt.close(fig)
    return path


def plot_frame_labels(frames, labels, out: str | Path, columns: int = 12, title: str = "") -> Path:
    """A strip of frames ``[T, H, W, C]`` (float 0..1) with each frame's label under it; long
    clips show ``columns`` frames evenly spaced, and a coloured bar of every frame's label."""
    frames, labels = np.asarray(frames), list(labels)
    shown = np.unique(np.linspace(0, len(frames) - 1, min(columns, len(frames))).round().astype(int))
    names = sorted(set(labels), key=labels.index)
    plt = _pyplot()
    fig = plt.figure(figsize=(1.3 * len(shown), 2.3))
    grid = fig.add_gridspec(2, len(shown), height_ratios=[4, 1])
    for i, t in enumerate(shown):
        ax = fig.add_subplot(grid[0, i])
        image = frames[t][..., 0] if frames.shape[-1] == 1 else frames[t]
        ax.imshow(image, cmap="gray" if frames.shape[-1] == 1 else None, vmin=0, vmax=1)
        ax.set_title(f"{t}: {labels[t]}", fontsize=7)
        ax.axis("off")
    bar = fig.add_subplot(grid[1, :])
    bar.imshow(np.array([[names.index(label) for label in labels]]), aspect="auto", cmap="tab10",
               vmin=0, vmax=9, interpolation="nearest")
    bar.set_yticks([])
    bar.set_xlabel("frame (colour = label: " + ", ".join(names) + ")", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    path = save_figure(fig, Path(out))
    plt.close(fig)
    return path


def plot_image_attention(attention: dict, out: str | Path, title: str = "", columns: int = 5) -> Path:
    """One small panel per generated word: the image with that step's attention over the
    grid upsampled on top (hard attention: the one chosen cell lights up).

    Args:
        attention: ``{"weights": [T, L], "image": [H, W, C] float 0..1, "target_tokens": [T]}``
            (``TokenSequence.attention``); L is a square grid of locations.
    """
    weights, image, words = np.asarray(attention["weights"]), np.asarray(attention["image"]), attention["target_tokens"]
    side = int(round(np.sqrt(weights.shape[-1])))
    rows = -(-len(words) // columns)
    plt = _pyplot()
    fig, axes = plt.subplots(rows, min(columns, len(words)), figsize=(2.0 * min(columns, len(words)), 2.2 * rows),
                             squeeze=False)
    height, width = image.shape[:2]
    for ax in axes.ravel():
        ax.axis("off")
    for t, (ax, word) in enumerate(zip(axes.ravel(), words)):
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None)
        grid = weights[t].reshape(side, side)
        ax.imshow(np.kron(grid, np.ones((height // side + 1, width // side + 1)))[:height, :width], cmap="magma",
                  alpha=0.55, vmin=0.0, vmax=max(float(grid.max()), 1e-6), extent=(0, width, height, 0))
        ax.set_title(word, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    path = save_figure(fig, Path(out))
    plt.close(fig)
    return path


def plot_answers(image, question: str, top: list[dict], out: str | Path, title: str = "") -> Path:
    """An image question answered: the image ``[H, W, C]`` (float 0..1) on the left, the
    question above the most likely answers and their probabilities on the right.

    Args:
        top: ``[{"label", "probability"}]``, most likely first (``ClassLabel.predict``'s ``top``).
    """
    image = np.asarray(image)
    labels = [t["label"] for t in top][::-1]  # barh draws bottom-up: the best answer on top
    probabilities = [t["probability"] for t in top][::-1]
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(5.6, 2.4), gridspec_kw={"width_ratios": [1, 1.3]})
    left.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None,
                vmin=0, vmax=1, interpolation="nearest")
    left.axis("off")
    colours = ["#bbbbbb"] * (len(labels) - 1) + ["#1f77b4"]
    right.barh(range(len(labels)), probabilities, color=colours)
    right.set_yticks(range(len(labels)), labels)
    right.set_xlim(0, 1)
    right.set_xlabel("probability")
    for y, p in enumerate(probabilities):  # the number beside its bar, or inside a long one
        inside = p > 0.8
        right.text(p - 0.02 if inside else p + 0.02, y, f"{p:.2f}", va="center", ha="right" if inside else "left",
                   fontsize=8, color="white" if inside else "black")
    right.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{title}\n{question}" if title else question, fontsize=10)
    path = save_figure(fig, Path(out))
    plt.close(fig)
    return path
