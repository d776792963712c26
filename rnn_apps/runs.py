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
import threading
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


def _shown(path: Path) -> str:
    """A path for a one-line message (an absurdly long one shortened)."""
    text = str(path)
    return text if len(text) <= 240 else f"{text[:120]}...{text[-60:]} ({len(text):,} characters)"


def _obstacle(path: Path) -> str | None:
    """Why ``path`` cannot be created, if something already tells: its nearest existing
    ancestor is a file, or a folder this process cannot write to."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        return f"cannot create {_shown(path)}: {_shown(ancestor)} is a file, not a folder"
    if ancestor.is_dir() and not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create {_shown(path)}: {_shown(ancestor)} is not writable"
    return None


def _cannot_create(path: Path, exc: OSError) -> str:
    """The message for a failed attempt to create ``path``."""
    try:
        obstacle = _obstacle(path)
    except OSError:  # a name too long for the system
        obstacle = None
    return obstacle or f"cannot create {_shown(path)} ({exc.strerror or exc})"


def check_new_path(path: str | Path, what: str = "") -> Path:
    """Check, before any work is done, that the file or folder ``path`` can be created: not
    a folder where a file is meant (``what="file"``), and its nearest existing ancestor a
    folder this process can write to. Returns ``path`` as a Path."""
    path = Path(path)
    try:
        if what == "file" and path.is_dir():
            raise UserError(f"{_shown(path)} is a folder; give the name of a file to write")
        obstacle = _obstacle(path)
    except OSError as exc:  # a name too long for the system
        raise UserError(_cannot_create(path, exc)) from None
    if obstacle:
        raise UserError(obstacle)
    return path


# The picture formats a figure can be written in (matplotlib, with Pillow for the last three),
# by the file's extension: the one a command writes is chosen by the name the user gave.
IMAGE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg", ".eps": "eps", ".ps": "ps", ".jpg": "jpeg",
                 ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff", ".webp": "webp"}


def check_output_file(path: str | Path, image: bool = False) -> Path:
    """The one check of every file a command writes (a plot, a figure, a report), made before
    the work: not a folder, no file where a folder is needed, an image extension a format has
    (``image``), and a place where a file can really be created (tried: a folder under
    ``/proc`` or a read-only mount looks writable to ``os.access``). Missing folders on the way
    are fine: they are made when the file is written. Returns ``path`` as a Path."""
    path = check_new_path(path, "file")
    if image and path.suffix.lower() not in IMAGE_FORMATS:
        said = f"{path.suffix!r} is not the extension of an image format" if path.suffix else "it has no extension"
        raise UserError(f"cannot write {_shown(path)}: {said}; use one of {', '.join(IMAGE_FORMATS)}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    try:
        times = ancestor.stat()
        handle, probe = tempfile.mkstemp(prefix=".rnn-apps-probe.", dir=ancestor)
        os.close(handle)
        os.unlink(probe)
        os.utime(ancestor, ns=(times.st_atime_ns, times.st_mtime_ns))  # the probe leaves no trace
    except OSError as exc:
        raise UserError(_obstacle(path) or f"cannot create {_shown(path)}: no file can be made in {_shown(ancestor)} "
                        f"({exc.strerror or exc})") from None
    return path


def create_run_dir(path: Path, write: Callable[[Path], None]) -> Path:
    """Create ``path`` holding what ``write(tmp)`` wrote, atomically."""
    check_run_dir(path)
    with atomic_dir(path) as tmp:
        write(tmp)
    return path


def check_run_dir(path: Path) -> None:
    """``path`` can become a new run directory: absent, or an empty folder, in a writable place."""
    try:
        taken = path.exists() and (not path.is_dir() or any(path.iterdir()))
    except OSError as exc:
        raise UserError(_cannot_create(path, exc)) from None
    if taken and not path.is_dir():
        raise UserError(f"run directory {_shown(path)} is a file; choose another --run-dir")
    if taken:
        raise UserError(f"run directory {_shown(path)} already exists and is not empty; "
                        f"choose another --run-dir or continue it with --resume {_shown(path)}")
    check_new_path(path)


@contextlib.contextmanager
def atomic_dir(path: Path):
    """Yield a temporary sibling of ``path``; rename it to ``path`` if the block succeeds.

    Siblings left by an earlier attempt that was killed (``kill -9`` cannot be cleaned up
    after) are removed first. A place where nothing can be created is a ``UserError``;
    folders made on the way to ``path`` are removed again when the block fails."""
    made, done = [], False
    try:
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            made.append(ancestor)
            ancestor = ancestor.parent
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        _remove_empty(made)
        raise UserError(_cannot_create(path, exc)) from None
    tmp.chmod(0o755)  # mkdtemp makes it private; a run directory is an ordinary one
    try:
        yield tmp
        if path.exists():
            path.rmdir()  # only an empty directory gets here (checked by the caller)
        os.replace(tmp, path)
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            _remove_empty(made)


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) that are still empty: nothing half-made stays behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename): a crash or a failed write leaves the old file."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False))


def temp_sibling(path: Path, suffix: str = "") -> Path:
    """A hidden temporary name beside ``path`` for temp-then-rename writes, unique to this
    process and thread: two processes writing the same file (workers of one study writing its report)
    never rename each other's half-written temp file away. ``suffix`` keeps a format that
    writers pick from the extension (``.png``, ``.keras``)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp{suffix}")


