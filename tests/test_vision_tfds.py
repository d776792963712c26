"""The vision tasks read TFDS datasets of their kind from a prepared data dir, never downloading."""
import numpy as np
import pytest
import tensorflow_datasets as tfds

from rnn_apps.config import resolve_config
from rnn_apps.errors import UserError
from rnn_apps.models import get_task


@pytest.mark.parametrize("task, source", [("vqa", "tfds:clevr"), ("video", "tfds:ucf101"),
                                          ("caption", "tfds:coco_captions")])
def test_an_unprepared_dataset_names_the_data_dir(task, source, tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    record = get_task(task)
    with pytest.raises(UserError, match=f"is not prepared in {tmp_path}"):
        record.load_examples(resolve_config(record.config_class), source)


class TinyClevr(tfds.core.GeneratorBasedBuilder):
    """CLEVR's structure in miniature: an image with a list of questions and answers."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(20, 30, 3)),
            "question_answer": tfds.features.Sequence({"question": tfds.features.Text(),
                                                       "answer": tfds.features.Text()})}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(3):
            image = np.full((20, 30, 3), 40 * i, np.uint8)
            yield i, {"image": image, "question_answer": {"question": [f"q{i} a", f"q{i} b"],
                                                          "answer": ["yes", str(i)]}}


class TinyCaptions(tfds.core.GeneratorBasedBuilder):
    """coco_captions' structure in miniature: an image with several captions."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(16, 16, 3)),
            "captions": tfds.features.Sequence({"text": tfds.features.Text()})}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(2):
            yield i, {"image": np.zeros((16, 16, 3), np.uint8), "captions": {"text": [f"a picture {i}", "shapes"]}}


def test_nested_records_become_one_example_per_question_and_caption(tmp_path):
    TinyClevr(data_dir=str(tmp_path)).download_and_prepare()
    TinyCaptions(data_dir=str(tmp_path)).download_and_prepare()
    vqa = get_task("vqa")
    read = vqa.load_examples(resolve_config(vqa.config_class, overrides=[f"tfds_data_dir={tmp_path}"]),
                             "tfds:tiny_clevr")
    assert read["question"] == ["q0 a", "q0 b", "q1 a", "q1 b", "q2 a", "q2 b"]
    assert read["answer"][3] == "1" and read["image"][2].shape == (20, 30, 3) and read["image"][2].max() == 40
    caption = get_task("caption")
    read = caption.load_examples(resolve_config(caption.config_class, overrides=[f"tfds_data_dir={tmp_path}"]),
                                 "tfds:tiny_captions")
    assert read["caption"] == ["a picture 0", "shapes", "a picture 1", "shapes"]
