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
import hashlib
import json
import re
import unicodedata
from typing import Any, Literal, Sequence

import numpy as np

from rnn_apps.errors import UserError

SplitOrder = Literal["random", "ordered", "group"]


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

    @property
    def source(self) -> str:
        """Where the examples came from, without lines: ``"reviews.tsv"`` for ``"reviews.tsv:12"``,
        ``"coco.json"`` for ``"coco.json#annotation 3"`` (several sources joined by commas)."""
        def file(origin: str) -> str:
            stripped = re.sub(r":[0-9]+$", "", origin)
            return stripped if stripped != origin else re.sub(r"#[^#]*$", "", origin)

        return ", ".join(dict.fromkeys(file(origin) for origin in self.origins))

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
                   order: SplitOrder = "random", groups: Sequence | None = None,
                   held_out_ok: Sequence[bool] | None = None) -> dict[str, Examples]:
    """Deterministic train/val/test parts of ``examples``.

    ``random``: a seeded shuffle (same seed, same split). ``ordered``: train is the first
    part, val the next ``val_fraction``, test the last ``test_fraction``; text for a
    language model is split this way, since shuffled lines would put the neighbours of
    every validation line into training. ``group``: a seeded shuffle of whole groups
    (``groups[i]`` is example i's group: the captions of one image, the translations of
    one sentence, copies of one text), so no group straddles two parts and nothing of a
    held-out example was seen in training. ``held_out_ok[i]`` False keeps example i out of
    val and test (a phrase of a held-out sentence: dropped, not moved into training).
    """
    if order == "group":
        keys = list(dict.fromkeys(groups))  # first-seen order: deterministic
        parts = split_examples(Examples({"key": keys}, [str(k) for k in keys]), val_fraction, test_fraction, seed)
        where = {key: name for name, part in parts.items() for key in part["key"]}
        ok = held_out_ok if held_out_ok is not None else [True] * len(examples)
        return {name: examples.take([i for i, g in enumerate(groups) if where[g] == name and (name == "train" or ok[i])])
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


def concat(parts: Sequence[Examples]) -> Examples:
    """Consecutive ``Examples`` (the chunks of a stream) as one."""
    names = list(parts[0].columns) if parts else []
    return Examples({name: [v for part in parts for v in part[name]] for name in names},
                    [o for part in parts for o in part.origins])


def hash_fractions(keys: Sequence, seed: int, salt: str = "split") -> np.ndarray:
    """A number in [0, 1) for every key, the same for equal keys on every machine and run
    (a keyed BLAKE2 hash of the key's text), different for another ``seed`` or ``salt``.

    What a streamed split needs: an example's part follows from the example alone, so a
    file of any size is split in one pass, copies of a text land in one part, and every
    worker agrees without talking."""
    secret = f"{salt}:{seed}".encode()
    return np.array([int.from_bytes(hashlib.blake2b(str(key).encode("utf-8", "surrogatepass"), digest_size=8,
                                                    key=secret).digest(), "little") / 2.0**64 for key in keys])


def hash_parts(keys: Sequence, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """``"train"`` / ``"val"`` / ``"test"`` for every key by ``hash_fractions``: about
    ``test_fraction`` of the distinct keys go to test, ``val_fraction`` to val."""
    u = hash_fractions(keys, seed)
    return np.where(u < test_fraction, "test", np.where(u < test_fraction + val_fraction, "val", "train"))


# --- honest groups -----------------------------------------------------------------------
WORD = re.compile(r"\w+|[^\w\s]")


def text_key(value: Any) -> Any:
    """What makes two examples copies of each other: text compared by its words
    (case, spacing and Unicode form ignored); anything else (an image path) as it is."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return " ".join(WORD.findall(unicodedata.normalize("NFKC", value).lower()))
    return value if isinstance(value, (int, float, tuple)) else id(value)  # an array: shared by its examples


def containment_groups(texts: Sequence, max_phrase: int = 64) -> tuple[list[int], list[bool]]:
    """Group every text with a longer text that contains it word for word.

    Phrase treebanks (SST-2) hold each sentence and its phrases as separate examples; a
    random split would train on the phrases of a test sentence. Here a text contained in
    another (as a run of whole words, up to ``max_phrase`` words) joins the group of the
    first *whole* text (one contained in no other) that contains it; copies (same
    ``text_key``) share a group. A common phrase ("the film") contained in many sentences
    joins one of them, as it should: it says nothing about the others.

    Returns:
        ``groups[i]``: the index of the whole text example i belongs to, and
        ``whole[i]``: True when text i is contained in no other text.

    Runs in numpy: each run of n words inside a longer text gets a 64-bit polynomial hash,
    looked up among the hashes of the n-word texts, for each n present (a second or two
    for SST-2's 67k texts).
    """
    keys = [text_key(t) for t in texts]
    first_of: dict = {}
    first = np.array([first_of.setdefault(k, i) for i, k in enumerate(keys)])
    unique = np.flatnonzero(first == np.arange(len(keys)))  # one example per distinct text
    vocab: dict[str, int] = {}
    words = [np.array([vocab.setdefault(w, len(vocab) + 1) for w in keys[u].split()], np.uint64) for u in unique]
    lengths = np.array([len(w) for w in words], np.int64)
    tokens = np.concatenate(words + [np.zeros(0, np.uint64)])
    owner = np.repeat(np.arange(len(words)), lengths)  # which text each token belongs to
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ends = starts + lengths
    base = 1_000_003  # odd, so invertible modulo 2**64: a span's hash does not depend on where it is
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        one = np.ones(1, np.uint64)
        powers = np.concatenate([one, np.cumprod(np.full(len(tokens), base, np.uint64))])
        inverse = np.concatenate([one, np.cumprod(np.full(len(tokens), pow(base, -1, 2**64), np.uint64))])
        prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(tokens * powers[:len(tokens)], dtype=np.uint64)])

        def span_hash(begin: np.ndarray, n: int) -> np.ndarray:
            return (prefix[begin + n] - prefix[begin]) * inverse[begin]

        containers: list[np.ndarray] = []
        for n in np.unique(lengths[(lengths > 0) & (lengths <= max_phrase)]):
            n = int(n)
            short = np.flatnonzero(lengths == n)
            begin = np.flatnonzero(lengths[owner] > n)  # tokens of longer texts
            begin = begin[begin + n <= ends[owner[begin]]]  # runs of n words inside one text
            hashes = span_hash(begin, n)
            table = span_hash(starts[short], n)
            order = np.argsort(table)
            at = np.minimum(np.searchsorted(table[order], hashes), len(order) - 1)
            hit = table[order][at] == hashes
            containers.append(np.stack([short[order][at[hit]], owner[begin[hit]]], axis=1))
    pairs = np.concatenate(containers) if containers else np.zeros((0, 2), np.int64)
    whole = np.ones(len(words), bool)
    whole[pairs[:, 0]] = False
    pairs = pairs[whole[pairs[:, 1]]]  # containers that are whole texts; keep the first per text
    group = np.arange(len(words))
    if len(pairs):
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        firsts = np.concatenate([[True], pairs[1:, 0] != pairs[:-1, 0]])
        group[pairs[firsts, 0]] = pairs[firsts, 1]
    position = {int(u): k for k, u in enumerate(unique)}
    return ([int(unique[group[position[int(f)]]]) for f in first],
            [bool(whole[position[int(f)]]) for f in first])
