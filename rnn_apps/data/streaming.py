"""Data larger than memory: a file read as a stream, split by hashing, fitted on a sample.

With ``streaming: true`` nothing holds the whole file. One pass (``scan``) before training:

* reads and checks every row (a bad row is a ``file:line`` error before anything is written);
* gives every row its part from a keyed hash of its group key (``hash_parts``): the same
  for the same text on every run and worker, so copies of a text stay in one part and the
  split needs no memory;
* counts the training rows and keeps a uniform sample of ``stream_sample`` of them (those
  with the smallest second hash), plus the first example of every label, on which the
  vocabularies, the label set and the bucket boundaries are fitted;
* keeps ``stream_held_out`` validation and test rows in memory (a uniform sample of each
  part, like the training sample) for validation and the final reports; the other
  held-out rows are skipped, never trained on.

Training then reads the file again every epoch, a chunk at a time (``ExampleStream``);
with several workers each keeps every N-th training row, so each encodes only its share.
Peak memory is a chunk, the shuffle buffer, the sample and the held-out rows, whatever
the file's size (``benchmarks/bench_stream.py`` measures it).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from rnn_apps.data.examples import Examples, as_text, concat, hash_fractions, hash_parts
from rnn_apps.errors import UserError
from rnn_apps.progress import status


@dataclasses.dataclass
class ExampleStream:
    """The training part of a source read as a stream.

    Attributes:
        read: ``() -> chunks`` of the whole source, from its start (each call reads it again).
        keys: a chunk's group keys (what the split hashes).
        fractions: ``(val_fraction, test_fraction)`` of the hashed split.
        seed: the split's seed.
        count: training examples in the whole source (all workers together).
        sample: a uniform sample of them, in memory (what features are fitted on).
        shard: ``(index, workers)``: this worker keeps training rows ``i % workers == index``.
    """

    read: Callable[[], Iterable[Examples]]
    keys: Callable[[Examples], Sequence]
    fractions: tuple[float, float]
    seed: int
    count: int
    sample: Examples
    shard: tuple[int, int] = (0, 1)

    def __len__(self) -> int:
        return self.count

    def parts(self, chunk: Examples) -> np.ndarray:
        """``"train"`` / ``"val"`` / ``"test"`` for every example of ``chunk``."""
        return hash_parts(self.keys(chunk), *self.fractions, self.seed)

    def chunks(self) -> Iterator[Examples]:
        """This worker's training examples, chunk by chunk, in file order."""
        index, workers = self.shard
        seen = 0
        for chunk in self.read():
            train = np.flatnonzero(self.parts(chunk) == "train")
            mine = train[(seen + np.arange(len(train))) % workers == index]
            seen += len(train)
            if len(mine):
                yield chunk.take(mine)

    def sharded(self, index: int, workers: int) -> "ExampleStream":
        """The same stream, keeping worker ``index`` of ``workers``' share of the rows."""
        return dataclasses.replace(self, shard=(index, workers))


def scan(read: Callable[[], Iterable[Examples]], keys: Callable[[Examples], Sequence], *, val_fraction: float,
         test_fraction: float, seed: int, sample_size: int, held_out_max: int, label: str | None = None,
         description: str = "the data") -> tuple[ExampleStream, Examples, Examples]:
    """One pass over ``read()``: the training ``ExampleStream`` and the held-out val and test
    examples (at most ``held_out_max`` each: a uniform bottom-k sample of each part, in file
    order, so a file sorted by label still gives balanced held-out parts).

    ``label``: a column whose every distinct value must appear in the sample, so that the
    label set fitted on it is complete (more than ``MAX_LABELS`` is a ``UserError``).
    """
    sample, sample_u = None, np.zeros(0)
    held_out: dict[str, tuple] = {"val": (None, np.zeros(0)), "test": (None, np.zeros(0))}
    firsts: dict[str, Examples] = {}
    count = 0
    with status(f"reading {description} as a stream: checking every row, splitting, sampling"):
        for chunk in read():
            parts = hash_parts(keys(chunk), val_fraction, test_fraction, seed)
            for name in ("val", "test"):
                part = chunk.take(np.flatnonzero(parts == name))
                if len(part):
                    held_out[name] = _smallest(*held_out[name], part, hash_fractions(row_lines(part), seed, name),
                                               held_out_max)
            train = chunk.take(np.flatnonzero(parts == "train"))
            count += len(train)
            if not len(train):
                continue
            if label:
                for i, value in enumerate(train[label]):
                    if as_text(value) not in firsts:
                        firsts[as_text(value)] = train.take([i])
                if len(firsts) > MAX_LABELS:
                    raise UserError(f"{description}: more than {MAX_LABELS:,} distinct {label}s while streaming; "
                                    f"is {label} the right column? (or leave streaming off)")
            sample, sample_u = _smallest(sample, sample_u, train, hash_fractions(row_lines(train), seed, "sample"),
                                         sample_size)
    if sample is None:
        raise UserError(f"{description}: no training examples left after holding out val and test")
    if firsts:
        have = {as_text(v) for v in sample[label]}
        missing = [part for value, part in firsts.items() if value not in have]
        sample = concat([sample, *missing])
    empty = Examples({name: [] for name in sample.columns}, [])
    stream = ExampleStream(read, keys, (val_fraction, test_fraction), seed, count, sample)
    return stream, *(held_out[name][0] or empty for name in ("val", "test"))


MAX_LABELS = 100_000  # distinct labels a stream keeps one example of each (a wrong column stops here)


def row_lines(part: Examples) -> list[str]:
    """Each example's line (``"12"`` of ``"data.tsv:12"``): what the samples and ``split: random``
    hash, so that a run resumed or evaluated with the path spelled another way (stored
    absolute) picks the same rows."""
    return [origin.rsplit(":", 1)[-1] for origin in part.origins]


def _smallest(kept: Examples | None, kept_u: np.ndarray, new: Examples, new_u: np.ndarray,
              size: int) -> tuple[Examples, np.ndarray]:
    """The ``size`` examples with the smallest ``u`` of ``kept`` and ``new`` (a bottom-k
    sample: uniform, and the same whatever the chunking)."""
    if kept is not None and len(kept_u) >= size:
        below = np.flatnonzero(new_u < kept_u.max())
        new, new_u = new.take(below), new_u[below]
        if not len(new):
            return kept, kept_u
    joined = new if kept is None else concat([kept, new])
    u = np.concatenate([kept_u, new_u])
    if len(u) > size:
        order = np.sort(np.argsort(u, kind="stable")[:size])  # file order kept
        return joined.take(order), u[order]
    return joined, u
