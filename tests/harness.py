"""The shared task test (as keras-hub's ``run_task_test``): any task, its tiny preset.

``check_task(run_dir)`` takes a finished tiny run of a task and checks what every task
must do: the run directory is complete and reloads; predict works on held-out inputs,
alone and in a batch alike; evaluate gives finite numbers; the SavedModel export holds
a raw and a tensor-only signature, and every signature gives what the Keras model gives
(floats within 1e-5, labels, ids and text identical). ``check_tflite(run_dir)`` exports
the tensor-only signatures to TFLite (builtin ops only) and holds the TF-free runtime to
the Keras model, float and quantized. Each ``tests/test_<task>.py`` calls them and keeps
only what is special to its task.

Tests take their task lists from the registry (``rnn_apps.models.TASKS``), so a new task is
covered by every test that loops over tasks. What such a test needs to know per task lives in
one table here, keyed by task (``READERS``), read through :func:`for_task`: a registered task
missing from a table fails the test with a message that says what to add.
"""
from __future__ import annotations

import json
import math

import pytest

import rnn_apps
from rnn_apps.exporters.check import compare, savedmodel_runner
from rnn_apps.models import TASKS

RUN_FILES = ("run.json", "config.yaml", "model.keras", "metrics.json", "history.json",
             "checkpoints/last.keras", "checkpoints/best.keras", "checkpoints/state.json")

# A task name that is not registered, whatever the registry holds: longer than every name in it.
UNKNOWN_TASK = "not_" + max(TASKS, key=len)

# The files each task's own reader (``task.load_examples``) reads, by suffix: what
# tests/test_reader_fuzz.py feeds it arbitrary bytes and records as.
READERS = {
    "sentiment": (".tsv", ".jsonl"),
    "textgen": (".txt",),
    "translate": (".tsv",),
    "video": (".jsonl",),
    "vqa": (".jsonl",),
    "caption": (".json", ".tsv"),
    "tag": (".conll", ".jsonl"),
}


def for_task(table: dict, task: str):
    """``table[task]`` (a table of this module), or a failure that tells a new task's author
    which table of tests/harness.py needs a row for the task."""
    if task not in table:
        name = next((k for k, v in globals().items() if v is table and k.isupper()), "a table")
        pytest.fail(f"tests/harness.py: {name} has no row for the registered task {task!r}; add one "
                    f"(see the comment above {name})", pytrace=False)
    return table[task]


def held_out(run, n: int = 6):
    """A few examples of the run's validation split (as the task's reader gives them)."""
    splits = run.task.split_examples(run.task.load_examples(run.cfg, run.meta["data"]), run.cfg)
    part = splits["val"] if len(splits["val"]) else splits["test"]
    return part.take(range(min(n, len(part))))


def check_task(run_dir, tmp_path) -> dict:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    history = json.loads((run_dir / "history.json").read_text())
    assert history["loss"] and all(math.isfinite(v) for v in history["loss"])

    run = rnn_apps.load_run(run_dir)
    examples = held_out(run)
    inputs = [{name: examples[name][i] for name in run.features.inputs} for i in range(len(examples))]
    together = run.predict(inputs)
    assert len(together) == len(inputs)
    json.dumps(together)  # what --json prints
    alone = run.predict(inputs[:1])
    assert _comparable(alone[0]) == _comparable(together[0]), "an input predicts differently in a batch"

    report = run.evaluate()
    assert all(math.isfinite(v) for v in report.values() if isinstance(v, float)), report

    out = rnn_apps.export(run_dir, out=tmp_path / "savedmodel")
    signatures = run.output.signatures(run.model, run.features)
    assert any(s.tensor_only for s in signatures.values()) and any(not s.tensor_only for s in signatures.values())
    agreement = compare(signatures, run.output.signature_inputs(run.model, run.features, examples),
                        savedmodel_runner(out))
    assert {a.signature for a in agreement} == set(signatures)
    for a in agreement:
        assert a.within(1e-5), a
    return {"predictions": together, "report": report, "agreement": agreement}


def _comparable(result: dict) -> dict:
    """A prediction with floats rounded (batching may change the last bits)."""
    return {k: round(v, 4) if isinstance(v, float) else
            ({kk: round(vv, 4) for kk, vv in v.items()} if isinstance(v, dict) else v)
            for k, v in result.items()}


def check_tflite(run_dir, tmp_path, quantizations=("none", "dynamic")) -> dict:
    """Float and dynamic-range TFLite exports (and float16 where a test asks: its conversion is
    the same for every task, so two tasks check it) pass ``export --check``; int8 converts
    where no recurrent loop is left and is refused plainly where one is."""
    from rnn_apps.errors import UserError
    from rnn_apps.exporters.check import check_export

    reports = {}
    for quantize in quantizations:
        out = rnn_apps.export(run_dir, format="tflite", quantize=quantize, out=tmp_path / f"tflite-{quantize}")
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["quantization"] == quantize and not [op for op in manifest["ops"] if op.startswith("Flex")]
        assert set(manifest["files"]) >= {"model.tflite"} and len(manifest["files"]) >= 2  # model + vocabularies
        report = check_export(run_dir, out, 12, savedmodel=False)  # the SavedModel: check_task
        assert report.ok, [row for row in report.rows if not row.ok]
        reports[quantize] = report
    recurrent = "WHILE" in manifest["ops"]
    if recurrent:
        with pytest.raises(UserError, match=r"int8 .* recurrent loop .*tensorflow#54304"):
            rnn_apps.export(run_dir, format="tflite", quantize="int8", out=tmp_path / "tflite-int8")
        assert not (tmp_path / "tflite-int8").exists()
    else:
        out = rnn_apps.export(run_dir, format="tflite", quantize="int8", out=tmp_path / "tflite-int8")
        reports["int8"] = check_export(run_dir, out, 12, savedmodel=False)
        assert reports["int8"].ok
    return reports
