"""Reading examples from where users keep them: tables, JSON lines, TFDS.

All readers return :class:`~rnn_apps.data.examples.Examples`: named columns plus, for
every example, where it came from (``"reviews.tsv:12"``). Tables give text; JSON lines
and TFDS keep their types (numbers, lists, image arrays).

Sources (a string the user passes as ``--data``):

* ``path.tsv`` / ``path.txt``: tab-separated, no quoting (the GLUE and UCI format).
* ``path.csv``: comma-separated with standard CSV quoting.
* ``path.jsonl``: one JSON object per line.
* ``tfds:NAME[:SPLIT]``: a TensorFlow Datasets dataset that is already prepared in the
  TFDS data dir (nothing is downloaded; the split defaults to ``train``).

Columns are chosen by name (needs a header), by 0-based position, or ``auto``: a header
is recognised when its first row names every wanted column (``sentence``/``text``/...
and ``label``/``sentiment``/...); otherwise the wanted columns are taken by position.
"""
from __future__ import annotations

import codecs
import csv
import itertools
import json
import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from rnn_apps.data.examples import Examples
from rnn_apps.errors import UserError

TABLE_SUFFIXES = (".tsv", ".txt", ".csv", ".jsonl")


def read_source(source: str, wanted: dict[str, str], aliases: dict[str, Sequence[str]],
                tfds_data_dir: str | None = None) -> Examples:
    """Read the columns in ``wanted`` (our name -> user's column spec) from ``source``.

    ``aliases`` lists, for each wanted column, header names that ``auto`` recognises.
    """
    if source.startswith("tfds:"):
        return read_tfds(source, wanted, aliases, tfds_data_dir)
    return _collected(*file_rows(source, wanted, aliases), wanted)


def file_rows(source: str, wanted: dict[str, str], aliases: dict[str, Sequence[str]]) -> tuple[Path, Iterator]:
    """The file ``source`` names and a stream of its ``(file:line, wanted values)`` rows, by its type."""
    path = Path(source)
    kind = path_kind(path)
    if kind is None:
        raise UserError(f"no such file: {source}")
    if kind == "dir":
        raise UserError(f"{source} is a directory; give a {'/'.join(TABLE_SUFFIXES)} file or tfds:NAME")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return path, jsonl_rows(path, wanted, aliases)
    if suffix in (".tsv", ".txt", ".csv"):
        return path, table_columns(path, wanted, aliases, delimiter="," if suffix == ".csv" else "\t")
    raise UserError(f"{source}: unsupported file type {suffix or '(none)'}; "
                    f"supported: {', '.join(TABLE_SUFFIXES)} files and tfds:NAME[:SPLIT]")


def path_kind(path: Path) -> str | None:
    """``"dir"``, ``"file"`` or None (nothing there); a path the system refuses (a name too
    long) is a ``UserError`` naming it."""
    try:
        return "dir" if path.is_dir() else "file" if path.exists() else None
    except OSError as exc:
        shown = str(path) if len(str(path)) <= 240 else f"{str(path)[:120]}... ({len(str(path)):,} characters)"
        raise UserError(f"{shown}: {exc.strerror or exc}") from None


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a missing, unreadable or folder path is a ``UserError`` naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        shown = str(path) if len(str(path)) <= 240 else f"{str(path)[:120]}... ({len(str(path)):,} characters)"
        raise UserError(f"{shown}: cannot read ({exc.strerror or exc})") from None


def read_text_file(path: Path, errors: str = "strict") -> str:
    """Whole file as UTF-8 text (a UTF-8 byte-order mark is dropped); invalid bytes are
    reported with their line and byte offset (``errors="replace"`` turns them into U+FFFD
    instead). A missing or unreadable file is a ``UserError`` naming it."""
    data = read_bytes(path)
    if data.startswith(codecs.BOM_UTF8):  # Windows editors write one; it is not part of the text
        data = data[len(codecs.BOM_UTF8):]
    refuse_binary(path, data)
    if errors == "replace":
        return data.decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = " (UTF-16 or UTF-32 text: it starts with their byte-order mark; save it as UTF-8)" \
            if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ""
        raise UserError(f"{path}:{line}: invalid UTF-8 at byte offset {exc.start}{hint}") from None


