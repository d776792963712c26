"""Progress for long steps that are not epochs: reading a big file, decoding thousands of
sentences, converting an export. Shown on stderr only where a person watches (a terminal),
and only when the step is long enough to need it; it disappears when done."""
from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def _watched() -> bool:
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def track(items: Iterable[T], total: int, description: str, at_least: int = 8) -> Iterator[T]:
    """``items`` with a transient bar of ``total`` steps when there are ``at_least`` of them."""
    if total < at_least or not _watched():
        yield from items
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(items, total=total, description=description, transient=True,
                          console=Console(file=sys.stderr))


@contextlib.contextmanager
def status(message: str):
    """A spinner with ``message`` while the block runs (a conversion, a long read)."""
    if not _watched():
        yield
        return
    from rich.console import Console

    with Console(file=sys.stderr).status(message):
        yield


def note(message: str) -> None:
    """One line on stderr about a step the user chose (vectors read, a split made)."""
    from rich.console import Console

    Console(file=sys.stderr, soft_wrap=True).print(message, highlight=False)
