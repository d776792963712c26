"""The caption task: built-in scenes, attention (soft and hard), the two real-data layouts, CLI."""
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from harness import check_task, check_tflite
from PIL import Image

import rnn_apps
from rnn_apps.cli.main import cli
from rnn_apps.config import resolve_config
from rnn_apps.errors import UserError
from rnn_apps.layers.attention import AttendingCell, DoublyStochastic
from rnn_apps.models.caption import PRESETS, CaptionConfig, generate_captions, load_examples


def test_captions_name_what_is_where():
    data = generate_captions(200, seed=1, size=64)
    assert len(set(data.origins)) == 200 and len(data) >= 600  # several references per picture
    again = generate_captions(200, seed=1, size=64)
    assert data["caption"] == again["caption"]
    by_picture = {}
    for origin, caption in zip(data.origins, data["caption"]):
        by_picture.setdefault(origin, []).append(caption)
    for captions in by_picture.values():
        first, second = captions[:2]  # "a X left of a Y" and "a Y right of a X"
        relation = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
        for forward, backward in relation.items():
            if f" {forward} " in first:
                subject, obj = first.split(f" {forward} ")
                assert second == f"{obj} {backward} {subject}", (first, second)
    words = {w for c in data["caption"] for w in c.split()}
    assert {"left", "right", "above", "below", "small", "big", "circle", "square", "triangle"} <= words


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_attention_weights_sum_to_one_and_hard_attention_picks_one_location(mode):
    keras.utils.set_random_seed(0)
    cell = AttendingCell("gru", 8, locations=9, depth=4, embedding=3, attention_units=5, mode=mode)
    layer = keras.layers.RNN(cell, return_sequences=True)
    grid = np.random.default_rng(0).normal(size=(2, 9, 4)).astype("float32")
    words = np.random.default_rng(1).normal(size=(2, 6, 3)).astype("float32")
    inputs = np.concatenate([words, np.repeat(grid.reshape(2, 1, 36), 6, axis=1)], axis=-1)
    for training in (False, True):
        out = layer(inputs, training=training).numpy()
        alpha, context = out[..., 8 + 4:], out[..., 8:12]
        np.testing.assert_allclose(alpha.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(context, np.einsum("btl,bld->btd", alpha, grid), atol=1e-5)
        if mode == "hard":
            assert set(np.round(alpha, 5).ravel()) <= {0.0, 1.0}  # one location, forward


def test_doubly_stochastic_penalty_is_zero_when_every_location_gets_one_look():
    layer = DoublyStochastic(2.0)
    once = np.eye(3, dtype="float32")[None]  # 3 steps, 3 locations, each looked at once
    layer(once, np.ones((1, 3), "float32"))
    assert float(layer.losses[-1]) == pytest.approx(0.0)
    layer = DoublyStochastic(2.0)
    stare = np.tile([[1.0, 0.0, 0.0]], (1, 3, 1)).astype("float32")  # always the first location
    layer(stare, np.ones((1, 3), "float32"))
    assert float(layer.losses[-1]) == pytest.approx(2.0 * ((1 - 3) ** 2 + 1 + 1))


def write_images(folder, n=3):
    data = generate_captions(n, seed=2, size=32)
    names = []
    for i in range(n):
        name = f"img{i}.png"
        Image.fromarray(data["image"][data.origins.index(f"builtin:{i}")]).save(folder / name)
        names.append(name)
    return names


def test_flickr_tsv_and_coco_json_layouts(tmp_path):
    names = write_images(tmp_path)
    tsv = tmp_path / "captions.txt"
    tsv.write_text("".join(f"{n}#{k}\ta caption number {k}\n" for n in names for k in range(2)))
    read = load_examples(resolve_config(CaptionConfig), str(tsv))
    assert read["image"][:2] == [str(tmp_path / names[0])] * 2 and read["caption"][1] == "a caption number 1"
    coco = tmp_path / "captions_val.json"
    coco.write_text(json.dumps({"images": [{"id": 5, "file_name": names[1]}],
                                "annotations": [{"image_id": 5, "caption": "two shapes "},
                                                {"image_id": 5, "caption": "a red circle"}]}))
    read = load_examples(resolve_config(CaptionConfig), str(coco))
    assert read["image"] == [str(tmp_path / names[1])] * 2 and read["caption"] == ["two shapes", "a red circle"]


@pytest.mark.parametrize("content, message", [
    ("img0.png a caption without a tab\n", r"captions.txt:1: expected image<TAB>caption"),
    ("missing.png\ta caption\nimg0.png\tanother\n", r"captions.txt:1: .*missing.png"),
])
def test_bad_caption_files_name_file_and_line(tmp_path, content, message):
    write_images(tmp_path)
    (tmp_path / "captions.txt").write_text(content)
    with pytest.raises(UserError, match=message):
        rnn_apps.train("caption", data=str(tmp_path / "captions.txt"), preset="tiny", run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_config_refuses_stacked_attending_decoders_and_bidirectional():
    with pytest.raises(UserError, match="attending decoder has one layer"):
        resolve_config(CaptionConfig, overrides=["layers=2"])
    resolve_config(CaptionConfig, overrides=["layers=2", "attention=none"])
    with pytest.raises(UserError, match="cannot be bidirectional"):
        resolve_config(CaptionConfig, overrides=["bidirectional=true"])


def test_cli_predict_with_beam_and_attention_plot_and_evaluate(caption_run, tmp_path):
    names = write_images(tmp_path, 1)
    result = CliRunner().invoke(cli, ["predict", str(caption_run), str(tmp_path / names[0]), "--beam", "3",
                                      "--attention-plot", str(tmp_path / "att.png"), "--json"])
    assert result.exit_code == 0, result.output
    prediction = json.loads(result.output)[0]
    assert prediction["caption"] and "log_probability" in prediction
    assert (tmp_path / "att.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads(CliRunner().invoke(cli, ["evaluate", str(caption_run), "--json"]).output)
    assert {"bleu_1", "bleu_4", "references"} <= set(report) and report["references"] > report["examples"]
    assert 1 <= report["distinct_captions"] <= report["examples"] and 0 < report["distinct_2"] <= 1


def test_captions_keep_the_data_case_by_default():
    """References are scored as written (sacreBLEU, cased): a lower-cased output loses every
    capital "A" at the start of a Flickr8k or COCO caption."""
    import tensorflow as tf

    from rnn_apps.models.caption import output

    out = output(resolve_config(CaptionConfig))
    out.text.fit(["A Dog runs on the Grass .", "a dog"])
    assert {"A", "a", "Dog", "dog"} <= set(out.text.id_tokens)
    ids = out.text.ids(tf.constant(["A Dog runs on the Grass ."])).to_list()
    assert out.texts(ids) == ["A Dog runs on the Grass."]
    lowered = output(resolve_config(CaptionConfig, overrides=["lowercase=true"]))
    assert "A" not in lowered.text.fit(["A Dog"]).vocab.id_tokens


def test_beam_search_of_one_beam_equals_greedy_and_wider_beams_score_higher(caption_run):
    import tensorflow as tf

    from rnn_apps.decoding.beam import beam_search
    from rnn_apps.decoding.settings import Decoding

    run = rnn_apps.load_run(caption_run)
    images = [generate_captions(12, seed=9, size=24)["image"][i] for i in range(0, 36, 3)]
    engine = run.output.engine(run.model, run.features)
    pixels = run.output.source_tensor(run.features, images)
    greedy, _ = engine.decode(pixels, Decoding())  # the greedy decode_loop
    step, logits, states = engine.start(tf.constant(pixels))
    tokens, greedy_log_p, _ = beam_search(step, logits, states, beam=1, max_length=engine.max_length,
                                          end_id=run.output.end_id, banned=(0, run.output.start_id))
    rows = tokens.numpy().tolist()
    end = run.output.end_id
    assert [r[:r.index(end)] if end in r else [t for t in r if t] for r in rows] == greedy
    _, beam_log_p = engine.decode(pixels, Decoding(beam=4))
    assert beam_log_p.mean() >= greedy_log_p.numpy().mean() - 1e-4


def test_the_shared_task_checks(caption_run, tmp_path):
    check_task(caption_run, tmp_path)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_the_shared_tflite_checks(caption_run, tmp_path):
    check_tflite(caption_run, tmp_path)


@pytest.mark.slow
def test_attention_writes_better_captions_than_the_image_vector_alone_or_the_nearest_caption(tmp_path):
    from sacrebleu.metrics import BLEU

    from rnn_apps.models.caption import TASK, nearest_captions

    bleu = {}
    for attention in ("soft", "none"):
        run = rnn_apps.train("caption", preset="small", run_dir=tmp_path / attention, console=None,
                             overrides=[f"attention={attention}", "builtin_examples=800", "epochs=10"])
        bleu[attention] = json.loads((run / "metrics.json").read_text())["test"]["bleu_4"]
    loaded = rnn_apps.load_run(tmp_path / "soft")
    splits = TASK.split_examples(TASK.load_examples(loaded.cfg, None), loaded.cfg)
    groups = {}
    for image, caption in zip(splits["test"]["image"], splits["test"]["caption"]):
        groups.setdefault(id(image), (image, []))[1].append(caption)
    images, references = zip(*groups.values())
    guesses = nearest_captions(splits["train"], list(images))
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(max(map(len, references)))]
    bleu["nearest"] = BLEU().corpus_score(guesses, streams).score
    assert bleu["soft"] > bleu["none"] + 10 and bleu["soft"] > bleu["nearest"] + 10, bleu


def test_the_attended_grid_carries_each_cells_position():
    """With ``grid_positions`` the encoder's grid ends in each cell's (x, y), so a context mixed
    from it says where the decoder looked; without, the grid is the CNN's features alone."""
    from rnn_apps.models.caption import build_encoder

    cfg = resolve_config(CaptionConfig, presets=PRESETS, preset="tiny")  # 24 px, two stride-2 layers: 6 x 6 cells
    grid = build_encoder(cfg, None)(np.random.default_rng(0).random((2, 24, 24, 3)).astype("float32"))[0].numpy()
    assert grid.shape == (2, 36, cfg.cnn_filters + 2)
    xs, ys = grid[0, :, -2].reshape(6, 6), grid[1, :, -1].reshape(6, 6)
    np.testing.assert_allclose(xs[0], np.linspace(-1, 1, 6), atol=1e-6)  # x grows along a row
    np.testing.assert_allclose(ys[:, 0], np.linspace(-1, 1, 6), atol=1e-6)  # y grows down a column
    plain = resolve_config(CaptionConfig, presets=PRESETS, preset="tiny", overrides=["grid_positions=false"])
    assert build_encoder(plain, None).outputs[0].shape[-1] == cfg.cnn_filters


def test_the_doubly_stochastic_penalty_reaches_the_training_loss():
    """The penalty's layer must sit on the way to the logits: a Keras model drops a layer whose
    output it never reads, and with it the loss the layer adds (it was silently off)."""
    from rnn_apps.models.caption import build_model

    class Output:
        vocab_size = 7

    class Features:
        output = Output()

    inputs = {"image": np.random.default_rng(0).random((2, 24, 24, 3)).astype("float32"),
              "target_in": np.array([[2, 4, 5], [2, 6, 0]], "int32")}
    for strength, expected in ((0.0, 0), (1.0, 1)):
        cfg = resolve_config(CaptionConfig, presets=PRESETS, preset="tiny", overrides=[f"doubly_stochastic={strength}"])
        model = build_model(cfg, Features())
        model(inputs)
        assert len(model.losses) == expected
    assert float(model.losses[0]) > 0  # 3 steps cannot cover 36 cells once each
