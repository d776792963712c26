"""Hypothesis fuzzing of everything that reads a user's file.

Whatever the bytes, a reader either returns well-formed examples (columns of equal length,
every origin ``file:line`` of this file) or raises ``UserError`` with a one-line message that
names the file, never any other exception. The readers: ``rnn_apps.data.readers`` (text,
TSV/CSV tables, JSON lines, label records), config files (``rnn_apps.config``), pictures and
clips (``rnn_apps.data.media``) and the tasks' own label-file readers (``models/*``).
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness import READERS, for_task
from rnn_apps.data.readers import read_records, read_source, read_text_file
from rnn_apps.errors import UserError
from rnn_apps.models import TASKS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WANTED = {"text": "auto", "label": "auto"}
ALIASES = {"text": ("sentence", "text", "review"), "label": ("label", "sentiment")}

# Cells of a table: words, separators, quotes, header names, blanks, control characters.
CELL = st.one_of(st.sampled_from(["sentence", "label", "text", "a", "b", "good film", "", " ", '"', '""',
                                  "x,y", "\t", "'", "\\", "\r", "\0", "\ufeff", "é", "\u2028"]),
                 st.text(max_size=8))
ROW = st.lists(CELL, max_size=5)
SPEC = st.sampled_from(["auto", "0", "1", "2", "-1", "-3", "label", "sentence", "--1", "²", "nope"])
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3),
                          max_leaves=8)
RECORD = st.dictionaries(st.sampled_from(["text", "label", "clip", "labels", "image", "question", "answer",
                                          "answers", "caption", "frame", "start_frame", "end_frame", "tokens",
                                          "tags", "x"]),
                         JSON_VALUE, max_size=5)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def one_line_naming(exc: UserError, path: Path) -> str:
    message = str(exc)
    assert "\n" not in message, message
    assert path.name in message, f"{message!r} does not name {path.name}"
    return message


def check_examples(examples, path: Path, wanted) -> None:
    """Columns of equal length, one ``file:line`` origin each, in the file's line range."""
    data = path.read_bytes()
    lines = data.count(b"\n") + data.count(b"\r") + 1  # csv counts a lone CR as a line break too
    assert len(examples) > 0
    assert set(examples.columns) == set(wanted)
    for name, values in examples.columns.items():
        assert len(values) == len(examples.origins), name
    for origin in examples.origins:
        match = re.fullmatch(re.escape(str(path)) + r":(\d+)", origin)
        assert match, origin
        assert 1 <= int(match[1]) <= lines + 1, origin


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


# --- text, tables, JSON lines -----------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=300), errors=st.sampled_from(["strict", "replace"]))
@example(data=b"\xff\xfeh\x00i\x00", errors="strict")
@example(data=b"\xef\xbb\xbfhello\n", errors="strict")
def test_text_file_is_text_or_a_clear_error(folder, data, errors):
    path = write(folder, "notes.txt", data)
    try:
        text = read_text_file(path, errors=errors)
    except UserError as exc:
        message = one_line_naming(exc, path)
        if "a binary file, not text" in message:  # refused whatever encoding_errors says
            assert b"\0" in data or re.match(re.escape(str(path)) + r":1: a binary file", message)
            return
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16/32 text, whatever encoding_errors says
            assert message.startswith(f"{path}:1: invalid UTF-8 at byte offset 0 (UTF-16")
            return
        assert errors == "strict"
        assert re.match(re.escape(str(path)) + r":\d+: invalid UTF-8 at byte offset \d+", message)
        return
    assert b"\0" not in data
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # a UTF-8 byte-order mark is not text
    assert text == body.decode("utf-8", errors=errors)


@FUZZ
@given(text=st.text(max_size=200), at=st.integers(0, 200), binary=st.binary(min_size=1, max_size=64))
def test_binary_inside_text_is_named_by_line(folder, text, at, binary):
    """Bytes of a binary file (a NUL among them) anywhere in a text file: refused, naming the
    line the first NUL is on, with encoding_errors=replace too."""
    data = text.encode("utf-8", "replace")
    data = data[:at] + binary + b"\0" + data[at:]
    path = write(folder, "mixed.txt", data)
    with pytest.raises(UserError) as caught:
        read_text_file(path, errors="replace")
    line = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    expected_line = line.count(b"\n", 0, line.index(b"\0")) + 1
    message = one_line_naming(caught.value, path)
    assert message.startswith(f"{path}:{expected_line}: NUL byte") or f"{path}:1: a binary file" in message


QUOTED_CELL = st.text(st.sampled_from(list('ab ,"\n\té')), max_size=8)


@FUZZ
@given(rows=st.lists(st.lists(QUOTED_CELL, min_size=2, max_size=2), min_size=1, max_size=6),
       tail=st.lists(st.text(st.sampled_from(list("ab ,\t")), max_size=6), max_size=4),
       newline=st.booleans(), stream=st.booleans())
