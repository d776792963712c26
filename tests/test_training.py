import json

import keras
import numpy as np
import pytest
from conftest import QUIET, train_tiny

import rnn_apps
from rnn_apps.config import TrainConfig
from rnn_apps.errors import UserError
from rnn_apps.readers import read_source, split_examples
from rnn_apps.training import make_optimizer


def test_run_directory_holds_everything(sentiment_run):
    for name in ("run.json", "config.yaml", "vocab.json", "labels.json", "model.keras", "metrics.json",
                 "history.csv", "history.json", "checkpoints/last.keras", "checkpoints/best.keras",
                 "checkpoints/state.json"):
        assert (sentiment_run / name).is_file(), name
    assert list((sentiment_run / "logs").rglob("events.out.tfevents*"))
    history = json.loads((sentiment_run / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_accuracy" in history
    metrics = json.loads((sentiment_run / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"loss", "accuracy", "macro_f1", "confusion"}
    assert not [p for p in sentiment_run.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("content", ["sentence\tlabel\ngood\t1\nno label here\n", ""])
def test_bad_input_leaves_no_run_directory(tmp_path, content):
    data = tmp_path / "bad.tsv"
    data.write_text(content)
    with pytest.raises(UserError):
        rnn_apps.train("sentiment", data=str(data), run_dir=tmp_path / "runs" / "r", console=QUIET)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))


def test_unknown_label_in_held_out_split_fails_before_training(tmp_path):
    data = tmp_path / "d.tsv"
    data.write_text("".join(f"text {i}\t{i % 2}\n" for i in range(40)) + "weird one\t7\n")
    examples = read_source(str(data), {"text": "auto", "label": "auto"}, {})
    seed = next(s for s in range(100) if "7" not in split_examples(examples, 0.2, 0.2, s)["train"]["label"])
    with pytest.raises(UserError, match=r"d.tsv:41: unknown label '7'; known labels: 0, 1"):
        rnn_apps.train("sentiment", data=str(data), run_dir=tmp_path / "r", console=QUIET,
                       overrides=["val_fraction=0.2", "test_fraction=0.2", f"seed={seed}"])
    assert not (tmp_path / "r").exists()


def test_existing_run_dir_is_refused(sentiment_run):
    with pytest.raises(UserError, match="already exists"):
        train_tiny("sentiment", sentiment_run)


def test_resume_continues_from_last_checkpoint(tmp_path):
    run = train_tiny("sentiment", tmp_path / "r")
    rnn_apps.train(resume=run, epochs=3, console=QUIET)
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["epochs_done"] == 3
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3
    with pytest.raises(UserError, match="already trained 3 epochs"):
        rnn_apps.train(resume=run, console=QUIET)
    with pytest.raises(UserError, match="only --epochs may change"):
        rnn_apps.train(resume=run, overrides=["units=3"], epochs=5, console=QUIET)


def test_same_seed_same_run(tmp_path):
    losses = []
    for name in ("a", "b"):
        run = train_tiny("sentiment", tmp_path / name, epochs=1)
        losses.append(json.loads((run / "history.json").read_text())["val_loss"])
    assert losses[0] == losses[1]


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    with pytest.raises(UserError, match="loss became NaN/inf at epoch 1"):
        train_tiny("sentiment", tmp_path / "r", overrides=["learning_rate=1e30", "global_clipnorm=0",
                                                           "optimizer=sgd"])


def test_optimizer_clips_by_global_norm_by_default():
    cfg = TrainConfig(optimizer="sgd", learning_rate=1.0)
    opt = make_optimizer(cfg)
    assert opt.global_clipnorm == 1.0 and opt.clipnorm is None
    var = keras.Variable(np.zeros(2, dtype="float32"))
    opt.apply_gradients([(np.array([30.0, 40.0], dtype="float32"), var)])  # norm 50 -> scaled to 1
    np.testing.assert_allclose(var.numpy(), [-0.6, -0.8], atol=1e-6)
    assert make_optimizer(TrainConfig(global_clipnorm=0)).global_clipnorm is None
    with pytest.raises(UserError, match="only one of global_clipnorm and clipnorm"):
        make_optimizer(TrainConfig(clipnorm=1.0))


def test_multiclass_labels_read_from_the_data(tmp_path):
    data = tmp_path / "topics.csv"
    words = {"sport": "goal match team", "food": "soup bread salt", "tech": "chip code disk"}
    rows = [f'"{words[label].split()[i % 3]} {words[label].split()[(i + 1) % 3]}",{label}'
            for i in range(60) for label in words]
    data.write_text("text,label\n" + "\n".join(rows) + "\n")
    run = train_tiny("sentiment", tmp_path / "r", data=str(data), epochs=1)
    result = rnn_apps.predict(run, ["goal team"])[0]
    assert sorted(result["probabilities"]) == ["food", "sport", "tech"]
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert len(rnn_apps.evaluate(run)["confusion"]) == 3


def test_time_budget_stops_early_but_completes_the_run(tmp_path):
    run = train_tiny("sentiment", tmp_path / "r", epochs=5, overrides=["time_budget=0.000001"])
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 1 and "val_loss" in history  # the cut epoch is still validated
    assert (run / "model.keras").is_file()
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"] == 1
