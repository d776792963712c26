"""VQA's documented data layouts, generated here in miniature and read record by record (no training).

Each picture is a solid colour unique to its image id, so a record read with the wrong image
(another split's folder, another id) is seen in its pixels, not only in its path.
"""
import json

import numpy as np
import pytest
from PIL import Image

from rnn_apps.config import resolve_config
from rnn_apps.errors import UserError
from rnn_apps.models.vqa import VQAConfig, load_examples

SPLITS = {"train2014": (1, 2, 3), "val2014": (40, 41), "test2015": (500,)}  # image ids per split


def colour(image_id: int) -> tuple[int, int, int]:
    return (image_id * 37 % 256, image_id * 91 % 256, image_id * 13 % 256)


def picture(path, image_id: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 8, 3), colour(image_id), np.uint8)).save(path)


def questions_of(split: str) -> list[dict]:
    """Two questions per image; question ids unique across the splits."""
    return [{"image_id": i, "question": f"what is in {split} image {i} ({k}) ?", "question_id": i * 10 + k}
            for i in SPLITS[split] for k in range(2)]


def answers_of(question_id: int) -> list[str]:
    return [f"answer {question_id}"] * 7 + ["other"] * 3


def official_vqa2(root, annotations=True):
    """The official VQA v2 layout: per split a questions JSON, an annotations JSON (none for
    test) and a COCO image folder, all side by side in ``root``."""
    for split in SPLITS:
        for i in SPLITS[split]:
            picture(root / split / f"COCO_{split}_{i:012d}.jpg", i)
        qs = questions_of(split)
        (root / f"v2_OpenEnded_mscoco_{split}_questions.json").write_text(json.dumps({"questions": qs}))
        if annotations and not split.startswith("test"):
            (root / f"v2_mscoco_{split}_annotations.json").write_text(json.dumps({"annotations": [
                {"question_id": q["question_id"], "image_id": q["image_id"], "answer_type": "other",
                 "answers": [{"answer": a} for a in answers_of(q["question_id"])]} for q in qs]}))


def read(source, **settings):
    return load_examples(resolve_config(VQAConfig, overrides=[f"{k}={v}" for k, v in settings.items()]),
                         str(source))


def pixels(path) -> tuple:
    with Image.open(path) as image:
        return tuple(int(c) for c in np.asarray(image.convert("RGB"))[3, 4])


def check_split(read_back, split: str) -> None:
    """Every question of ``split`` in order, with its own image (by pixels), answers and type."""
    expected = questions_of(split)
    assert read_back["question"] == [q["question"] for q in expected]
    assert read_back["answer"] == [answers_of(q["question_id"]) for q in expected]
    assert read_back["type"] == ["other"] * len(expected)
    for path, q in zip(read_back["image"], expected):
        assert f"{split}" in path and path.endswith(f"{q['image_id']:012d}.jpg")
        assert np.abs(np.subtract(pixels(path), colour(q["image_id"]))).max() <= 3  # JPEG


def test_official_vqa2_layout_matches_annotations_and_images_to_each_split(tmp_path):
    official_vqa2(tmp_path)
    for split in ("train2014", "val2014"):
        check_split(read(tmp_path / f"v2_OpenEnded_mscoco_{split}_questions.json"), split)
    # test questions have no annotations: the error says what was looked for and the way out
    with pytest.raises(UserError, match=r"v2_OpenEnded_mscoco_test2015_questions.json: VQA v2 questions need .*"
                                        r"\*test2015\*annotations\*.json.*--set annotations=FILE"):
        read(tmp_path / "v2_OpenEnded_mscoco_test2015_questions.json")