def test_csv_quote_open_at_the_end_is_named_where_it_opened(folder, rows, tail, newline, stream):
    """Any well-quoted CSV (as ``csv.writer`` writes it, cells with quotes, commas and line
    breaks) followed by a line whose quote never closes: the error names that line, read
    whole or streamed; without the bad line the file reads back cell for cell."""
    import csv
    import io

    from rnn_apps.data.readers import iter_source

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["text", "label"], *rows])
    good = out.getvalue()
    path = write(folder, "q.csv", good)
    wanted = {"text": "text", "label": "label"}
    try:
        examples = read_source(str(path), wanted, ALIASES)
        assert examples.columns["text"] == [r[0].strip() for r in rows if any(c.strip() for c in r)]
    except UserError as exc:
        assert "quote" not in one_line_naming(exc, path)
    opened = good.count("\n") + 1
    bad = good + 'x,"' + "\n".join(tail) + ("\n" if newline else "")
    path = write(folder, "q.csv", bad)
    with pytest.raises(UserError) as caught:
        list(iter_source(str(path), wanted, ALIASES)) if stream else read_source(str(path), wanted, ALIASES)
    assert one_line_naming(caught.value, path).startswith(f"{path}:{opened}: a quote opened on this line is never "
                                                           f"closed")


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".tsv", ".txt", ".csv", ".jsonl"]))
@example(data=b"sentence\tlabel\ngood\x00\tpositive\n", suffix=".tsv")
@example(data=b"[" * 5000, suffix=".jsonl")
@example(data=b'{"text": 1e999, "label": ' + b"9" * 5000 + b"}", suffix=".jsonl")
def test_any_bytes_read_as_a_table_or_fail_cleanly(folder, data, suffix):
    path = write(folder, "data" + suffix, data)
    try:
        examples = read_source(str(path), WANTED, ALIASES)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    check_examples(examples, path, WANTED)


@FUZZ
@given(rows=st.lists(ROW, max_size=6), suffix=st.sampled_from([".tsv", ".csv"]),
       text=SPEC, label=SPEC, ending=st.sampled_from(["\n", "\r\n", "\r"]))
@example(rows=[["a", "b", "c"], ["x", "y", "z"]], suffix=".tsv", text="-5", label="auto", ending="\n")
@example(rows=[["a", "b"], ["x", "y"]], suffix=".csv", text="--1", label="auto", ending="\n")
def test_table_rows_with_any_column_choice(folder, rows, suffix, text, label, ending):
    delimiter = "," if suffix == ".csv" else "\t"
    path = write(folder, "rows" + suffix, ending.join(delimiter.join(row) for row in rows))
    wanted = {"text": text, "label": label}
    try:
        examples = read_source(str(path), wanted, ALIASES)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    check_examples(examples, path, wanted)
    for values in examples.columns.values():
        assert all(isinstance(v, str) and v.strip() == v and v for v in values)


@FUZZ
@given(records=st.lists(st.one_of(RECORD, JSON_VALUE), max_size=5), blank=st.booleans())
@example(records=[{"text": "a", "label": 1}, {"text": "b"}], blank=False)
def test_json_lines_of_any_values(folder, records, blank):
    lines = [json.dumps(r) for r in records]
    if blank:
        lines.insert(len(lines) // 2, "  ")
    path = write(folder, "data.jsonl", "\n".join(lines))
    try:
        examples = read_source(str(path), WANTED, ALIASES)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    check_examples(examples, path, WANTED)


@FUZZ
@given(data=st.one_of(st.binary(max_size=300),
                      st.lists(ROW, max_size=6).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
                      st.lists(RECORD, max_size=5).map(lambda rs: "\n".join(map(json.dumps, rs)).encode())),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))
@example(data=b'clip,label\n"open,a\n', suffix=".csv")
def test_label_records_of_any_file(folder, data, suffix):
    path = write(folder, "labels" + suffix, data)
    try:
        records = read_records(path)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    assert records
    for origin, record in records:
        assert re.fullmatch(re.escape(str(path)) + r":\d+", origin) and isinstance(record, dict)


# --- config files ---------------------------------------------------------------------------------

CONFIG_VALUE = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False), st.booleans(), st.none(),
                         st.sampled_from(["gru", "lstm", "rnn", "bucket", "auto", "1", "true"]), st.text(max_size=5),
                         st.lists(st.integers(), max_size=2))
CONFIG_KEY = st.sampled_from(["epochs", "units", "cell", "dropout", "bidirectional", "learning_rate", "batching",
                              "text_column", "seed", "colour"])


@FUZZ
@given(values=st.dictionaries(CONFIG_KEY, CONFIG_VALUE, max_size=4), as_json=st.booleans())
def test_config_files_of_any_keys_and_values(folder, values, as_json):
    import yaml

    from rnn_apps.config import resolve_config
    from rnn_apps.models import get_task

    path = write(folder, "cfg.json" if as_json else "cfg.yaml",
                 json.dumps(values) if as_json else yaml.safe_dump(values))
    task = get_task("sentiment")
    try:
        cfg = resolve_config(task.config_class, presets=task.presets, file=path)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    assert type(cfg) is task.config_class


