"""Does an export compute what the Keras model computes? Signature by signature.

Each output kind supplies realistic inputs for each of its signatures
(``signature_inputs``: held-out examples tokenized, an encoder's real outputs for a
decoder step, states after a real prompt). ``compare`` runs them through the live
signature functions (the Keras model) and through an export's signatures, and reports,
per signature, the largest absolute difference of the float outputs and whether the
integer and string outputs (labels, ids, text) are identical.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass
class Agreement:
    """One signature's comparison over its inputs."""

    signature: str
    calls: int
    max_abs_diff: float      # over float outputs (0 if none)
    identical: bool          # every int/string output equal
    mismatches: list[str]    # output names that differed (ints/strings)

    def within(self, tolerance: float) -> bool:
        return self.identical and self.max_abs_diff <= tolerance


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def compare_outputs(name: str, pairs: list[tuple[dict, dict]]) -> Agreement:
    """``pairs`` of (reference outputs, export outputs) for calls of signature ``name``."""
    worst, mismatched = 0.0, set()
    for reference, exported in pairs:
        for key, want in reference.items():
            want, got = _numpy(want), _numpy(exported[key])
            if want.dtype.kind == "f":
                diff = float(np.max(np.abs(want.astype(np.float64) - got.astype(np.float64)))) if want.size else 0.0
                worst = max(worst, diff if np.isfinite(diff) else np.inf)
            elif want.shape != got.shape or not np.array_equal(want, got):
                mismatched.add(key)
    return Agreement(name, len(pairs), worst, not mismatched, sorted(mismatched))


def compare(signatures: dict, inputs: dict[str, list[dict]],
            run_export: Callable[[str, dict], dict]) -> list[Agreement]:
    """Compare live ``signatures`` (``{name: Signature}``) with an export.

    Args:
        inputs: ``{signature name: [keyword arguments per call]}`` (numpy values).
        run_export: ``(signature name, keyword arguments) -> outputs`` of the export.
    """
    import tensorflow as tf

    report = []
    for name, calls in inputs.items():
        pairs = []
        for kwargs in calls:
            function = signatures[name].function  # positional, in input-signature order
            reference = function(*(tf.constant(kwargs[spec.name]) for spec in function.input_signature))
            pairs.append(({k: _numpy(v) for k, v in reference.items()}, run_export(name, kwargs)))
        report.append(compare_outputs(name, pairs))
    return report


def savedmodel_runner(path) -> Callable[[str, dict], dict]:
    """``(signature, kwargs) -> outputs`` of a SavedModel on disk."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return lambda name, kwargs: {k: _numpy(v) for k, v in
                                 loaded.signatures[name](**{k: tf.constant(v) for k, v in kwargs.items()}).items()}