def test_vqa2_files_in_folders_of_their_own_and_given_as_settings(tmp_path):
    """``Questions/``, ``Annotations/`` and ``Images/<split>/``: found one folder up; settings
    point anywhere, and a folder of per-split folders serves every split."""
    official_vqa2(tmp_path / "flat")
    for folder in ("vqa/Questions", "vqa/Annotations", "pictures"):
        (tmp_path / folder).mkdir(parents=True)
    for split in ("train2014", "val2014"):
        questions, annotations = f"v2_OpenEnded_mscoco_{split}_questions.json", f"v2_mscoco_{split}_annotations.json"
        (tmp_path / "flat" / questions).rename(tmp_path / "vqa" / "Questions" / questions)
        (tmp_path / "flat" / annotations).rename(tmp_path / "vqa" / "Annotations" / annotations)
        (tmp_path / "flat" / split).rename(tmp_path / "pictures" / split)
    source = tmp_path / "vqa" / "Questions" / "v2_OpenEnded_mscoco_val2014_questions.json"
    with pytest.raises(UserError, match=r"no image folder .*a val2014 folder in .*--set image_dir=FOLDER"):
        read(source)
    check_split(read(source, image_dir=tmp_path / "pictures"), "val2014")  # holds val2014/
    check_split(read(source, image_dir=tmp_path / "pictures" / "val2014"), "val2014")  # the folder itself
    # annotations given explicitly: used as given, even under another name
    (tmp_path / "vqa" / "Annotations" / "v2_mscoco_train2014_annotations.json").rename(tmp_path / "mine.json")
    train = tmp_path / "vqa" / "Questions" / "v2_OpenEnded_mscoco_train2014_questions.json"
    with pytest.raises(UserError, match="need their annotations JSON"):
        read(train, image_dir=tmp_path / "pictures")
    check_split(read(train, image_dir=tmp_path / "pictures", annotations=tmp_path / "mine.json"), "train2014")
    with pytest.raises(UserError, match="annotations: no such file or folder"):
        read(train, annotations=tmp_path / "nope.json")


def test_vqa2_image_ids_are_found_by_number_in_one_listing(tmp_path):
    """COCO names and bare ids; an id with no picture names the id, the folder and the names tried."""
    for i in (7, 8):
        picture(tmp_path / "images2" / (f"COCO_val2014_{i:012d}.png" if i == 7 else f"{i}.png"), i)
    (tmp_path / "questions.json").write_text(json.dumps({"questions": [
        {"image_id": 8, "question": "q8 ?", "question_id": 1}, {"image_id": 7, "question": "q7 ?", "question_id": 2}]}))
    (tmp_path / "annotations.json").write_text(json.dumps({"annotations": [
        {"question_id": k, "answers": [{"answer": "a"}]} for k in (1, 2)]}))
    got = read(tmp_path / "questions.json")
    assert [pixels(p) for p in got["image"]] == [colour(8), colour(7)]
    (tmp_path / "questions.json").write_text(json.dumps({"questions": [
        {"image_id": 9, "question": "q ?", "question_id": 1}]}))
    with pytest.raises(UserError, match=r"questions.json: question 0: no image for image_id 9 in .*images2 "
                                        r"\(looked for \*000000000009\.\* and 9\.\*\)"):
        read(tmp_path / "questions.json")


def test_clevr_layout_reads_each_split_from_its_image_folder(tmp_path):
    root = tmp_path / "CLEVR_v1.0"
    for split, first in (("train", 100), ("val", 200)):
        names = [f"CLEVR_{split}_{k:06d}.png" for k in range(2)]
        for k, name in enumerate(names):
            picture(root / "images" / split / name, first + k)
        (root / "questions").mkdir(exist_ok=True)
        (root / "questions" / f"CLEVR_{split}_questions.json").write_text(json.dumps({"questions": [
            {"image_filename": names[k % 2], "question": f"{split} question {k} ?", "answer": f"a{k}",
             "split": split, "question_family_index": k} for k in range(3)]}))
        got = read(root / "questions" / f"CLEVR_{split}_questions.json")
        assert got["question"] == [f"{split} question {k} ?" for k in range(3)]
        assert got["answer"] == ["a0", "a1", "a2"] and got["type"] == ["0", "1", "2"]
        assert [pixels(p) for p in got["image"]] == [colour(first), colour(first + 1), colour(first)]
    (root / "questions" / "CLEVR_test_questions.json").write_text(json.dumps({"questions": [
        {"image_filename": "CLEVR_test_000000.png", "question": "q ?", "split": "test"}]}))
    with pytest.raises(UserError, match=r"CLEVR_test_questions.json: question 0: no answer"):
        read(root / "questions" / "CLEVR_test_questions.json")