@pytest.mark.parametrize("task_name", list(TASKS))
def test_config_files_with_a_renamed_key(folder, task_name):
    """``level`` became ``tokenizer``, ``word``/``char`` became ``words``/``chars``
    (``rnn_apps.config.RENAMED``): an old config file is read as the new key with its
    value mapped, any other value is refused naming the file and the key; a task without a
    tokenizer refuses ``level`` as an unknown key, naming the file."""
    import typing

    import yaml

    from rnn_apps.config import resolve_config
    from rnn_apps.models import get_task

    task = get_task(task_name)
    new_key, values = "tokenizer", {"word": "words", "char": "chars"}
    choices = typing.get_args(typing.get_type_hints(task.config_class).get(new_key))  # () if it has none

    @FUZZ
    @given(value=st.one_of(st.sampled_from([*values, *values.values(), "subwords"]), CONFIG_VALUE))
    @example(value=["words"])
    @example(value="word")
    @example(value="char")
    def fuzz(value):
        path = write(folder, "old.yaml", yaml.safe_dump({"level": value}))
        expected = values.get(value, value) if isinstance(value, str) else value
        try:
            cfg = resolve_config(task.config_class, presets=task.presets, file=path)
        except UserError as exc:
            message = one_line_naming(exc, path)
            if choices:
                assert expected not in choices, message  # a value the new key takes was refused
                assert f"config key {new_key!r} must be one of {', '.join(choices)}" in message, message
            else:
                assert "unknown config key 'level'; valid keys:" in message, message
            return
        assert choices, f"{task_name} has no {new_key}, yet took level={value!r}"
        assert getattr(cfg, new_key) == expected and expected in choices, (value, getattr(cfg, new_key))

    fuzz()


@FUZZ
@given(data=st.binary(max_size=200))
@example(data=b"\x89PNG\r\n")
@example(data=b"seed: 2001-02-30\n")
def test_config_files_of_any_bytes(folder, data):
    from rnn_apps.config import read_config_file

    path = write(folder, "cfg.yaml", data)
    try:
        config = read_config_file(path)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    assert isinstance(config, dict)


# --- pictures and clips ---------------------------------------------------------------------------

MAGIC = st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"GIF89a", b"GIF87a", b"", b"RIFF"])


@FUZZ
@given(magic=MAGIC, body=st.binary(max_size=300), name=st.sampled_from(["p.png", "p.jpg", "p.gif", "p.bmp"]))
def test_any_bytes_read_as_an_image_or_fail_cleanly(folder, magic, body, name):
    from rnn_apps.data.media import check_image, read_image

    path = write(folder, name, magic + body)
    try:
        check_image(path, thorough=True)
        pixels = read_image(path, channels=3)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[-1] == 3


@FUZZ
@given(body=st.binary(max_size=300), header=st.booleans())
def test_any_bytes_read_as_a_npy_clip_or_fail_cleanly(folder, body, header):
    import io

    from rnn_apps.data.media import check_clip, read_clip

    if header:  # a real .npy header with a random shape and dtype, then arbitrary data
        shape = tuple(int(b) % 5 for b in body[:4])
        dtype = [np.uint8, np.float32, np.int16, np.float64][body[0] % 4 if body else 0]
        out = io.BytesIO()
        np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                   "fortran_order": False, "shape": shape})
        body = out.getvalue() + body[4:]
    path = write(folder, "clip.npy", body)
    try:
        check_clip(path, thorough=True)
        clip = read_clip(path, channels=1)
    except UserError as exc:
        one_line_naming(exc, path)
        return
    assert clip.dtype == np.uint8 and clip.ndim == 4 and clip.shape[-1] == 1 and len(clip) > 0


# --- the tasks' own label-file readers (models/*) -------------------------------------------------

def task_reader(name: str):
    from rnn_apps.models import get_task

    task = get_task(name)
    return task, task.config_class()


@pytest.mark.parametrize("task_name, suffix", [(task, suffix) for task in TASKS
                                                for suffix in READERS.get(task, [None])])
def test_task_data_readers(folder, task_name, suffix):
    for_task(READERS, task_name)  # a registered task without its row in harness.READERS fails here
    task, cfg = task_reader(task_name)

    @FUZZ
    @given(records=st.lists(RECORD, max_size=4), raw=st.binary(max_size=120), use_raw=st.booleans())
    @example(records=[{"clip": 5, "label": "a"}], raw=b"", use_raw=False)
    @example(records=[{"image": ["a.png"], "question": "q", "answer": "a"}], raw=b"", use_raw=False)
    @example(records=[{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1}]}],
             raw=b"", use_raw=False)
    def fuzz(records, raw, use_raw):
        if use_raw:
            data = raw
        elif suffix == ".json":
            data = json.dumps(records[0] if records else {}).encode()
        elif suffix == ".jsonl":
            data = "\n".join(map(json.dumps, records)).encode()
        else:
            data = "\n".join("\t".join(str(v) for v in r.values()) for r in records).encode()
        path = write(folder, "data" + suffix, data)
        try:
            examples = task.load_examples(cfg, str(path))
        except UserError as exc:
            assert "\n" not in str(exc)
            return
        assert all(len(values) == len(examples.origins) for values in examples.columns.values())

    fuzz()
