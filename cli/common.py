"""What every command shares: consoles, one-line errors, option builders, input reading.

TensorFlow is imported only inside commands, never here, so ``rnn-apps --help`` is fast.
A user mistake (``UserError``) prints one line and exits with status 2.
"""
from __future__ import annotations

import atexit
import contextlib
import errno
import math
import os
import re
import sys
import threading
from pathlib import Path

import click
from rich.console import Console

from rnn_apps.errors import UserError
from rnn_apps.options import OPTIONS

VERBOSE = os.environ.get("RNN_APPS_VERBOSE", "") not in ("", "0") or "--verbose" in sys.argv[1:2]
if not VERBOSE:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
# Lines TensorFlow's C++ side writes to stderr whatever TF_CPP_MIN_LOG_LEVEL says (absl's
# early-log warning, glog-style "I0000 00:00:..." notices such as oneDNN's).
NATIVE_NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} [\d:.]+ +\d+ )")


def quiet_native_logs() -> None:
    """Drop TensorFlow's C++ log lines from stderr, keep everything else.

    Python writes to a duplicate of the real stderr (still a terminal, so rich progress
    works); the process's file descriptor 2, where C++ writes, becomes a pipe that a thread
    filters line by line onto the real stderr.
    """
    real = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    sys.stderr = open(real, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)

    def forward():
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not NATIVE_NOISE.match(line):
                    os.write(real, line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()

    def drain():  # let the last lines through before the process ends
        os.dup2(real, 2)
        thread.join(timeout=1.0)

    atexit.register(drain)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
RUN_DIR = click.Path(file_okay=False, path_type=Path)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class UsageProblem(click.ClickException):
    """A ``UserError`` shown as ``Error: ...`` with exit status 2."""

    exit_code = 2


def report_to_launcher(message: str) -> None:
    """In a worker started by ``--workers`` (``RNN_APPS_ERROR_FILE`` set): leave the error for
    the launcher, which ends its own message with it (``rnn_apps.training.workers``)."""
    path = os.environ.get("RNN_APPS_ERROR_FILE")
    if path:
        with contextlib.suppress(OSError):
            Path(path).write_text(message, encoding="utf-8")


class Group(click.Group):
    """A command group whose commands' ``UserError``s become one-line usage problems.

    Click's own usage errors stay as they are, but on one line (a missing choice lists the
    choices on several); a file name the system refuses as too long is a usage problem too,
    wherever it was noticed."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            problem = UsageProblem(one_line(str(exc)))
            problem.exit_code = getattr(exc, "exit_code", 2)  # 130 after Ctrl-C
            report_to_launcher(problem.message)
            raise problem from None
        except click.UsageError as exc:
            text = exc.format_message()
            if "\n" not in text:
                raise
            raise click.UsageError(one_line(text), exc.ctx) from None
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            name = str(exc.filename or "")
            shown = name if len(name) <= 240 else f"{name[:120]}... ({len(name):,} characters)"
            raise UsageProblem(f"{shown}: file name too long") from None


def one_line(text: str) -> str:
    """``text`` with its line breaks (and the indentation after them) made single spaces."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class FiniteFloatRange(click.FloatRange):
    """A ``FloatRange`` that refuses ``nan`` and ``inf`` (which compare as in range)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number", param, ctx)
        return number


def catalogue_options(command: str):
    """Click options for every catalogued option (``rnn_apps.options``) that ``command`` takes.

    Which of them a run accepts depends on its task's output kind; the API names the valid
    ones when another is given.
    """
    def decorate(function):
        for option in reversed([o for o in OPTIONS.values() if command in o.commands]):
            if option.type == "path":
                kind = click.Path(dir_okay=False, path_type=Path)
            elif option.type is int:
                kind = click.IntRange(min=option.min, max=option.max)
            else:
                kind = FiniteFloatRange(min=option.min, max=option.max, min_open=option.min_open)
            function = click.option(option.flag, option.name, type=kind, help=option.help)(function)
        return function

    return decorate


class CellList(click.ParamType):
    """A comma-separated list of recurrent cells (``vanilla,lstm,gru``)."""

    name = "cells"

    def convert(self, value, param, ctx):
        from rnn_apps.layers.cells import CELLS

        names = [c.strip() for c in str(value).split(",") if c.strip()]
        unknown = [c for c in names if c not in CELLS]
        if unknown or not names:
            self.fail(f"unknown cell {', '.join(unknown) or '(none)'}; cells: {', '.join(CELLS)}", param, ctx)
        return names


def read_inputs(path: Path, names: list[str]) -> list:
    """Inputs from a file: a ``.jsonl`` file gives one object per line with the task's inputs
    ``names`` as keys (for tasks with several); any other file one text per non-empty line."""
    from rnn_apps.data.readers import read_jsonl, read_text_file

    if not path.is_file():
        raise UserError(f"no such file: {path}")
    if path.suffix.lower() == ".jsonl":
        examples = read_jsonl(path, {name: name for name in names}, {})
        return [{name: examples[name][i] for name in names} for i in range(len(examples))]
    lines = [line.strip() for line in read_text_file(path).splitlines() if line.strip()]
    if not lines:
        raise UserError(f"{path}: no inputs found (the file is empty)")
    return lines


def extra_pairs(args: list[str], what: str) -> list[tuple[str, str | None]]:
    """``--name value`` / ``--name=value`` / ``--flag`` items of unparsed arguments, in order.

    A value is None for a bare ``--flag`` (followed by another option or nothing).
    """
    pairs, i = [], 0
    while i < len(args):
        item = args[i]
        if not item.startswith("--") or item == "--":
            raise UsageProblem(f"unexpected argument {item!r} ({what})")
        name, sep, value = item[2:].partition("=")
        if sep:
            pairs.append((name.replace("-", "_"), value))
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            pairs.append((name.replace("-", "_"), args[i + 1]))
            i += 1
        else:
            pairs.append((name.replace("-", "_"), None))
        i += 1
    return pairs