def test_jsonl_reads_question_types_and_image_dir(tmp_path):
    picture(tmp_path / "pics" / "a.png", 1)
    picture(tmp_path / "pics" / "b.png", 2)
    rows = [{"image": "pics/a.png", "question": "shape ?", "answer": "circle", "question_type": "shape"},
            {"image": "pics/b.png", "question": "how many ?", "answers": ["2", "2", "3"], "question_type": "count"},
            {"image": "pics/a.png", "question": "count ?", "answer": 3, "question_type": "count"}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = read(tmp_path / "qa.jsonl")
    assert got["type"] == ["shape", "count", "count"] and got["answer"] == ["circle", ["2", "2", "3"], "3"]
    assert [pixels(p) for p in got["image"]] == [colour(1), colour(2), colour(1)]
    assert got.origins == [f"{tmp_path / 'qa.jsonl'}:{k}" for k in (1, 2, 3)]
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "qa.jsonl").write_text(json.dumps(rows[0]) + "\n")
    assert read(tmp_path / "elsewhere" / "qa.jsonl", image_dir=tmp_path)["image"] == [str(tmp_path / "pics/a.png")]
    (tmp_path / "plain.jsonl").write_text(json.dumps({"image": "pics/a.png", "question": "q ?", "answer": "a"}) + "\n")
    assert "type" not in read(tmp_path / "plain.jsonl").columns  # no types: no accuracy by type


@pytest.mark.parametrize("record, message", [
    ({"image": "a.png", "question": None, "answer": "a"}, r"qa.jsonl:1: question should be a string, got null"),
    ({"image": "a.png", "question": "  ", "answer": "a"}, r"qa.jsonl:1: question is empty"),
    ({"image": "a.png", "question": "q", "answers": []}, r"qa.jsonl:1: answers is an empty list"),
    ({"image": "a.png", "question": "q", "answers": ["", " "]}, r"qa.jsonl:1: every answer is empty"),
    ({"image": "a.png", "question": "q", "answers": ["a", None]}, r"qa.jsonl:1: answer 2 should be a string"),
    ({"image": "a.png", "question": "q", "answer": ""}, r"qa.jsonl:1: answer is empty"),
    ({"image": "a.png", "question": "q", "answer": True}, r"qa.jsonl:1: answer should be a string, got a boolean"),
    ({"image": "a.png", "question": "q", "answer": "a", "question_type": [1]}, r"question_type should be a string"),
])
def test_bad_jsonl_records_name_file_and_line(tmp_path, record, message):
    picture(tmp_path / "a.png", 1)
    (tmp_path / "qa.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(UserError, match=message):
        read(tmp_path / "qa.jsonl")


@pytest.mark.parametrize("question, annotation, message", [
    ({"question_id": 20.5}, {}, r"questions.json: question 0: question_id should be a whole number, got 20.5"),
    ({"question_id": "1"}, {}, r"question 0: question_id should be a number, got a string"),
    ({"question": None}, {}, r"question 0: question should be a string, got null"),
    ({}, {"answers": []}, r"annotations.json: annotation 0: answers is an empty list"),
    ({}, {"question_id": 1.5}, r"annotation 0: question_id should be a whole number, got 1.5"),
])
def test_bad_vqa2_records_name_file_and_record(tmp_path, question, annotation, message):
    picture(tmp_path / "val2014" / "COCO_val2014_000000000001.png", 1)
    (tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({"questions": [
        {"image_id": 1, "question": "q ?", "question_id": 1, **question}]}))
    (tmp_path / "v2_mscoco_val2014_annotations.json").write_text(json.dumps({"annotations": [
        {"question_id": 1, "answers": [{"answer": "a"}], **annotation}]}))
    with pytest.raises(UserError, match=message):
        read(tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json")


def test_vqa2_files_without_split_names_pair_with_the_only_candidates(tmp_path):
    """One annotations file and one image folder whose names carry no split go with any questions."""
    picture(tmp_path / "images" / "COCO_val2014_000000000001.jpg", 1)
    (tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({"questions": [
        {"image_id": 1, "question": "q ?", "question_id": 5}]}))
    (tmp_path / "annotations.json").write_text(json.dumps({"annotations": [
        {"question_id": 5, "answers": [{"answer": "a"}]}]}))
    got = read(tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json")
    assert got["answer"] == [["a"]] and got["image"] == [str(tmp_path / "images" / "COCO_val2014_000000000001.jpg")]
