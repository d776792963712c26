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
    """Yield a temporary sibling of ``path``; rename it to ``path`` if the block succeeds.

    Siblings left by an earlier attempt that was killed (``kill -9`` cannot be cleaned up
    after) are removed first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {path.parent} ({exc.strerror or exc})") from None
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
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
    """Write JSON atomically (temp file + rename): a crash or a failed write leaves the old file."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False))


def write_text(path: Path, text: str) -> None:
    """Write text atomically (temp file + rename); the temp file never outlives a failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_model(model: Any, path: Path) -> None:
    """``model.save`` atomically: a crash never leaves a half-written ``.keras`` file."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_model(path: Path) -> Any:
    """A ``.keras`` file loaded in Keras ``safe_mode``: layers are rebuilt from their
    configuration, never from pickled Python code, so a file from someone else cannot run
    code here. A ``Lambda`` layer (arbitrary code) is refused; a damaged or foreign file is a
    ``UserError`` naming it."""
    import zipfile

    import keras

    if not path.is_file():
        raise UserError(f"{path} is missing")
    try:
        return keras.models.load_model(path, safe_mode=True)
    except zipfile.BadZipFile:
        raise UserError(f"{path} is damaged or not a Keras model (not a complete .keras archive)") from None
    except (ValueError, TypeError, KeyError, OSError, AttributeError) as exc:
        message = str(exc)
        if "zip file" in message:  # what Keras says of a truncated archive
            raise UserError(f"{path} is damaged or not a Keras model (not a complete .keras archive)") from None
        if "safe_mode" in message or "Lambda" in message:
            raise UserError(f"{path} holds a Lambda layer (arbitrary Python code); rnn-apps loads models in Keras "
                            f"safe_mode and refuses it") from None
        raise UserError(f"{path} cannot be loaded as an rnn-apps model ({type(exc).__name__}: "
                        f"{message.splitlines()[0] if message else ''})") from None


def read_json_file(path: Path) -> Any:
    """A JSON file of a run; a damaged one is a ``UserError`` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is damaged (not valid JSON: {exc})") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror})") from None


def read_run(run_dir: str | Path) -> tuple[Path, dict]:
    """Check that ``run_dir`` is an rnn-apps run; return its path and ``run.json``."""
    path = Path(run_dir)
    meta_file = path / RUN_FILE
    if not meta_file.is_file():
        raise UserError(f"{path} is not an rnn-apps run directory (no {RUN_FILE})")
    meta = read_json_file(meta_file)
    if not isinstance(meta, dict) or "task" not in meta:
        raise UserError(f"{meta_file} is damaged (no task)")
    meta.setdefault("data", None)
    return path, meta


def new_run_meta(task: str, data: str | None) -> dict:
    return {"task": task, "data": data, "created": dt.datetime.now().isoformat(timespec="seconds")}
