"""``rnn_apps.tuning``: space files, studies that finish, prune, resume and are shared."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

optuna = pytest.importorskip("optuna")

from models.sentiment import PRESETS, SentimentConfig  # noqa: E402
from rnn_apps.cli.main import cli  # noqa: E402
from rnn_apps.config import resolve_config  # noqa: E402
from rnn_apps.errors import UserError  # noqa: E402
from rnn_apps.tuning import as_overrides, load_study, read_space, tune  # noqa: E402
from tests.conftest import QUIET  # noqa: E402

# A fast study: the tiny preset's bag-of-words encoder on 200 built-in reviews (no recurrent
# graph to trace), so a trial takes a few seconds; the machinery is the same for every model.
FAST = ["builtin_examples=200", "encoder=bow"]
SPACE = """\
learning_rate: {log_uniform: [1e-3, 3e-2]}
units: {int: [8, 24], step: 8}
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_space_with_every_kind_of_parameter_resolves_to_valid_configs(tmp_path):
    space = read_space(write(tmp_path, """\
learning_rate: {log_uniform: [1e-4, 1e-2]}
dropout: {uniform: [0.0, 0.5], step: 0.1}
units: {int: [32, 256], step: 32}
embedding_dim: {int: [8, 128], log: true}
cell: {choice: [gru, lstm]}
bidirectional: {choice: [true, false]}
layers: {choice: [1, 2]}
weight_decay: {uniform: [0, 0.01]}
epochs: 3
"""), SentimentConfig)
    assert [p.line for p in space.params.values()] == list(range(1, 10))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {key: set() for key in space.params}
    for _ in range(40):
        params = space.sample(study.ask())
        cfg = resolve_config(SentimentConfig, presets=PRESETS, preset="tiny", overrides=as_overrides(params))
        for key, value in params.items():
            assert getattr(cfg, key) == value and type(getattr(cfg, key)) is type(value), key
            seen[key].add(value)
        assert 1e-4 <= cfg.learning_rate <= 1e-2 and 0 <= cfg.weight_decay <= 0.01
        assert cfg.units % 32 == 0 and 32 <= cfg.units <= 256 and 8 <= cfg.embedding_dim <= 128
        assert round(cfg.dropout * 10, 6) == round(cfg.dropout * 10) and cfg.epochs == 3
    assert seen["cell"] == {"gru", "lstm"} and seen["bidirectional"] == {True, False} and seen["layers"] == {1, 2}
    assert len(seen["units"]) > 3 and isinstance(next(iter(seen["units"])), int)


@pytest.mark.parametrize("text, line, says", [
    ("units: {int: [8, 32]}\nwidth: {int: [1, 2]}\n", 2, "unknown config key 'width'; valid keys:"),
    ("units: {int: [32, 8]}\n", 1, "LOW < HIGH"),
    ("units: {uniform: [8.0, 32.0]}\n", 1, "is an integer; uniform does not fit it"),
    ("learning_rate: {int: [1, 3]}\n", 1, "is a number; int does not fit it"),
    ("cell: {choice: [gru, transformer]}\n", 1, "must be one of"),
    ("cell: {uniform: [0, 1]}\n", 1, "is a choice of"),
    ("units: {int: [8, 32]}\ndropout: {uniform: [0.0, 1.5]}\n", 2, "must be <= 0.95"),
    ("units: {int: [8, 32], step: 5}\n", 1, "not a multiple of step 5"),
    ("learning_rate: {log_uniform: [0, 0.1]}\n", 1, "needs LOW > 0"),
    ("units: {int: [8, 32]}\nunits: {int: [8, 16]}\n", 2, "given twice (first on line 1)"),
    ("units: {range: [8, 32]}\n", 1, "needs exactly one of uniform, log_uniform, int, choice"),
    ("units: {int: [8, 32]}\nepochs: two\n", 2, "expects an integer"),
    ("units: {int: [8, 32]}\ncell: [gru\n", 3, "not valid YAML"),
    ("epochs: 3\n", None, "nothing to search"),
])
def test_bad_space_files_are_refused_naming_the_line(tmp_path, text, line, says):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as caught:
        read_space(path, SentimentConfig)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:" if line else f"{path}:") and says in message, message