# Control characters a text file has no use for: a share of them (or any NUL byte) in the first
# bytes marks a binary file (a picture, an archive, a model) given where text belongs.
_CONTROL = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27})
SNIFF_BYTES = 8192


def refuse_binary(path: Path, data: bytes) -> None:
    """A ``UserError`` naming the file and line if ``data`` is not text: a NUL byte anywhere
    (no text encoding but UTF-16/32 has one: those are named), or more than one byte in ten of
    the first ``SNIFF_BYTES`` a control character or not UTF-8 at all, which even
    ``encoding_errors=replace`` must not read as text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\0" in data[:SNIFF_BYTES]:
        # UTF-16/32 text has NUL bytes; without any, these two bytes are stray bytes in UTF-8 text
        raise UserError(f"{path}:1: invalid UTF-8 at byte offset 0 (UTF-16 or UTF-32 text: it starts with their "
                        f"byte-order mark; save it as UTF-8)")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise UserError(f"{path}:{line}: NUL byte at byte offset {nul}: a binary file, "
                        f"not text (UTF-16 text? save it as UTF-8)")
    head = data[:SNIFF_BYTES]
    odd = sum(head.count(bytes([c])) for c in _CONTROL) + head.decode("utf-8", "replace").count("\ufffd")
    if head and odd * 10 > len(head):
        raise UserError(f"{path}:1: a binary file, not text ({odd} of its first {len(head)} bytes are control "
                        f"characters or not UTF-8)")


def text_lines(path: Path, nul_check: bool = False) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 file, read as a stream: line endings ``\\n``,
    ``\\r\\n`` and ``\\r`` kept (what ``csv`` wants), a UTF-8 byte-order mark dropped. Invalid
    bytes are reported with their line and byte offset (``invalid_utf8``); ``nul_check``: a
    NUL byte (a binary file, or UTF-16 text without a byte-order mark) too, where a table
    reader would otherwise take it for text."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError:
        read_bytes(path)  # the UserError naming what is wrong (missing, a folder, unreadable)
        raise
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if nul_check and "\0" in line:
                    raise UserError(f"{path}:{number}: NUL byte in a text table (a binary file, or UTF-16 text? "
                                    f"save it as UTF-8)")
                yield number, line
        except UnicodeDecodeError:
            raise invalid_utf8(path) from None


def invalid_utf8(path: Path) -> UserError:
    """The error for a file that is not UTF-8: the line (counting ``\\n``) and byte offset (after
    a UTF-8 byte-order mark) of its first invalid byte, found in one more pass, line by line."""
    with open(path, "rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            data = raw[len(codecs.BOM_UTF8):] if number == 1 and raw.startswith(codecs.BOM_UTF8) else raw
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                hint = " (UTF-16 or UTF-32 text: it starts with their byte-order mark; save it as UTF-8)" \
                    if number == 1 and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ""
                return UserError(f"{path}:{number}: invalid UTF-8 at byte offset {offset + exc.start}{hint}")
            offset += len(data)
    return UserError(f"{path}: invalid UTF-8 (a character cut at the end of the file)")


def table_rows(path: Path, delimiter: str = "\t", quoting: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of the non-blank rows of a delimited file, as a stream (cells
    stripped; ``quoting`` default: ``,`` standard CSV quoting, a quoted cell may span lines;
    tab no quoting)."""
    if quoting is None:
        quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    record: list[str] = []  # the lines of the record being read (a quoted cell may span several)

    def lines():
        for _, line in text_lines(path, nul_check=True):
            record.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, quoting=quoting)
    try:
        for row in reader:
            if quoting != csv.QUOTE_NONE and _quote_left_open(record, delimiter):
                raise UserError(f"{path}:{reader.line_num - len(record) + 1}: a quote opened on this line is never "
                                f"closed: it would take the rest of the file (to line {reader.line_num}) as one "
                                f"cell; close it, or double it (\"\") inside a quoted cell")
            record.clear()
            if any(cell.strip() for cell in row):
                yield reader.line_num, [cell.strip() for cell in row]
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: {exc}") from None


