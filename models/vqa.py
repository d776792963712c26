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

Real data: JSON lines ``{"image": path, "question": ..., "answers": [...] or "answer": ...}``
(several answers: VQA accuracy is reported too), the VQA v2 layout (``--data`` the
questions JSON; the annotations JSON beside it; images in a sibling folder, COCO names)
and the CLEVR layout (``--data`` a questions JSON with ``image_filename``; images in
``images/<split>/`` above it or beside it); ``tfds:clevr`` from a prepared data dir.
"""
from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, VisionConfig, setting
from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import TextInput
from rnn_apps.data.readers import json_type, read_records, read_text_file
from rnn_apps.data.shapes import place, render
from rnn_apps.data.vision import ImageInput
from rnn_apps.errors import UserError
from rnn_apps.layers.cnn import image_encoder
from rnn_apps.layers.recurrent import SequencePooling, recurrent_stack
from rnn_apps.outputs.classification import ClassLabel
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class VQAConfig(VisionConfig, RecurrentConfig, TrainConfig):
    image_size: int = setting(48, "images are resized to this many pixels square", min=8)
    fusion: Literal["multiply", "concat"] = setting("multiply", "multiply: v * q (VQA's LSTM Q + norm I); concat")
    image: Literal["cnn", "none"] = setting("cnn", "cnn: look at the image; none: the question-only baseline")
    fused_units: int = setting(128, "size of the image and question vectors that are fused", min=1)
    answers: int = setting(1000, "answers kept: the most frequent in training (VQA's top K)", min=2)
    vocab_size: int = setting(5000, "question vocabulary cap", min=3)
    max_length: int = setting(30, "question tokens kept", min=1)
    epochs: int = setting(15, "passes over the training questions", min=1)
    learning_rate: float = setting(2e-3, "optimizer step size", min=0)
    builtin_examples: int = setting(6000, "built-in scenes (each with 2 questions)", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources")


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

def read_jsonl(path: Path) -> Examples:
    rows = read_records(path)
    columns = {"image": [], "question": [], "answer": []}
    for origin, row in rows:
        answer = row.get("answers", row.get("answer"))
        if "image" not in row or "question" not in row or answer is None:
            raise UserError(f"{origin}: needs image, question and answers (or answer); found {', '.join(row)}")
        if not isinstance(row["image"], str):
            raise UserError(f"{origin}: image must be a file name (a string), got {json_type(row['image'])}")
        columns["image"].append(str(path.parent / row["image"]))
        columns["question"].append(str(row["question"]))
        columns["answer"].append(answer)
    return Examples(columns, [origin for origin, _ in rows])


def _json(path: Path) -> dict:
    try:
        return json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None


def read_clevr(path: Path, data: dict) -> Examples:
    """CLEVR: ``{"questions": [{"image_filename", "question", "answer", "split"}]}``."""
    questions = data["questions"]
    for i, q in enumerate(questions):
        if not isinstance(q, dict) or not isinstance(q.get("image_filename"), str) or not isinstance(
                q.get("question"), str):
            raise UserError(f"{path}: question {i} needs image_filename and question (strings)")
    split = str(questions[0].get("split", "")) if questions else ""
    folders = [path.parent.parent / "images" / split, path.parent / "images" / split, path.parent]
    folder = next((f for f in folders if f.is_dir() and any(f.iterdir())), folders[-1])
    return Examples({"image": [str(folder / q["image_filename"]) for q in questions],
                     "question": [q["question"] for q in questions], "answer": [q.get("answer", "") for q in questions],
                     "type": [str(q.get("question_family_index", "")) for q in questions]},
                    [f"{path}#question {i}" for i in range(len(questions))])


def read_vqa2(path: Path, data: dict) -> Examples:
    """VQA v2: questions JSON + annotations JSON beside it + a COCO image folder. A record
    without the fields it needs is a ``UserError`` naming the file and the record."""
    annotation_file = next((p for p in sorted(path.parent.glob("*annotations*.json"))), None)
    if annotation_file is None:
        raise UserError(f"{path}: VQA v2 questions need their annotations JSON beside them (*annotations*.json)")
    answers = {}
    for i, a in enumerate(_field(_json(annotation_file), "annotations", f"{annotation_file}", list)):
        where = f"{annotation_file}: annotation {i}"
        given = _field(a, "answers", where, list)
        answers[_field(a, "question_id", where, int)] = (
            [_field(x, "answer", f"{where}, answer {k}", str) for k, x in enumerate(given)], a.get("answer_type", ""))
    folder = next((f for f in sorted(path.parent.iterdir()) if f.is_dir()), path.parent)
    columns: dict[str, list] = {"image": [], "question": [], "answer": [], "type": []}
    origins = []
    for i, q in enumerate(_field(data, "questions", str(path), list)):
        where = f"{path}: question {i}"
        question_id, image_id = _field(q, "question_id", where, int), _field(q, "image_id", where, int)
        if question_id not in answers:
            raise UserError(f"{annotation_file}: no annotation for question {question_id} of {path}")
        match = sorted(folder.glob(f"*{image_id:012d}.*")) or sorted(folder.glob(f"{image_id}.*"))
        if not match:
            raise UserError(f"{path}: no image for image_id {image_id} in {folder}")
        columns["image"].append(str(match[0]))
        columns["question"].append(_field(q, "question", where, str))
        columns["answer"].append(answers[question_id][0])
        columns["type"].append(str(answers[question_id][1]))
        origins.append(f"{path}#question {question_id}")
    return Examples(columns, origins)


def _field(record, key: str, where: str, kind: type):
    """``record[key]`` of JSON type ``kind``; anything else names where it is missing or wrong."""
    if not isinstance(record, dict) or key not in record:
        raise UserError(f"{where}: missing {key!r}")
    value = record[key]
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
        return read_jsonl(path)
    if path.suffix.lower() == ".json" and path.is_file():
        data = _json(path)
        questions = data.get("questions") if isinstance(data, dict) else None
        first = questions[0] if isinstance(questions, list) and questions and isinstance(questions[0], dict) else {}
        if "image_filename" in first:
            return read_clevr(path, data)
        if "image_id" in first:
            return read_vqa2(path, data)
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
    output=lambda cfg: ClassLabel("answer", "answers.json", max_classes=cfg.answers, group="type"),
    build_model=build_model,
)
