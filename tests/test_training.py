import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import QUIET, train_tiny

import rnn_apps
from rnn_apps.config import TrainConfig
from rnn_apps.training.callbacks import NaNGuard, NonFiniteError
from rnn_apps.errors import UserError
from rnn_apps.data.examples import split_examples
from rnn_apps.data.readers import read_source
from rnn_apps.training.optimizers import optimizer_for


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
    # Same machine, same seed: the runs agree to float32 round-off (oneDNN may sum in a
    # different order between runs when threads finish in another order), not bit for bit.
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


# --- the NaN guard: a non-finite value planted at a known place, so no CPU can dodge it ----

def poisoned_batches(bad_batch: int | None, batches: int = 4, batch_size: int = 8):
    """Regression batches ``(x [8, 3], y [8, 1])``; batch ``bad_batch`` (from 1) holds a NaN input."""
    x = np.ones((batches * batch_size, 3), np.float32)
    if bad_batch is not None:
        x[(bad_batch - 1) * batch_size, 0] = np.nan
    return tf.data.Dataset.from_tensor_slices((x, np.ones((len(x), 1), np.float32))).batch(batch_size)


def dense_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_guard_names_the_epoch_and_batch_of_a_nan_training_loss():
    model = dense_model()
    clean, poisoned = poisoned_batches(None), poisoned_batches(bad_batch=3)
    model.fit(clean, epochs=1, verbose=0, shuffle=False, callbacks=[NaNGuard()])  # epoch 1 is clean
    with pytest.raises(NonFiniteError, match=r"training loss became nan at epoch 2, batch 3$"):
        model.fit(poisoned, initial_epoch=1, epochs=2, verbose=0, shuffle=False, callbacks=[NaNGuard()])


def test_guard_catches_a_nan_validation_loss():
    with pytest.raises(NonFiniteError, match=r"validation loss became nan after epoch 1$"):
        dense_model().fit(poisoned_batches(None), validation_data=poisoned_batches(2), epochs=2, verbose=0, shuffle=False,
                          callbacks=[NaNGuard()])


def test_guard_catches_non_finite_weights_while_the_loss_stays_finite():
    class Corrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:  # the last batch of epoch 1: its loss was computed with finite weights
                self.model.layers[0].bias.assign([np.inf])

    with pytest.raises(NonFiniteError, match=r"weights became NaN/inf during epoch 1 \(.*bias\)"):
        dense_model().fit(poisoned_batches(None), epochs=3, verbose=0, shuffle=False, callbacks=[Corrupt(), NaNGuard()])


def test_a_nan_stops_train_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    """End to end through ``rnn_apps.train``: a task whose data hold a NaN at a known batch."""
    run = tmp_path / "r"
    with pytest.raises(UserError, match=r"training loss became nan at epoch 1, batch 3; lower learning_rate"):
        rnn_apps.train(regression_task(bad_batch=3), run_dir=run, console=QUIET)
    assert not (run / "checkpoints" / "last.keras").exists()  # nothing broken was saved
    with pytest.raises(UserError, match=r"validation loss became nan after epoch 1"):
        rnn_apps.train(regression_task(bad_batch=None, bad_val=True), run_dir=tmp_path / "v", console=QUIET)


def regression_task(bad_batch, bad_val=False):
    """A minimal ``Task`` of one's own (numbers in, a number out) whose data we control exactly:
    an input kind and an output kind written in a few lines, as a user of the API would."""
    from rnn_apps.data.examples import Examples
    from rnn_apps.task import Task

    class Numbers:  # an input kind: nothing to fit, nothing to encode
        name, kind, sequence = "x", "numbers", False

        def fit(self, values):
            return self

        def save(self, directory):
            pass

        def load(self, directory):
            return self

    class Regression:  # an output kind: mean squared error
        kind, predict_options, evaluate_options = "number", (), ()

        def fit(self, features, train):
            pass

        def save(self, directory):
            pass

        def dataset(self, features, examples, cfg, training):
            return poisoned_batches(bad_batch if training else (2 if bad_val else None))

        def compile_args(self, features):
            return {"loss": "mse"}

        def callbacks(self):
            return []

        def evaluate(self, model, features, examples):
            return {}

    return Task(name="regression", shape="one-to-one", description="test", config_class=TrainConfig,
                presets={}, load_examples=lambda cfg, source: Examples({"x": list(range(40))}, ["t"] * 40),
                inputs=lambda cfg: {"x": Numbers()}, output=lambda cfg: Regression(),
                build_model=lambda cfg, features: keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]))


def test_optimizer_clips_by_global_norm_by_default():
    cfg = TrainConfig(optimizer="sgd", learning_rate=1.0)
    opt = optimizer_for(cfg)
    assert opt.global_clipnorm == 1.0 and opt.clipnorm is None
    var = keras.Variable(np.zeros(2, dtype="float32"))
    opt.apply_gradients([(np.array([30.0, 40.0], dtype="float32"), var)])  # norm 50 -> scaled to 1
    np.testing.assert_allclose(var.numpy(), [-0.6, -0.8], atol=1e-6)
    assert optimizer_for(TrainConfig(global_clipnorm=0)).global_clipnorm is None
    with pytest.raises(UserError, match="only one of global_clipnorm and clipnorm"):
        optimizer_for(TrainConfig(clipnorm=1.0))