def _quote_left_open(lines: list[str], delimiter: str) -> bool:
    """Whether a record (its lines) ends inside a quoted cell: only the file's end stops one
    before its quote closes, and a lenient reader takes the rest of the file as that cell
    (strict CSV says "unexpected end of data")."""
    if not any('"' in line for line in lines):
        return False
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def iter_source(source: str, wanted: dict[str, str], aliases: dict[str, Sequence[str]],
                chunk: int = 50_000) -> Iterator[Examples]:
    """``read_source`` as a stream: consecutive ``Examples`` of at most ``chunk`` rows, each
    row checked as it is read; memory holds one chunk, whatever the file's size."""
    if source.startswith("tfds:"):
        raise UserError(f"{source}: streaming reads .tsv, .csv and .jsonl files; a tfds: source is read into "
                        f"memory (leave streaming off)")
    path, rows = file_rows(source, wanted, aliases)
    found = False
    for part in _chunks(rows, list(wanted), chunk):
        found = True
        yield _checked_non_empty(part)
    if not found:
        raise UserError(f"{path}: no examples found (the file is empty)")


def _chunks(rows: Iterable[tuple[str, list]], names: list[str], size: int) -> Iterator[Examples]:
    """``(origin, values in names' order)`` rows -> ``Examples`` of at most ``size`` rows."""
    columns: dict[str, list] = {name: [] for name in names}
    origins: list[str] = []
    for origin, values in rows:
        for name, value in zip(names, values):
            columns[name].append(value)
        origins.append(origin)
        if len(origins) >= size:
            yield Examples(columns, origins)
            columns, origins = {name: [] for name in names}, []
    if origins:
        yield Examples(columns, origins)


def _collected(path: Path, rows: Iterable[tuple[str, list]], wanted: dict[str, str]) -> Examples:
    """Every row of a stream as one ``Examples`` (checked: no empty value, not empty)."""
    rows = list(rows)
    if not rows:
        raise UserError(f"{path}: no examples found (the file is empty)")
    return _checked_non_empty(next(_chunks(rows, list(wanted), len(rows))))


def read_table(path: Path, wanted: dict[str, str], aliases: dict[str, Sequence[str]],
               delimiter: str = "\t") -> Examples:
    """Read a delimited file; blank lines are skipped, short rows are ``file:line`` errors."""
    return _collected(path, table_columns(path, wanted, aliases, delimiter), wanted)


def table_columns(path: Path, wanted: dict[str, str], aliases: dict[str, Sequence[str]],
                  delimiter: str = "\t") -> Iterator[tuple[str, list]]:
    """``(file:line, the wanted cells)`` of a delimited file, as a stream: a header is
    recognised on the first row (see the module), short rows are ``file:line`` errors."""
    rows = table_rows(path, delimiter)
    first = next(rows, None)
    if first is None:
        raise UserError(f"{path}: no examples found (the file is empty)")
    positions, has_header = _column_positions(path, first[1], wanted, aliases)
    needed = max(pos + 1 if pos >= 0 else -pos for pos in positions.values())  # -1: the last column
    sep = "tab" if delimiter == "\t" else "comma"
    found = False
    for line, row in (rows if has_header else itertools.chain([first], rows)):
        if len(row) < needed:
            raise UserError(f"{path}:{line}: expected at least {needed} {sep}-separated columns, "
                            f"found {len(row)}")
        found = True
        yield f"{path}:{line}", [row[pos] for pos in positions.values()]
    if has_header and not found:
        raise UserError(f"{path}: only a header line, no examples")


def read_jsonl(path: Path, wanted: dict[str, str], aliases: dict[str, Sequence[str]]) -> Examples:
    """Read one JSON object per line; keys are chosen like header names."""
    return _collected(path, jsonl_rows(path, wanted, aliases), wanted)


