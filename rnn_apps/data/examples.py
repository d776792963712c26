"""Examples as read from a source, and their train/validation/test split.

Every reader returns :class:`Examples`: named columns of equal length plus, for every
example, where it came from (``"reviews.tsv:12"``), so that a bad value found later (an
unknown label, an unreadable image) is reported with its file and line. Values keep the
type the source gave them (text from a table, a number from JSON, an array from
TensorFlow Datasets); each input kind (``rnn_apps.data.inputs``) turns them into what its
model input needs.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal, Sequence

import numpy as np

from rnn_apps.errors import UserError

SplitOrder = Literal["random", "ordered", "grouped"]


@dataclasses.dataclass
class Examples:
    """Named columns of equal length, with where each example came from.

    ``columns["text"][i]`` and ``origins[i]`` (e.g. ``"data.tsv:12"``) describe example i.
    """

    columns: dict[str, list]
    origins: list[str]

    def __len__(self) -> int:
        return len(self.origins)

    def __getitem__(self, name: str) -> list:
        return self.columns[name]

    def take(self, indices: Sequence[int]) -> "Examples":
        return Examples({k: [v[i] for i in indices] for k, v in self.columns.items()},
                        [self.origins[i] for i in indices])


def as_text(value: Any) -> str:
    """A value read from a file as text: strings as they are, bytes as UTF-8, numbers and
    booleans as JSON writes them (``1``, ``true``), so a JSON label 1 and a TSV label "1" agree."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
    return json.dumps(value, ensure_ascii=False)


def split_examples(examples: Examples, val_fraction: float, test_fraction: float, seed: int,
                   order: SplitOrder = "random", groups: Sequence | None = None) -> dict[str, Examples]:
    """Deterministic train/val/test parts of ``examples``.

    ``random``: a seeded shuffle (same seed, same split). ``ordered``: train is the first
    part, val the next ``val_fraction``, test the last ``test_fraction``; text for a
    language model is split this way, since shuffled lines would put the neighbours of
    every validation line into training. ``grouped``: a seeded shuffle of whole groups
    (``groups[i]`` is example i's group: the captions of one image), so no group straddles
    two parts and nothing of a held-out example was seen in training.
    """
    if order == "grouped":
        keys = list(dict.fromkeys(groups))  # first-seen order: deterministic
        parts = split_examples(Examples({"key": keys}, [str(k) for k in keys]), val_fraction, test_fraction, seed)
        where = {key: name for name, part in parts.items() for key in part["key"]}
        return {name: examples.take([i for i, g in enumerate(groups) if where[g] == name])
                for name in ("train", "val", "test")}
    n = len(examples)
    n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
    if n - n_test - n_val < 1:
        raise UserError(f"only {n} examples: too few to split into train/val/test")
    if order == "ordered":
        n_train = n - n_test - n_val
        return {"train": examples.take(range(n_train)), "val": examples.take(range(n_train, n - n_test)),
                "test": examples.take(range(n - n_test, n))}
    shuffled = np.random.default_rng(seed).permutation(n)
    return {"test": examples.take(shuffled[:n_test]), "val": examples.take(shuffled[n_test:n_test + n_val]),
            "train": examples.take(shuffled[n_test + n_val:])}