def test_cosine_schedule_warms_up_then_decays_to_zero():
    cfg = TrainConfig(learning_rate=0.01, lr_schedule="cosine", warmup_steps=10)
    schedule = optimizer_for(cfg, total_steps=110)._learning_rate
    rate = [float(schedule(step)) for step in (0, 5, 10, 60, 110)]
    expected = [0.0, 0.005, 0.01, 0.01 * 0.5 * (1 + np.cos(np.pi * 50 / 100)), 0.0]
    np.testing.assert_allclose(rate, expected, atol=1e-7)
    assert float(optimizer_for(TrainConfig(learning_rate=0.01)).learning_rate) == pytest.approx(0.01)
    with pytest.raises(UserError, match="cosine needs to know the number of steps"):
        optimizer_for(cfg)


def test_weight_decay_shrinks_weights_but_not_biases():
    opt = optimizer_for(TrainConfig(optimizer="sgd", learning_rate=0.1, weight_decay=0.5, global_clipnorm=0))
    kernel = keras.Variable(np.ones(2, "float32"), name="kernel")
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    opt.apply_gradients([(np.zeros(2, "float32"), kernel), (np.zeros(2, "float32"), bias)])
    np.testing.assert_allclose(kernel.numpy(), [0.95, 0.95], atol=1e-6)  # w - lr * wd * w
    np.testing.assert_allclose(bias.numpy(), [1.0, 1.0])


def test_recurrent_dropout_reaches_the_cells_and_vanilla_refuses_it():
    from rnn_apps.config import RecurrentConfig
    from rnn_apps.layers.recurrent import recurrent_stack

    x = keras.Input((None, 4))
    model = keras.Model(x, recurrent_stack(x, RecurrentConfig(cell="gru", recurrent_dropout=0.25)))
    assert model.get_layer("rnn_bi_1").forward_layer.cell.recurrent_dropout == 0.25
    with pytest.raises(UserError, match="recurrent_dropout needs cell simple, lstm or gru"):
        recurrent_stack(x, RecurrentConfig(cell="vanilla", recurrent_dropout=0.25))


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


def test_a_relative_data_path_is_stored_absolute_so_other_directories_work(tmp_path, monkeypatch):
    from rnn_apps.models.sentiment import generate_reviews

    (tmp_path / "data").mkdir()
    reviews = generate_reviews(300, seed=3)
    (tmp_path / "data" / "reviews.tsv").write_text(
        "".join(f"{t}\t{label}\n" for t, label in zip(reviews["text"], reviews["label"])))
    monkeypatch.chdir(tmp_path / "data")
    run = train_tiny("sentiment", tmp_path / "run", data="reviews.tsv", epochs=1)
    assert json.loads((run / "run.json").read_text())["data"] == str(tmp_path / "data" / "reviews.tsv")
    monkeypatch.chdir(tmp_path)  # elsewhere: evaluate and resume still find the data
    assert rnn_apps.evaluate(run)["examples"] == 30
    rnn_apps.train(resume=run, epochs=2, console=QUIET)


@pytest.mark.parametrize("task", ["sentiment", pytest.param("translate", marks=pytest.mark.slow)])
def test_mixed_bfloat16_computes_in_16_bits_with_float32_weights_and_outputs(tmp_path, task):
    run = train_tiny(task, tmp_path / "run", overrides=["precision=mixed_bfloat16", "epochs=2"])
    model = keras.models.load_model(run / "model.keras", compile=False)
    recurrent = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.RNN)]
    assert recurrent and all(layer.compute_dtype == "bfloat16" for layer in recurrent)
    assert all(w.dtype == "float32" for w in model.weights)  # the master weights stay float32
    assert model.layers[-1].compute_dtype == "float32"  # loss and softmax in float32
    history = json.loads((run / "history.json").read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was


def test_jit_compile_is_a_setting(tmp_path):
    from rnn_apps.config import resolve_config
    from rnn_apps.models import get_task
    from rnn_apps.training.loop import build, plan_training

    task = get_task("sentiment")
    for value, expected in (("false", False), ("true", True)):
        cfg = resolve_config(task.config_class, presets=task.presets, preset="tiny", jit_compile=value)
        assert build(plan_training(task, cfg, None)).jit_compile is expected


def test_a_resume_keeps_to_its_data(tmp_path):
    """run.json fingerprints a data file (size, SHA-256 of its ends): the same file passes,
    another source or the file edited since is refused, saying what differs."""
    from rnn_apps.errors import UserError
    from rnn_apps.runs import check_same_data, new_run_meta

    data = tmp_path / "d.tsv"
    data.write_text("good\tpositive\nbad\tnegative\n")
    meta = new_run_meta("sentiment", str(data))
    check_same_data(tmp_path, meta, None)
    check_same_data(tmp_path, meta, str(data))
    with pytest.raises(UserError, match="was trained on .*d.tsv; continuing it on .*e.tsv would change the run"):
        check_same_data(tmp_path, meta, str(tmp_path / "e.tsv"))
    data.write_text("good\tnegative\nbad\tpositive\n")  # the same size, other labels
    with pytest.raises(UserError, match="d.tsv has changed since .* \\(same size, other content\\)"):
        check_same_data(tmp_path, meta, None)
    assert new_run_meta("textgen", None)["data_fingerprint"] is None
