"""Pictures a user would rather look at than read: training curves, attention maps.

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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, out)
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
        ax.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
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
