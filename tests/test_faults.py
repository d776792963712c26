"""Faults: kill -9 at any moment, Ctrl-C, a killed export, a write that fails. Nothing is lost
beyond the epoch in progress, and nothing half-written is left where a user would look."""
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time

import pytest

TRAIN = """
import sys, rnn_apps
from pathlib import Path
run = Path(sys.argv[1])
if (run / "run.json").exists():
    rnn_apps.train(resume=run)
else:
    rnn_apps.train("sentiment", preset="tiny", run_dir=run, epochs=5, overrides=["builtin_examples=2500"])
"""


def start(code, *args, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def assert_consistent(run, epochs):
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    history = json.loads((run / "history.json").read_text())
    assert state["epochs_done"] == epochs and all(len(v) == epochs for v in history.values())
    assert state["history"] == history
    for name in (state["last"], state["best_file"], "last.keras", "best.keras"):
        assert (run / "checkpoints" / name).is_file(), name
    assert len(list((run / "checkpoints").glob("epoch-*.keras"))) <= 2  # last and best only
    assert state["best"] == min(history["val_loss"])
    assert (run / "model.keras").is_file() and "test" in json.loads((run / "metrics.json").read_text())
    assert not [p for p in run.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(tmp_path):
    rng = random.Random(7)
    trials = 5
    for trial in range(trials):
        run = tmp_path / f"run{trial}"
        process = start(TRAIN, run)
        # one random moment in each fifth of 2..14 s: start-up, the epochs, the final reports
        time.sleep(rng.uniform(2.0 + 12.0 * trial / trials, 2.0 + 12.0 * (trial + 1) / trials))
        process.kill()
        _, err = process.communicate()
        printed = len(re.findall(r"^epoch (\d)/5 ", err, re.MULTILINE))
        if (run / "checkpoints" / "state.json").is_file():
            done = json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
            history = json.loads((run / "history.json").read_text())
            assert done >= printed - 1 and all(len(v) == done for v in history.values()), (trial, done, printed)
        else:
            assert printed <= 1
        if process.returncode == 0:  # it finished before the kill
            assert_consistent(run, 5)
            continue
        finisher = start(TRAIN, run)
        _, err = finisher.communicate(timeout=300)
        assert finisher.returncode == 0, err[-2000:]
        assert_consistent(run, 5)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    code = "import sys; from rnn_apps.cli.main import main; sys.argv = ['rnn-apps'] + sys.argv[1:]; main()"
    process = start(code, "train", "sentiment", "--preset", "tiny", "--epochs", "40", "--run-dir", run,
                    "--builtin-examples", "2500", "--early-stopping", "0")
    deadline = time.time() + 120
    while not (run / "checkpoints" / "state.json").is_file() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "interrupted" in err and f"--resume {run}" in err and "Traceback" not in err
    done = json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
    assert 1 <= done < 40
    finisher = start(code, "train", "--resume", run, "--epochs", str(done + 1))
    _, err = finisher.communicate(timeout=300)
    assert finisher.returncode == 0, err[-2000:]
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"] == done + 1


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_a_killed_export_leaves_no_partial_export(sentiment_run, tmp_path):
    code = "import sys, rnn_apps; rnn_apps.export(sys.argv[1], format='tflite', out=sys.argv[2])"
    rng = random.Random(3)
    for trial in range(3):
        out = tmp_path / f"export{trial}"
        process = start(code, sentiment_run, out)
        time.sleep(rng.uniform(3.0, 9.0))
        process.kill()
        process.communicate()
        if out.exists():  # it finished: then it is whole
            assert (out / "manifest.json").is_file() and (out / "model.tflite").is_file()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    done = start(code, sentiment_run, tmp_path / "export0b")
    assert done.wait(timeout=300) == 0
    assert all(not p.exists() for p in leftovers if p.name.startswith(".export0b"))


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_a_write_that_fails_is_a_clean_error_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"

    def small_files():  # a checkpoint is about 100 KB; the run directory's own files fit
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    code = "import sys; from rnn_apps.cli.main import main; sys.argv = ['rnn-apps'] + sys.argv[1:]; main()"
    process = start(code, "train", "sentiment", "--preset", "tiny", "--run-dir", run, preexec_fn=small_files)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2, err[-2000:]
    assert "cannot write to" in err and "File too large" in err and "Traceback" not in err
    assert not list((run / "checkpoints").glob(".*tmp*"))  # no half-written checkpoint
    finisher = start(code, "train", "--resume", run)
    _, err = finisher.communicate(timeout=300)
    assert finisher.returncode == 0, err[-2000:]
    assert (run / "model.keras").is_file()
