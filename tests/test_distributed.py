"""Data-parallel training (``rnn_apps.training.distributed``): TF_CONFIG, batch slices, and
the custom step under a strategy following exactly the curve of Keras ``fit``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from rnn_apps.errors import UserError
from rnn_apps.training.distributed import read_tf_config


def workers(*addresses, task="worker", index=0, chief=None):
    cluster = {"worker": list(addresses)}
    if chief:
        cluster["chief"] = [chief]
    return json.dumps({"cluster": cluster, "task": {"type": task, "index": index}})


@pytest.mark.parametrize("text, expected", [
    ("", None),
    (workers("a:1"), None),  # one worker: no cluster
    (workers("a:1", "b:2", index=1), (2, 1)),
    (workers("a:1", "b:2", index=0), (2, 0)),
    (workers("b:2", chief="a:1", task="chief", index=0), (2, 0)),  # a chief task is worker 0
    (workers("b:2", "c:3", chief="a:1", task="worker", index=1), (3, 2)),
])
def test_tf_config_places_this_worker(text, expected):
    assert read_tf_config(text) == expected


@pytest.mark.parametrize("text, message", [
    ("{not json", "TF_CONFIG is not valid"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "TF_CONFIG is not valid"),
    (workers("a:1", "b:2", index=2), "index 2 is outside the 2 workers"),
    (workers("a:1", "b:2", task="ps"), "parameter servers"),
    # a string where a list belongs (one worker per character), no port, a fractional or textual index
    (json.dumps({"cluster": {"worker": "localhost:2222"}, "task": {"type": "worker", "index": 0}}),
     'cluster.worker must be a list of "host:port" strings, got "localhost:2222"'),
    (json.dumps({"cluster": {"chief": "a:1", "worker": ["b:2"]}, "task": {"type": "chief", "index": 0}}),
     "cluster.chief must be a list"),
    (workers("localhost", "b:2"), 'address "localhost" is not "host:port"'),
    (workers("a:1", "b:port"), 'address "b:port" is not "host:port"'),
    (workers("a:1", "b:99999"), "a port 1-65535 is needed"),
    (workers("a:1", 7), 'address 7 is not "host:port"'),
    (workers("a:1", "b:2", index=0.5), "task index must be a whole number .* got 0.5"),
    (workers("a:1", "b:2", index="1"), 'task index must be a whole number .* got "1"'),
    (workers("a:1", "b:2", index=True), "task index must be a whole number"),
    (json.dumps({"cluster": ["a:1"], "task": {"type": "worker", "index": 0}}), "cluster must be an object"),
])
def test_bad_tf_config_is_a_user_error(text, message):
    with pytest.raises(UserError, match=message):
        read_tf_config(text)


def test_workers_slice_every_global_batch_between_them():
    import numpy as np
    import tensorflow as tf

    from rnn_apps.training.distributed import shard_batches

    sizes = [5, 4, 1, 6]  # the batch of 1 cannot feed 2 workers: both drop it
    batches = [np.arange(i * 10, i * 10 + n) for i, n in enumerate(sizes)]
    ds = tf.data.Dataset.from_generator(lambda: iter((b, b * 2) for b in batches),
                                        output_signature=(tf.TensorSpec([None], tf.int64),) * 2)
    parts = [list(shard_batches(ds, 2, index).as_numpy_iterator()) for index in (0, 1)]
    assert [len(p) for p in parts] == [3, 3]
    for step, batch in enumerate(b for b in batches if len(b) >= 2):
        x = np.concatenate([parts[0][step][0], parts[1][step][0]])
        np.testing.assert_array_equal(x, batch)  # contiguous slices, together the whole batch
        np.testing.assert_array_equal(parts[1][step][1], parts[1][step][0] * 2)  # targets follow
        assert abs(len(parts[0][step][0]) - len(parts[1][step][0])) <= 1


SAME_CURVE = textwrap.dedent("""
    import json, os, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import rnn_apps
    from rich.console import Console
    from rnn_apps.training.distributed import Cluster
    quiet = Console(file=open(os.devnull, "w"))
    out = {}
    for task in sys.argv[2:]:
        runs = {}
        for name, batch, cluster in [("fit", 32, None), ("mirrored", 16, Cluster(tf.distribute.MirroredStrategy(
                ["/cpu:0", "/cpu:1"]), 1, 0))]:
            # one process needs no --run-dir, even under a strategy: the mirrored run takes the default
            run = rnn_apps.train(task, preset="tiny", epochs=2, batch_size=batch, seed=5, console=quiet,
                                 run_dir=None if cluster else f"{sys.argv[1]}/{task}-{name}", cluster=cluster)
            runs[name] = {"history": json.load(open(f"{run}/history.json")),
                          "test": json.load(open(f"{run}/metrics.json"))}
        out[task] = runs
    print(json.dumps(out))
""")


def same_curve(tmp_path, *tasks):
    """Each task trained twice in a process with two CPU devices: Keras ``fit`` at batch 32,
    and the distributed step under ``MirroredStrategy`` at 16 per replica (a process per
    task: a second strategy in one process would reuse the first one's collective keys)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = {}
    for task in tasks:
        done = subprocess.run([sys.executable, "-c", SAME_CURVE, str(tmp_path), task], capture_output=True,
                              text=True, env=env, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return result


def assert_same_curve(runs, rtol):
    fit, mirrored = runs["fit"], runs["mirrored"]
    for key in ("loss", "val_loss"):
        assert mirrored["history"][key] == pytest.approx(fit["history"][key], rel=rtol), key
    final = "test" if "test" in fit["test"] else "val"
    key = "loss" if "loss" in fit["test"][final] else "nats_per_token"  # language models report nats
    assert mirrored["test"][final][key] == pytest.approx(fit["test"][final][key], rel=rtol)


# Tolerance: the two runs see the same batches in the same order and differ only in the
# order of float sums (all-reduce of the two halves vs one batch): measured below 1e-4.
RTOL = 1e-3


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_two_replicas_follow_the_curve_of_fit(tmp_path):
    """Classification: a mean over examples."""
    result = same_curve(tmp_path, "sentiment")
    for task, runs in result.items():
        assert_same_curve(runs, RTOL)
        assert runs["fit"]["history"]["loss"][1] < runs["fit"]["history"]["loss"][0], task  # it trained


@pytest.mark.slow
def test_two_replicas_follow_the_curve_of_fit_on_tokens_carried_states_and_clips(tmp_path):
    """Translation (a masked mean over tokens, which the shares must weight by tokens, not
    examples), a stateful language model (each replica carries its own streams) and
    per-frame labels (a mean over real frames; batch norm over the global batch)."""
    for task, runs in same_curve(tmp_path, "translate", "textgen", "video").items():
        assert_same_curve(runs, RTOL)


def test_several_workers_without_a_run_dir_fail_before_waiting(monkeypatch):
    """TF_CONFIG for two workers and no --run-dir: refused at once, before the strategy is made
    (which would wait for the absent peer)."""
    import rnn_apps

    monkeypatch.setenv("TF_CONFIG", workers("127.0.0.1:1", "127.0.0.1:2", index=0))
    with pytest.raises(UserError, match="several workers \\(TF_CONFIG\\) needs --run-dir"):
        rnn_apps.train("sentiment", preset="tiny")
