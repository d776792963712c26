"""The caption readers on the standard layouts, made here in miniature (nothing trains).

COCO captions (``annotations/captions_train2014.json`` beside ``train2014/``), Flickr8k as
Kaggle ships it (``captions.txt`` with an ``image,caption`` header, pictures in ``Images/``
or ``images/``), Flickr8k as its own zips unpack (``Flickr8k_text/Flickr8k.token.txt`` of
``name#k<TAB>caption`` beside ``Flicker8k_Dataset/``), and a TSV beside its pictures: every
record must come back with its picture's path, all the captions of a picture, case kept.
"""
import json

import pytest
from PIL import Image

from rnn_apps.config import resolve_config
from rnn_apps.errors import UserError
from rnn_apps.models.caption import CaptionConfig, load_examples

CAPTIONS = {  # picture -> its captions, with case, punctuation and commas as the data sets write them
    "1000268201_693b08cb0e.jpg": ["A child in a pink dress is climbing up a set of stairs in an entry way .",
                                  "A girl going into a wooden building ."],
    "1001773457_577c3a7d70.jpg": ["A black dog and a spotted dog are fighting",
                                  "Two dogs, one black and one spotted, play on the road ."],
    "1002674143_1b742ab4b8.jpg": ["A little girl covered in paint sits in front of a painted rainbow ."],
}


def picture(path, shade: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 5), (shade, 100, 200)).save(path)


def read(source, *settings):
    return load_examples(resolve_config(CaptionConfig, overrides=list(settings)), str(source))


def by_picture(examples) -> dict:
    out: dict = {}
    for image, caption in zip(examples["image"], examples["caption"]):
        out.setdefault(image, []).append(caption)
    return out


@pytest.mark.parametrize("folder", ["Images", "images"])
def test_flickr8k_kaggle_layout_with_either_folder_spelling(tmp_path, folder):
    for name in CAPTIONS:
        picture(tmp_path / folder / name)
    rows = ["image,caption"] + [f'{name},"{c}"' if "," in c else f"{name},{c}" for name, cs in CAPTIONS.items()
                                for c in cs]
    (tmp_path / "captions.txt").write_text("\n".join(rows) + "\n")
    examples = read(tmp_path / "captions.txt")
    assert by_picture(examples) == {str(tmp_path / folder / n): cs for n, cs in CAPTIONS.items()}
    assert examples.origins[0] == f"{tmp_path / 'captions.txt'}:2"  # the header is line 1


def test_flickr8k_token_file_beside_the_dataset_folder(tmp_path):
    for name in CAPTIONS:
        picture(tmp_path / "Flicker8k_Dataset" / name)
    lines = [f"{name}#{k}\t{c}" for name, cs in CAPTIONS.items() for k, c in enumerate(cs)]
    token = tmp_path / "Flickr8k_text" / "Flickr8k.token.txt"
    token.parent.mkdir()
    token.write_text("\n".join(lines) + "\n")
    assert by_picture(read(token)) == {str(tmp_path / "Flicker8k_Dataset" / n): cs for n, cs in CAPTIONS.items()}


def test_tsv_beside_its_pictures_and_image_dir_setting(tmp_path):
    for name in CAPTIONS:
        picture(tmp_path / name)
    tsv = tmp_path / "captions.tsv"
    tsv.write_text("image\tcaption\n" + "".join(f"{name}\t{c}\n" for name, cs in CAPTIONS.items() for c in cs))
    assert by_picture(read(tsv)) == {str(tmp_path / n): cs for n, cs in CAPTIONS.items()}
    elsewhere = tmp_path / "elsewhere"
    for name in CAPTIONS:
        picture(elsewhere / name, shade=50)
    assert set(read(tsv, f"image_dir={elsewhere}")["image"]) == {str(elsewhere / n) for n in CAPTIONS}
    with pytest.raises(UserError, match="image_dir: no such folder"):
        read(tsv, f"image_dir={tmp_path / 'nothing'}")


def test_coco_layout_reads_the_split_folder_named_by_the_file(tmp_path):
    for split in ("train2014", "val2014"):  # the same file name in both splits: the split's folder must win
        picture(tmp_path / split / "COCO_000000000009.jpg", shade=0 if split == "train2014" else 90)
    picture(tmp_path / "train2014" / "COCO_000000000025.jpg")
    annotations = [{"id": 1, "image_id": 9, "caption": "A Plate with Broccoli, rice and meat."},
                   {"id": 2, "image_id": "25", "caption": "A giraffe eating food from the top of the tree."},
                   {"id": 3, "image_id": 9, "caption": "  Closeup of bins of food  "}]
    coco = tmp_path / "annotations" / "captions_train2014.json"
    coco.parent.mkdir()
    coco.write_text(json.dumps({"images": [{"id": 9, "file_name": "COCO_000000000009.jpg"},
                                           {"id": 25, "file_name": "COCO_000000000025.jpg"}],
                                "annotations": annotations}))
    examples = read(coco)
    train = tmp_path / "train2014"
    assert by_picture(examples) == {str(train / "COCO_000000000009.jpg"): ["A Plate with Broccoli, rice and meat.",
                                                                         "Closeup of bins of food"],
                                    str(train / "COCO_000000000025.jpg"): [
                                        "A giraffe eating food from the top of the tree."]}
    assert examples.origins == [f"{coco}#annotation {i}" for i in range(3)]
    moved = tmp_path / "moved"
    moved.mkdir()
    (tmp_path / "train2014").rename(moved / "train2014")
    assert set(read(coco, f"image_dir={moved}")["image"]) == {  # a folder holding the split folder
        str(moved / "train2014" / "COCO_000000000009.jpg"), str(moved / "train2014" / "COCO_000000000025.jpg")}


def test_coco_json_beside_an_images_folder(tmp_path):
    picture(tmp_path / "images" / "a.png")
    coco = tmp_path / "captions.json"
    coco.write_text(json.dumps({"images": [{"id": "7", "file_name": "a.png"}],
                                "annotations": [{"image_id": 7, "caption": "Two Shapes"}]}))
    assert read(coco)["image"] == [str(tmp_path / "images" / "a.png")]


@pytest.mark.parametrize("annotation, message", [
    ({"image_id": 2, "caption": "   "}, r"captions\.json: annotation 0 \(image_id 2\) has a blank caption"),
    ({"image_id": 3, "caption": "a cat"}, r"annotation 0 names image_id 3, not in images"),
    ({"image_id": True, "caption": "a cat"}, r"annotation 0 needs image_id and caption"),
])
def test_coco_records_refused_with_file_and_record(tmp_path, annotation, message):
    picture(tmp_path / "b.png")
    coco = tmp_path / "captions.json"
    coco.write_text(json.dumps({"images": [{"id": 2, "file_name": "b.png"}], "annotations": [annotation]}))
    with pytest.raises(UserError, match=message):
        read(coco)


def test_an_unmatched_picture_names_the_line_and_every_folder_tried(tmp_path):
    (tmp_path / "Images").mkdir()
    (tmp_path / "captions.txt").write_text("gone.jpg#0\tA dog .\n")
    with pytest.raises(UserError) as error:
        read(tmp_path / "captions.txt")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'captions.txt'}:1: {tmp_path / 'gone.jpg'}: no such image (looked in ")
    for folder in ("Images", "images", "Flicker8k_Dataset"):
        assert f"{tmp_path / folder}/" in message
    assert "image_dir" in message