def test_the_cli_refuses_a_bad_space_before_anything_runs(tmp_path):
    space = write(tmp_path, "units: {int: [8, 32]}\nlearning_rate: {choice: [0.01, fast]}\n")
    result = CliRunner().invoke(cli, ["tune", "sentiment", "--space", str(space), "--study-dir", str(tmp_path / "s")])
    assert result.exit_code == 2 and f"{space}:2:" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
    result = CliRunner().invoke(cli, ["tune", "sentiment", "--study-dir", str(tmp_path / "s")])
    assert result.exit_code == 2 and "--space" in result.output


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_a_study_finishes_its_best_trial_has_the_best_metric_and_a_rerun_continues(tmp_path):
    space, study_dir = write(tmp_path, SPACE), tmp_path / "study"
    options = dict(trials=4, metric="accuracy", study_dir=study_dir, preset="tiny", epochs=1, pruner="none",
                   overrides=FAST, sampler_seed=1, console=QUIET)
    report = tune("sentiment", space, **options)
    rows = report["trials"]
    assert [r["state"] for r in rows] == ["complete"] * 4 and report["direction"] == "maximize"
    values = {}
    for row in rows:  # each trial an ordinary run: its value is its own validation report's accuracy
        run = Path(row["run"])
        assert (run / "model.keras").is_file() and (run / "run.json").is_file()
        assert row["value"] == json.loads((run / "metrics.json").read_text())["val"]["accuracy"]
        assert json.loads((run / "trial.json").read_text())["params"] == row["params"]
        values[row["trial"]] = row["value"]
    assert report["best"]["value"] == max(values.values()) and values[report["best"]["trial"]] == max(values.values())
    assert report["best"]["config"]["units"] == report["best"]["params"]["units"]
    assert "test" in report["best"]["metrics"]
    for name in ("history", "importance", "parallel"):
        assert Path(report["plots"][name]).read_bytes()[:4] == b"\x89PNG"
    assert len({json.dumps(r["params"], sort_keys=True) for r in rows}) == 4

    again = tune("sentiment", space, **options)  # the study holds its 4 trials: nothing more runs
    assert len(again["trials"]) == 4
    with pytest.raises(UserError, match="was started with another metric"):
        tune("sentiment", space, **{**options, "metric": "loss"})
    shown = CliRunner().invoke(cli, ["tune", "--report", str(study_dir)])
    assert shown.exit_code == 0 and f"best: trial {report['best']['trial']}" in shown.output


def test_the_time_budget_stops_the_running_trial_and_starts_no_other(tmp_path, monkeypatch):
    import rnn_apps.tuning

    ticks = itertools.count(1)  # a clock one second further at every look: the same on any machine
    monkeypatch.setattr(rnn_apps.tuning, "time", SimpleNamespace(monotonic=lambda: float(next(ticks)),
                                                                 time=time.time, sleep=time.sleep))
    report = tune("sentiment", write(tmp_path, SPACE), trials=3, time_budget=0.05, metric="accuracy",
                  study_dir=tmp_path / "study", preset="tiny", epochs=3, overrides=FAST, console=QUIET)
    # 3 seconds: the budget is set at 1, the trial starts at 2 (2 s left), the budget runs out
    # after the second training step of epoch 1; that epoch is validated and no second trial starts
    (trial,) = report["trials"]
    assert trial["state"] == "complete" and trial["epochs"] == 1
    assert (Path(trial["run"]) / "model.keras").is_file()


def plant(study_dir: Path, value: float, epochs: int) -> None:
    """Three finished trials whose validation accuracy was ``value`` after every epoch."""
    from rnn_apps.tuning import open_storage

    storage, _, _ = open_storage(study_dir, None, create=True)
    study = optuna.create_study(storage=storage, study_name="sentiment", direction="maximize")
    for _ in range(3):
        study.add_trial(optuna.trial.create_trial(value=value, intermediate_values={
            step: value for step in range(1, epochs + 1)}))


@pytest.mark.parametrize("planted, pruned", [(1.0, True), (0.0, False)])
def test_pruning_stops_a_trial_behind_the_median_of_planted_curves(tmp_path, planted, pruned):
    study_dir, epochs = tmp_path / "study", 3
    plant(study_dir, planted, epochs)
    report = tune("sentiment", write(tmp_path, SPACE), trials=4, metric="accuracy", study_dir=study_dir,
                  preset="tiny", epochs=epochs, pruner="median", overrides=FAST, console=QUIET)
    trial = report["trials"][-1]
    run = Path(trial["run"])
    history = json.loads((run / "history.json").read_text())
    assert (run / "metrics.json").is_file() and (run / "model.keras").is_file()  # an ordinary finished run
    if pruned:  # below every planted curve: stopped after epoch 2 (epoch 1 is never judged)
        assert trial["state"] == "pruned" and trial["pruned_after_epoch"] == 2 and len(history["loss"]) == 2
        assert json.loads((run / "trial.json").read_text())["state"] == "pruned" and report["pruned"] == 1
    else:
        assert trial["state"] == "complete" and len(history["loss"]) == epochs


