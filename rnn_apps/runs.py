"""Run directories: created whole or not at all, and read back for later commands.

A run directory holds::

    run.json          task, data source, creation time
    config.yaml       the fully resolved config
    vocab.json ...    the fitted preprocessing (vocabularies, label sets)
    checkpoints/      last.keras, best.keras, state.json (for --resume)
    logs/             TensorBoard event files
    history.csv/json  per-epoch metrics
    model.keras       the best model (lowest val_loss)
    metrics.json      final validation and test reports

The directory appears by an atomic rename of a fully written temporary sibling, so a
run that fails on bad input leaves nothing behind; files are replaced atomically too.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from rnn_apps.errors import UserError

RUN_FILE = "run.json"


def default_run_dir(task: str, root: str | Path = "runs") -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / task / stamp
    n = 1
    while path.exists():  # two runs in the same second
        n += 1
        path = Path(root) / task / f"{stamp}-{n}"
    return path


def create_run_dir(path: Path, write: Callable[[Path], None]) -> Path:
    """Create ``path`` holding what ``write(tmp)`` wrote, atomically."""
    if path.exists() and any(path.iterdir()):
        raise UserError(f"run directory {path} already exists and is not empty; "
                        f"choose another --run-dir or continue it with --resume {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(path) as tmp:
        write(tmp)
    return path


@contextlib.contextmanager
def atomic_dir(path: Path):
    """Yield a temporary sibling of ``path``; rename it to ``path`` if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a run directory is an ordinary one
    try:
        yield tmp
        if path.exists():
            path.rmdir()  # only an empty directory gets here (checked by the caller)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def save_model(model: Any, path: Path) -> None:
    """``model.save`` atomically: a crash never leaves a half-written ``.keras`` file."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def read_run(run_dir: str | Path) -> tuple[Path, dict]:
    """Check that ``run_dir`` is an rnn-apps run; return its path and ``run.json``."""
    path = Path(run_dir)
    meta_file = path / RUN_FILE
    if not meta_file.is_file():
        raise UserError(f"{path} is not an rnn-apps run directory (no {RUN_FILE})")
    return path, json.loads(meta_file.read_text(encoding="utf-8"))


def new_run_meta(task: str, data: str | None) -> dict:
    return {"task": task, "data": data, "created": dt.datetime.now().isoformat(timespec="seconds")}
