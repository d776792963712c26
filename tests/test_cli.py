import json
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from harness import UNKNOWN_TASK
from rnn_apps.cli.main import cli
from rnn_apps.models import TASKS


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_tasks_table():
    result = invoke("tasks")
    assert result.exit_code == 0 and "many-to-one" in result.output
    for name in TASKS:
        assert name in result.output, name


def test_config_lists_keys_and_presets():
    result = invoke("config", "sentiment")
    assert result.exit_code == 0
    for key in ("cell", "global_clipnorm", "bidirectional", "residual", "tiny"):
        assert key in result.output


@pytest.mark.parametrize("command", ["tasks", "config", "train", "evaluate", "predict", "generate", "info", "export",
                                     "plot", "diagnose gradients", "diagnose long-range"])
def test_every_command_help_has_an_example(command):
    result = invoke(*command.split(), "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_train_evaluate_predict_info_export(tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "sentiment", "--preset", "tiny", "--epochs", "1", "--run-dir", run, "--set", "cell=lstm")
    assert result.exit_code == 0, result.output
    report = json.loads(invoke("evaluate", run, "--json").output)
    assert report["examples"] == 60 and 0 <= report["accuracy"] <= 1
    text = invoke("evaluate", run).output
    assert "confusion matrix" in text and "precision" in text
    inputs = tmp_path / "in.txt"
    inputs.write_text("a dull plot\n\ngreat acting\n")
    preds = json.loads(invoke("predict", run, "not bad", "--input", inputs, "--json").output)
    assert [p["text"] for p in preds] == ["not bad", "a dull plot", "great acting"]
    assert all(p["label"] in ("negative", "positive") for p in preds)
    details = json.loads(invoke("info", run, "--json").output)
    assert details["config"]["cell"] == "lstm" and details["parameters"] > 0
    assert "parameters" in invoke("info", run).output
    result = invoke("export", run, "--out", tmp_path / "sm")
    assert result.exit_code == 0 and (tmp_path / "sm" / "saved_model.pb").is_file()


def test_evaluate_on_other_labelled_file(sentiment_run, tmp_path):
    data = tmp_path / "more.tsv"
    data.write_text("text\tlabel\nthe plot was good .\tpositive\nthe plot was dull .\tnegative\n")
    report = json.loads(invoke("evaluate", sentiment_run, "--data", data, "--json").output)
    assert report["examples"] == 2


@pytest.mark.parametrize("args, message", [
    (["train", "sentiment", "--data", "missing.tsv"], "no such file: missing.tsv"),
    (["train", "sentiment", "--set", "cell=rnn"], "must be one of vanilla, simple, lstm, gru"),
    (["train", "sentiment", "--set", "units"], "--set expects KEY=VALUE"),
    (["train", UNKNOWN_TASK], f"{UNKNOWN_TASK!r} is not one of {', '.join(map(repr, TASKS))}"),
    (["train"], "name a TASK to train"),
    (["evaluate", "not-a-run"], "not an rnn-apps run directory"),
    (["export", "RUN", "--format", "onnx"], "'onnx' is not one of 'savedmodel', 'tflite'"),
    (["predict", "RUN"], "nothing to predict"),
    (["generate", "RUN"], "is a sentiment run; generate needs a language model (textgen)"),
    (["generate", "TEXTGEN", "--top-p", "0"], "0<x<=1"),
    (["train", "textgen", "--data", "BADUTF8"], "bad.txt:2: invalid UTF-8 at byte offset 9"),
    (["evaluate", "RUN", "--data", "BADLABEL"], "unknown label 'maybe'; known labels: negative, positive"),
    (["train", "sentiment", "--data", "MALFORMED"], "bad.tsv:3: expected at least 2 tab-separated columns"),
])
def test_user_mistakes_exit_2_with_one_clear_line(sentiment_run, textgen_run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)  # where a run would land by default (runs/TASK/...)
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\ngood film\tpositive\nno label\n")
    labels = tmp_path / "labels.tsv"
    labels.write_text("sentence\tlabel\ngood film\tmaybe\n")
    utf8 = tmp_path / "bad.txt"
    utf8.write_bytes(b"fine\nbad \xff\n")
    swap = {"RUN": sentiment_run, "TEXTGEN": textgen_run, "BADLABEL": labels, "MALFORMED": bad, "BADUTF8": utf8}
    result = invoke(*[swap.get(a, a) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_installed_entry_point_runs(sentiment_run, tmp_path):
    exe = shutil.which("rnn-apps") or os.path.join(os.path.dirname(os.sys.executable), "rnn-apps")
    done = subprocess.run([exe, "predict", str(sentiment_run), "great acting", "--json"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["text"] == "great acting"
    bad = subprocess.run([exe, "predict", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "Error:" in bad.stderr


def test_plot_and_diagnose_gradients_write_pngs(sentiment_run, tmp_path):
    result = invoke("plot", sentiment_run, "--out", tmp_path / "curves.png")
    assert result.exit_code == 0 and (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    result = invoke("diagnose", "gradients", "--cells", "vanilla,gru", "--steps", "12", "--seeds", "2",
                    "--out", tmp_path / "g.png")
    assert result.exit_code == 0 and "vanilla" in result.output and (tmp_path / "g.png").is_file()
    data = json.loads(invoke("diagnose", "gradients", "--cells", "lstm", "--steps", "5", "--seeds", "1",
                             "--out", tmp_path / "h.png", "--json").output)
    assert len(data["lstm"]["norms"][0]) == 5
    bad = invoke("diagnose", "gradients", "--cells", "transformer")
    assert bad.exit_code == 2 and "cells: vanilla, simple, lstm, gru" in bad.output


def test_generate_streams_the_same_text_as_json(textgen_run):
    options = ["--prompt", "ROSA:", "--length", "70", "--seed", "4", "--top-k", "20"]
    data = json.loads(invoke("generate", textgen_run, *options, "--json").output)
    streamed = CliRunner().invoke(cli, ["generate", str(textgen_run), *options])
    assert streamed.exit_code == 0
    assert streamed.stdout.rstrip("\n") == "ROSA:" + data["samples"][0].rstrip("\n")
    assert "--seed 4" in streamed.stderr
    several = invoke("generate", textgen_run, "--num-samples", "2", "--length", "30", "--seed", "1")
    assert several.exit_code == 0 and "sample 2" in several.output
    greedy = json.loads(invoke("generate", textgen_run, "--greedy", "--length", "30", "--json").output)
    assert greedy["sampling"]["greedy"] is True and len(greedy["samples"][0]) == 30


def test_predict_and_evaluate_a_language_model(textgen_run):
    preds = json.loads(invoke("predict", textgen_run, "ROSA:", "--json").output)
    assert preds[0]["prompt"] == "ROSA:" and len(preds[0]["text"]) == 200
    report = invoke("evaluate", textgen_run).output
    assert "bits_per_char" in report and "perplexity" in report


def test_diagnose_long_range_table_and_png(tmp_path):
    result = invoke("diagnose", "long-range", "--cells", "gru", "--steps", "10", "--train-steps", "20",
                    "--out", tmp_path / "lr.png")
    assert result.exit_code == 0, result.output
    assert "max gradient norm" in result.output and (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads(invoke("diagnose", "long-range", "--cells", "vanilla", "--steps", "10", "--train-steps", "10",
                             "--out", tmp_path / "b.png", "--json").output)
    assert [(r["cell"], r["clipping"]) for r in data] == [("vanilla", True), ("vanilla", False)]
    bad = invoke("diagnose", "long-range", "--cells", "gru,tcn")
    assert bad.exit_code == 2 and "unknown cell tcn" in bad.output


def test_any_config_key_is_an_option_and_booleans_are_flags(tmp_path):
    from rnn_apps.cli.train import config_overrides

    assert config_overrides(["--units", "8", "--cell=lstm", "--no-bidirectional", "--residual"], "sentiment",
                            None) == ["units=8", "cell=lstm", "bidirectional=false", "residual=true"]
    run = tmp_path / "r"
    result = invoke("train", "sentiment", "--preset", "tiny", "--epochs", "1", "--run-dir", run, "--units", "8",
                    "--no-bidirectional", "--embedding-dim", "4")
    assert result.exit_code == 0, result.output
    details = json.loads(invoke("info", run, "--json").output)
    assert (details["config"]["units"], details["config"]["bidirectional"], details["config"]["embedding_dim"]) \
        == (8, False, 4)
    for args, message in [(["--units"], "--units needs a value"), (["--colour", "red"], "unknown config key 'colour'; valid keys: epochs"),
                          (["--colour"], "unknown config key 'colour'; valid keys: epochs"),
                          (["--units", "many"], "expects an integer")]:
        result = invoke("train", "sentiment", *args)
        assert result.exit_code == 2 and message in result.output, result.output


def test_predict_takes_inputs_by_name_and_names_the_task_inputs(sentiment_run, tmp_path):
    named = json.loads(invoke("predict", sentiment_run, "--text", "a dull plot", "--text", "great acting",
                              "--json").output)
    assert [p["text"] for p in named] == ["a dull plot", "great acting"]
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"text": "not bad"}\n\n{"text": "awful"}\n')
    assert [p["text"] for p in json.loads(invoke("predict", sentiment_run, "--input", lines, "--json").output)] \
        == ["not bad", "awful"]
    result = invoke("predict", sentiment_run, "--question", "why?")
    assert result.exit_code == 2 and "no input named question; missing text; this task reads text" in result.output
    lines.write_text('{"text": "fine"}\n{"txt": "typo"}\n')
    result = invoke("predict", sentiment_run, "--input", lines)
    assert result.exit_code == 2 and "in.jsonl:2: missing key 'text'" in result.output


def test_config_shows_inputs_output_and_options():
    result = invoke("config", "translate")
    assert result.exit_code == 0
    assert "inputs: source; output: sequence" in result.output and "--beam" in result.output


def test_tensorflow_start_up_noise_is_hidden_unless_verbose(sentiment_run, tmp_path):
    exe = shutil.which("rnn-apps") or os.path.join(os.path.dirname(os.sys.executable), "rnn-apps")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNN_APPS_VERBOSE")}
    quiet = subprocess.run([exe, "predict", str(sentiment_run), "fine"], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr
    loud = subprocess.run([exe, "predict", str(sentiment_run), "fine"], capture_output=True, text=True,
                          env={**env, "RNN_APPS_VERBOSE": "1"})
    assert loud.returncode == 0 and "absl::InitializeLog" in loud.stderr
    mistake = subprocess.run([exe, "predict", str(sentiment_run), "x", "--beam", "2"], capture_output=True,
                             text=True, env=env)
    assert mistake.returncode == 2 and mistake.stderr.strip().startswith("Error: --beam")