def write_text(path: Path, text: str) -> None:
    """Write text atomically (temp file + rename); the temp file never outlives a failure."""
    tmp = temp_sibling(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_model(model: Any, path: Path) -> None:
    """``model.save`` atomically: a crash never leaves a half-written ``.keras`` file."""
    tmp = temp_sibling(path, ".keras")
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
    try:
        found, export = meta_file.is_file(), (path / "manifest.json").is_file()
    except OSError as exc:  # a name too long for the system
        raise UserError(f"{_shown(path)}: {exc.strerror or exc}") from None
    if not found and export:
        raise UserError(f"{_shown(path)} is a TFLite export, not a run directory (no {RUN_FILE}); "
                        f"predict and generate run exports, this command needs the run it was made from")
    if not found:
        raise UserError(f"{_shown(path)} is not an rnn-apps run directory (no {RUN_FILE})")
    meta = read_json_file(meta_file)
    if not isinstance(meta, dict) or "task" not in meta:
        raise UserError(f"{meta_file} is damaged (no task)")
    meta.setdefault("data", None)
    return path, meta


def new_run_meta(task: str, data: str | None, replicas: int = 1) -> dict:
    """``run.json``: the task, the data source (and its fingerprint, when a file), when, and
    how many replicas share each global batch (a resumed run must keep them, or its batch
    would silently change)."""
    return {"task": task, "data": data, "data_fingerprint": data_fingerprint(data),
            "created": dt.datetime.now().isoformat(timespec="seconds"), "replicas": replicas}


FINGERPRINT_BYTES = 1 << 20


def data_fingerprint(data: str | None) -> dict | None:
    """What tells a data file from an edited or replaced one, cheaply for a file of any size:
    its size and the SHA-256 of its first and last MiB. None for built-in data and ``tfds:``."""
    import hashlib

    if not data or data.startswith("tfds:") or not Path(data).is_file():
        return None
    path = Path(data)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            f.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(f.read())
    return {"bytes": size, "sha256_ends": digest.hexdigest()}


def check_same_data(run: Path, meta: dict, data: str | None) -> None:
    """A resumed run continues on the data it was trained on: another source (``--data
    OTHER``), or its file changed since (size or content at its ends), is a ``UserError``
    saying what differs. ``data`` is the source as stored (``loop.data_source``), None: the run's."""
    trained = meta.get("data")
    if data is not None and data != trained:
        raise UserError(f"{_shown(run)} was trained on {trained or 'the built-in data'}; continuing it on {data} "
                        f"would change the run: leave out --data, or pass --allow-new-data if you mean it")
    known = meta.get("data_fingerprint")
    if known and trained and Path(trained).is_file() and data_fingerprint(trained) != known:
        now = data_fingerprint(trained)
        what = f"{known['bytes']:,} bytes then, {now['bytes']:,} now" if now["bytes"] != known["bytes"] \
            else "same size, other content"
        raise UserError(f"{trained} has changed since {_shown(run)} was trained on it ({what}); pass "
                        f"--allow-new-data to continue on it as it is now")
