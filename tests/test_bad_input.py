"""The bad-input corpus: every user mistake is one clear line and exit status 2.

One table, one test. Each case runs the CLI in-process (click's ``CliRunner``; importing
TensorFlow per case would be too slow) in an empty working directory, with the bad files
it needs, and holds the command to what the README promises for a mistake:

* exit status 2 (a few cases of absurd but valid input must give a correct answer
  instead, with exit status 0: ``ok=True``);
* exactly one line starting with ``Error:``, the last line on stderr, naming the file (and
  line) or the valid choices: it contains every ``expect`` string;
* no traceback;
* nothing half-written: no file or folder appears in the working directory (no ``runs/``,
  no ``--run-dir``/``--out``, no temporary sibling), and the shared runs of
  ``tests/conftest.py`` are unchanged (a case that damages a run damages its own copy).

A new task adds its cases here: its data files (missing, empty, binary, mis-encoded,
wrong and extra columns), its predict inputs, and its damaged run and export files.

Placeholders in ``argv`` and ``expect``: ``{TASK}`` (``{sentiment}``, ``{tag}``: any registered
task) is the task's shared tiny run, ``{TASK_tflite}`` its TFLite export (read-only); ``{run}`` and
``{export}`` the copy a case's ``setup`` made and damaged; ``{long_name}``, ``{big_text}``
and ``{big_prompt}`` absurdly long arguments.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from harness import UNKNOWN_TASK
from rnn_apps.cli.main import cli
from rnn_apps.models import TASKS

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
needs_permissions = pytest.mark.skipif(ROOT, reason="root ignores file permissions (chmod)")
CHOICES = ", ".join(TASKS)  # as the CLI lists the tasks
QUOTED_CHOICES = ", ".join(map(repr, TASKS))  # as click lists a choice's values
MAX_LINE = 2000  # an error names what is wrong; it never echoes a megabyte back


# --- bytes of good and bad files -------------------------------------------------------------

def picture(size=(20, 20), fmt="PNG", seed=0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def array(value: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, value, allow_pickle=allow_pickle)
    return out.getvalue()


PNG = picture()
CUT_PNG = PNG[: len(PNG) // 2]
CLIP = array(np.random.default_rng(1).integers(0, 256, (5, 16, 16, 1), np.uint8))
BINARY = PNG  # any binary file: it starts with bytes that are not UTF-8
UTF16 = "sentence\tlabel\ngood film\tpositive\n".encode("utf-16")  # with a byte-order mark
UTF16_NO_BOM = "sentence\tlabel\ngood film\tpositive\n".encode("utf-16-le")
LATIN1 = "sentence\tlabel\ngood\tpositive\ncafé crème\tnegative\n".encode("latin-1")
REVIEWS = "sentence\tlabel\ngood film\tpositive\ndull plot\tnegative\n"
PAIRS = "source\ttarget\nthe dog .\tkos hund .\n"
LONG_NAME = "x" * 5000
BIG_TEXT = "good film " * 100_000  # 1 MB
BIG_PROMPT = "ab" * 500_000  # 1 MB


def corrupt_idat(png: bytes) -> bytes:
    """A PNG whose compressed pixels are garbage but whose chunks (and IEND) are in place."""
    start = png.index(b"IDAT") + 8
    return png[:start] + bytes(b ^ 0x5A for b in png[start:start + 40]) + png[start + 40:]


# --- the table -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    """One mistake: what to run, what the one error line must say, which files to make.

    ``files``: name -> text, bytes, or None for an empty folder (made in the working dir).
    ``setup``: called with the ``Ctx`` to copy a shared run (``{run}``) or export
    (``{export}``) and damage the copy. ``ok``: the input is absurd but valid: exit 0 and
    ``expect`` found in the output.
    """

    id: str
    argv: str | tuple
    expect: tuple[str, ...]
    task: str | None = None
    files: dict = dataclasses.field(default_factory=dict)
    setup: Callable[["Ctx"], None] | None = None
    ok: bool = False
    marks: tuple = ()
    verify: Callable[[str], bool] | None = None  # ok cases: is the answer right (given stdout)?

    @property
    def args(self) -> list[str]:
        return shlex.split(self.argv) if isinstance(self.argv, str) else list(self.argv)

    @property
    def command(self) -> str:
        return self.args[0]


def case(id, argv, *expect, task=None, files=None, setup=None, ok=False, marks=(), verify=None):
    return Case(id, argv, tuple(expect), task, files or {}, setup, ok, tuple(marks), verify)


def one_answer(key: str, valid=None) -> Callable[[str], bool]:
    """For ``--json`` output of one input: its ``key`` is there (and in ``valid``), and the
    whole megabyte input is echoed back, not cut."""
    def verify(stdout: str) -> bool:
        (result,) = json.loads(stdout)
        value = result[key]
        return isinstance(value, (str, list)) and (valid is None or value in valid) and \
            len(result.get("text", result.get("source", ""))) == len(BIG_TEXT)
    return verify


def damaged_run(task: str, **edits):
    """Copy the shared ``task`` run to ``{run}`` and replace files (None deletes one;
    a callable gets the old bytes)."""
    def setup(ctx: "Ctx") -> None:
        run = ctx.copy(task, "run")
        for name, content in edits.items():
            name = name.replace("__", ".")
            target = run / name
            if content is None:
                target.unlink()
            elif callable(content):
                target.write_bytes(content(target.read_bytes()))
            else:
                target.write_bytes(content.encode() if isinstance(content, str) else content)
    return setup


def damaged_export(export: str, rehash: bool = False, **edits):
    """Copy a shared TFLite export to ``{export}`` and damage it; ``rehash`` writes the new
    SHA-256s into the manifest (a consistent copy whose model is still wrong)."""
    def setup(ctx: "Ctx") -> None:
        out = ctx.copy(export, "export")
        for name, content in edits.items():
            name = name.replace("__", ".")
            target = out / name
            if content is None:
                target.unlink()
            elif callable(content):
                target.write_bytes(content(target.read_bytes()))
            else:
                target.write_bytes(content.encode() if isinstance(content, str) else content)
        if rehash:
            manifest = json.loads((out / "manifest.json").read_text())
            manifest["files"] = {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in manifest["files"]}
            (out / "manifest.json").write_text(json.dumps(manifest))
    return setup


def edit_manifest(**changes):
    def edit(data: bytes) -> bytes:
        manifest = json.loads(data)
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(manifest.get(key), dict):
                manifest[key] = {**manifest[key], **value}
            else:
                manifest[key] = value
        return json.dumps(manifest).encode()
    return edit


def chmod(path: str, mode: int):
    def setup(ctx: "Ctx") -> None:
        (ctx.tmp / path).chmod(mode)
    return setup


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


CONFIG_KEYS = "unknown config key 'colour'; valid keys: epochs, batch_size"
VIDEO_DIR = {"clips/": None, "clips/c1.npy": CLIP, "clips/c2.npy": CLIP}
VQA_DIR = {"q/": None, "q/a.png": PNG}
CAPTION_DIR = {"c/": None, "c/a.png": PNG}
CONLL = "Ada B-PER\nmet O\nBob B-PER\n\nParis B-LOC\n"

CASES = [
    # --- tasks, config, the command itself --------------------------------------------------
    case("tasks-extra-argument", "tasks extra", "unexpected extra argument (extra)"),
    case("config-unknown-task", f"config {UNKNOWN_TASK}", f"{UNKNOWN_TASK!r} is not one of {QUOTED_CHOICES}"),
    case("config-missing-task", "config", f"Choose from: {CHOICES}"),
    case("unknown-command", "fly sentiment", "No such command 'fly'"),

    # --- train: the task, presets, --set, options --------------------------------------------
    case("train-no-task", "train", "name a TASK to train, or --resume RUN_DIR; tasks: " + CHOICES),
    case("train-unknown-task", f"train {UNKNOWN_TASK}", f"{UNKNOWN_TASK!r} is not one of {QUOTED_CHOICES}"),
    case("train-unknown-preset", "train sentiment --preset huge",
         "unknown preset 'huge'; valid presets: tiny, small, default, large", task="sentiment"),
    case("set-without-equals", "train sentiment --preset tiny --set units", "--set expects KEY=VALUE, got 'units'",
         task="sentiment"),
    case("set-unknown-key", "train vqa --preset tiny --set colour=red", CONFIG_KEYS, task="vqa"),
    case("set-int-not-a-number", "train translate --preset tiny --set units=many",
         "config key 'units' expects an integer, got 'many'", task="translate"),
    case("set-cell-not-a-choice", "train caption --preset tiny --set cell=transformer",
         "config key 'cell' must be one of vanilla, simple, lstm, gru; got 'transformer'", task="caption"),
    case("set-dropout-2", "train sentiment --preset tiny --set dropout=2",
         "config key 'dropout' must be <= 0.95, got 2.0", task="sentiment"),
    case("set-epochs-negative", "train textgen --preset tiny --set epochs=-1",
         "config key 'epochs' must be >= 1, got -1", task="textgen"),
    case("set-image-size-too-small", "train vqa --preset tiny --set image_size=4",
         "config key 'image_size' must be >= 8, got 4", task="vqa"),
    case("option-epochs-negative", "train sentiment --preset tiny --epochs -1", "-1 is not in the range x>=1",
         task="sentiment"),
    case("option-without-value", "train sentiment --preset tiny --units", "--units needs a value (--units VALUE)",
         task="sentiment"),
    case("option-unknown-key", "train textgen --preset tiny --colour red", CONFIG_KEYS, task="textgen"),
    case("stray-positional", "train sentiment --preset tiny extra", "unexpected argument 'extra'", task="sentiment"),
    case("textgen-bidirectional", "train textgen --preset tiny --set bidirectional=true",
         "textgen cannot be bidirectional", task="textgen"),
    case("caption-two-layers-with-attention", "train caption --preset tiny --set layers=2",
         "set layers=1 (or attention=none to stack layers)", task="caption"),
    # settings where nothing can be learnt: refused with the range, at config resolution (a task
    # that redefines a shared key keeps the shared key's range)
    case("set-learning-rate-zero", "train sentiment --preset tiny --set learning_rate=0",
         "config key 'learning_rate' must be > 0, got 0.0", task="sentiment"),
    case("option-learning-rate-negative", "train translate --preset tiny --learning-rate -0.001",
         "config key 'learning_rate' must be > 0, got -0.001", task="translate"),
    case("config-learning-rate-zero", "train caption --config lr.yaml",
         "lr.yaml: config key 'learning_rate' must be > 0, got 0", task="caption", files={"lr.yaml": "learning_rate: 0\n"}),
    case("set-epochs-zero", "train video --preset tiny --set epochs=0", "config key 'epochs' must be >= 1, got 0",
         task="video"),
    case("set-batch-size-zero", "train textgen --preset tiny --batch-size 0", "'--batch-size': 0 is not in the range x>=1",
         task="textgen"),
    case("set-units-zero", "train vqa --preset tiny --set units=0", "config key 'units' must be >= 1, got 0",
         task="vqa"),
    case("set-dropout-one", "train sentiment --preset tiny --set dropout=1",
         "config key 'dropout' must be <= 0.95, got 1.0 (its range: >= 0 and <= 0.95)", task="sentiment"),
    case("learning-rate-nan", "train sentiment --preset tiny --set learning_rate=nan",
         "learning_rate", task="sentiment"),
    case("seed-out-of-range", "train sentiment --preset tiny --seed 99999999999999999999999", "seed",
         task="sentiment"),

    # --- train: run directories and --resume ---------------------------------------------------
    case("run-dir-not-empty", "train sentiment --preset tiny --run-dir {sentiment}",
         "run directory {sentiment} already exists and is not empty; choose another --run-dir", task="sentiment"),
    case("run-dir-under-a-file", "train vqa --preset tiny --run-dir afile/run",
         "cannot create afile/run: afile is a file, not a folder", task="vqa", files={"afile": "x"}),
    case("default-runs-is-a-file", "train caption --preset tiny", "runs is a file, not a folder", task="caption",
         files={"runs": "not a folder"}),
    case("run-dir-read-only", "train sentiment --preset tiny --run-dir ro/run", "ro is not writable",
         task="sentiment", files={"ro/": None}, setup=chmod("ro", 0o555), marks=[needs_permissions]),
    case("resume-not-a-run", "train --resume empty", "empty is not an rnn-apps run directory (no run.json)",
         files={"empty/": None}),
    case("resume-an-export", "train --resume {sentiment_tflite}", "is a TFLite export, not a run directory",
         task="sentiment"),
    case("resume-with-set", "train --resume {sentiment} --set units=3",
         "--resume continues a run with its saved config; only --epochs may change", task="sentiment"),
    case("resume-finished-run", "train --resume {textgen}",
         "already trained 2 epochs; pass --epochs N with N > 2 to train further", task="textgen"),
    case("resume-unknown-task", "train --resume run", f"run/run.json: unknown task {UNKNOWN_TASK!r}; tasks: {CHOICES}",
         setup=damaged_run("sentiment", run__json=json.dumps({"task": UNKNOWN_TASK, "data": None}))),

    # a resume continues the run it names: its task and its data, unless --allow-new-data says otherwise
    case("resume-as-another-task", "train textgen --resume {sentiment} --epochs 3",
         "is a sentiment run; --resume continues it as sentiment, not textgen", task="sentiment"),
    case("resume-on-other-data", "train --resume {sentiment} --epochs 3 --data other.tsv",
         "was trained on the built-in data; continuing it on", "other.tsv would change the run",
         "pass --allow-new-data if you mean it", task="sentiment", files={"other.tsv": REVIEWS}),
    case("resume-data-file-changed", "train --resume run --epochs 3",
         "d.tsv has changed since run was trained on it (1 bytes then,", "pass --allow-new-data", task="sentiment",
         files={"d.tsv": REVIEWS}, setup=lambda ctx: damaged_run("sentiment", run__json=json.dumps(
             {"task": "sentiment", "data": str(ctx.tmp / "d.tsv"), "replicas": 1,
              "data_fingerprint": {"bytes": 1, "sha256_ends": "0"}}))(ctx)),
    case("allow-new-data-without-resume", "train sentiment --preset tiny --allow-new-data",
         "--allow-new-data continues a run on other data: it goes with --resume RUN_DIR", task="sentiment"),

    case("workers-absurd", "train sentiment --preset tiny --workers 100", "100 is not in the range 1<=x<=16",
         task="sentiment"),

    # --- train: config files -------------------------------------------------------------------
    case("config-file-missing", "train sentiment --config nothere.yaml", "config file not found: nothere.yaml",
         task="sentiment"),
    case("config-broken-yaml", "train textgen --config bad.yaml",
         "bad.yaml:2: not valid YAML/JSON (found character '\\t' that cannot start any token)",
         task="textgen", files={"bad.yaml": "epochs: 2\n\tunits: 3\n"}),
    case("config-broken-json", "train translate --config bad.json", "bad.json:1: not valid YAML/JSON",
         task="translate", files={"bad.json": '{"epochs": 1'}),
    case("config-unknown-key", "train video --config unk.yaml", "unk.yaml: " + CONFIG_KEYS, task="video",
         files={"unk.yaml": "epochs: 1\ncolour: red\n"}),
    case("config-wrong-type", "train vqa --config type.yaml",
         "type.yaml: config key 'epochs' expects an integer, got 'many'", task="vqa",
         files={"type.yaml": "epochs: many\n"}),
    case("config-out-of-range", "train translate --config drop.yaml",
         "drop.yaml: config key 'dropout' must be <= 0.95, got 2", task="translate",
         files={"drop.yaml": "dropout: 2\n"}),
    case("config-not-a-mapping", "train sentiment --config list.yaml",
         "list.yaml: a config file must hold a mapping of key: value", task="sentiment",
         files={"list.yaml": "- epochs\n- 2\n"}),
    case("config-python-tag", "train sentiment --config evil.yaml",
         "evil.yaml:1: not valid YAML/JSON (could not determine a constructor", task="sentiment",
         files={"evil.yaml": "cell: !!python/object/apply:os.system [echo hi]\n"}),
    case("config-binary", "train sentiment --config bin.yaml", "bin.yaml", task="sentiment",
         files={"bin.yaml": BINARY}),
    case("config-renamed-key-with-a-list", "train sentiment --config old.yaml", "old.yaml", task="sentiment",
         files={"old.yaml": "level: [words]\n"}),
    case("config-impossible-date", "train sentiment --config date.yaml", "date.yaml", task="sentiment",
         files={"date.yaml": "seed: 2001-02-30\n"}),

    # --- train: sentiment data (tables) --------------------------------------------------------
    case("sentiment-data-missing", "train sentiment --preset tiny --data missing.tsv", "no such file: missing.tsv",
         task="sentiment"),
    case("sentiment-data-empty", "train sentiment --preset tiny --data empty.tsv",
         "empty.tsv: no examples found (the file is empty)", task="sentiment", files={"empty.tsv": ""}),
    case("sentiment-data-header-only", "train sentiment --preset tiny --data h.tsv",
         "h.tsv: only a header line, no examples", task="sentiment", files={"h.tsv": "sentence\tlabel\n"}),
    case("sentiment-data-binary", "train sentiment --preset tiny --data reviews.tsv",
         "reviews.tsv:1: invalid UTF-8 at byte offset 0", task="sentiment", files={"reviews.tsv": BINARY}),
    case("sentiment-data-utf16", "train sentiment --preset tiny --data u16.tsv",
         "u16.tsv:1: invalid UTF-8 at byte offset 0 (UTF-16", task="sentiment", files={"u16.tsv": UTF16}),
    case("sentiment-data-utf16-without-bom", "train sentiment --preset tiny --data u16.tsv",
         "u16.tsv:1: NUL byte", task="sentiment", files={"u16.tsv": UTF16_NO_BOM}),
    case("sentiment-data-nul-byte", "train sentiment --preset tiny --data nul.tsv", "nul.tsv:3: NUL byte",
         task="sentiment", files={"nul.tsv": "sentence\tlabel\ngood\tpositive\nba\0d\tnegative\n"}),
    case("sentiment-data-short-row", "train sentiment --preset tiny --data bad.tsv",
         "bad.tsv:3: expected at least 2 tab-separated columns, found 1", task="sentiment",
         files={"bad.tsv": "sentence\tlabel\ngood film\tpositive\nno label\n"}),
    case("sentiment-stream-short-row-late", "train sentiment --preset tiny --data bad.tsv --set streaming=true",
         "bad.tsv:302: expected at least 2 tab-separated columns, found 1", task="sentiment",
         files={"bad.tsv": "sentence\tlabel\n" + "good film\tpositive\n" * 300 + "no label\n"}),
    case("sentiment-stream-without-data", "train sentiment --preset tiny --set streaming=true",
         "streaming reads a file (--data FILE)", task="sentiment"),
    case("sentiment-stream-ordered-split", "train sentiment --preset tiny --data r.tsv --set streaming=true "
         "--set split=ordered", "streaming: split ordered needs the file's length first", task="sentiment",
         files={"r.tsv": "good\tpositive\nbad\tnegative\n"}),
    case("textgen-stream", "train textgen --preset tiny --data t.txt --set streaming=true",
         "textgen reads its data into memory; the tasks that read files as a stream are sentiment, translate",
         task="textgen", files={"t.txt": "some text\n"}),
    case("translate-stream-everything-held-out", "train translate --preset tiny --data p.tsv --set streaming=true "
         "--set val_fraction=0.5 --set test_fraction=0.5", "no training examples left", task="translate",
         files={"p.tsv": "a cat\tun gato\n"}),
    case("sentiment-data-csv-open-quote", "train sentiment --preset tiny --data q.csv",
         "q.csv:2: a quote opened on this line is never closed", task="sentiment",
         files={"q.csv": 'text,label\n"never closed,positive\nbad,negative\n'}),
    # a quote still open at the end of the file takes the rest as one cell: named where it opened
    case("sentiment-data-csv-open-quote-in-the-label", "train sentiment --preset tiny --data q.csv",
         "q.csv:3: a quote opened on this line is never closed: it would take the rest of the file (to line 6)",
         task="sentiment", files={"q.csv": 'text,label\ngood,positive\nfine,"positive\nbad,negative\n'
                                            'dull,negative\nok,positive\n'}),
    case("sentiment-data-csv-open-quote-last-line-no-newline", "train sentiment --preset tiny --data q.csv",
         "q.csv:4: a quote opened on this line is never closed", task="sentiment",
         files={"q.csv": 'text,label\ngood,positive\nbad,negative\n"dull,negative'}),
    case("sentiment-stream-csv-open-quote-late", "train sentiment --preset tiny --data q.csv --set streaming=true",
         "q.csv:302: a quote opened on this line is never closed", task="sentiment",
         files={"q.csv": "text,label\n" + "good film,positive\nbad film,negative\n" * 150 + 'x,"negative\nz,y\n'}),
    case("evaluate-csv-open-quote", "evaluate {sentiment} --data q.csv",
         "q.csv:3: a quote opened on this line is never closed", task="sentiment",
         files={"q.csv": 'text,label\ngood,positive\n"bad,negative\nok,positive\n'}),
    case("textgen-data-binary-with-replace", "train textgen --preset tiny --data pic.txt --set encoding_errors=replace",
         "pic.txt:3: NUL byte at byte offset", "a binary file, not text", task="textgen", files={"pic.txt": PNG}),
    case("textgen-data-binary-without-nul", "train textgen --preset tiny --data b.txt --set encoding_errors=replace",
         "b.txt:1: a binary file, not text", task="textgen",
         files={"b.txt": bytes(np.random.default_rng(3).integers(1, 256, 3000, dtype=np.uint8))}),
    case("evaluate-textgen-binary", "evaluate {textgen} --data pic.txt", "pic.txt", task="textgen",
         files={"pic.txt": PNG}),
    case("predict-input-binary-with-nul", "predict {sentiment} --input in.txt", "in.txt:2: NUL byte",
         task="sentiment", files={"in.txt": b"good film\n\0\x01\x02\x03 bad\n"}),
    case("predict-input-binary-ascii-controls", "predict {translate} --input in.txt",
         "in.txt:1: a binary file, not text", task="translate", files={"in.txt": bytes(range(1, 9)) * 300}),
    case("sentiment-data-wrong-column-name", "train sentiment --preset tiny --data r.csv --set label_column=nope",
         "r.csv: no column named 'nope' for the label; columns: review, stars", task="sentiment",
         files={"r.csv": "review,stars\ngood,5\n"}),
    case("sentiment-data-negative-column-past-the-start", "train sentiment --preset tiny --data c.tsv "
         "--set text_column=-5", "c.tsv:1: expected at least 5 tab-separated columns, found 3", task="sentiment",
         files={"c.tsv": "a\tb\tc\nx\ty\tz\n"}),
    case("sentiment-data-extra-columns-named-wrong", "train sentiment --preset tiny --data x.jsonl",
         "x.jsonl: cannot tell which column holds the text; columns: foo, bar (choose with --set text_column=NAME)",
         task="sentiment", files={"x.jsonl": '{"foo": "good", "bar": "positive"}\n'}),
    case("sentiment-data-jsonl-broken", "train sentiment --preset tiny --data d.jsonl",
         "d.jsonl:2: invalid JSON (Expecting ':' delimiter)", task="sentiment",
         files={"d.jsonl": '{"text": "a", "label": "positive"}\n{"text": "b", "label"\n'}),
    case("sentiment-data-jsonl-missing-key", "train sentiment --preset tiny --data d.jsonl",
         "d.jsonl:2: missing key 'label'", task="sentiment",
         files={"d.jsonl": '{"text": "a", "label": "positive"}\n{"text": "b"}\n'}),
    case("sentiment-data-jsonl-absurd-number", "train sentiment --preset tiny --data d.jsonl",
         "d.jsonl:1: invalid JSON (Exceeds the limit", task="sentiment",
         files={"d.jsonl": '{"text": "a", "label": ' + "9" * 5000 + "}\n"}),
    case("sentiment-data-jsonl-absurd-nesting", "train sentiment --preset tiny --data d.jsonl",
         "d.jsonl:1: invalid JSON (nested too deeply)", task="sentiment",
         files={"d.jsonl": "[" * 100_000 + "]" * 100_000 + "\n"}),
    case("sentiment-data-megabyte-field", "train sentiment --preset tiny --data huge.tsv",
         "huge.tsv:2: field larger than field limit", task="sentiment",
         files={"huge.tsv": f"sentence\tlabel\n{BIG_TEXT}\tpositive\n"}),
    case("sentiment-data-unsupported-suffix", "train sentiment --preset tiny --data reviews.xlsx",
         "reviews.xlsx: unsupported file type .xlsx; supported: .tsv, .txt, .csv, .jsonl", task="sentiment",
         files={"reviews.xlsx": BINARY}),
    case("sentiment-data-is-a-folder", "train sentiment --preset tiny --data adir",
         "adir is a directory; give a .tsv/.txt/.csv/.jsonl file or tfds:NAME", task="sentiment",
         files={"adir/": None}),
    case("sentiment-data-name-too-long", ("train", "sentiment", "--preset", "tiny", "--data", "{long_name}.tsv"),
         "(5,004 characters): File name too long", task="sentiment"),
    case("sentiment-val-data-missing", "train sentiment --preset tiny --set val_data=nothere.tsv",
         "no such file:", "nothere.tsv", task="sentiment"),
    case("sentiment-embeddings-short-vector", "train sentiment --preset tiny --set embeddings=vec.txt",
         "vec.txt:2: expected 2 numbers after the word, found 1", task="sentiment",
         files={"vec.txt": "good 0.1 0.2\nbad 0.3\n"}),
    case("sentiment-data-one-label", "train sentiment --preset tiny --data one.tsv", "one.tsv", task="sentiment",
         files={"one.tsv": "sentence\tlabel\n" + "good film\tpositive\n" * 20}),

    # --- train: textgen data (plain text) ------------------------------------------------------
    case("textgen-data-missing", "train textgen --preset tiny --data missing.txt", "text file not found: missing.txt",
         task="textgen"),
    case("textgen-data-blank", "train textgen --preset tiny --data blank.txt", "blank.txt: the file is empty",
         task="textgen", files={"blank.txt": "\n \n\t\n"}),
    case("textgen-data-latin1", "train textgen --preset tiny --data l1.txt",
         "l1.txt:2: invalid UTF-8 at byte offset", task="textgen",
         files={"l1.txt": "first line\ncafé\n".encode("latin-1")}),
    case("textgen-data-too-short", "train textgen --preset tiny --data short.txt", "short.txt", task="textgen",
         files={"short.txt": "abc\n"}),

    # --- train: translate data (pairs) ----------------------------------------------------------
    case("translate-data-short-row", "train translate --preset tiny --data p.tsv",
         "p.tsv:3: expected at least 2 tab-separated columns, found 1", task="translate",
         files={"p.tsv": PAIRS + "only a source\n"}),
    case("translate-data-empty-target", "train translate --preset tiny --data p.tsv", "p.tsv:3: empty target",
         task="translate", files={"p.tsv": PAIRS + "a cat .\t  \n"}),
    case("translate-data-wrong-column", "train translate --preset tiny --data p.tsv --set source_column=src",
         "p.tsv: no column named 'src' for the source; columns: a, b, c", task="translate",
         files={"p.tsv": "a\tb\tc\nx\ty\tz\n"}),
    case("translate-data-jsonl-missing-target", "train translate --preset tiny --data p.jsonl",
         "p.jsonl:2: missing key 'target'", task="translate",
         files={"p.jsonl": '{"source": "a", "target": "b"}\n{"source": "c"}\n'}),

    # --- train: video data (label files beside clips) -------------------------------------------
    case("video-data-is-a-folder", "train video --preset tiny --data clips", "clips is a directory; give a .csv",
         task="video", files=VIDEO_DIR),
    case("video-data-a-clip", "train video --preset tiny --data clips/c1.npy",
         "clips/c1.npy: unsupported file type .npy; supported: .csv, .tsv, .jsonl", task="video", files=VIDEO_DIR),
    case("video-data-missing-clip", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:3: clips/c9.npy: no such clip", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "clip,label\nc1.npy,a\nc9.npy,b\n"}),
    case("video-data-wrong-columns", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: needs columns clip and label (or labels); found video, tag", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "video,tag\nc1.npy,a\n"}),
    case("video-data-extra-column-in-a-row", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:3: expected 2 columns (clip, label), found 3", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "clip,label\nc1.npy,a\nc2.npy,b,extra\n"}),
    case("video-data-labels-short", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: c1.npy has 5 frames but the labels cover 1", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "clip,frame,label\nc1.npy,0,a\n"}),
    case("video-data-segment-out-of-range", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: segment 0-9 is outside c1.npy's 5 frames (0-4)", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "clip,start_frame,end_frame,label\nc1.npy,0,9,a\n"}),
    case("video-data-frame-not-a-number", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: expected a frame number, got 'zero'", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "clip,start_frame,end_frame,label\nc1.npy,zero,2,a\n"}),
    case("video-data-npy-not-numpy", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: clips/x.npy: not a .npy array", task="video",
         files={**VIDEO_DIR, "clips/x.npy": "1 2 3", "clips/l.csv": "clip,label\nx.npy,a\n"}),
    case("video-data-npy-nan", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: clips/n.npy: the clip holds NaN or infinite values", task="video",
         files={**VIDEO_DIR, "clips/n.npy": array(np.full((4, 16, 16), np.nan, np.float32)),
                "clips/l.csv": "clip,label\nn.npy,a\nc1.npy,b\n"}),
    case("video-data-empty-mp4", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: clips/v.mp4: empty file, not a video", task="video",
         files={**VIDEO_DIR, "clips/v.mp4": b"", "clips/l.csv": "clip,label\nv.mp4,a\n"}),
    case("video-data-garbage-mp4", "train video --preset tiny --data clips/l.csv",
         "clips/v.mp4: no frames could be decoded (corrupt or unsupported video)", task="video",
         files={**VIDEO_DIR, "clips/v.mp4": bytes(range(256)) * 20, "clips/l.csv": "clip,label\nv.mp4,a\n"}),
    case("video-data-frames-of-two-sizes", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: clips/f: frame f2.png is 20x10, the first frame f1.png is 20x20", task="video",
         files={**VIDEO_DIR, "clips/f/": None, "clips/f/f1.png": PNG, "clips/f/f2.png": picture((20, 10)),
                "clips/l.csv": "clip,label\nf,a\nc1.npy,b\n"}),
    case("video-data-frame-cut-short", "train video --preset tiny --data clips/l.csv",
         "clips/l.csv:2: clips/f: clips/f/f2.png: the image is cut short", task="video",
         files={**VIDEO_DIR, "clips/f/": None, "clips/f/f1.png": PNG, "clips/f/f2.png": CUT_PNG,
                "clips/l.csv": "clip,label\nf,a\nc1.npy,b\n"}),
    case("video-data-labels-not-a-list", "train video --preset tiny --data clips/l.jsonl", "clips/l.jsonl:1",
         task="video", files={**VIDEO_DIR, "clips/l.jsonl": '{"clip": "c1.npy", "labels": 5}\n'}),
    case("video-data-clip-not-a-string", "train video --preset tiny --data clips/l.jsonl", "clips/l.jsonl:1",
         task="video", files={**VIDEO_DIR, "clips/l.jsonl": '{"clip": null, "label": "a"}\n'}),

    # --- train: vqa data ------------------------------------------------------------------------
    case("vqa-data-missing-answer", "train vqa --preset tiny --data q/d.jsonl",
         "q/d.jsonl:2: needs image, question and answers (or answer); found image, question", task="vqa",
         files={**VQA_DIR, "q/d.jsonl": '{"image": "a.png", "question": "q?", "answer": "yes"}\n'
                                        '{"image": "a.png", "question": "q?"}\n'}),
    case("vqa-data-missing-image", "train vqa --preset tiny --data q/d.jsonl", "q/d.jsonl:1: q/zz.png: no such image",
         task="vqa", files={**VQA_DIR, "q/d.jsonl": '{"image": "zz.png", "question": "q?", "answer": "yes"}\n'}),
    case("vqa-data-text-as-image", "train vqa --preset tiny --data q/d.jsonl",
         "q/d.jsonl:1: q/t.png: not a PNG, JPEG, BMP or GIF image", task="vqa",
         files={**VQA_DIR, "q/t.png": "hello", "q/d.jsonl": '{"image": "t.png", "question": "q?", "answer": "yes"}\n'}),
    case("vqa-data-image-cut-short", "train vqa --preset tiny --data q/d.jsonl",
         "q/d.jsonl:1: q/cut.png: the image is cut short", task="vqa",
         files={**VQA_DIR, "q/cut.png": CUT_PNG,
                "q/d.jsonl": '{"image": "cut.png", "question": "q?", "answer": "yes"}\n'
                             '{"image": "a.png", "question": "q?", "answer": "no"}\n'}),
    case("vqa-data-image-pixels-garbage", "train vqa --preset tiny --epochs 1 --data q/d.jsonl", "q/bad.png",
         task="vqa", files={**VQA_DIR, "q/bad.png": corrupt_idat(PNG),
                            "q/d.jsonl": '{"image": "bad.png", "question": "q?", "answer": "yes"}\n'
                                         '{"image": "a.png", "question": "q?", "answer": "no"}\n'}),
    case("vqa-data-not-questions-json", "train vqa --preset tiny --data q/x.json",
         "q/x.json: not a CLEVR or VQA v2 questions file", task="vqa",
         files={**VQA_DIR, "q/x.json": '{"questions": []}'}),
    case("vqa-data-vqa2-without-annotations", "train vqa --preset tiny --data q/questions.json",
         "q/questions.json: VQA v2 questions need their annotations JSON beside them", task="vqa",
         files={**VQA_DIR, "q/questions.json": json.dumps({"questions": [
             {"image_id": 1, "question": "q?", "question_id": 1}]})}),
    case("vqa-data-vqa2-annotation-without-answers", "train vqa --preset tiny --data q/questions.json",
         "q/annotations.json: annotation 0: missing 'answers'", task="vqa",
         files={**VQA_DIR, "q/questions.json": json.dumps({"questions": [
             {"image_id": 1, "question": "q?", "question_id": 1}]}),
             "q/annotations.json": json.dumps({"annotations": [{"question_id": 1}]})}),
    case("vqa-data-vqa2-question-id-a-string", "train vqa --preset tiny --data q/questions.json",
         "q/questions.json: question 0: image_id should be a number, got a string", task="vqa",
         files={**VQA_DIR, "q/questions.json": json.dumps({"questions": [
             {"image_id": "1", "question": "q?", "question_id": 1}]}),
             "q/annotations.json": json.dumps({"annotations": [
                 {"question_id": 1, "answers": [{"answer": "yes"}]}]})}),
    case("vqa-data-csv", "train vqa --preset tiny --data q/d.csv",
         "q/d.csv: give a .jsonl file, a CLEVR or VQA v2 questions .json, or tfds:NAME", task="vqa",
         files={**VQA_DIR, "q/d.csv": "image,question,answer\na.png,q?,yes\n"}),
    case("vqa-data-image-is-a-list", "train vqa --preset tiny --data q/d.jsonl", "q/d.jsonl:1", task="vqa",
         files={**VQA_DIR, "q/d.jsonl": '{"image": ["a.png"], "question": "q?", "answer": "yes"}\n'}),
    case("vqa-data-clevr-without-question", "train vqa --preset tiny --data q/clevr.json", "q/clevr.json",
         task="vqa", files={**VQA_DIR, "q/clevr.json": '{"questions": [{"image_filename": "a.png"}]}'}),

    # --- train: caption data --------------------------------------------------------------------
    case("caption-data-no-tab", "train caption --preset tiny --data c/d.tsv", "c/d.tsv:1: expected image<TAB>caption",
         task="caption", files={**CAPTION_DIR, "c/d.tsv": "a.png a dog\n"}),
    case("caption-data-missing-image", "train caption --preset tiny --data c/d.tsv",
         "c/d.tsv:2: c/zz.png: no such image", task="caption",
         files={**CAPTION_DIR, "c/d.tsv": "a.png\ta dog\nzz.png\ta cat\n"}),
    case("caption-data-empty-image", "train caption --preset tiny --data c/d.tsv",
         "c/d.tsv:1: c/e.png: empty file, not an image", task="caption",
         files={**CAPTION_DIR, "c/e.png": b"", "c/d.tsv": "e.png\ta dog\n"}),
    case("caption-data-coco-unknown-image-id", "train caption --preset tiny --data c/coco.json",
         "c/coco.json: annotation 0 names image_id 2, not in images", task="caption",
         files={**CAPTION_DIR, "c/coco.json": json.dumps({"images": [{"id": 1, "file_name": "a.png"}],
                                                          "annotations": [{"image_id": 2, "caption": "x"}]})}),
    case("caption-data-coco-truncated", "train caption --preset tiny --data c/coco.json",
         "c/coco.json: not a COCO captions file with images and annotations", task="caption",
         files={**CAPTION_DIR, "c/coco.json": '{"images": [{"id": 1, "file_name": "a.png"}], "annotations": ['}),
    case("caption-data-coco-missing", "train caption --preset tiny --data c/coco.json", "no such file: c/coco.json",
         task="caption", files=CAPTION_DIR),
    case("caption-data-unsupported", "train caption --preset tiny --data c/a.png",
         "c/a.png: give an image<TAB>caption .tsv/.txt, a COCO captions .json or tfds:coco_captions", task="caption",
         files=CAPTION_DIR),
    case("caption-data-coco-annotation-without-caption", "train caption --preset tiny --data c/coco.json",
         "c/coco.json", task="caption",
         files={**CAPTION_DIR, "c/coco.json": json.dumps({"images": [{"id": 1, "file_name": "a.png"}],
                                                          "annotations": [{"image_id": 1}]})}),
    case("caption-data-csv-wrong-columns", "train caption --preset tiny --data c/d.csv", "c/d.csv", task="caption",
         files={**CAPTION_DIR, "c/d.csv": "img,text\na.png,a dog\n"}),
    case("caption-data-coco-empty", "train caption --preset tiny --data c/coco.json", "c/coco.json", task="caption",
         files={**CAPTION_DIR, "c/coco.json": '{"images": [], "annotations": []}'}),

    # --- train: tag data (CoNLL columns, JSON lines of tokens and tags) ---------------------------
    case("tag-data-missing", "train tag --preset tiny --data missing.conll", "no such file: missing.conll",
         task="tag"),
    case("tag-data-empty", "train tag --preset tiny --data e.conll",
         "e.conll: no tagged sentences (a CoNLL file has 'word ... tag' lines", task="tag", files={"e.conll": "\n\n"}),
    case("tag-data-binary", "train tag --preset tiny --data pic.conll", "pic.conll:1: invalid UTF-8 at byte offset 0",
         task="tag", files={"pic.conll": BINARY}),
    case("tag-data-utf16", "train tag --preset tiny --data u16.conll",
         "u16.conll:1: invalid UTF-8 at byte offset 0 (UTF-16", task="tag",
         files={"u16.conll": CONLL.encode("utf-16")}),
    case("tag-data-line-without-tag", "train tag --preset tiny --data t.conll",
         "t.conll:2: 1 column(s) ('met'); a CoNLL line is 'word ... tag'", task="tag",
         files={"t.conll": "Ada B-PER\nmet\n"}),
    case("tag-data-tag-column-past-the-end", "train tag --preset tiny --data t.conll --set tag_column=5",
         "t.conll:1: 2 column(s)", "the tag in column 5", task="tag", files={"t.conll": CONLL}),
    case("tag-data-tag-column-not-a-number", "train tag --preset tiny --data t.conll --set tag_column=last",
         "tag_column must be a column number (from 0; -1 = last), got 'last'", task="tag", files={"t.conll": CONLL}),
    case("tag-data-tag-outside-the-scheme", "train tag --preset tiny --data t.conll",
         "t.conll:1: token 2 has tag 'ORG'; tags are O or B-, I-, E-, S- and a type", task="tag",
         files={"t.conll": "Ada B-PER\nAcme ORG\n"}),
    case("tag-data-one-tag-only", "train tag --preset tiny --data o.conll",
         "o.conll: need at least two different tags to learn one per step, found ['O']", task="tag",
         files={"o.conll": "the O\ncat O\n\n" * 30}),
    case("tag-data-jsonl-fewer-tags-than-tokens", "train tag --preset tiny --data d.jsonl",
         "d.jsonl:2: 2 tokens but 1 tags (one tag per token)", task="tag",
         files={"d.jsonl": '{"tokens": ["Ada"], "tags": ["B-PER"]}\n{"tokens": ["Ada", "met"], "tags": ["B-PER"]}\n'}),
    case("tag-data-jsonl-token-with-a-space", "train tag --preset tiny --data d.jsonl",
         "d.jsonl:1: token 1 ('New York') is empty or holds whitespace", task="tag",
         files={"d.jsonl": '{"tokens": ["New York"], "tags": ["B-LOC"]}\n'}),
    case("tag-data-jsonl-without-tags", "train tag --preset tiny --data d.jsonl",
         "d.jsonl:1: needs keys tokens and tags (lists); found tokens", task="tag",
         files={"d.jsonl": '{"tokens": ["Ada"]}\n'}),
    case("tag-set-decoder-not-a-choice", "train tag --preset tiny --set decoder=hmm",
         "config key 'decoder' must be one of softmax, crf; got 'hmm'", task="tag"),

    # --- evaluate ---------------------------------------------------------------------------------
    case("evaluate-not-a-run", "evaluate empty", "empty is not an rnn-apps run directory (no run.json)",
         files={"empty/": None}),
    case("evaluate-an-export", "evaluate {sentiment_tflite}",
         "is a TFLite export, not a run directory (no run.json); predict and generate run exports", task="sentiment"),
    case("evaluate-unknown-label", "evaluate {sentiment} --data l.tsv",
         "l.tsv:3: unknown label 'maybe'; known labels: negative, positive", task="sentiment",
         files={"l.tsv": "sentence\tlabel\ngood film\tpositive\nso so\tmaybe\n"}),
    case("evaluate-option-of-another-task", "evaluate {sentiment} --beam 2",
         "--beam: not an option of evaluate for a sentiment run; its options: none", task="sentiment"),
    case("evaluate-length-penalty-nan", "evaluate {translate} --length-penalty nan",
         "'--length-penalty': nan is not a finite number", task="translate"),
    case("evaluate-max-length-absurd", "evaluate {translate} --max-length 1000000000",
         "--max-length must be at most 100,000, got 1,000,000,000", task="translate"),
    case("evaluate-textgen-empty-file", "evaluate {textgen} --data e.txt", "e.txt: the file is empty", task="textgen",
         files={"e.txt": ""}),
    case("evaluate-video-unknown-label", "evaluate {video} --data clips/l.csv",
         "clips/l.csv:2: unknown label 'jump'; known labels: down, left, right, still, up", task="video",
         files={**VIDEO_DIR, "clips/l.csv": "clip,label\nc1.npy,jump\n"}),
    case("evaluate-vqa-broken-jsonl", "evaluate {vqa} --data q/d.jsonl", "q/d.jsonl:2: invalid JSON", task="vqa",
         files={**VQA_DIR, "q/d.jsonl": '{"image": "a.png", "question": "q?", "answer": "yes"}\n{"image": \n'}),
    case("evaluate-caption-missing-image", "evaluate {caption} --data c/d.tsv", "c/d.tsv:2: c/zz.png: no such image",
         task="caption", files={**CAPTION_DIR, "c/d.tsv": "a.png\ta dog\nzz.png\ta cat\n"}),
    case("evaluate-tag-unknown-tag", "evaluate {tag} --data t.conll",
         "t.conll:7: unknown label 'B-SHIP'; known labels: B-DATE, B-LOC", task="tag",
         files={"t.conll": CONLL + "\nNautilus B-SHIP\n"}),
    case("evaluate-tag-line-without-tag", "evaluate {tag} --data t.conll", "t.conll:2: 1 column(s) ('met')",
         task="tag", files={"t.conll": "Ada B-PER\nmet\n"}),
    case("evaluate-run-without-held-out-parts", "evaluate run",
         "run has no test or validation part to evaluate on (its data, 2 training examples, were too few",
         "pass --data FILE", task="sentiment", files={"few.tsv": REVIEWS},
         setup=lambda ctx: damaged_run("sentiment", run__json=json.dumps(
             {"task": "sentiment", "data": str(ctx.tmp / "few.tsv"), "replicas": 1}))(ctx)),
    case("evaluate-truncated-model", "evaluate run", "run/model.keras is damaged or not a Keras model",
         task="translate", setup=damaged_run("translate", model__keras=half)),
    case("evaluate-broken-config-yaml", "evaluate run", "run/config.yaml:2: not valid YAML/JSON", task="video",
         setup=damaged_run("video", config__yaml="units: [\n")),

    # --- predict: inputs ----------------------------------------------------------------------------
    case("predict-nothing", "predict {sentiment}", "nothing to predict: give inputs as arguments or --input FILE",
         task="sentiment"),
    case("predict-input-missing", "predict {sentiment} --input nothere.txt", "no such file: nothere.txt",
         task="sentiment"),
    case("predict-input-empty", "predict {sentiment} --input e.txt", "e.txt: no inputs found (the file is empty)",
         task="sentiment", files={"e.txt": "\n\n"}),
    case("predict-input-utf16", "predict {translate} --input in.txt",
         "in.txt:1: invalid UTF-8 at byte offset 0 (UTF-16",
         task="translate", files={"in.txt": "the dog .\n".encode("utf-16")}),
    case("predict-input-jsonl-broken", "predict {vqa} --input in.jsonl", "in.jsonl:2: invalid JSON", task="vqa",
         files={**VQA_DIR, "in.jsonl": '{"image": "q/a.png", "question": "q?"}\n{"image": \n'}),
    case("predict-input-jsonl-missing-key", "predict {vqa} --input in.jsonl",
         "in.jsonl:2: missing key 'question'", task="vqa",
         files={**VQA_DIR, "in.jsonl": '{"image": "q/a.png", "question": "q?"}\n{"image": "q/a.png"}\n'}),
    case("predict-unknown-input-name", "predict {sentiment} --question why",
         "input 1: no input named question; missing text; this task reads text", task="sentiment"),
    case("predict-named-input-without-value", "predict {sentiment} --text",
         "--text needs a value (inputs by name: --NAME VALUE)", task="sentiment"),
    case("predict-vqa-missing-question", "predict {vqa} --image q/a.png",
         "input 1: missing question; this task reads image, question", task="vqa", files=VQA_DIR),
    case("predict-vqa-image-cut-short", "predict {vqa} --image cut.png --question q",
         "input 1: cut.png: the image is cut short", task="vqa", files={"cut.png": CUT_PNG}),
    case("predict-vqa-image-is-a-folder", "predict {vqa} --image q --question q",
         "input 1: q: is a folder, not an image",
         task="vqa", files=VQA_DIR),
    case("predict-caption-npy-as-image", "predict {caption} clip.npy",
         "input 1: clip.npy: not a PNG, JPEG, BMP or GIF image", task="caption", files={"clip.npy": CLIP}),
    case("predict-caption-name-too-long", ("predict", "{caption}", "{long_name}"),
         "(5,000 characters): cannot read (File name too long)", task="caption"),
    case("predict-video-image-as-clip", "predict {video} a.png", "input 1: a.png: not a clip; give a .npy file",
         task="video", files={"a.png": PNG}),
    case("predict-video-npy-of-objects", "predict {video} o.npy", "input 1: o.npy: cannot read .npy", task="video",
         files={"o.npy": array(np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)}),
    case("predict-video-npy-int64", "predict {video} i.npy",
         "input 1: i.npy: expected uint8 or float (0..1) values, got int64",
         task="video", files={"i.npy": array(np.zeros((4, 16, 16, 1), np.int64))}),
    case("predict-video-folder-without-frames", "predict {video} f", "input 1: f: no frame images", task="video",
         files={"f/": None, "f/notes.txt": "x"}),
    case("predict-tag-unknown-input-name", "predict {tag} --text hi",
         "input 1: no input named text; missing sentence; this task reads sentence", task="tag"),
    case("predict-tag-input-jsonl-missing-key", "predict {tag} --input in.jsonl",
         "in.jsonl:2: missing key 'sentence'", task="tag",
         files={"in.jsonl": '{"sentence": "Ada met Bob"}\n{"text": "Ada met Bob"}\n'}),

    # --- predict: options -----------------------------------------------------------------------------
    case("predict-tag-beam", "predict {tag} Ada met Bob --beam 2",
         "--beam: not an option of predict for a tag run; its options: none", task="tag"),
    case("predict-option-of-another-task", "predict {textgen} hi --beam 3",
         "--beam: not an option of predict for a textgen run; its options: --temperature, --top-k, --top-p, "
         "--seed, --max-length", task="textgen"),
    case("predict-beam-and-sampling", "predict {translate} hi --beam 2 --temperature 0.5",
         "choose either beam search (--beam) or sampling (--temperature/--top-k/--top-p)", task="translate"),
    case("predict-temperature-nan", "predict {translate} hi --temperature nan",
         "'--temperature': nan is not a finite number", task="translate"),
    case("predict-seed-negative", "predict {translate} hi --seed -1 --temperature 0.5",
         "--seed must be between 0 and 4294967295, got -1", task="translate"),
    case("predict-max-length-absurd", "predict {textgen} hi --max-length 1000000000",
         "--max-length must be at most 100,000, got 1,000,000,000", task="textgen"),
    case("predict-attention-plot-under-a-file", "predict {caption} c/a.png --attention-plot afile/att.png",
         "cannot create afile/att.png: afile is a file, not a folder", task="caption",
         files={**CAPTION_DIR, "afile": "x"}),
    case("predict-video-plot-under-a-file", "predict {video} c.npy --plot afile/p.png",
         "cannot create afile/p.png: afile is a file, not a folder", task="video", files={"c.npy": CLIP, "afile": "x"}),
    case("predict-attention-plot-read-only", "predict {translate} hi --attention-plot ro/att.png",
         "ro is not writable", task="translate", files={"ro/": None}, setup=chmod("ro", 0o555),
         marks=[needs_permissions]),

    # --- predict and generate: absurd sizes ---------------------------------------------------------
    case("predict-sentiment-megabyte-text", ("predict", "{sentiment}", "{big_text}", "--json"), '"label": "',
         task="sentiment", ok=True, verify=one_answer("label", ("negative", "positive"))),
    case("predict-translate-megabyte-text", ("predict", "{translate}", "{big_text}", "--json"), '"translation": "',
         task="translate", ok=True, verify=one_answer("translation")),
    case("predict-textgen-megabyte-prompt", ("predict", "{textgen}", "{big_prompt}"),
         "input 1 is 1,000,000 characters; a language model reads at most 100,000", task="textgen"),
    case("predict-textgen-export-megabyte-prompt", ("predict", "{textgen_tflite}", "{big_prompt}"),
         "input 1 is 1,000,000 characters; a language model reads at most 100,000", task="textgen"),
    case("generate-megabyte-prompt", ("generate", "{textgen}", "--prompt", "{big_prompt}"),
         "the prompt is 1,000,000 characters; a language model reads at most 100,000", task="textgen"),
    case("generate-length-absurd", "generate {textgen} --length 1000000000",
         "1000000000 is not in the range 1<=x<=100000", task="textgen"),
    case("generate-num-samples-absurd", "generate {textgen} --num-samples 1000000",
         "1000000 is not in the range 1<=x<=1000", task="textgen"),
    case("run-dir-name-too-long", ("info", "{long_name}"), "(5,000 characters): File name too long"),

    # --- predict, info, evaluate: damaged and foreign run directories --------------------------------
    case("predict-empty-folder", "predict empty hi",
         "empty is neither an rnn-apps run directory (no run.json) nor a TFLite export (no manifest.json)",
         files={"empty/": None}),
    case("predict-run-json-broken", "predict run hi", "run/run.json is damaged (not valid JSON", task="sentiment",
         setup=damaged_run("sentiment", run__json='{"task": "sentim')),
    case("predict-run-json-without-task", "predict run hi", "run/run.json is damaged (no task)", task="sentiment",
         setup=damaged_run("sentiment", run__json='{"data": null}')),
    case("predict-run-of-unknown-task", "predict run hi",
         f"run/run.json: unknown task {UNKNOWN_TASK!r}; tasks: {CHOICES}", task="sentiment",
         setup=damaged_run("sentiment", run__json=json.dumps({"task": UNKNOWN_TASK}))),
    case("predict-without-model", "predict run hi", "has no model.keras yet (training did not finish",
         task="sentiment", setup=damaged_run("sentiment", model__keras=None)),
    case("predict-model-not-keras", "predict run hi", "run/model.keras cannot be loaded as an rnn-apps model",
         task="textgen", setup=damaged_run("textgen", model__keras=lambda _: zip_without_config())),
    case("predict-labels-of-another-run", "predict run hi",
         "run/labels.json names", "labels but run/model.keras has 1 output unit: a label file of another run",
         task="sentiment",
         setup=lambda ctx: (damaged_run("sentiment")(ctx),
                            shutil.copyfile(ctx.path("vqa") / "answers.json", ctx.tmp / "run" / "labels.json"))),
    case("predict-video-labels-damaged", "predict run c.npy", "run/labels.json names 1 labels but", task="video",
         files={"c.npy": CLIP}, setup=damaged_run("video", labels__json='{"labels": 3}')),
    case("predict-vocabulary-damaged", "predict run hi", "run/vocab.json: missing or damaged", task="sentiment",
         setup=damaged_run("sentiment", vocab__json="[1, 2")),
    case("predict-textgen-tokens-damaged", "predict run hi", "run/tokens.json: missing or damaged", task="textgen",
         setup=damaged_run("textgen", tokens__json='{"x": 1}')),
    case("predict-translate-subword-model-garbage", "predict run hi", "run/target_tokens.json: missing or damaged",
         task="translate", setup=damaged_run("translate", target_tokens__model="junk")),
    case("predict-vqa-answers-missing", "predict run --image q/a.png --question q",
         "run/answers.json: missing or damaged",
         task="vqa", files=VQA_DIR, setup=damaged_run("vqa", answers__json=None)),
    case("predict-caption-tokens-empty", "predict run c/a.png", "run/caption_tokens.json: missing or damaged",
         task="caption", files=CAPTION_DIR, setup=damaged_run("caption", caption_tokens__json="")),
    case("predict-tag-vocabulary-damaged", "predict run Ada", "run/vocab.json: missing or damaged", task="tag",
         setup=damaged_run("tag", vocab__json="[1, 2")),
    case("predict-tag-labels-of-another-run", "predict run Ada", "run/labels.json names 5 labels but",
         "a label file of another run", task="tag",
         setup=lambda ctx: (damaged_run("tag")(ctx),
                            shutil.copyfile(ctx.path("video") / "labels.json", ctx.tmp / "run" / "labels.json"))),
    case("info-config-unknown-key", "info run", "run/config.yaml: " + CONFIG_KEYS, task="sentiment",
         setup=damaged_run("sentiment", config__yaml=lambda old: old + b"colour: red\n")),
    case("info-config-missing", "info run", "config file not found: run/config.yaml", task="caption",
         setup=damaged_run("caption", config__yaml=None)),
    case("info-metrics-broken", "info run", "run/metrics.json is damaged (not valid JSON", task="sentiment",
         setup=damaged_run("sentiment", metrics__json="{")),
    case("info-metrics-not-an-object", "info run", "run/metrics.json is damaged (expected a JSON object",
         task="translate", setup=damaged_run("translate", metrics__json="[1, 2]")),
    # info is what a user runs to see how far training got: an unfinished run is shown, not refused
    case("info-unfinished-run", "info run", "unfinished: 2 of 2 epochs done", "rnn-apps train --resume run",
         task="sentiment", ok=True,
         setup=damaged_run("sentiment", model__keras=None, metrics__json=None)),
    case("info-unfinished-run-json", "info run --json", '"finished": false', task="textgen", ok=True,
         setup=damaged_run("textgen", model__keras=None, metrics__json=None),
         verify=lambda out: json.loads(out)["epochs_done"] == 2 and len(json.loads(out)["history"]["loss"]) == 2),
    case("info-unfinished-state-damaged", "info run", "run/checkpoints/state.json is damaged", task="sentiment",
         setup=lambda ctx: (damaged_run("sentiment", model__keras=None)(ctx),
                            (ctx.tmp / "run" / "checkpoints" / "state.json").write_text("[1]"))),
    case("info-an-export", "info {textgen_tflite}", "is a TFLite export, not a run directory", task="textgen"),

    # --- predict and generate: damaged and foreign TFLite exports ------------------------------------
    case("export-copy-without-manifest", "predict export hi", "export is neither an rnn-apps run directory",
         task="sentiment", setup=damaged_export("sentiment_tflite", manifest__json=None)),
    case("export-manifest-broken", "predict export hi", "export/manifest.json: not valid JSON", task="sentiment",
         setup=damaged_export("sentiment_tflite", manifest__json='{"format": "tflite", ')),
    case("export-manifest-foreign", "predict export hi",
         "export/manifest.json: not the manifest of an rnn-apps TFLite export", task="sentiment",
         setup=damaged_export("sentiment_tflite", manifest__json='{"format": "onnx", "files": {}}')),
    case("export-manifest-without-signatures", "predict export hi",
         "export/manifest.json is damaged: 'signatures' is missing or not a JSON object", task="textgen",
         setup=damaged_export("textgen_tflite", manifest__json=edit_manifest(signatures=None))),
    case("export-manifest-lists-outside-file", "predict export hi",
         "export/manifest.json is damaged: it lists '../run.json', not a file of the export folder", task="sentiment",
         setup=damaged_export("sentiment_tflite", manifest__json=edit_manifest(files={"../run.json": "0"}))),
    case("export-unknown-output-kind", "predict export hi",
         "this runtime cannot run output kind 'regression'; kinds: label, next_token, sequence, labels_per_step",
         task="sentiment", setup=damaged_export("sentiment_tflite", manifest__json=edit_manifest(
             output={"kind": "regression"}))),
    case("export-model-truncated", "predict export hi",
         "export/model.tflite is not the file this export was made with (its SHA-256 differs)", task="sentiment",
         setup=damaged_export("sentiment_tflite", model__tflite=half)),
    case("export-model-garbage-rehashed", "generate export --length 5",
         "export/model.tflite: not a TFLite model this runtime can load", task="textgen",
         setup=damaged_export("textgen_tflite", rehash=True, model__tflite=half)),
    case("export-vocabulary-missing", "predict export hi",
         "export/vocab.json is missing (the export lists it in manifest.json)", task="sentiment",
         setup=damaged_export("sentiment_tflite", vocab__json=None)),
    # an export's integrity: every path it names is one of its hashed files, and what the manifest
    # says (after an edit with the hashes recomputed) is held to the model's own tensors
    case("export-model-outside-the-folder", "predict export hi",
         "export/manifest.json is damaged: \"model\" is '../outside.tflite', not one of the files it lists",
         task="sentiment", setup=lambda ctx: (damaged_export("sentiment_tflite", manifest__json=edit_manifest(
             model="../outside.tflite"))(ctx), shutil.copy(ctx.tmp / "export" / "model.tflite",
                                                           ctx.tmp / "outside.tflite"))),
    case("export-model-not-hashed", "generate export --length 3",
         "\"model\" is 'other.tflite', not one of the files it lists and hashes", task="textgen",
         setup=lambda ctx: (damaged_export("textgen_tflite", manifest__json=edit_manifest(model="other.tflite"))(ctx),
                            shutil.copy(ctx.tmp / "export" / "model.tflite", ctx.tmp / "export" / "other.tflite"))),
    case("export-vocabulary-path-absolute", "predict export hi",
         "input 'text' 'vocabulary' is '/etc/passwd', not one of the files", task="sentiment",
         setup=damaged_export("sentiment_tflite", manifest__json=edit_manifest(
             inputs={"text": {"kind": "text", "tokenizer": "vectorizer", "vocabulary": "/etc/passwd"}}))),
    case("export-file-is-a-link-outside", "predict export hi", "export/vocab.json leads outside the export folder",
         task="sentiment", setup=lambda ctx: (damaged_export("sentiment_tflite")(ctx),
                                              shutil.move(ctx.tmp / "export" / "vocab.json", ctx.tmp / "v.json"),
                                              (ctx.tmp / "export" / "vocab.json").symlink_to(ctx.tmp / "v.json"))),
    case("export-vocabulary-500-more-rehashed", "predict export hi",
         "does not match its model: input 'text': its vocabulary vocab.json has", "the model's embedding",
         task="sentiment", setup=damaged_export("sentiment_tflite", rehash=True, vocab__json=lambda old: json.dumps(
             {**json.loads(old), "vocabulary": json.loads(old)["vocabulary"] + [f"w{i}" for i in range(500)]}
         ).encode())),
    case("export-tokens-500-more-rehashed", "generate export --length 3",
         "does not match its model: input 'text': its vocabulary tokens.json has", task="textgen",
         setup=damaged_export("textgen_tflite", rehash=True, tokens__json=lambda old: json.dumps(
             {**json.loads(old), "tokens": json.loads(old)["tokens"] + [f"w{i}" for i in range(500)]}).encode())),
    case("export-static-length-0", "predict export hi", "input 'text' has static_length 0, the model's text_ids is",
         task="sentiment", setup=damaged_export("sentiment_tflite", manifest__json=lambda old: edit_manifest(
             inputs={"text": {**json.loads(old)["inputs"]["text"], "static_length": 0}})(old))),
    case("export-labels-empty", "predict export hi", "0 labels (strings), the model gives 2 probabilities",
         task="sentiment", setup=damaged_export("sentiment_tflite", manifest__json=lambda old: edit_manifest(
             output={**json.loads(old)["output"], "labels": []})(old))),
    case("export-signature-shape-edited", "predict export hi", "does not match its model: signature 'classify' is",
         task="sentiment", setup=damaged_export("sentiment_tflite", manifest__json=lambda old: edit_manifest(
             signatures={"classify": {**json.loads(old)["signatures"]["classify"], "inputs": {
                 "text_ids": {"shape": [1, 7], "dtype": "int32"}}}})(old))),
    case("export-banned-id-past-the-vocabulary", "generate export --length 3",
         "the output's banned_ids [100000] is not among the model's", task="textgen",
         setup=damaged_export("textgen_tflite", manifest__json=lambda old: edit_manifest(
             output={**json.loads(old)["output"], "banned_ids": [100000]})(old))),
    case("export-default-length-absurd", "generate export", "the output's defaults: --max-length must be at most",
         task="textgen", setup=damaged_export("textgen_tflite", manifest__json=lambda old: edit_manifest(
             output={**json.loads(old)["output"], "defaults": {"max_length": 10 ** 12}})(old))),
    case("export-option-not-taken", "predict {sentiment_tflite} hi --beam 2",
         "--beam: not an option of predict for a sentiment TFLite export; its options: none", task="sentiment"),
    case("export-video-predicts", "predict {video_tflite} c.npy --json", '"segments": [', task="video",
         files={"c.npy": CLIP}, ok=True, verify=lambda out: len(json.loads(out)[0]["labels"]) == 5),
    case("export-video-plot-under-a-file", "predict {video_tflite} c.npy --plot afile/p.png",
         "cannot create afile/p.png: afile is a file, not a folder", task="video", files={"c.npy": CLIP, "afile": "x"}),

    # --- generate -------------------------------------------------------------------------------------
    case("generate-a-classifier", "generate {sentiment}",
         "is a sentiment run; generate needs a language model (textgen)",
         task="sentiment"),
    case("generate-a-classifier-export", "generate {sentiment_tflite}", "is a sentiment export; generate needs a "
         "language model", task="sentiment"),
    case("generate-temperature-inf", "generate {textgen} --temperature inf",
         "'--temperature': inf is not a finite number",
         task="textgen"),
    case("generate-top-p-1.5", "generate {textgen} --top-p 1.5", "1.5 is not in the range 0<x<=1", task="textgen"),
    case("generate-seed-absurd", "generate {textgen} --seed 99999999999999999999999",
         "is not in the range 0<=x<=4294967295", task="textgen"),
    case("generate-damaged-run", "generate run", "run/tokens.json: missing or damaged", task="textgen",
         setup=damaged_run("textgen", tokens__json=None)),

    # --- export -----------------------------------------------------------------------------------------
    case("export-unknown-format", "export {sentiment} --format onnx", "'onnx' is not one of 'savedmodel', 'tflite'",
         task="sentiment"),
    case("export-option-of-another-format", "export {sentiment} --quantize dynamic --out sm",
         "--quantize: not an option of the savedmodel format; its options: none", task="sentiment"),
    case("export-out-exists", "export {sentiment} --out adir", "adir already exists; remove it or choose another --out",
         task="sentiment", files={"adir/": None}),
    case("export-out-under-a-file", "export {vqa} --out afile/sm",
         "cannot create afile/sm: afile is a file, not a folder",
         task="vqa", files={"afile": "x"}),
    case("export-out-read-only", "export {caption} --out ro/sm", "ro is not writable", task="caption",
         files={"ro/": None}, setup=chmod("ro", 0o555), marks=[needs_permissions]),
    case("export-int8-recurrent-leaves-nothing", "export {sentiment} --format tflite --quantize int8 --out new/deep/q8",
         "--quantize int8 (full-integer) does not convert a recurrent loop", "Use --quantize dynamic",
         task="sentiment"),
    case("export-default-out-exists", "export run", "run/export/savedmodel already exists", task="translate",
         setup=lambda ctx: (damaged_run("translate")(ctx),
                            (ctx.tmp / "run" / "export" / "savedmodel").mkdir(parents=True))),
    # options whose size is the work: bounded with the range, before any work
    case("export-seq-len-absurd", "export {sentiment} --format tflite --seq-len 1000000000 --out t",
         "1000000000 is not in the range 1<=x<=10000", task="sentiment"),
    case("predict-beam-absurd", "predict {translate} hi --beam 100000", "100000 is not in the range 1<=x<=256",
         task="translate"),
    case("predict-caption-beam-absurd", "predict {caption} c/a.png --beam 100000", "not in the range 1<=x<=256",
         task="caption", files=CAPTION_DIR),
    case("evaluate-beam-absurd", "evaluate {translate} --beam 257", "257 is not in the range 1<=x<=256",
         task="translate"),
    case("export-an-export", "export {sentiment_tflite} --out sm", "is a TFLite export, not a run directory",
         task="sentiment"),
    case("export-truncated-model", "export run --out sm", "run/model.keras is damaged or not a Keras model",
         task="vqa", setup=damaged_run("vqa", model__keras=half)),

    # --- plot and diagnose --------------------------------------------------------------------------------
    case("plot-history-broken", "plot run", "run/history.json is damaged (not valid JSON", task="sentiment",
         setup=damaged_run("sentiment", history__json='{"loss": [')),
    case("plot-history-not-an-object", "plot run", "run/history.json is damaged (expected a JSON object",
         task="textgen", setup=damaged_run("textgen", history__json="[1, 2]")),
    case("plot-history-without-epochs", "plot run", "run/history.json holds no epochs yet", task="video",
         setup=damaged_run("video", history__json="{}")),
    case("plot-out-under-a-file", "plot {sentiment} --out afile/c.png",
         "cannot create afile/c.png: afile is a file, not a folder", task="sentiment", files={"afile": "x"}),
    # every file a command writes goes through one check: a place where nothing can be made,
    # a file where a folder is needed, an extension no image format has
    case("plot-out-under-proc", "plot {sentiment} --out /proc/curves.png",
         "cannot create /proc/curves.png: no file can be made in /proc", task="sentiment"),
    case("plot-out-unknown-extension", "plot {textgen} --out pic.nosuch",
         "cannot write pic.nosuch: '.nosuch' is not the extension of an image format; use one of .png", task="textgen"),
    case("plot-out-without-extension", "plot {textgen} --out curves", "cannot write curves: it has no extension",
         task="textgen"),
    case("plot-out-is-a-folder", "plot {sentiment} --out adir", "adir",
         task="sentiment", files={"adir/": None}),
    case("predict-attention-plot-under-proc", "predict {translate} hi --attention-plot /proc/self/att.png",
         "cannot create /proc/self/att.png", task="translate"),
    case("predict-attention-plot-deep-under-a-file", "predict {translate} hi --attention-plot f/g/att.png",
         "cannot create f/g/att.png: f is a file, not a folder", task="translate", files={"f": "x"}),
    case("predict-attention-plot-no-format", "predict {translate} hi --attention-plot att.txt",
         "cannot write att.txt: '.txt' is not the extension of an image format", task="translate"),
    case("diagnose-out-under-sys", "diagnose gradients --cells gru --steps 3 --seeds 1 --out /sys/g.png",
         "cannot create /sys/g.png"),
    case("diagnose-out-unknown-extension", "diagnose long-range --cells gru --out l.pngx",
         "cannot write l.pngx: '.pngx' is not the extension of an image format"),
    case("plot-an-export", "plot {sentiment_tflite}", "is a TFLite export, not a run directory", task="sentiment"),
    case("diagnose-unknown-cell", "diagnose gradients --cells transformer",
         "unknown cell transformer; cells: vanilla, simple, lstm, gru"),
    case("diagnose-recurrent-scale-nan", "diagnose gradients --recurrent-scale nan",
         "'--recurrent-scale': nan is not a finite number"),
    case("diagnose-out-under-a-file", "diagnose gradients --cells gru --steps 3 --seeds 1 --out afile/g.png",
         "cannot create afile/g.png: afile is a file, not a folder", files={"afile": "x"}),
    case("diagnose-long-range-unknown-optimizer", "diagnose long-range --optimizer adagrad",
         "'adagrad' is not one of 'adam', 'sgd', 'rmsprop'"),
    case("diagnose-long-range-out-under-a-file", "diagnose long-range --cells gru --out afile/l.png",
         "cannot create afile/l.png: afile is a file, not a folder", files={"afile": "x"}),
]


def zip_without_config() -> bytes:
    """A zip archive named model.keras that holds no Keras model."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a model")
    return out.getvalue()


