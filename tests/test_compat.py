"""Run directories written by rnn-apps 0.1 (before inputs and outputs had kinds) still load,
predict the same, evaluate and resume. The fixtures are tiny runs made by that version."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import QUIET

import rnn_apps

OLD = Path(__file__).parent / "fixtures" / "runs-0.1"
EXPECTED = json.loads((OLD / "expected.json").read_text())


def test_old_sentiment_run_predicts_the_same_probabilities():
    case = EXPECTED["sentiment"]
    results = rnn_apps.predict(OLD / "sentiment", case["inputs"])
    for got, want in zip(results, case["outputs"]):
        assert got["text"] == want["text"]
        for label, p in want["probabilities"].items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-5)
    assert rnn_apps.evaluate(OLD / "sentiment")["examples"] == 60  # its own test split, found again
    assert rnn_apps.load(OLD / "sentiment").cfg.split == "random"  # saved before honest splits: split as then
    assert rnn_apps.load(OLD / "textgen").cfg.split == "auto"  # a language model's text was split in order


def test_old_textgen_run_generates_the_same_greedy_text():
    case = EXPECTED["textgen"]
    assert rnn_apps.generate(OLD / "textgen", case["prompt"], 40, greedy=True)["samples"][0] == case["greedy"]


def test_old_translate_run_translates_the_same_and_exports(tmp_path):
    case = EXPECTED["translate"]
    assert [r["translation"] for r in rnn_apps.predict(OLD / "translate", case["inputs"])] == case["greedy"]
    assert [r["translation"] for r in rnn_apps.predict(OLD / "translate", case["inputs"], beam=4)] == case["beam4"]
    out = rnn_apps.export(OLD / "translate", out=tmp_path / "sm")
    assert (out / "saved_model.pb").is_file() and (out / "assets.extra" / "target_tokens.json").is_file()


def test_old_sentiment_run_resumes(tmp_path):
    run = tmp_path / "sentiment"
    shutil.copytree(OLD / "sentiment", run)
    (run / "checkpoints").mkdir()
    shutil.copy(run / "model.keras", run / "checkpoints" / "last.keras")
    (run / "checkpoints" / "state.json").write_text(json.dumps({"epochs_done": 2, "monitor": "val_loss",
                                                                "best": 1.0, "best_epoch": 2}))
    rnn_apps.train(resume=run, epochs=3, console=QUIET)
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 1  # the new epoch, appended
    assert np.isfinite(rnn_apps.evaluate(run)["loss"])
