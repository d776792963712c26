"""The TFLite exporter: the task's tensor-only signatures, builtin ops only, in one file.

What converts, measured on TF 2.21 / Keras 3.15 (see the deployment issue):

* a Keras RNN becomes a TFLite ``WHILE`` loop of builtin ops when every shape is static,
  batch included, so only the tensor-only signatures (``[1, length]`` ids, ``[1, units]``
  states) are converted; strings stay in the SavedModel, and the export carries the
  vocabularies for a device's own tokenizer (``rnn_apps.lite``); a signature that runs
  many steps (textgen's ``steps``) unrolls them and its recurrent layers instead: a
  ``WHILE`` costs more per iteration than a small step;
* the signatures go through a SavedModel first (``keras.export.ExportArchive``), which
  freezes the weights; ``from_saved_model(path, signature_keys=[...])`` converts them all
  into one file;
* ``TFLITE_BUILTINS`` only: the Flex delegate (TF select ops) cannot run in the Python
  LiteRT interpreter, so a model that would need it is refused, naming the op;
* quantization: ``dynamic`` (int8 weights, float activations), ``float16`` (half-size
  weights) and ``int8`` (full-integer, calibrated on the run's training data) — the last
  only for signatures without a recurrent loop: the calibrator crashes on ``WHILE``
  (tensorflow#54304), so rnn-apps refuses it there and says so.

The export is a folder: ``model.tflite``, the vocabularies, and ``manifest.json`` (task,
signatures with input/output names, shapes and dtypes, tokenization, output settings,
quantization, builtin ops, rnn-apps version).
"""
from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserError

QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
MANIFEST = "manifest.json"
RECURRENT_OPS = {"WHILE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN",
                 "BIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_RNN"}


def op_names(model: bytes) -> list[str]:
    """Every operator the model uses, in all its subgraphs (a ``WHILE`` body included):
    builtin names (``FULLY_CONNECTED``) and custom ones (``FlexTensorListReserve``)."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {value: key for key, value in vars(schema.BuiltinOperator).items() if not key.startswith("_")}
    root = schema.Model.GetRootAs(model, 0)
    found = set()
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        custom = code.CustomCode()
        found.add(custom.decode() if custom else names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    return sorted(found)


def _converter(saved: Path, keys: list[str], quantize: str, representative=None):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        converter.representative_dataset = representative
    return converter


def convert(saved: Path, keys: list[str], quantize: str = "none", representative=None) -> bytes:
    """The ``keys`` signatures of a SavedModel as a builtin-ops TFLite model.

    A conversion that would need an op TFLite does not have (a TF "select" op) is a
    ``UserError`` naming the op. ``int8`` is refused where a signature has a recurrent loop.
    """
    if quantize not in QUANTIZATIONS:
        raise UserError(f"unknown quantization {quantize!r}; choose from {', '.join(QUANTIZATIONS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = _converter(saved, keys, "none" if quantize == "int8" else quantize).convert()
        except Exception as exc:  # the converter raises ConverterError and friends
            needed = sorted(set(re.findall(r"'(tf\.[A-Za-z0-9_]+)' op", str(exc))))
            if needed:
                raise UserError(f"the model needs TensorFlow ops that are not TFLite builtins: {', '.join(needed)}; "
                                f"a builtin-ops export cannot include them") from None
            raise
        flex = [op for op in op_names(model) if op.startswith("Flex")]
        if flex:  # cannot happen with TFLITE_BUILTINS alone; checked so that it never ships
            raise UserError(f"the converted model uses Flex ops ({', '.join(flex)}), which LiteRT cannot run here")
        if quantize == "int8":
            loops = sorted(RECURRENT_OPS & set(op_names(model)))
            if loops:
                raise UserError(f"--quantize int8 (full-integer) does not convert a recurrent loop ({', '.join(loops)} "
                                f"in {', '.join(keys)}): TFLite's calibrator fails on it (tensorflow#54304). "
                                f"Use --quantize dynamic (int8 weights, float activations) or float16")
            model = _converter(saved, keys, quantize, representative).convert()
    return model


def write(run: Any, out: Path, quantize: str = "none", seq_len: int | None = None,
          calibration_examples: int = 100) -> None:
    """Write ``model.tflite``, the vocabularies and ``manifest.json`` of ``run`` into ``out``.

    Args:
        quantize: none | dynamic | float16 | int8.
        seq_len: the static length of sequence inputs (default: the run's ``max_length``,
            plus the end token where the input has one); longer texts are cut on device.
        calibration_examples: training examples whose activations calibrate ``int8``.
    """
    import keras

    from rnn_apps import __version__

    signatures = {name: s for name, s in run.output.signatures(run.model, run.features, seq_len).items()
                  if s.tensor_only}
    def representative():  # int8 calibration: realistic inputs from the training split, made when asked for
        from rnn_apps.data.splits import load_splits

        train = load_splits(run.task, run.cfg, run.meta["data"])["train"]
        train = getattr(train, "sample", train)  # a streamed run: its sample, not the file
        calls = run.output.signature_inputs(run.model, run.features,
                                            train.take(range(min(calibration_examples, len(train)))), seq_len)
        for name in signatures:
            for kwargs in calls.get(name, []):
                yield name, {k: np.asarray(v) for k, v in kwargs.items()}

    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(run.model)
        for name, signature in signatures.items():
            archive.add_endpoint(name, signature.function)
        archive.write_out(str(Path(tmp) / "savedmodel"), verbose=False)
        from rnn_apps.progress import status

        with status(f"converting {', '.join(signatures)} to TFLite ({quantize})..."):
            model = convert(Path(tmp) / "savedmodel", list(signatures), quantize, representative)
    from rnn_apps.lite.runtime import sha256

    (out / "model.tflite").write_bytes(model)
    run.features.save(out)
    files = {path.name: sha256(path) for path in sorted(out.iterdir()) if path.is_file()}
    manifest = {"format": "tflite", "rnn_apps_version": __version__, "task": run.task.name, "model": "model.tflite",
                "files": files,
                "quantization": quantize, "signatures": describe_signatures(model), "ops": op_names(model),
                "inputs": {name: {**kind.settings(), **({"static_length": seq_len or kind.static_length}
                                                        if kind.sequence else {})}
                           for name, kind in run.features.inputs.items()},
                "output": run.output.settings()}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


def describe_signatures(model: bytes) -> dict:
    """``{signature: {"inputs": {name: {shape, dtype}}, "outputs": {...}}}`` as LiteRT sees them."""
    from ai_edge_litert.interpreter import Interpreter

    from rnn_apps.lite.runtime import model_signatures

    return model_signatures(Interpreter(model_content=model))