def jsonl_rows(path: Path, wanted: dict[str, str], aliases: dict[str, Sequence[str]]) -> Iterator[tuple[str, list]]:
    """``(file:line, the wanted values)`` of a JSON-lines file, as a stream; values keep
    their JSON types (each input kind converts what it reads)."""
    keys: dict[str, str] | None = None
    for number, line in text_lines(path):
        if not line.strip():
            continue
        record = _json_object(path, number, line)
        if keys is None:
            keys = {name: _pick_name(path, list(record), name, spec, aliases.get(name, ()))
                    for name, spec in wanted.items()}
        for key in keys.values():
            if key not in record:
                raise UserError(f"{path}:{number}: missing key {key!r}")
        yield f"{path}:{number}", [record[key] for key in keys.values()]


def _json_object(path: Path, number: int, line: str) -> dict:
    """One line of a JSON-lines file as a dict; anything else names the file and line."""
    try:
        record = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
        raise UserError(f"{path}:{number}: invalid JSON ({getattr(exc, 'msg', None) or exc})") from None
    except RecursionError:
        raise UserError(f"{path}:{number}: invalid JSON (nested too deeply)") from None
    if not isinstance(record, dict):
        raise UserError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    return record


def json_type(value) -> str:
    """What a JSON value is (``a list``, ``null``), for a message that must not echo the value."""
    kinds = ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "a list"), (dict, "an object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def tfds_builder(source: str, data_dir: str | None = None):
    """The builder and split of ``tfds:NAME[:SPLIT]``, from an already prepared TFDS data dir
    (nothing is downloaded); a clear error names the data dir when it is not prepared there."""
    _, _, rest = source.partition(":")
    name, _, split = rest.partition(":")
    split = split or "train"
    if not name:
        raise UserError("tfds source needs a name: tfds:NAME[:SPLIT]")
    import tensorflow_datasets as tfds  # heavy: only when asked for

    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # DatasetNotFoundError and friends
        raise UserError(f"tfds dataset {name!r} is unknown to tensorflow-datasets ({type(exc).__name__})") from None
    if not builder.is_prepared():
        raise UserError(f"tfds dataset {name!r} is not prepared in {data_dir}; prepare it there on a "
                        f"machine with network access (tfds build {name} --data_dir {data_dir}) "
                        f"or pass --set tfds_data_dir=DIR")
    if split not in builder.info.splits:
        raise UserError(f"tfds dataset {name!r} has no split {split!r}; splits: "
                        f"{', '.join(builder.info.splits)}")
    return builder, split


def read_tfds_records(source: str, data_dir: str | None = None) -> list[dict]:
    """Every record of a prepared TFDS split as nested dicts of numpy values (text decoded),
    for tasks whose records nest (CLEVR: an image with a list of questions and answers)."""
    import tensorflow_datasets as tfds

    builder, split = tfds_builder(source, data_dir)

    def decoded(value):
        if isinstance(value, dict):
            return {k: decoded(v) for k, v in value.items()}
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        if isinstance(value, np.ndarray) and value.dtype == object:
            return [decoded(v) for v in value]
        return value

    records = [decoded(record) for record in tfds.as_numpy(builder.as_dataset(split=split))]
    if not records:
        raise UserError(f"{source}: the split is empty")
    return records


def read_tfds(source: str, wanted: dict[str, str], aliases: dict[str, Sequence[str]],
              data_dir: str | None = None) -> Examples:
    """Read the ``wanted`` columns of ``tfds:NAME[:SPLIT]`` from an already prepared TFDS data dir."""
    import tensorflow_datasets as tfds

    builder, split = tfds_builder(source, data_dir)
    features = builder.info.features
    header = list(features.keys())
    keys = {n: _pick_name(Path(source), header, n, spec, aliases.get(n, ())) for n, spec in wanted.items()}
    columns: dict[str, list] = {n: [] for n in wanted}
    origins = []
    for i, record in enumerate(tfds.as_numpy(builder.as_dataset(split=split))):
        for n, key in keys.items():
            value = record[key]
            if isinstance(value, bytes):
                value = value.decode("utf-8", errors="replace")
            elif hasattr(features[key], "int2str") and np.ndim(value) == 0:
                value = features[key].int2str(int(value))  # ClassLabel: keep the label's name
            columns[n].append(value)  # arrays (images, clips) stay arrays
        origins.append(f"{source}#{i}")
    if not origins:
        raise UserError(f"{source}: the split is empty")
    return Examples(columns, origins)


def _column_positions(path: Path, first_row: list[str], wanted: dict[str, str],
                      aliases: dict[str, Sequence[str]]) -> tuple[dict[str, int], bool]:
    """Map wanted columns to positions; says whether the first row is a header."""
    lowered = [cell.lower() for cell in first_row]
    specs = list(wanted.items())
    if all(spec == "auto" for _, spec in specs):
        found = {name: next((lowered.index(a) for a in aliases.get(name, ()) if a in lowered), None)
                 for name, _ in specs}
        if all(pos is not None for pos in found.values()):
            return found, True
        return {name: i for i, (name, _) in enumerate(specs)}, False
    if all(spec == "auto" or re.fullmatch(r"-?[0-9]+", spec) for _, spec in specs):
        return {name: (int(spec) if spec != "auto" else i) for i, (name, spec) in enumerate(specs)}, False
    return {name: lowered.index(_pick_name(path, first_row, name, spec, aliases.get(name, ())).lower())
            for name, spec in specs}, True


def _pick_name(path: Path, names: list[str], ours: str, spec: str, aliases: Sequence[str]) -> str:
    """Choose the column/key for ``ours`` among ``names`` by explicit name or alias."""
    lowered = {n.lower(): n for n in names}
    if spec != "auto":
        if spec.lower() in lowered:
            return lowered[spec.lower()]
        raise UserError(f"{path}: no column named {spec!r} for the {ours}; columns: {_listed(names)}")
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    raise UserError(f"{path}: cannot tell which column holds the {ours}; columns: {_listed(names)} "
                    f"(choose with --set {ours}_column=NAME)")


def _listed(names: Sequence[str], most: int = 20) -> str:
    """Column names for a one-line message: odd ones (line breaks, control characters, very
    long) quoted and cut, and at most ``most`` of them."""
    shown = [n if n.isprintable() and len(n) <= 40 else repr(n[:40]) for n in names[:most]]
    return ", ".join(shown) + (f", ... ({len(names)} in all)" if len(names) > most else "") or "(none)"


def _checked_non_empty(examples: Examples) -> Examples:
    for name, values in examples.columns.items():
        for value, origin in zip(values, examples.origins):
            if value is None or (isinstance(value, str) and not value.strip()):
                raise UserError(f"{origin}: empty {name}")
    return examples


def read_records(path: Path) -> list[tuple[str, dict]]:
    """Rows of a table with a header (``.csv``, ``.tsv``) or objects of a ``.jsonl`` file, each
    with its ``file:line``: ``[(origin, {column: value})]``. For label files of the media tasks,
    whose columns differ by layout (a label per frame, segments, several answers)."""
    kind = path_kind(path)
    if kind == "dir":
        raise UserError(f"{path} is a directory; give a .csv, .tsv or .jsonl file")
    if kind is None:
        raise UserError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = []
        for number, line in text_lines(path):
            if not line.strip():
                continue
            records.append((f"{path}:{number}", _json_object(path, number, line)))
    elif suffix in (".csv", ".tsv", ".txt"):
        rows = list(table_rows(path, "," if suffix == ".csv" else "\t", quoting=csv.QUOTE_MINIMAL))
        if not rows:
            raise UserError(f"{path}: no records found (the file is empty)")
        header = [name.lower() for name in rows[0][1]]
        records = []
        for line, row in rows[1:]:
            if len(row) != len(header):
                raise UserError(f"{path}:{line}: expected {len(header)} columns ({_listed(header)}), found {len(row)}")
            records.append((f"{path}:{line}", dict(zip(header, row))))
    else:
        raise UserError(f"{path}: unsupported file type {suffix or '(none)'}; supported: .csv, .tsv, .jsonl")
    if not records:
        raise UserError(f"{path}: no records found")
    return records