def command(study_dir: Path, space: Path, trials: int) -> list[str]:
    return [str(Path(sys.executable).parent / "rnn-apps"), "tune", "sentiment", "--space", str(space), "--trials",
            str(trials), "--study-dir", str(study_dir), "--preset", "tiny", "--epochs", "1", "--metric", "accuracy",
            "--pruner", "none", *(part for pair in FAST for part in ("--set", pair))]


def trials_of(study_dir: Path) -> list:
    return load_study(study_dir).study.get_trials(deepcopy=False)


@pytest.mark.slow
def test_a_study_killed_with_sigkill_mid_trial_resumes_to_the_requested_count(tmp_path):
    space, study_dir = write(tmp_path, SPACE), tmp_path / "study"
    process = subprocess.Popen(command(study_dir, space, 3), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (study_dir / "trials" / "0001" / "run.json").is_file():  # the second trial is training
            assert process.poll() is None and time.monotonic() < deadline, "the study ended before its second trial"
            time.sleep(0.2)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    states = {t.number: t.state.name for t in trials_of(study_dir)}
    assert states[0] == "COMPLETE" and states[1] == "RUNNING"

    result = subprocess.run(command(study_dir, space, 3), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "left running by a process that died" in result.stderr
    states = {t.number: t.state.name for t in trials_of(study_dir)}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE", 3: "COMPLETE"}
    assert not (study_dir / "trials" / "0001").exists()  # the unfinished run of the dead trial is removed
    assert sorted(p.name for p in (study_dir / "trials").iterdir()) == ["0000", "0002", "0003"]


@pytest.mark.slow
def test_two_processes_sharing_one_storage_run_disjoint_trials_of_one_study(tmp_path):
    space, study_dir = write(tmp_path, SPACE), tmp_path / "study"
    processes = [subprocess.Popen(command(study_dir, space, 4), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    for process in processes:
        _, errors = process.communicate(timeout=600)
        assert process.returncode == 0, errors[-2000:]
    trials = trials_of(study_dir)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    # each process starts a trial while finished + running < 4: two looking at once may add one
    assert 4 <= len(complete) <= 5 and len(complete) == len(trials)
    assert {t.user_attrs["pid"] for t in trials} == {p.pid for p in processes}  # both took part
    runs = [t.user_attrs["run"] for t in trials]
    assert len(set(runs)) == len(runs) and sorted(p.name for p in (study_dir / "trials").iterdir()) == sorted(
        Path(r).name for r in runs)
    assert len({t.number for t in trials}) == len(trials)


def test_a_trial_left_running_by_a_dead_process_is_failed_and_a_live_ones_kept(tmp_path):
    import socket

    from rnn_apps.tuning import Study, fail_stale_trials, open_storage

    storage, directory, journal = open_storage(tmp_path / "study", None, create=True)
    study = optuna.create_study(storage=storage, study_name="sentiment")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for pid in (gone.pid, os.getpid()):
        trial = study.ask()
        for key, value in {"pid": pid, "host": socket.gethostname(), "run": f"trials/{trial.number:04d}"}.items():
            trial.set_user_attr(key, value)
        (directory / "trials" / f"{trial.number:04d}").mkdir(parents=True)
    assert fail_stale_trials(Study(study, storage, directory, journal)) == [0]
    assert [t.state.name for t in study.get_trials()] == ["FAIL", "RUNNING"]
    assert not (directory / "trials" / "0000").exists() and (directory / "trials" / "0001").is_dir()


def test_a_study_in_an_sqlite_storage_is_reported_by_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    from rnn_apps.tuning import open_storage

    storage, _, _ = open_storage(None, url, create=True)
    study = optuna.create_study(storage=storage, study_name="mine", direction="maximize")
    for units, value in ((8, 0.6), (16, 0.8), (24, 0.7)):
        study.add_trial(optuna.trial.create_trial(
            value=value, params={"units": units}, distributions={"units": optuna.distributions.IntDistribution(8, 24)},
            user_attrs={"run": f"trials/{units}"}))
    report = tune(report="mine", storage=url, study_dir=tmp_path / "runs", console=QUIET)
    assert report["best"]["params"] == {"units": 16} and [r["value"] for r in report["trials"]] == [0.6, 0.8, 0.7]
    assert Path(report["plots"]["history"]).is_file() and Path(report["report"]).parent == tmp_path / "runs" / "report"
    with pytest.raises(UserError, match="no study 'other'"):
        tune(report="other", storage=url, console=QUIET)
    with pytest.raises(UserError, match="not a study directory"):
        tune(report=tmp_path, console=QUIET)


@pytest.mark.parametrize("command", ["tune", "compare"])
def test_help_teaches_with_examples(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output and f"rnn-apps {command}" in result.output
