"""A run's data parts: what ``train``, ``evaluate`` and ``export`` read the same way.

``load_splits`` reads the task's data source (and the user's own held-out files), checks the
files an input reads (pictures, clips) so a missing one names its line, and splits train /
val / test as the task says (``Task.split_examples``, or ``Task.split_stream`` for a file
read as a stream), with the warnings a user should see about the held-out parts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rnn_apps.data.examples import Examples
from rnn_apps.errors import UserError


def load_splits(task: Any, cfg: Any, data: str | None):
    """The train/val/test ``Splits`` of ``data`` (and of ``cfg.val_data`` / ``cfg.test_data``,
    the user's own held-out files), with files an input reads (images, clips) checked first
    so that a missing one names its line."""
    features = task.features(cfg)

    def read(source: str | None) -> Examples:
        examples = task.load_examples(cfg, source)
        for name, kind in features.inputs.items():
            if hasattr(kind, "check"):
                kind.check(examples[name], examples.origins)
        return examples

    held_out = {name: read(getattr(cfg, f"{name}_data", "")) for name in ("val", "test")
                if getattr(cfg, f"{name}_data", "")}
    if getattr(cfg, "streaming", False):
        if data is None:
            raise UserError("streaming reads a file (--data FILE); the built-in data are generated in memory")
        splits = task.split_stream(data, cfg, **held_out)
    else:
        splits = task.split_examples(read(data), cfg, **held_out)
    notes = [splits.note] if splits.note else []
    splits.note = "; ".join(notes + held_out_warnings(splits, cfg, data))
    return splits


def held_out_warnings(splits: Any, cfg: Any, data: str | None) -> list[str]:
    """What the user should know about the held-out parts, streamed or not: a ``val_data`` /
    ``test_data`` that is the training file itself, and a part that came out empty (data too
    few for its fraction): then nothing measures generalisation, and ``evaluate`` needs --data."""
    warnings = []
    for name, noun in (("val", "validation"), ("test", "test")):
        given = getattr(cfg, f"{name}_data", "")
        if given and data and not data.startswith("tfds:") and _same_file(given, data):
            warnings.append(f"warning: {name}_data {given} is the training file itself: its {noun} metrics "
                            f"measure memory, not generalisation")
        elif not given and getattr(cfg, f"{name}_fraction", 0) > 0 and not len(splits[name]):
            warnings.append(f"warning: no {noun} part: {len(splits['train']):,} training examples are too few to "
                            f"hold any out at {name}_fraction {getattr(cfg, f'{name}_fraction')} (give more data, "
                            f"or your own file with --set {name}_data=FILE)")
    return warnings


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve() or Path(a).samefile(b)
    except OSError:
        return False
