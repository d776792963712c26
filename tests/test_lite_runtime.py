"""The TF-free runtime: it runs exports without TensorFlow and refuses broken ones clearly."""
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

import rnn_apps
from rnn_apps.cli.main import cli
from rnn_apps.decoding.settings import Sampling
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


@pytest.fixture(scope="module")
def textgen_tflite_without_steps(textgen_run, tmp_path_factory):
    """The tiny textgen run exported as before the ``steps`` signature (``step`` alone)."""
    from rnn_apps.outputs.language_model import NextToken

    signatures = NextToken.signatures
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(NextToken, "signatures", lambda self, *a, **k: {
            name: s for name, s in signatures(self, *a, **k).items() if name != "steps"})
        return rnn_apps.export(textgen_run, format="tflite", out=tmp_path_factory.mktemp("old") / "tflite")


@pytest.mark.parametrize("sampling", [Sampling(greedy=True), Sampling(temperature=0.8, seed=3),
                                      Sampling(temperature=1.3, top_k=8, top_p=0.9, seed=5)],
                         ids=["greedy", "temperature", "top-k-top-p"])
def test_steps_give_the_text_of_one_step_a_call(textgen_tflite, textgen_tflite_without_steps, sampling):
    fast, stepped, old = load(textgen_tflite), load(textgen_tflite), load(textgen_tflite_without_steps)
    stepped.block = 0  # the one-step path
    assert fast.block == 16 and old.block == 0 and "steps" not in old.manifest["signatures"]
    calls = []
    blocks = fast.steps
    fast.steps = lambda *args: calls.append(1) or blocks(*args)
    text = fast.generate("ROSA: ", 70, sampling, num_samples=2)
    assert len(calls) >= 2 * 5  # 69 tokens after the first: 5 blocks a sample at least
    assert text == stepped.generate("ROSA: ", 70, sampling, num_samples=2) == \
        old.generate("ROSA: ", 70, sampling, num_samples=2)
    assert all(len(t) == 70 for t in text) and (sampling.greedy or text[0] != text[1])
    chunks = list(fast.stream("ROSA: ", 70, sampling, num_samples=2, chunk=9))  # blocks across chunks
    assert ["".join(parts) for parts in zip(*chunks)] == text


def test_an_export_without_steps_predicts_as_before(textgen_run, textgen_tflite_without_steps):
    greedy = dict(greedy=True, seed=0)
    assert rnn_apps.generate(textgen_tflite_without_steps, "ROSA: ", 40, **greedy)["samples"] == \
        rnn_apps.generate(textgen_run, "ROSA: ", 40, **greedy)["samples"]
    assert rnn_apps.predict(textgen_tflite_without_steps, ["ROSA:"], temperature=0.0, max_length=30) == \
        rnn_apps.predict(textgen_run, ["ROSA:"], temperature=0.0, max_length=30)  # same keys, same values


def test_a_translation_export_answers_with_the_runs_keys_and_values(translate_run, translate_tflite):
    sentences = ["the dog sees the cat .", "these old kings did not find a red boat near the river today ."]
    assert rnn_apps.predict(translate_tflite, sentences) == rnn_apps.predict(translate_run, sentences)
    beam_run, beam_export = (rnn_apps.predict(path, sentences, beam=3) for path in (translate_run, translate_tflite))
    for a, b in zip(beam_run, beam_export):
        assert list(a) == list(b) == ["source", "translation", "tokens", "ids", "log_probability"]
        assert a["ids"] == b["ids"] and b["log_probability"] == pytest.approx(a["log_probability"], abs=1e-3)
    sampled = [rnn_apps.predict(path, sentences, temperature=0.9, seed=4) for path in (translate_run, translate_tflite)]
    assert [list(r) for r in sampled[0]] == [list(r) for r in sampled[1]]  # the draws differ (TF / NumPy), not keys
    assert all(r["seed"] == 4 for r in sampled[1])


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
