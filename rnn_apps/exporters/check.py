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
import json
from typing import Any, Callable

import numpy as np

from rnn_apps.outputs.results import answer_agreement


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


def compare(signatures: dict, inputs: dict[str, list[dict]], run_export: Callable[[str, dict], dict],
            transform: Callable[[dict], dict] = lambda outputs: outputs) -> list[Agreement]:
    """Compare live ``signatures`` (``{name: Signature}``) with an export.

    Args:
        inputs: ``{signature name: [keyword arguments per call]}`` (numpy values).
        run_export: ``(signature name, keyword arguments) -> outputs`` of the export.
        transform: applied to both sides' outputs before comparing (e.g. logits -> probabilities).
    """
    import tensorflow as tf

    report = []
    for name, calls in inputs.items():
        pairs = []
        for kwargs in calls:
            function = signatures[name].function  # positional, in input-signature order
            reference = function(*(tf.constant(kwargs[spec.name]) for spec in function.input_signature))
            pairs.append((transform({k: _numpy(v) for k, v in reference.items()}), transform(run_export(name, kwargs))))
        report.append(compare_outputs(name, pairs))
    return report


def savedmodel_runner(path) -> Callable[[str, dict], dict]:
    """``(signature, kwargs) -> outputs`` of a SavedModel on disk."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return lambda name, kwargs: {k: _numpy(v) for k, v in
                                 loaded.signatures[name](**{k: tf.constant(v) for k, v in kwargs.items()}).items()}


# --- rnn-apps export --check ------------------------------------------------------------------

FLOAT_TOLERANCE = 1e-4      # on probabilities (logits are compared after a softmax), states, attention
QUANTIZED_AGREEMENT = 0.99  # labels or tokens
QUANTIZED_METRIC_DROP = 1.0  # points of the task's metric (accuracy %, BLEU, next-token accuracy %)


@dataclasses.dataclass
class Row:
    """One line of the check: what was compared, how far apart, and whether that is fine."""

    name: str
    compared: str
    max_abs_diff: float | None = None
    agreement: float | None = None
    reference: str = ""
    exported: str = ""
    ok: bool = True


@dataclasses.dataclass
class CheckReport:
    rows: list[Row]
    summary: str

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def as_probabilities(outputs: dict) -> dict:
    """Outputs with ``logits`` replaced by their softmax: tolerances are on probabilities."""
    return {k: _softmax(_numpy(v).astype(np.float64)) if k == "logits" else v for k, v in outputs.items()}


def tflite_runner(path) -> Callable[[str, dict], dict]:
    """``(signature, kwargs) -> outputs`` of a ``model.tflite`` through LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runners = {}

    def run(name, kwargs):
        if name not in runners:
            runners[name] = interpreter.get_signature_runner(name)
        return runners[name](**{k: np.asarray(v) for k, v in kwargs.items()})

    return run


def check_export(run_dir, export_dir, n: int = 50, savedmodel: bool = True) -> CheckReport:
    """Run ``n`` held-out examples through Keras, a SavedModel and (for a TFLite export) the
    ``.tflite`` file and the TF-free runtime; judge them by the tolerances above.
    ``savedmodel=False`` skips the SavedModel twin of a TFLite export (saves seconds)."""
    import tempfile
    from pathlib import Path

    from rnn_apps.api import load_run
    from rnn_apps.exporters.savedmodel import write as write_savedmodel

    run, export_dir = load_run(run_dir), Path(export_dir)
    from rnn_apps.data.splits import load_splits

    splits = load_splits(run.task, run.cfg, run.meta["data"])  # the run's own held-out part (streamed or not)
    held_out = splits["test"] if len(splits["test"]) else splits["val"]
    examples = held_out.take(range(min(n, len(held_out))))
    manifest_file = export_dir / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else None
    seq_len = next((s["static_length"] for s in manifest["inputs"].values() if "static_length" in s), None) \
        if manifest else None
    signatures = run.output.signatures(run.model, run.features, seq_len)
    inputs = run.output.signature_inputs(run.model, run.features, examples, seq_len)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_dir
        if manifest is not None and savedmodel:  # a TFLite export: its SavedModel twin, for the middle column
            saved = Path(tmp) / "savedmodel"
            saved.mkdir()
            write_savedmodel(run, saved)
        if manifest is None or savedmodel:
            for agreement in compare(signatures, inputs, savedmodel_runner(saved), transform=as_probabilities):
                rows.append(Row(agreement.signature, "keras vs savedmodel", agreement.max_abs_diff,
                                ok=agreement.within(FLOAT_TOLERANCE)))
    if manifest is None:
        return CheckReport(rows, f"SavedModel, {len(examples)} held-out examples")
    quantized = manifest["quantization"] != "none"
    tensor_only = {name: s for name, s in signatures.items() if s.tensor_only}
    for agreement in compare(tensor_only, {k: v for k, v in inputs.items() if k in tensor_only},
                             tflite_runner(export_dir / manifest["model"]), transform=as_probabilities):
        rows.append(Row(agreement.signature, "keras vs tflite", agreement.max_abs_diff,
                        ok=quantized or agreement.within(FLOAT_TOLERANCE)))
    from rnn_apps.lite.runtime import load

    rows.append(runtime_row(run, load(export_dir), examples, quantized))
    return CheckReport(rows, f"TFLite ({manifest['quantization']}), {len(examples)} held-out examples")


def runtime_row(run, runtime, examples, quantized: bool) -> Row:
    """``run.predict`` against the TF-free runtime's ``predict`` on the output kind's probe
    (``parity_probe``: held-out inputs, greedy options, the truth and the kind's metric), the
    same way for every kind. A float export must give every answer identically (and
    probabilities within ``FLOAT_TOLERANCE``); a quantized one may differ on a few, within
    ``QUANTIZED_AGREEMENT`` or ``QUANTIZED_METRIC_DROP`` points of the metric."""
    probe = run.output.parity_probe(run.features, examples)
    keras_results = run.predict(probe.rows, **probe.options)
    lite_results = runtime.predict(probe.rows, **probe.options)
    agree, diff = answer_agreement(keras_results, lite_results, probe.answer)
    reference, exported = (probe.score(results, probe.truth) for results in (keras_results, lite_results))
    row = Row(f"{probe.answer} (runtime)", f"keras vs tflite runtime: {probe.metric}", diff, agree,
              f"{reference:.2f}", f"{exported:.2f}")
    if quantized:
        row.ok = agree >= QUANTIZED_AGREEMENT or reference - exported <= QUANTIZED_METRIC_DROP
    else:
        row.ok = agree == 1 and (diff is None or diff <= FLOAT_TOLERANCE)
    return row
