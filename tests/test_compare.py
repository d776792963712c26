"""``rnn_apps.compare``: runs side by side; and the TensorBoard HParams every run writes."""
from __future__ import annotations

import base64
import json
import re
import shutil

import pytest
from click.testing import CliRunner

import rnn_apps
from rnn_apps.cli.main import cli
from rnn_apps.errors import UserError

# Three quick runs that differ in two keys (bag-of-words: no recurrent graph to trace).
SETTINGS = {"narrow": ["units=8"], "wide": ["units=24"], "wide-slow": ["units=24", "learning_rate=0.0005"]}


@pytest.fixture(scope="module")
def three_runs(tiny_run):
    """The tiny sentiment runs of SETTINGS, each in a folder named after its setting."""
    return [tiny_run("sentiment", name=name, overrides=["builtin_examples=200", "encoder=bow", *extra])
            for name, extra in SETTINGS.items()]


def test_compare_three_runs_writes_one_html_with_every_runs_curves(three_runs, tmp_path):
    out = tmp_path / "report.html"
    result = rnn_apps.compare(three_runs, out=out, metric="accuracy")
    assert result["task"] == "sentiment" and result["split"] == "test"
    assert result["differences"] == ["learning_rate", "units"]  # only the keys that differ, in config order
    rows = result["rows"]
    assert {r["run"] for r in rows} == set(SETTINGS)
    accuracies = [r["metrics"]["accuracy"] for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)  # best first
    folders = {run.name: run for run in three_runs}
    for row in rows:
        metrics = json.loads((folders[row["run"]] / "metrics.json").read_text())
        assert row["metrics"]["accuracy"] == metrics["test"]["accuracy"] and row["seconds"] == metrics["train_seconds"]
        assert row["parameters"] > 0 and row["epochs"] == 2
    for name in SETTINGS:  # each run drawn, training and validation, in every panel
        for panel in result["lines"].values():
            assert f"{name} (train)" in panel and f"{name} (val)" in panel
    assert set(result["lines"]) == {"accuracy", "loss"}
    page = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3 and all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)  # curves, F1, confusion
    assert not re.search(r'(src|href)="(?!data:)|<script|<link|@import', page)  # self-contained: nothing fetched
    for name in SETTINGS:
        assert f"<td>{name}</td>" in page


def test_compare_refuses_runs_of_two_tasks_and_other_mistakes(three_runs, tmp_path):
    other = tmp_path / "textgen-run"
    shutil.copytree(three_runs[0], other)
    meta = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**meta, "task": "textgen"}))
    with pytest.raises(UserError, match="runs of different tasks cannot be compared .*textgen-run is textgen"):
        rnn_apps.compare([three_runs[0], other])
    with pytest.raises(UserError, match="at least two"):
        rnn_apps.compare(three_runs[:1])
    with pytest.raises(UserError, match="metric 'bleu' is not in every run's test report; metrics: loss, accuracy"):
        rnn_apps.compare(three_runs, metric="bleu")
    result = CliRunner().invoke(cli, ["compare", str(three_runs[0]), str(other), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "different tasks" in result.output and not (tmp_path / "x.html").exists()


def test_the_cli_prints_the_leaderboard(three_runs, tmp_path):
    result = CliRunner().invoke(cli, ["compare", *map(str, three_runs), "--out", str(tmp_path / "c.html")])
    assert result.exit_code == 0, result.output
    assert "ranked by test loss" in result.output and (tmp_path / "c.html").is_file()
    for word in ("learning_rate", "units", "test accuracy", "parameters", *SETTINGS):  # whole, even in 80 columns
        assert word in result.output, word


def test_every_run_writes_tensorboard_hparams(three_runs):
    """The config as an HParams session, the epoch metrics as the experiment's, in RUN/logs."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    found = {}
    for events in sorted((three_runs[0] / "logs").glob("events.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    found[data.WhichOneof("data")] = data
    session = found["session_start_info"].session_start_info
    assert session.hparams["units"].number_value == 8 and session.hparams["encoder"].string_value == "bow"
    assert session.group_name == "narrow"
    metrics = {(m.name.tag, m.name.group) for m in found["experiment"].experiment.metric_infos}
    assert {("epoch_loss", "validation"), ("epoch_accuracy", "train")} <= metrics
