"""The options of ``predict`` and ``evaluate`` that some tasks take, in one catalogue.

Output kinds name the options they take (``TokenSequence.predict_options = ("beam",
...)``); the CLI turns every entry here into a flag with its help text, and the Python API
refuses an option the run's task does not take, naming the ones it does. A new task with
an existing output kind needs nothing here; a new kind adds its options once. This module
imports nothing heavy, so ``rnn-apps --help`` stays fast.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from rnn_apps.errors import UserError


@dataclasses.dataclass(frozen=True)
class Option:
    """A predict/evaluate option: ``name`` in Python, ``--name-with-dashes`` on the CLI.

    Attributes:
        type: ``int``, ``float`` or ``"path"`` (a file to write).
        help: one line for ``--help``.
        min, max, min_open: bounds (inclusive unless ``min_open``).
        commands: which commands take it.
    """

    name: str
    type: Any
    help: str
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    commands: tuple[str, ...] = ("predict",)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: dict[str, Option] = {option.name: option for option in (
    Option("beam", int, "beam search with N beams (1 = greedy, the default)", min=1, max=256,
           commands=("predict", "evaluate")),
    Option("length_penalty", float, "GNMT length penalty alpha for beam search (0 = none; ~0.6 favours longer "
           "outputs)", min=0, commands=("predict", "evaluate")),
    Option("max_length", int, "most tokens to produce (sequences: default the run's max_length + 1; "
           "language models: tokens to generate)", min=1, commands=("predict", "evaluate")),
    Option("attention_plot", "path", "draw each input's attention map into this PNG (NAME_1.png, ... for several)"),
    Option("temperature", float, "sample instead of taking the most likely token: < 1 safer, > 1 wilder", min=0),
    Option("top_k", int, "sample only among the k most likely tokens", min=0),
    Option("top_p", float, "nucleus sampling: the smallest set of likely tokens with this much probability",
           min=0, max=1, min_open=True),
    Option("seed", int, "fix the samples when sampling"),
    Option("plot", "path", "draw the answer into this PNG: a clip's frames with their labels (video), the picture, "
           "question and top answers (vqa); NAME_1.png, ... for several"),
)}


def flags(names) -> str:
    return ", ".join(OPTIONS[n].flag if n in OPTIONS else "--" + n.replace("_", "-") for n in names) or "none"


def checked(options: dict, allowed, command: str, what: str) -> dict:
    """The ``options`` that were given (not None); a ``UserError`` names those ``what`` (a run,
    an export) does not take for ``command``, and lists the ones it does."""
    from rnn_apps.errors import UserError

    given = {k: v for k, v in options.items() if v is not None}
    wrong = [k for k in given if k not in allowed]
    if wrong:
        raise UserError(f"{flags(wrong)}: not an option of {command} for {what}; its options: {flags(allowed)}")
    return given


# Longest prompt a language model reads and most tokens one call generates: beyond these a
# request is a mistake (a file passed as a prompt, a length with extra zeros), not a wish.
MAX_PROMPT_CHARS = 100_000
MAX_NEW_TOKENS = 100_000
MAX_SAMPLES = 1_000
MAX_SEED = 2**32 - 1


def check_prompt(prompt: Any, where: str = "the prompt") -> None:
    """A prompt a language model can read in reasonable time; a longer one is a ``UserError``."""
    if isinstance(prompt, str) and len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(f"{where} is {len(prompt):,} characters; a language model reads at most "
                        f"{MAX_PROMPT_CHARS:,} (its state carries only so much: give the end of the text)")


def checked_values(options: dict) -> dict:
    """``options`` (predict/evaluate/generate settings) with their values checked where the
    command line cannot: finite numbers, a seed in 0..2**32-1, a token budget, a file to draw into."""
    import math

    from rnn_apps.runs import check_output_file

    for name, value in options.items():
        flag = OPTIONS[name].flag if name in OPTIONS else "--" + name.replace("_", "-")
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{flag} must be a finite number, got {value}")
        if name == "seed" and value is not None and not 0 <= value <= MAX_SEED:
            raise UserError(f"{flag} must be between 0 and {MAX_SEED}, got {value}")
        if name in ("max_length", "length") and value is not None and value > MAX_NEW_TOKENS:
            raise UserError(f"{flag} must be at most {MAX_NEW_TOKENS:,}, got {value:,}")
        option = OPTIONS.get(name)
        if option is not None and option.type in (int, float) and isinstance(value, (int, float)):
            if option.min is not None and (value < option.min or option.min_open and value == option.min):
                raise UserError(f"{flag} must be {'>' if option.min_open else '>='} {option.min}, got {value}")
            if option.max is not None and value > option.max:
                raise UserError(f"{flag} must be at most {option.max:,}, got {value:,}"
                                + (" (each beam is decoded in full at every step)" if name == "beam" else ""))
        if name in OPTIONS and OPTIONS[name].type == "path" and value is not None:
            check_output_file(value, image=True)
    return options
