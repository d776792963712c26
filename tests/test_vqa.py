"""The VQA task: Sort-of-CLEVR scenes, the three real-data layouts, the CLI, learning."""
import collections
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import QUIET
from harness import check_task, check_tflite
from PIL import Image

import rnn_apps
from rnn_apps.cli.main import cli
from rnn_apps.config import resolve_config
from rnn_apps.data.shapes import COLORS
from rnn_apps.errors import UserError
from rnn_apps.models.vqa import VQAConfig, generate_scenes, load_examples


def test_scenes_answer_their_questions_and_balance_the_answers():
    scenes = generate_scenes(600, seed=2)
    assert len(scenes) == 1200 and scenes["question"] == generate_scenes(600, seed=2)["question"]
    by_type = collections.defaultdict(collections.Counter)
    checked = collections.Counter()
    for image, question, answer, kind in zip(*(scenes[c] for c in ("image", "question", "answer", "type"))):
        by_type[kind][answer] += 1
        words = question.split()
        if kind == "exists":  # the named colour's pixels are there or not
            assert (image == COLORS[words[3]]).all(-1).any() == (answer == "yes"), question
            checked[kind] += 1
        if kind == "shape":  # how much of its bounding box a shape fills: square 1, circle pi/4, triangle 1/2
            ys, xs = np.nonzero((image == COLORS[words[4]]).all(-1))
            fill = len(ys) / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
            assert {"square": fill > 0.9, "circle": 0.65 < fill < 0.9, "triangle": fill < 0.65}[answer], question
            checked[kind] += 1
    assert checked["exists"] > 50 and checked["shape"] > 50
    assert set(by_type) == {"exists", "count", "shape", "position", "relation", "color"}
    for kind in ("exists", "position", "relation"):  # yes or no, about as often each
        assert set(by_type[kind]) == {"yes", "no"} and min(by_type[kind].values()) > 0.35 * sum(by_type[kind].values())
    assert len(by_type["shape"]) == 3 and len(by_type["color"]) == 6


def write_image(path, seed=0):
    Image.fromarray(generate_scenes(1, seed, 32)["image"][0]).save(path)


def test_jsonl_with_one_or_several_answers(tmp_path):
    write_image(tmp_path / "a.png")
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"image": "a.png", "question": "what is red ?", "answers": ["ball", "ball", "toy"]})
                    + "\n" + json.dumps({"image": "a.png", "question": "how many ?", "answer": 2}) + "\n")
    read = load_examples(resolve_config(VQAConfig), str(data))
    assert read["image"] == [str(tmp_path / "a.png")] * 2 and read["answer"] == [["ball", "ball", "toy"], "2"]
    assert read.origins == [f"{data}:1", f"{data}:2"]


def test_vqa_v2_and_clevr_layouts(tmp_path):
    (tmp_path / "vqa" / "val2014").mkdir(parents=True)
    write_image(tmp_path / "vqa" / "val2014" / "COCO_val2014_000000000042.jpg")
    (tmp_path / "vqa" / "v2_Questions_val2014.json").write_text(json.dumps(
        {"questions": [{"image_id": 42, "question": "what colour ?", "question_id": 7}]}))
    (tmp_path / "vqa" / "v2_mscoco_val2014_annotations.json").write_text(json.dumps(
        {"annotations": [{"question_id": 7, "answer_type": "other",
                          "answers": [{"answer": a} for a in ["red"] * 7 + ["pink"] * 3]}]}))
    read = load_examples(resolve_config(VQAConfig), str(tmp_path / "vqa" / "v2_Questions_val2014.json"))
    assert read["answer"] == [["red"] * 7 + ["pink"] * 3] and read["image"][0].endswith("000000000042.jpg")
    (tmp_path / "clevr" / "questions").mkdir(parents=True)
    (tmp_path / "clevr" / "images" / "val").mkdir(parents=True)
    write_image(tmp_path / "clevr" / "images" / "val" / "CLEVR_val_000000.png")
    (tmp_path / "clevr" / "questions" / "CLEVR_val_questions.json").write_text(json.dumps({"questions": [
        {"image_filename": "CLEVR_val_000000.png", "question": "Is there a cube?", "answer": "yes", "split": "val",
         "question_family_index": 3}]}))
    read = load_examples(resolve_config(VQAConfig), str(tmp_path / "clevr" / "questions" / "CLEVR_val_questions.json"))
    assert read["image"] == [str(tmp_path / "clevr" / "images" / "val" / "CLEVR_val_000000.png")]
    assert read["answer"] == ["yes"] and read["type"] == ["3"]


@pytest.mark.parametrize("files, message", [
    ({"qa.jsonl": '{"image": "missing.png", "question": "q", "answer": "a"}\n'}, r"qa.jsonl:1: .*missing.png"),
    ({"qa.jsonl": '{"image": "a.png", "answer": "a"}\n'}, r"qa.jsonl:1: needs image, question and answers"),
    ({"qa.jsonl": '{"image": "a.png", "question": "q", "answer": "a"}\n{broken\n'}, r"qa.jsonl:2: invalid JSON"),
    ({"q.json": '{"questions": [{"image_id": 1, "question": "q", "question_id": 1}]}'},
     r"q.json: VQA v2 questions need their annotations JSON beside them \(looked for one \*annotations\*.json in "),
    ({"q.json": '{"nothing": 1}'}, r"not a CLEVR or VQA v2 questions file"),
])
def test_bad_vqa_files_name_file_and_line(tmp_path, files, message):
    write_image(tmp_path / "a.png")
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    with pytest.raises(UserError, match=message):
        run_dir = tmp_path / "run"
        rnn_apps.train("vqa", data=str(tmp_path / next(iter(files))), preset="tiny", run_dir=run_dir, console=QUIET)
    assert not (tmp_path / "run").exists()


