"""The TF-free runtime: it runs exports without TensorFlow and refuses broken ones clearly."""
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

import rnn_apps
from rnn_apps.cli.main import cli
from rnn_apps.errors import UserError
from rnn_apps.lite.runtime import load

TEXTS = ["the plot was not boring", "a dull story but great acting", "", "zzz unknown words !!"]


def test_runs_an_export_without_importing_tensorflow_or_keras(sentiment_tflite, textgen_tflite):
    code = f"""
import sys, json
from rnn_apps.lite.runtime import load
from rnn_apps.decoding.settings import Sampling
labels = load({str(sentiment_tflite)!r}).predict({TEXTS!r})
text = load({str(textgen_tflite)!r}).generate("ROSA:", 30, Sampling(greedy=True))
print(json.dumps({{"labels": [r["label"] for r in labels], "text": text[0],
                  "heavy": [m for m in ("tensorflow", "keras") if m in sys.modules]}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    assert result["labels"] == [r["label"] for r in rnn_apps.predict(sentiment_tflite, TEXTS)]
    assert len(result["text"]) == 30


def test_export_predictions_equal_the_runs(sentiment_run, sentiment_tflite, textgen_run, textgen_tflite):
    from_run, from_export = rnn_apps.predict(sentiment_run, TEXTS), rnn_apps.predict(sentiment_tflite, TEXTS)
    assert [r["label"] for r in from_export] == [r["label"] for r in from_run]
    for a, b in zip(from_run, from_export):
        assert b["probability"] == pytest.approx(a["probability"], abs=1e-5)
    greedy = dict(greedy=True, seed=0)
    assert rnn_apps.generate(textgen_tflite, "ROSA: ", 50, **greedy)["samples"] == \
        rnn_apps.generate(textgen_run, "ROSA: ", 50, **greedy)["samples"]


def test_cli_predict_and_generate_take_an_export(sentiment_tflite, textgen_tflite):
    runner = CliRunner()
    result = runner.invoke(cli, ["predict", str(sentiment_tflite), "great acting", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)[0]["text"] == "great acting"
    result = runner.invoke(cli, ["generate", str(textgen_tflite), "--prompt", "ROSA:", "--length", "20", "--seed",
                                 "3", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.output)["samples"][0]) == 20
    result = runner.invoke(cli, ["predict", str(sentiment_tflite), "x", "--beam", "2"])
    assert result.exit_code == 2 and "--beam: not an option of predict for a sentiment TFLite export" in result.output


@pytest.mark.parametrize("damage, message", [
    ("no manifest", "is not an rnn-apps TFLite export (no manifest.json)"),
    ("truncated model", "model.tflite is not the file this export was made with"),
    ("garbage model", "model.tflite: not a TFLite model this runtime can load"),
    ("other vocabulary", "vocab.json is not the file this export was made with"),
    ("broken manifest", "manifest.json: not valid JSON"),
    ("missing vocabulary", "vocab.json is missing"),
])
def test_a_damaged_export_is_one_clear_error(sentiment_tflite, textgen_tflite, tmp_path, damage, message):
    export = tmp_path / "export"
    shutil.copytree(sentiment_tflite, export)
    manifest = json.loads((export / "manifest.json").read_text())
    if damage == "no manifest":
        (export / "manifest.json").unlink()
    elif damage == "truncated model":
        data = (export / "model.tflite").read_bytes()
        (export / "model.tflite").write_bytes(data[: len(data) // 2])
    elif damage == "garbage model":
        from rnn_apps.lite.runtime import sha256

        (export / "model.tflite").write_bytes(b"not a flatbuffer at all" * 100)
        manifest["files"]["model.tflite"] = sha256(export / "model.tflite")
        (export / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "other vocabulary":
        vocab = json.loads((export / "vocab.json").read_text())
        vocab["vocabulary"] = vocab["vocabulary"][:2] + list(reversed(vocab["vocabulary"][2:]))
        (export / "vocab.json").write_text(json.dumps(vocab))
    elif damage == "broken manifest":
        (export / "manifest.json").write_text("{not json")
    elif damage == "missing vocabulary":
        (export / "vocab.json").unlink()
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(export)
    result = CliRunner().invoke(cli, ["predict", str(export), "good"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message.split(" (")[0] in result.output or "nor a TFLite export (no manifest.json)" in result.output


def test_generate_refuses_an_export_that_is_not_a_language_model(sentiment_tflite):
    with pytest.raises(UserError, match="generate needs a language model"):
        rnn_apps.generate(sentiment_tflite, "x", 5)
