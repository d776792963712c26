"""The SavedModel exporter: every signature of the task, raw and tensor-only.

The run's vocabularies go to ``assets.extra/`` beside the model, for clients that
tokenize themselves (the tensor-only signatures take ids).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras


def write(run: Any, out: Path) -> None:
    """Write the SavedModel of ``run`` into the (empty, temporary) directory ``out``."""
    archive = keras.export.ExportArchive()
    archive.track(run.model)
    for kind in run.features.inputs.values():
        for trackable in kind.trackables():
            archive.track(trackable)
    for name, signature in run.features.output.signatures(run.model, run.features).items():
        archive.add_endpoint(name, signature.function)
    archive.write_out(str(out), verbose=False)
    (out / "assets.extra").mkdir(exist_ok=True)
    run.features.save(out / "assets.extra")
