"""Export: writing a trained run in a format something else can serve.

Exporters only write files; what to serve comes from the task's output kind as named
signatures (``rnn_apps.exporters.signatures``). ``EXPORTERS`` is the registry: a format name
-> ``write(run, out, **options)`` that fills a new directory. ``export`` makes every
export atomic: it is written to a temporary sibling and renamed, so ``out`` is either
complete or absent.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rnn_apps.errors import UserError
from rnn_apps.runs import atomic_dir


def _savedmodel(run: Any, out: Path, **options) -> None:
    from rnn_apps.exporters.savedmodel import write

    write(run, out, **options)


EXPORTERS: dict[str, Callable[..., None]] = {"savedmodel": _savedmodel}


def export(run: Any, format: str, out: Path, **options) -> Path:
    """Write ``run`` (a loaded ``rnn_apps.api.Run``) as ``format`` into the new directory ``out``."""
    if format not in EXPORTERS:
        raise UserError(f"unknown export format {format!r}; formats: {', '.join(EXPORTERS)}")
    if out.exists():
        raise UserError(f"{out} already exists; remove it or choose another --out")
    with atomic_dir(out) as tmp:
        EXPORTERS[format](run, tmp, **options)
    return out