# --- running a case ----------------------------------------------------------------------------

SHARED = (*TASKS, *(f"{task}_tflite" for task in TASKS))
PLACEHOLDER = re.compile(r"\{(" + "|".join(SHARED + ("run", "export", "tmp", "long_name", "big_text",
                                                    "big_prompt")) + r")\}")


class Ctx:
    """What a case runs in: the working directory, and the shared runs, fetched when named."""

    def __init__(self, tmp: Path, request):
        self.tmp, self.request, self.used = tmp, request, {}

    def path(self, name: str) -> Path:
        """A shared run (``sentiment``) or export (``sentiment_tflite``) of ``tests/conftest.py``,
        made on first use."""
        if name not in self.used:
            fixture = f"{name}_run" if name in TASKS else name
            self.used[name] = Path(self.request.getfixturevalue(fixture))
        return self.used[name]

    def copy(self, name: str, to: str) -> Path:
        return Path(shutil.copytree(self.path(name), self.tmp / to))

    def fill(self, text: str) -> str:
        values = {"run": "run", "export": "export", "tmp": str(self.tmp), "long_name": LONG_NAME,
                  "big_text": BIG_TEXT, "big_prompt": BIG_PROMPT}
        return PLACEHOLDER.sub(lambda m: values[m[1]] if m[1] in values else str(self.path(m[1])), text)


