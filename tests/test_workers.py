"""``rnn-apps train --workers N`` (``rnn_apps.training.workers``): local workers on loopback,
the same curve as one worker, and a worker killed mid-epoch that the run survives."""
from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnn_apps.training.distributed import read_tf_config
from rnn_apps.training.workers import free_ports, tf_config

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
ENV.pop("TF_CONFIG", None)


def rnn_apps(*args, env=ENV, timeout=900):
    return subprocess.run([sys.executable, "-m", "rnn_apps.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_local_workers_get_distinct_ports_and_their_own_place():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    assert [read_tf_config(tf_config(ports, i)) for i in range(3)] == [(3, 0), (3, 1), (3, 2)]


def test_workers_inside_a_cluster_is_a_usage_error(tmp_path):
    done = rnn_apps("train", "sentiment", "--workers", 2, "--run-dir", tmp_path / "run",
                    env={**ENV, "TF_CONFIG": tf_config([1, 2], 0)}, timeout=120)
    assert done.returncode == 2
    assert "TF_CONFIG already places this process in a cluster" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_a_mistake_stops_every_worker_with_the_message(tmp_path):
    done = rnn_apps("train", "sentiment", "--workers", 2, "--data", tmp_path / "missing.tsv",
                    "--run-dir", tmp_path / "run", timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]  # the worker's own message comes last, not above
    assert last.startswith("Error: worker 0 exited with status 2: ") and "missing.tsv" in last, last
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()


def history(run: Path) -> dict:
    return json.loads((run / "history.json").read_text())


# Two workers with batch B and one with batch 2B see the same examples in every step (each
# worker slices the same global batch); they differ only in the order of float sums.
RTOL = 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sentiment", "translate"])
def test_two_workers_follow_the_curve_of_one(tmp_path, task):
    common = ["--preset", "tiny", "--epochs", 3, "--seed", 7]
    one = rnn_apps("train", task, *common, "--batch-size", 32, "--run-dir", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    two = rnn_apps("train", task, *common, "--batch-size", 16, "--workers", 2, "--run-dir", tmp_path / "two")
    assert two.returncode == 0, two.stderr[-2000:]
    assert "2 workers, 2 replicas, global batch 32 (16 per replica)" in two.stderr
    assert two.stdout.strip() == str((tmp_path / "two").resolve())  # the chief prints the run, once
    for key in ("loss", "val_loss"):
        assert history(tmp_path / "two")[key] == pytest.approx(history(tmp_path / "one")[key], rel=RTOL)
    assert history(tmp_path / "one")["loss"][-1] < history(tmp_path / "one")["loss"][0]  # it learned
    # the chief wrote the run; the other worker left nothing behind
    assert (tmp_path / "two" / "model.keras").is_file() and (tmp_path / "two" / "metrics.json").is_file()
    logs = re.search(r"the others log to (\S+)", two.stderr).group(1)
    assert not Path(logs).exists()


@pytest.mark.slow
def test_a_worker_killed_mid_epoch_restarts_from_the_last_checkpoint(tmp_path):
    run = tmp_path / "run"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "rnn_apps.cli.main", "train", "sentiment", "--preset", "tiny", "--workers", "2",
         "--builtin-examples", "6000", "--epochs", "3", "--batch-size", "16", "--run-dir", str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        ready, _, _ = select.select([launcher.stderr], [], [], 300)
        assert ready, "the launcher printed nothing in 300 s"
        first_line = launcher.stderr.readline()
        pids = [int(p) for p in re.search(r"\(pids ([\d, ]+)\)", first_line).group(1).split(", ")]
        state = run / "checkpoints" / "state.json"
        deadline = time.monotonic() + 600
        while not state.is_file():  # epoch 1 committed: the kill lands in epoch 2
            assert launcher.poll() is None and time.monotonic() < deadline, first_line
            time.sleep(0.05)
        os.kill(pids[1], signal.SIGKILL)
        out, err = launcher.communicate(timeout=900)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    err = first_line + err
    assert launcher.returncode == 0, err[-3000:]
    assert "worker 1 was killed by SIGKILL" in err
    assert "restarting all 2 workers from the last checkpoint" in err
    resumed = re.search(r"resuming \S+ at epoch (\d)/3", err)
    assert resumed and int(resumed.group(1)) >= 2, err[-3000:]  # not from scratch
    assert json.loads(state.read_text())["epochs_done"] == 3
    assert len(history(run)["loss"]) == 3 and (run / "metrics.json").is_file()
    assert out.strip() == str(run.resolve())


@pytest.mark.slow
def test_two_workers_stream_a_file_each_reading_its_share(tmp_path):
    """``streaming: true`` on 2 workers: each batches every other training row of the file
    (global batch still 2 x 16); the run learns as one worker streaming at batch 32 does."""
    from rnn_apps.models.sentiment import generate_reviews

    reviews = generate_reviews(4000, 9)
    data = tmp_path / "reviews.tsv"
    data.write_text("".join(f"{t}\t{label}\n" for t, label in zip(reviews["text"], reviews["label"])))
    common = ["--data", data, "--preset", "small", "--epochs", 4, "--set", "streaming=true"]
    two = rnn_apps("train", "sentiment", *common, "--batch-size", 16, "--workers", 2, "--run-dir", tmp_path / "two")
    assert two.returncode == 0, two.stderr[-2000:]
    assert "streamed: " in two.stderr and "global batch 32 (16 per replica)" in two.stderr
    one = rnn_apps("train", "sentiment", *common, "--batch-size", 32, "--run-dir", tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    losses = {name: history(tmp_path / name)["val_loss"] for name in ("one", "two")}
    assert losses["two"][-1] < losses["two"][0] - 0.05  # it learned
    assert losses["two"][-1] == pytest.approx(losses["one"][-1], abs=0.08)  # other batches, a close curve


@pytest.mark.slow
def test_a_run_resumed_with_another_worker_count_is_refused(tmp_path):
    """``run.json`` keeps the replicas of the global batch; resuming with others would change it."""
    run = tmp_path / "run"
    done = rnn_apps("train", "sentiment", "--preset", "tiny", "--epochs", 1, "--run-dir", run, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run / "run.json").read_text())["replicas"] == 1
    again = rnn_apps("train", "--resume", run, "--epochs", 2, "--workers", 2, timeout=300)
    assert again.returncode == 2, again.stderr[-2000:]
    assert "trained with a global batch of 32 (1 replica x 32); resume it without --workers" in again.stderr
    assert "Traceback" not in again.stderr and len(history(run)["loss"]) == 1
