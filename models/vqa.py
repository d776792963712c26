"""Visual question answering: an image and a question in, an answer out (CNN + RNN).

A CNN summarises the image, a recurrent stack the question; the two vectors are fused and
a softmax picks one of the K most frequent answers of the training data:

    image [b, H, W, C] -> CNN -> flatten -> L2-normalised ("norm I") -> Dense tanh -> v
    question [b, T] -> Embedding -> (bi)RNN stack -> last state -> Dense tanh -> q
    fusion: v * q (the VQA paper's "LSTM Q + norm I") or [v, q] -> MLP -> p(answer)

``image: none`` answers from the question alone: the baseline that shows what looking adds.

The built-in data are Sort-of-CLEVR scenes: six shapes of six colours; questions about one
object (its shape, whether it is on the left or at the top), about counts, and about
relations (the colour of the object closest to another, the shape of the farthest, which
of two is further left). Every answer is about as likely as its alternatives, so the
question alone tells little.

Real data: JSON lines ``{"image": path, "question": ..., "answers": [...] or "answer": ...[,
"question_type": ...]}`` (ten answers: VQA accuracy is reported too; a type: accuracy by
type), the VQA v2 layout (``--data`` a questions JSON; its annotations JSON and COCO image
folder matched by the split in their names, ``train2014``, so the official folder with
train/val/test side by side reads right; or ``--set annotations=``, ``--set image_dir=``)
and the CLEVR layout (``--data`` a questions JSON with ``image_filename``; images in
``images/<split>/`` above it or beside it); ``tfds:clevr`` from a prepared data dir.

``fusion: relation`` replaces the fused vectors with a Relation Network over pairs of grid
cells (``rnn_apps.layers.relation``), what the field uses for relational questions.
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from pathlib import Path
from typing import Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, VisionConfig, setting
from rnn_apps.data.examples import Examples, as_text
from rnn_apps.data.inputs import TextInput
from rnn_apps.data.readers import json_type, read_records, read_text_file
from rnn_apps.data.shapes import place, render
from rnn_apps.data.vision import ImageInput
from rnn_apps.errors import UserError
from rnn_apps.layers.cnn import image_encoder
from rnn_apps.layers.recurrent import SequencePooling, recurrent_stack
from rnn_apps.layers.relation import relation_head
from rnn_apps.outputs.classification import ClassLabel
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class VQAConfig(VisionConfig, RecurrentConfig, TrainConfig):
    image_size: int = setting(48, "images are resized to this many pixels square", min=8)
    fusion: Literal["multiply", "concat", "relation"] = setting(
        "multiply", "multiply: v * q (VQA's LSTM Q + norm I); concat; relation: a Relation Network over pairs of "
                    "grid cells (with their x, y) and the question")
    image: Literal["cnn", "none"] = setting("cnn", "cnn: look at the image; none: the question-only baseline")
    fused_units: int = setting(128, "size of the image and question vectors that are fused", min=1)
    answers: int = setting(1000, "answers kept: the most frequent in training (VQA's top K)", min=2)
    vocab_size: int = setting(5000, "question vocabulary cap", min=3)
    max_length: int = setting(30, "question tokens kept", min=1)
    epochs: int = setting(15, "passes over the training questions", min=1)
    learning_rate: float = setting(2e-3, "optimizer step size", min=0)
    builtin_examples: int = setting(6000, "built-in scenes (each with 2 questions)", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources")
    annotations: str = setting("", "VQA v2: the annotations JSON (or a folder of them); default: the one beside "
                                   "the questions whose name has the same split (train2014)")
    image_dir: str = setting("", "the image folder (or a folder holding one per split, train2014/ ...); default: "
                                 "found beside the data file")


PRESETS = {
    "tiny": {"image_size": 24, "cnn_layers": 2, "cnn_filters": 8, "units": 16, "embedding_dim": 16, "fused_units": 16,
             "epochs": 2, "builtin_examples": 60, "batch_size": 32},
    "small": {"builtin_examples": 3000, "epochs": 10},
    "default": {},
    "clevr": {"image_size": 75, "cell": "lstm", "units": 128, "fused_units": 256, "answers": 28},
}


def inputs(cfg: VQAConfig) -> dict:
    return {"image": ImageInput("image", size=cfg.image_size, channels=cfg.channels),
            "question": TextInput("question", "question_vocab.json", tokenizer="vectorizer", level="word",
                                  max_tokens=cfg.vocab_size, max_length=cfg.max_length)}


def build_model(cfg: VQAConfig, features: Features) -> keras.Model:
    """``{image [b, H, W, C], question [b, T]}`` -> ``[b, answers]`` probabilities."""
    image = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="image")
    question = keras.Input((None,), dtype="int32", name="question")
    x = keras.layers.Embedding(features.inputs["question"].vocab_size, cfg.embedding_dim, mask_zero=True,
                               name="embedding")(question)
    x = SequencePooling("last", bidirectional=cfg.bidirectional, name="question_state")(recurrent_stack(x, cfg))
    q = keras.layers.Dense(cfg.fused_units, activation="tanh", name="question_vector")(x)
    if cfg.image == "none":
        fused = q
    elif cfg.fusion == "relation":  # every pair of grid cells, with the question
        fused = relation_head(image_encoder(cfg)(image), q, cfg.fused_units)
    else:
        v = keras.layers.Flatten(name="image_flatten")(image_encoder(cfg)(image))  # keeps where things are
        v = keras.layers.UnitNormalization(name="norm_image")(v)  # "norm I", then to the fused size
        v = keras.layers.Dense(cfg.fused_units, activation="tanh", name="image_vector")(v)
        fused = keras.layers.Multiply(name="fusion")([v, q]) if cfg.fusion == "multiply" else \
            keras.layers.Concatenate(name="fusion")([v, q])
    x = keras.layers.Dense(cfg.fused_units, activation="relu", name="mlp")(fused)
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return keras.Model({"image": image, "question": question}, features.output.head(x), name=f"vqa_{cfg.image}")


# --- built-in data: scenes of coloured shapes -------------------------------------------------
# Three shapes of random colours and kinds. Each question names a colour or a kind the
# scene may or may not hold, so the words alone leave the answer open: whether a colour is
# there (yes/no), how many objects have it, the shape of the object of a colour, the colour
# of the object of a shape, whether an object is on the left, and which of two is further
# left. A question is asked only when its answer is defined (a unique colour or kind).

SCENE_COLORS = ["red", "green", "blue", "yellow", "purple", "orange"]
KINDS = ("circle", "square", "triangle")


def _questions(rng: random.Random, shapes, size: int) -> list[tuple[str, str, str]]:
    """(type, question, answer) about one scene, in random order."""
    colors = [s.color for s in shapes]
    unique = [s for s in shapes if colors.count(s.color) == 1]
    kinds = [s.kind for s in shapes]
    present = rng.random() < 0.5
    asked = rng.choice(colors if present else [c for c in SCENE_COLORS if c not in colors])
    counted = rng.choice(colors + [rng.choice(SCENE_COLORS)])
    pool = [("exists", f"is there a {asked} object ?", "yes" if present else "no"),
            ("count", f"how many {counted} objects are there ?", str(colors.count(counted)))]
    if unique:
        one = rng.choice(unique)
        pool.append(("shape", f"what shape is the {one.color} object ?", one.kind))
        pool.append(("position", f"is the {one.color} object on the left ?", "yes" if one.x < size / 2 else "no"))
        others = [s for s in unique if s is not one]
        if others:
            other = rng.choice(others)
            pool.append(("relation", f"is the {one.color} object left of the {other.color} object ?",
                         "yes" if one.x < other.x else "no"))
    single = [s for s in shapes if kinds.count(s.kind) == 1]
    if single:
        one = rng.choice(single)
        pool.append(("color", f"what color is the {one.kind} ?", one.color))
    rng.shuffle(pool)
    return pool


def generate_scenes(n: int, seed: int, size: int = 48, objects: int = 3, per_scene: int = 2) -> Examples:
    """``n`` scenes of ``objects`` shapes, ``per_scene`` questions each (``per_scene * n``
    examples), deterministic for a seed."""
    rng = random.Random(seed)
    images, questions, answers, types, origins = [], [], [], [], []
    for i in range(n):
        colors = [rng.choice(SCENE_COLORS) for _ in range(objects)]
        shapes = place(rng, objects, size, size / 8, colors, kinds=KINDS)
        picture = render(shapes, size)
        for kind, question, answer in _questions(rng, shapes, size)[:per_scene]:
            images.append(picture)
            questions.append(question)
            answers.append(answer)
            types.append(kind)
            origins.append(f"builtin:{i}")
    return Examples({"image": images, "question": questions, "answer": answers, "type": types}, origins)


# --- real data ------------------------------------------------------------------------------
# Every record is checked where it is read: a question that is not a non-empty string, no
# answer, an id that is not a whole number is a ``UserError`` naming the file and the record.

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SPLIT_NAME = re.compile(r"^(train|val|valid|validation|test-dev|testdev|test)[0-9]*$", re.IGNORECASE)


def _text(value, where: str, key: str) -> str:
    """A non-empty string (a question, an answer, a file name); numbers are taken as text
    for answers only (``"answer": 2``)."""
    if key.startswith("answer") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return as_text(value)
    if not isinstance(value, str):
        raise UserError(f"{where}: {key} should be a string, got {json_type(value)}")
    if not value.strip():
        raise UserError(f"{where}: {key} is empty")
    return value


def _answers(value, where: str) -> str | list[str]:
    """One answer, or a list of them (several people's: VQA accuracy is reported too); a list
    needs at least one non-empty answer."""
    if not isinstance(value, list):
        return _text(value, where, "answer")
    if not value:
        raise UserError(f"{where}: answers is an empty list; give at least one answer")
    for k, a in enumerate(value):
        if not isinstance(a, (str, int, float)) or isinstance(a, bool):
            raise UserError(f"{where}: answer {k + 1} should be a string, got {json_type(a)}")
    answers = [as_text(a) for a in value]
    if not any(a.strip() for a in answers):
        raise UserError(f"{where}: every answer is empty")
    return answers


def read_jsonl(path: Path, image_dir: str = "") -> Examples:
    """``{"image", "question", "answers" or "answer"[, "question_type"]}`` per line; image
    names are relative to the file's folder (or ``image_dir``)."""
    rows = read_records(path)
    base = Path(image_dir) if image_dir else path.parent
    columns: dict[str, list] = {"image": [], "question": [], "answer": [], "type": []}
    for origin, row in rows:
        answer = row.get("answers", row.get("answer"))
        if "image" not in row or "question" not in row or answer is None:
            raise UserError(f"{origin}: needs image, question and answers (or answer); found {', '.join(row)}")
        if not isinstance(row["image"], str):
            raise UserError(f"{origin}: image must be a file name (a string), got {json_type(row['image'])}")
        columns["image"].append(str(base / _text(row["image"], origin, "image")))
        columns["question"].append(_text(row["question"], origin, "question"))
        columns["answer"].append(_answers(answer, origin))
        kind = row.get("question_type", "")
        if not isinstance(kind, (str, int)) or isinstance(kind, bool):
            raise UserError(f"{origin}: question_type should be a string, got {json_type(kind)}")
        columns["type"].append(str(kind))
    if not any(columns["type"]):
        del columns["type"]  # no types given: no accuracy by type
    return Examples(columns, [origin for origin, _ in rows])


def _json(path: Path) -> dict:
    try:
        return json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None


def read_clevr(path: Path, data: dict, image_dir: str = "") -> Examples:
    """CLEVR: ``{"questions": [{"image_filename", "question", "answer", "split"}]}``; images in
    ``images/<split>/`` above or beside the file, or in ``image_dir`` (or its ``<split>/``)."""
    questions = _field(data, "questions", str(path), list)
    columns: dict[str, list] = {"image": [], "question": [], "answer": [], "type": []}
    for i, q in enumerate(questions):
        where = f"{path}: question {i}"
        columns["image"].append(_text(_field(q, "image_filename", where, str), where, "image_filename"))
        columns["question"].append(_text(_field(q, "question", where, str), where, "question"))
        if "answer" not in q:
            raise UserError(f"{where}: no answer (CLEVR's test questions have none: train and evaluate on "
                            f"train and val)")
        columns["answer"].append(_answers(q["answer"], where))
        columns["type"].append(str(q.get("question_family_index", "")))
    split = str(questions[0].get("split", "")) if questions else ""
    if image_dir:
        folders = [Path(image_dir) / split, Path(image_dir)]
    else:
        folders = [path.parent.parent / "images" / split, path.parent / "images" / split, path.parent]
    folder = next((f for f in folders if f.is_dir() and any(f.iterdir())), folders[-1])
    columns["image"] = [str(folder / name) for name in columns["image"]]
    return Examples(columns, [f"{path}#question {i}" for i in range(len(questions))])


def split_name(path: Path) -> str | None:
    """The split a VQA v2 file is of, from its name: ``train2014`` for
    ``v2_OpenEnded_mscoco_train2014_questions.json``, ``v2_mscoco_train2014_annotations.json``."""
    return next((part for part in path.stem.split("_") if SPLIT_NAME.match(part)), None)


def _listed(paths) -> str:
    return ", ".join(str(p) for p in paths)


def annotations_file(path: Path, split: str | None, given: str = "") -> Path:
    """The annotations JSON of the questions file ``path``: ``given`` (a file, or a folder to
    look in), else ``*annotations*.json`` beside it or in ``../annotations``: the one whose
    name has the same split (``train2014``), or the only one whose name has no split."""
    if given and Path(given).is_file():
        return Path(given)
    if given and not Path(given).is_dir():
        raise UserError(f"annotations: no such file or folder: {given}")
    folders = [Path(given)] if given else [path.parent, path.parent.parent / "annotations",
                                           path.parent.parent / "Annotations", path.parent.parent]
    for folder in folders:
        found = sorted(folder.glob("*annotations*.json")) if folder.is_dir() else []
        same = [f for f in found if split_name(f) == split] if split else []
        alone = [f for f in found if not split or split_name(f) is None]  # the only one, of no other split
        if same or len(alone) == 1:
            return (same or alone)[0]
    wanted = f"*{split}*annotations*.json" if split else "one *annotations*.json"
    raise UserError(f"{path}: VQA v2 questions need their annotations JSON beside them (looked for {wanted} in "
                    f"{_listed(folders)}); give the file with --set annotations=FILE")


def image_folder(path: Path, split: str | None, given: str = "") -> Path:
    """The COCO image folder of the questions file ``path``: ``<split>/`` (``train2014/``)
    beside it, in ``images/`` beside it or one folder up; or ``given`` (the folder itself or a
    folder holding ``<split>/``); else the only sub-folder beside it, if its name has no split,
    or the questions' own folder if it holds images."""
    if given and not Path(given).is_dir():
        raise UserError(f"image_dir: no such folder: {given}")
    bases = [Path(given)] if given else [path.parent, path.parent / "images", path.parent / "Images",
                                         path.parent.parent, path.parent.parent / "images",
                                         path.parent.parent / "Images"]
    tried = [base / split for base in bases] if split else []
    for folder in tried:
        if folder.is_dir():
            return folder
    if given:
        return Path(given)
    folders = [f for f in sorted(path.parent.iterdir()) if f.is_dir()]
    if len(folders) == 1 and not (split and split_name(folders[0])):  # the only one, of no other split
        return folders[0]
    if any(name.lower().endswith(IMAGE_SUFFIXES) for name in os.listdir(path.parent)):
        return path.parent  # the images beside the questions
    what = f"a {split} folder in {_listed(bases)}" if split else f"one image folder beside {path}"
    raise UserError(f"{path}: no image folder for these questions (looked for {what}); "
                    f"give it with --set image_dir=FOLDER")


def image_index(folder: Path) -> dict[int, Path]:
    """``{image id: file}`` of ``folder``, listed once: the number that ends a COCO name
    (``COCO_train2014_000000000042.jpg`` -> 42) or is the name (``42.jpg``)."""
    index: dict[int, Path] = {}
    for name in sorted(os.listdir(folder)):
        stem, suffix = os.path.splitext(name)
        number = re.search(r"[0-9]+$", stem)
        if suffix.lower() in IMAGE_SUFFIXES and number:
            index.setdefault(int(number.group()), folder / name)
    return index


def read_vqa2(path: Path, data: dict, annotations: str = "", image_dir: str = "") -> Examples:
    """VQA v2: a questions JSON, its annotations JSON and its COCO image folder, matched by
    the split in their names (train/val/test side by side) or given as settings."""
    split = split_name(path)
    annotation_file = annotations_file(path, split, annotations)
    folder = image_folder(path, split, image_dir)
    answers = {}
    for i, a in enumerate(_field(_json(annotation_file), "annotations", f"{annotation_file}", list)):
        where = f"{annotation_file}: annotation {i}"
        given = _field(a, "answers", where, list)
        answers[_field(a, "question_id", where, int)] = (
            _answers([_field(x, "answer", f"{where}, answer {k}", str) for k, x in enumerate(given)], where),
            a.get("answer_type", ""))
    images = image_index(folder)
    columns: dict[str, list] = {"image": [], "question": [], "answer": [], "type": []}
    origins = []
    for i, q in enumerate(_field(data, "questions", str(path), list)):
        where = f"{path}: question {i}"
        question_id, image_id = _field(q, "question_id", where, int), _field(q, "image_id", where, int)
        if question_id not in answers:
            raise UserError(f"{annotation_file}: no annotation for question {question_id} of {path}")
        if image_id not in images:
            raise UserError(f"{where}: no image for image_id {image_id} in {folder} (looked for *{image_id:012d}.* "
                            f"and {image_id}.*)")
        columns["image"].append(str(images[image_id]))
        columns["question"].append(_text(_field(q, "question", where, str), where, "question"))
        columns["answer"].append(answers[question_id][0])
        columns["type"].append(str(answers[question_id][1]))
        origins.append(f"{path}#question {question_id}")
    return Examples(columns, origins)


def _field(record, key: str, where: str, kind: type):
    """``record[key]`` of JSON type ``kind``; anything else names where it is missing or wrong."""
    if not isinstance(record, dict) or key not in record:
        raise UserError(f"{where}: missing {key!r}")
    value = record[key]
    if kind is int and isinstance(value, float) and not isinstance(value, bool):
        raise UserError(f"{where}: {key} should be a whole number, got {value!r}")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = {list: "a list", int: "a number", str: "a string"}[kind]
        raise UserError(f"{where}: {key} should be {expected}, got {json_type(value)}")
    return value


def load_examples(cfg: VQAConfig, source: str | None) -> Examples:
    if source is None:
        return generate_scenes(cfg.builtin_examples, cfg.seed, cfg.image_size)
    if source.startswith("tfds:"):
        from rnn_apps.data.readers import read_tfds_records

        rows = read_tfds_records(source, cfg.tfds_data_dir or None)  # CLEVR: image + question_answer list
        columns = {"image": [], "question": [], "answer": []}
        for record in rows:
            for question, answer in zip(record["question_answer"]["question"], record["question_answer"]["answer"]):
                columns["image"].append(record["image"])
                columns["question"].append(question)
                columns["answer"].append(answer)
        return Examples(columns, [f"{source}#{i}" for i in range(len(columns["image"]))])
    path = Path(source)
    if path.suffix.lower() == ".jsonl":
        return read_jsonl(path, cfg.image_dir)
    if path.suffix.lower() == ".json" and path.is_file():
        data = _json(path)
        questions = data.get("questions") if isinstance(data, dict) else None
        first = questions[0] if isinstance(questions, list) and questions and isinstance(questions[0], dict) else {}
        if "image_filename" in first:
            return read_clevr(path, data, cfg.image_dir)
        if "image_id" in first:
            return read_vqa2(path, data, cfg.annotations, cfg.image_dir)
        raise UserError(f"{path}: not a CLEVR or VQA v2 questions file (no questions with image_filename or image_id)")
    raise UserError(f"{source}: give a .jsonl file, a CLEVR or VQA v2 questions .json, or tfds:NAME")


TASK = Task(
    name="vqa",
    shape="image + sentence -> answer",
    description="answer questions about images: a CNN for the image, an RNN for the question",
    config_class=VQAConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=lambda cfg: ClassLabel("answer", "answers.json", max_classes=cfg.answers, group="type", draws_answers=True),
    build_model=build_model,
)
