"""Export: writing a trained run in a format something else can serve.

Exporters only write files; what to serve comes from the task's output kind as named
signatures (``rnn_apps.outputs.signatures``: the serving contract every output kind fills).
``EXPORTERS`` is the registry: a format name -> an ``Exporter`` whose ``write(run, out, **options)`` fills a new directory.
``export`` makes every export atomic: it is written to a temporary sibling and renamed,
so ``out`` is either complete or absent.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from rnn_apps.errors import UserError
from rnn_apps.runs import atomic_dir


@dataclasses.dataclass(frozen=True)
class Exporter:
    """A format: the module whose ``write(run, out, **options)`` writes it, and its options."""

    module: str
    options: tuple[str, ...] = ()

    def write(self, run: Any, out: Path, **options) -> None:
        importlib.import_module(self.module).write(run, out, **options)


# The longest static input a TFLite export is made with: its tensors (and the recurrent loop
# over them) are allocated at this length, so a length with extra zeros is a mistake.
MAX_SEQ_LEN = 10_000

EXPORTERS: dict[str, Exporter] = {
    "savedmodel": Exporter("rnn_apps.exporters.savedmodel"),
    "tflite": Exporter("rnn_apps.exporters.tflite", options=("quantize", "seq_len")),
}


def export(run: Any, format: str, out: Path, **options) -> Path:
    """Write ``run`` (a loaded ``rnn_apps.api.Run``) as ``format`` into the new directory ``out``.

    ``options`` (None = default) must be ones the format takes.
    """
    if format not in EXPORTERS:
        raise UserError(f"unknown export format {format!r}; formats: {', '.join(EXPORTERS)}")
    exporter = EXPORTERS[format]
    options = {k: v for k, v in options.items() if v is not None}
    wrong = [k for k in options if k not in exporter.options]
    if wrong:
        raise UserError(f"{', '.join('--' + k.replace('_', '-') for k in wrong)}: not an option of the {format} "
                        f"format; its options: {', '.join('--' + k.replace('_', '-') for k in exporter.options) or 'none'}")
    seq_len = options.get("seq_len")
    if seq_len is not None and not 1 <= seq_len <= MAX_SEQ_LEN:
        raise UserError(f"--seq-len must be between 1 and {MAX_SEQ_LEN:,}, got {seq_len:,} (the export's input "
                        f"tensors and recurrent loop are allocated at that length)")
    if out.exists():
        raise UserError(f"{out} already exists; remove it or choose another --out")
    with atomic_dir(out) as tmp:
        exporter.write(run, tmp, **options)
    return out
