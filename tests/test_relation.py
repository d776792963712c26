"""The Relation Network head: every ordered pair of grid cells (with x, y) and the question through g."""
import json

import keras
import numpy as np

import rnn_apps
from conftest import QUIET
from rnn_apps.layers.relation import GridCoordinates, PairSum, relation_head


def test_grid_cells_carry_their_position():
    grid = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype("float32")
    objects = np.asarray(GridCoordinates()(grid))
    assert objects.shape == (2, 12, 7)
    assert np.allclose(objects[:, :, :5], grid.reshape(2, 12, 5))
    x, y = objects[0, :, 5].reshape(3, 4), objects[0, :, 6].reshape(3, 4)
    assert np.allclose(x[0], [-1, -1 / 3, 1 / 3, 1]) and np.allclose(y[:, 0], [-1, 0, 1])  # x along w, y along h


def test_pairs_are_summed_as_g_of_the_concatenated_pair_and_question():
    """The broadcast first layer equals g's first layer on [o_i, o_j, q] for every ordered pair."""
    rng = np.random.default_rng(1)
    objects, question = rng.normal(size=(2, 5, 3)).astype("float32"), rng.normal(size=(2, 4)).astype("float32")
    layer = PairSum(6, layers=2)
    out = np.asarray(layer([objects, question]))
    w = np.concatenate([np.asarray(layer.first_i.kernel), np.asarray(layer.first_j.kernel),
                        np.asarray(layer.first_q.kernel)])
    b = np.asarray(layer.first_i.bias)
    second_w, second_b = (np.asarray(v) for v in layer.rest[0].weights)
    for k in range(2):
        pairs = [np.concatenate([objects[k, i], objects[k, j], question[k]]) for i in range(5) for j in range(5)]
        g = np.maximum(np.maximum(np.stack(pairs) @ w + b, 0) @ second_w + second_b, 0)
        assert np.allclose(out[k], g.mean(0), atol=1e-5)


def test_a_model_with_the_head_saves_and_reloads(tmp_path):
    grid, question = keras.Input((3, 3, 4)), keras.Input((5,))
    model = keras.Model([grid, question], relation_head(grid, question, 8, name="rn"))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    x = [np.ones((2, 3, 3, 4), "float32"), np.ones((2, 5), "float32")]
    assert np.allclose(model.predict(x, verbose=0), again.predict(x, verbose=0))


def test_vqa_trains_with_fusion_relation(tmp_path):
    run = rnn_apps.train("vqa", preset="tiny", run_dir=tmp_path / "run", console=QUIET, overrides=["fusion=relation"])
    assert "accuracy" in json.loads((run / "metrics.json").read_text())["test"]
    model = keras.models.load_model(run / "model.keras")
    assert {"relation_objects", "relation_g", "relation_f"} <= {layer.name for layer in model.layers}
    assert rnn_apps.predict(run, [{"image": np.zeros((24, 24, 3), np.uint8), "question": "is there a red object ?"}])
