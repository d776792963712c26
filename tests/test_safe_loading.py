"""Run directories and exports may come from someone else: loading runs no code and fails clearly."""
import shutil

import keras
import numpy as np
import pytest

import rnn_apps
from rnn_apps.errors import UserError


def copy_run(sentiment_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(sentiment_run, run)
    return run


def test_a_model_with_a_lambda_layer_is_refused(sentiment_run, tmp_path):
    run = copy_run(sentiment_run, tmp_path)
    tokens = keras.Input((None,), dtype="int32", name="text")
    x = keras.layers.Embedding(50, 4)(tokens)
    x = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=1))(x)  # arbitrary code in the file
    keras.Model(tokens, keras.layers.Dense(1, activation="sigmoid")(x)).save(run / "model.keras")
    with pytest.raises(UserError, match="holds a Lambda layer .* safe_mode"):
        rnn_apps.predict(run, ["good"])


@pytest.mark.parametrize("damage, message", [
    ("truncated model", "model.keras is damaged or not a Keras model"),
    ("broken run.json", r"run.json is damaged \(not valid JSON"),
    ("broken vocabulary", r"vocab.json: missing or damaged"),
    ("no model", "has no model.keras yet"),
])
def test_a_damaged_run_is_one_clear_error(sentiment_run, tmp_path, damage, message):
    run = copy_run(sentiment_run, tmp_path)
    if damage == "truncated model":
        data = (run / "model.keras").read_bytes()
        (run / "model.keras").write_bytes(data[: len(data) // 3])
    elif damage == "broken run.json":
        (run / "run.json").write_text('{"task": "sentim')
    elif damage == "broken vocabulary":
        (run / "vocab.json").write_text("[1, 2")
    else:
        (run / "model.keras").unlink()
    with pytest.raises(UserError, match=message):
        rnn_apps.predict(run, ["good"])


def test_safe_loading_still_loads_every_layer_of_ours(sentiment_run):
    run = rnn_apps.load_run(sentiment_run)
    assert np.isfinite(run.predict(["fine"])[0]["probability"])