def make_files(root: Path, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def tree(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its size and modification time (folders: None, mtime)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            stat = path.lstat()
            found[str(path.relative_to(root))] = (None if name in dirs else stat.st_size, stat.st_mtime_ns)
    return found


def error_line(result) -> str:
    """The one line of the error: the only ``Error:`` line of the output, and stderr's last."""
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, f"expected exactly one Error line:\n{result.output[-3000:]}"
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0], "the error is not the last line on stderr"
    return errors[0]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)  # a run without --run-dir would land in runs/TASK/...
    ctx = Ctx(tmp_path, request)
    make_files(tmp_path, case.files)
    if case.setup is not None:
        case.setup(ctx)
    args = [ctx.fill(a) for a in case.args]
    expect = [ctx.fill(e) for e in case.expect]
    before = tree(tmp_path)  # and the folders of the shared runs: no temporary sibling either
    shared = {name: tree(path.parent) for name, path in ctx.used.items()}
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        for path in tmp_path.rglob("*"):  # let pytest clean up what a case made read-only
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    output = result.output
    assert "Traceback" not in output, output[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if case.ok:
        assert result.exit_code == 0, output[-3000:]
        assert not [line for line in output.splitlines() if line.startswith("Error")]
        for text in expect:
            assert text in result.stdout, f"{text!r} not in the output"
        assert case.verify is None or case.verify(result.stdout), result.stdout[:3000]
    else:
        assert result.exit_code == 2, output[-3000:]
        line = error_line(result)
        assert len(line) <= MAX_LINE, f"the error line is {len(line):,} characters"
        for text in expect:
            assert text in line, f"{text!r} not in {line!r}"
    after = tree(tmp_path)
    assert after == before, f"written or changed: {sorted(set(after.items()) ^ set(before.items()))[:10]}"
    for name, files in shared.items():
        assert tree(ctx.path(name).parent) == files, f"the shared {name} (or its folder) was changed"


def test_the_table_covers_every_command_and_task():
    """New tasks and commands add their cases to CASES: every one has its own."""
    commands = {c.command for c in CASES}
    assert {"tasks", "config", "train", "evaluate", "predict", "generate", "export", "info", "plot",
            "diagnose"} <= commands
    for task in TASKS:  # the registry's: a new task is held to this table at once
        missing = {"train", "predict"} - {c.command for c in CASES if c.task == task}
        assert not missing, f"the registered task {task!r} has no {sorted(missing)} cases: add them to CASES"
    assert len({c.id for c in CASES}) == len(CASES) >= 100