def test_vqa_accuracy_is_scored_on_ten_answers_only():
    from rnn_apps.outputs.classification import vqa_accuracy

    ten = ["red"] * 2 + ["pink"] * 8
    # the official leave-one-out mean: 2 of 10 said red -> 8 subsets with 2 others (2/3), 2 with 1 (1/3)
    assert vqa_accuracy([ten], ["red"])["vqa_accuracy"] == pytest.approx((8 * 2 / 3 + 2 * 1 / 3) / 10)
    assert vqa_accuracy([ten], ["pink"])["vqa_accuracy"] == 1.0
    # one answer (or a few) is not what the metric is defined on: not scored with it, counted
    assert vqa_accuracy([["yes"]], ["yes"]) == {"vqa_accuracy_examples": 0, "fewer_than_ten_answers": 1}
    mixed = vqa_accuracy([ten, ["yes"], "no"], ["pink", "yes", "no"])
    assert mixed == {"vqa_accuracy": 1.0, "vqa_accuracy_examples": 1, "fewer_than_ten_answers": 2}
    assert vqa_accuracy(["yes", "no"], ["yes", "yes"]) == {}  # single answers: plain accuracy only


def test_cli_predict_takes_an_image_and_a_question(vqa_run, tmp_path):
    write_image(tmp_path / "scene.png", seed=4)
    result = CliRunner().invoke(cli, ["predict", str(vqa_run), "--image", str(tmp_path / "scene.png"), "--question",
                                      "what shape is the red object ?", "--json"])
    assert result.exit_code == 0, result.output
    prediction = json.loads(result.output)[0]
    assert prediction["question"] == "what shape is the red object ?" and len(prediction["top"]) == 5
    assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-4
    result = CliRunner().invoke(cli, ["predict", str(vqa_run), "--image", str(tmp_path / "scene.png")])
    assert result.exit_code == 2 and "missing question" in result.output
    text = CliRunner().invoke(cli, ["evaluate", str(vqa_run)]).output
    assert "accuracy by type" in text


def test_the_answer_plot_is_callable_from_python(vqa_run, tmp_path):
    """What the CLI draws with --plot, rnn_apps.predict draws too (the output kind owns it)."""
    write_image(tmp_path / "scene.png", seed=4)
    row = {"image": str(tmp_path / "scene.png"), "question": "is there a red object ?"}
    result = rnn_apps.predict(vqa_run, [row], plot=str(tmp_path / "answer.png"))[0]
    assert result["plot"] == str(tmp_path / "answer.png") and (tmp_path / "answer.png").stat().st_size > 1000
    assert "plot" not in rnn_apps.predict(vqa_run, [row])[0]


def test_cli_predict_plot_draws_the_image_the_question_and_the_top_answers(vqa_run, tmp_path):
    write_image(tmp_path / "scene.png", seed=4)
    args = ["predict", str(vqa_run), "--image", str(tmp_path / "scene.png"), "--question", "is there a red object ?"]
    result = CliRunner().invoke(cli, [*args, "--plot", str(tmp_path / "answer.png"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["plot"] == str(tmp_path / "answer.png")
    with Image.open(tmp_path / "answer.png") as picture:
        picture.verify()  # a whole, valid PNG
    with Image.open(tmp_path / "answer.png") as picture:
        assert picture.format == "PNG" and 350 < picture.width < 900 and 150 < picture.height < 450, picture.size
    second = ["--image", str(tmp_path / "scene.png"), "--question", "how many red objects are there ?"]
    result = CliRunner().invoke(cli, [*args, *second, "--plot", str(tmp_path / "many.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "many_1.png").is_file() and (tmp_path / "many_2.png").is_file()
    assert not (tmp_path / "many.png").exists()


def test_the_shared_task_checks(vqa_run, tmp_path):
    check_task(vqa_run, tmp_path)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_the_shared_tflite_checks(vqa_run, tmp_path):
    check_tflite(vqa_run, tmp_path)


@pytest.mark.slow
def test_looking_at_the_image_beats_the_question_alone(tmp_path):
    accuracy = {}
    for image in ("cnn", "none"):
        run = rnn_apps.train("vqa", run_dir=tmp_path / image, console=QUIET,
                             overrides=[f"image={image}", "builtin_examples=4000", "epochs=12", "early_stopping=4"])
        accuracy[image] = json.loads((run / "metrics.json").read_text())["test"]
    by_type = accuracy["cnn"]["accuracy_by_type"], accuracy["none"]["accuracy_by_type"]
    assert accuracy["cnn"]["accuracy"] > accuracy["none"]["accuracy"] + 0.08, by_type
    assert by_type[0]["position"] > by_type[1]["position"] + 0.1, by_type  # where: only the image knows
