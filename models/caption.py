"""Image captioning: one-to-many (a CNN conditions an RNN decoder, optionally with attention).

The lecture's three steps, each a setting:

1. the CNN summarises the image into one vector ``v`` (the mean of its grid) that
   conditions the decoder: as its initial state (``image_conditioning: init``), as a
   third weight matrix added at every step (``every_step``: ``W_ih v`` joins the input),
   or both;
2. generation starts from ``[START]``, picks a word per step, feeds it back and stops at
   ``[END]``, which every training caption ends with (the shared encoder-decoder engine:
   greedy, sampling, beam);
3. with attention (Show, Attend and Tell): the CNN gives a grid of L feature vectors; at
   every step the hidden state scores the L locations; ``soft`` mixes them by their
   weights, ``hard`` picks one (sampled with a straight-through Gumbel-softmax in
   training, the most likely at inference); the mix feeds the step. Each grid cell carries its
   (x, y) (``grid_positions``): a mix of features alone says what was looked at but not where,
   and "left of" / "above" are about where. The maps can be drawn over the image
   (``predict --attention-plot``).

    image [b, H, W, C] -> CNN -> grid [b, L, D] --------------------------------+
    caption in [b, T] -> Embedding -> RNN (AttendingCell: attend, mix, step) -> [h, z, word] -> logits

The built-in data are pictures of two or three coloured shapes of two sizes, each with
several reference captions that name the objects, their colours and sizes, and where one
is from another ("a small red circle left of a big blue square"): to be right a caption
must look at the right place. Real data: a folder of images with a ``image<TAB>caption``
TSV (several lines per image: Flickr8k's token file, or Kaggle's ``image,caption``
captions.txt), the COCO captions JSON (``images`` + ``annotations``), or
``tfds:coco_captions``; the pictures are looked up the same way for each (``ImageFolders``).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import random
from pathlib import Path
from typing import Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, VisionConfig, setting
from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import text_input
from rnn_apps.data.readers import json_type, read_records, read_text_file
from rnn_apps.data.shapes import place, render
from rnn_apps.data.vision import ImageInput
from rnn_apps.errors import UserError
from rnn_apps.layers.attention import AttendingCell, DoublyStochastic
from rnn_apps.layers.cnn import grid_sequence, image_encoder
from rnn_apps.layers.recurrent import recurrent_stack, state_names
from rnn_apps.layers.relation import GridCoordinates
from rnn_apps.outputs.sequence import END, START, Networks, TokenSequence
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class CaptionConfig(VisionConfig, RecurrentConfig, TrainConfig):
    image_size: int = setting(64, "images are resized to this many pixels square", min=8)
    attention: Literal["soft", "hard", "none"] = setting("soft", "soft: a weighted mix of the grid; hard: one "
                                                                 "location; none: the image vector alone")
    image_conditioning: Literal["init", "every_step", "both"] = setting(
        "init", "how the image vector enters the decoder: its initial state, an input at every step, or both")
    doubly_stochastic: float = setting(0.0, "weight of Show-Attend-Tell's penalty pushing every location to be "
                                            "attended about once over the caption (0 = off)", min=0)
    attention_units: int = setting(64, "hidden size of the attention score", min=1)
    grid_positions: bool = setting(True, "append each grid cell's (x, y) in [-1, 1] to its features, so what the "
                                         "decoder attends to says where it is")
    units: int = setting(128, "decoder hidden units", min=1)
    bidirectional: bool = setting(False, "must stay false: a decoder writes left to right")
    tokenizer: Literal["words", "chars", "subwords"] = setting("words", "caption tokens: words, characters or "
                                                                         "subwords (a SentencePiece model)")
    lowercase: bool = setting(False, "lower-case captions (default: keep the data's case, which BLEU against "
                                     "the references counts)")
    vocab_size: int = setting(5000, "caption vocabulary cap (incl. padding, unknown, start, end)", min=5)
    max_length: int = setting(20, "caption tokens kept; decoding stops after this many + 1", min=1)
    epochs: int = setting(20, "passes over the training captions", min=1)
    learning_rate: float = setting(3e-3, "optimizer step size", min=0)
    builtin_examples: int = setting(3000, "built-in images (each with several reference captions)", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources")
    image_dir: str = setting("", "folder of the pictures a captions file names (default: looked up next to the "
                                 "file: Images/, images/, Flicker8k_Dataset/, COCO's split folder, or beside it)")

    def __post_init__(self):
        if self.bidirectional:
            raise UserError("caption cannot be bidirectional: a decoder writes left to right")
        if self.attention != "none" and self.layers != 1:
            raise UserError("the attending decoder has one layer; set layers=1 (or attention=none to stack layers)")


PRESETS = {
    "tiny": {"image_size": 24, "cnn_layers": 2, "cnn_filters": 8, "units": 16, "embedding_dim": 8,
             "attention_units": 8, "epochs": 2, "builtin_examples": 60, "batch_size": 32},
    "small": {"builtin_examples": 1500, "epochs": 12},
    "default": {},
}


def inputs(cfg: CaptionConfig) -> dict:
    return {"image": ImageInput("image", size=cfg.image_size, channels=cfg.channels)}


def output(cfg: CaptionConfig) -> TokenSequence:
    text = text_input("caption", "caption_tokens.json", cfg.tokenizer, max_tokens=cfg.vocab_size,
                      max_length=cfg.max_length, lowercase=cfg.lowercase, reserved=(START, END))
    return TokenSequence(cfg, NETWORKS, text, source="image", verb="caption", noun="caption", references="grouped")


def _encoder(cfg: CaptionConfig, image):
    """``image`` -> grid ``[b, L, D]``, its mask (all ones) and the decoder's initial states."""
    features = image_encoder(cfg)(image)
    # a mixed context z_t says what was looked at, not where: with positions it also carries the
    # attended cells' (x, y), which "left of" / "above" need
    grid = GridCoordinates(name="grid_positions")(features) if cfg.grid_positions else grid_sequence(features)
    v = keras.ops.mean(grid, axis=1)
    if cfg.image_conditioning in ("init", "both"):
        states = [keras.layers.Dense(cfg.units, activation="tanh", name=f"init_{n}")(v) for n in state_names(cfg)]
    else:
        states = [keras.ops.zeros_like(v[:, :1]) + keras.ops.zeros((cfg.units,)) for _ in state_names(cfg)]
    return grid, keras.ops.ones_like(grid[:, :, 0]), states


def _decoder(cfg: CaptionConfig, vocab_size: int, tokens, grid, states, target_mask=None):
    """``tokens [b, T]`` -> ``(logits [b, T, V], attention [b, T, L], final states)``."""
    words = keras.layers.Embedding(vocab_size, cfg.embedding_dim, name="caption_embedding")(tokens)
    every_step = cfg.image_conditioning in ("every_step", "both")
    locations, depth = grid.shape[1], grid.shape[2]
    steps = keras.ops.ones_like(words[:, :, :1])  # [b, T, 1], to repeat per-image tensors over the steps
    if cfg.attention == "none":
        x = keras.layers.Concatenate(name="word_and_image")([words, steps * keras.ops.mean(grid, axis=1)[:, None]]) \
            if every_step else words
        hidden, final = recurrent_stack(x, cfg, "decoder", initial_states=states, return_states=True,
                                        bidirectional=False)
        weights, out = keras.ops.zeros_like(steps) * keras.ops.zeros((locations,)), [hidden, words]
    else:
        flat = keras.layers.Reshape((1, locations * depth), name="grid_flat")(grid)
        cell = AttendingCell(cfg.cell, cfg.units, locations, depth, cfg.embedding_dim, cfg.attention_units,
                             mode=cfg.attention, image_vector=every_step, name="attending_cell")
        stepped = keras.layers.RNN(cell, return_sequences=True, return_state=True, name=f"decoder_{cfg.cell}_1")(
            keras.layers.Concatenate(name="word_and_grid")([words, steps * flat]), initial_state=states)
        sequence, final = stepped[0], list(stepped[1:])
        weights = sequence[:, :, cfg.units + depth:]
        if target_mask is not None and cfg.doubly_stochastic > 0:  # on the way to the logits, so it counts
            sequence = DoublyStochastic(cfg.doubly_stochastic, name="doubly_stochastic")(weights, target_mask,
                                                                                         sequence)
        hidden, context = sequence[:, :, :cfg.units], sequence[:, :, cfg.units:cfg.units + depth]
        out = [hidden, context, words]  # Show-Attend-Tell's deep output: L_o(E y + L_h h + L_z z)
    deep = keras.layers.Dense(cfg.embedding_dim, activation="tanh", name="deep_output")(
        keras.layers.Concatenate(name="deep_inputs")(out))
    return keras.layers.Dense(vocab_size, name="logits", dtype="float32")(deep), weights, final


def build_model(cfg: CaptionConfig, features: Features) -> keras.Model:
    """Training model (teacher forcing): ``{image, target_in [b, T]}`` -> ``logits [b, T, V]``."""
    image = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="image")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    grid, _, states = _encoder(cfg, image)
    mask = keras.ops.cast(keras.ops.not_equal(target_in, 0), "float32")
    logits, _, _ = _decoder(cfg, features.output.vocab_size, target_in, grid, states, target_mask=mask)
    return keras.Model({"image": image, "target_in": target_in}, logits, name=f"caption_{cfg.attention}")


def build_encoder(cfg: CaptionConfig, features: Features, batch_size=None, source_length=None) -> keras.Model:
    """``image [b, H, W, C]`` -> ``[grid [b, L, D], mask [b, L], *initial states [b, units]]``."""
    image = keras.Input(batch_shape=(batch_size, cfg.image_size, cfg.image_size, cfg.channels), name="image")
    grid, mask, states = _encoder(cfg, image)
    return keras.Model(image, [grid, mask, *states], name="caption_encoder")


def build_decoder(cfg: CaptionConfig, features: Features, batch_size=None, source_length=None) -> keras.Model:
    """``[tokens [b, T], grid, mask, *states]`` -> ``[logits, attention [b, T, L], *states]``."""
    encoder = build_encoder(cfg, features)
    locations, depth = encoder.outputs[0].shape[1:]
    tokens = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="token")
    grid = keras.Input(batch_shape=(batch_size, locations, depth), name="encoder_outputs")
    mask = keras.Input(batch_shape=(batch_size, locations), name="source_mask")
    states = [keras.Input(batch_shape=(batch_size, cfg.units), name=n) for n in state_names(cfg)]
    logits, weights, final = _decoder(cfg, features.output.vocab_size, tokens, grid, states)
    return keras.Model([tokens, grid, mask, *states], [logits, weights, *final], name="caption_decoder")


NETWORKS = Networks(encoder=build_encoder, decoder=build_decoder)


# --- built-in data: shapes and where they are ---------------------------------------------------

COLORS = ["red", "green", "blue", "yellow", "purple", "orange"]
KINDS = ("circle", "square", "triangle")
SIZES = {"small": 1 / 11, "big": 1 / 7}  # radius as a fraction of the picture


def _relation(a, b) -> tuple[str, str]:
    """Where ``a`` is from ``b`` and the reverse: left of / right of, or above / below."""
    if abs(a.x - b.x) >= abs(a.y - b.y):
        return ("left of", "right of") if a.x < b.x else ("right of", "left of")
    return ("above", "below") if a.y < b.y else ("below", "above")


def _captions(rng: random.Random, shapes, sizes: list[str]) -> list[str]:
    """Three to five reference captions of one picture."""
    name = [f"{size} {s.color} {s.kind}" for s, size in zip(shapes, sizes)]
    a, b = rng.sample(range(len(shapes)), 2)
    forward, backward = _relation(shapes[a], shapes[b])
    captions = [f"a {name[a]} {forward} a {name[b]}", f"a {name[b]} {backward} a {name[a]}"]
    if len(shapes) == 3:
        c = next(i for i in range(3) if i not in (a, b))
        captions.append(f"a {name[a]} {forward} a {name[b]} and a {name[c]}")
        captions.append(f"a {name[c]} {_relation(shapes[c], shapes[a])[0]} a {name[a]}")
    else:
        captions.append(f"a {name[a]} and a {name[b]}")
    return captions


def generate_captions(n: int, seed: int, size: int = 64) -> Examples:
    """``n`` pictures, one example per reference caption (the picture shared), deterministic for a seed."""
    rng = random.Random(seed)
    images, captions, origins = [], [], []
    for i in range(n):
        count = rng.choice((2, 3))
        sizes = [rng.choice(list(SIZES)) for _ in range(count)]
        shapes = place(rng, count, size, size * max(SIZES[s] for s in sizes), rng.sample(COLORS, count), kinds=KINDS)
        shapes = [dataclasses.replace(s, radius=size * SIZES[z]) for s, z in zip(shapes, sizes)]
        picture = render(shapes, size)
        for caption in _captions(rng, shapes, sizes):
            images.append(picture)
            captions.append(caption)
            origins.append(f"builtin:{i}")
    return Examples({"image": images, "caption": captions}, origins)


def nearest_captions(train: Examples, images: list) -> list[str]:
    """The baseline that does not write: for each image, a caption of the training image
    nearest to it in pixels (Devlin et al.'s nearest-neighbour captioning, raw pixels)."""
    import numpy as np

    firsts = {}  # one training picture per group, with its first caption
    for image, caption in zip(train["image"], train["caption"]):
        firsts.setdefault(id(image), (image, caption))
    pictures = np.stack([np.asarray(p, np.float32).ravel() for p, _ in firsts.values()])
    captions = [c for _, c in firsts.values()]
    out = []
    for image in images:
        distances = ((pictures - np.asarray(image, np.float32).ravel()) ** 2).sum(axis=1)
        out.append(captions[int(distances.argmin())])
    return out


# --- real data ----------------------------------------------------------------------------------

# Where the pictures of a captions file usually are, beside it (or beside the folder that holds it):
# Flickr8k's zip unpacks to Flicker8k_Dataset/ (sic), Kaggle's copy to Images/, others write images/.
TSV_FOLDERS = ("Images", "images", "Flicker8k_Dataset", "Flickr8k_Dataset", "")
# A captions file inside one of these folders has its pictures beside the folder (COCO's annotations/).
HOLDERS = ("annotations", "flickr8k_text", "captions")


class ImageFolders:
    """Finds the picture a captions file names, in the same places for every layout.

    ``folders`` are tried in order: each of ``subfolders`` of the file's folder (and of its
    parent when the file sits in an ``annotations/``-like folder), "" meaning that folder
    itself; or, given ``image_dir``, that folder and its ``subfolders`` (the pictures' folder
    itself, or one holding ``train2014/``, like VQA's ``image_dir``). Each folder is listed once
    (a file of 40,000 captions of 8,000 pictures costs 8,000 look-ups, not 40,000 stats);
    a name with a sub-path is checked directly.
    """

    def __init__(self, path: Path, subfolders: tuple[str, ...], image_dir: str = ""):
        if image_dir:
            folder = Path(image_dir).expanduser()
            if not folder.is_dir():
                raise UserError(f"image_dir: no such folder: {folder}")
            self.folders = [folder] + [folder / sub for sub in subfolders if sub]  # it, or a folder holding it
            self.beside = folder
        else:
            self.beside = path.parent
            roots = [path.parent] + ([path.parent.parent] if path.parent.name.lower() in HOLDERS else [])
            self.folders = list(dict.fromkeys(root / sub if sub else root for root in roots for sub in subfolders))
        self._listed: dict[Path, set[str]] = {}

    def _names(self, folder: Path) -> set[str]:
        if folder not in self._listed:
            try:
                self._listed[folder] = {e.name for e in os.scandir(folder) if not e.is_dir()}
            except OSError:  # absent or unreadable: nothing there
                self._listed[folder] = set()
        return self._listed[folder]

    def find(self, name: str, origin: str) -> str:
        """The path of picture ``name`` (as the file writes it); a ``UserError`` naming
        ``origin`` and every folder tried when it is in none of them."""
        for folder in self.folders:
            if ("/" in name or "\\" in name) and (folder / name).is_file() or name in self._names(folder):
                return str(folder / name)
        tried = ", ".join(f"{f}/" for f in self.folders)
        raise UserError(f"{origin}: {self.beside / name}: no such image (looked in {tried}; set image_dir=DIR "
                        f"to name the folder)")


def _caption_lines(path: Path):
    """``(line number, image name, caption)`` of a Flickr8k-style file: ``image<TAB>caption``
    (Flickr8k.token.txt writes ``name.jpg#0``; the ``#n`` is dropped; an ``image<TAB>caption``
    header is skipped) or, after an ``image,caption`` header (Kaggle's captions.txt),
    ``image,caption`` rows (the caption may be quoted or hold more commas)."""
    lines = read_text_file(path).splitlines()
    header = lines[0].replace(" ", "").lower() if lines else ""
    comma = header == "image,caption"
    for number, line in enumerate(lines, start=1):
        if not line.strip() or number == 1 and header in ("image,caption", "image\tcaption"):
            continue
        if comma:
            fields = next(csv.reader([line]))
            name, caption = (fields[0], ",".join(fields[1:])) if len(fields) > 1 else ("", "")
            if not caption.strip():
                raise UserError(f"{path}:{number}: expected image,caption (after the image,caption header)")
        else:
            name, tab, caption = line.partition("\t")
            if not tab or not caption.strip():
                raise UserError(f"{path}:{number}: expected image<TAB>caption")
        yield number, name.split("#")[0].strip(), caption.strip()


def read_flickr(path: Path, image_dir: str = "") -> Examples:
    """Flickr8k-style captions (several lines per image, see ``_caption_lines``); images in
    ``Images/``, ``images/``, ``Flicker8k_Dataset/`` or beside the file (``image_dir`` to say)."""
    folders = ImageFolders(path, TSV_FOLDERS, image_dir)
    images, captions, origins = [], [], []
    for number, name, caption in _caption_lines(path):
        images.append(folders.find(name, f"{path}:{number}"))
        captions.append(caption)
        origins.append(f"{path}:{number}")
    if not images:
        raise UserError(f"{path}: no captions found (the file is empty)")
    return Examples({"image": images, "caption": captions}, origins)


def _coco_id(value) -> str | None:
    """An image id as a key: ``2``, ``2.0`` and ``"2"`` are one id; None when not an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def read_coco(path: Path, image_dir: str = "") -> Examples:
    """COCO captions JSON: ``images`` (id, file_name) and ``annotations`` (image_id, caption).
    Images in the split's folder named by the file (``captions_train2014.json`` ->
    ``train2014/``), ``images/`` or beside it, next to the file or next to its ``annotations/``
    folder (``image_dir`` to say)."""
    try:
        data = json.loads(read_text_file(path))
        files = {_coco_id(image["id"]): image["file_name"] for image in data["images"]}
        annotations = data["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a COCO captions file with images and annotations ({exc})") from None
    if not isinstance(annotations, list):
        raise UserError(f"{path}: not a COCO captions file (annotations is {json_type(annotations)}, not a list)")
    if not annotations:
        raise UserError(f"{path}: no captions found (the annotations list is empty)")
    split = path.stem.split("_", 1)[1] if path.stem.startswith("captions_") else ""
    subfolders = (split, f"images/{split}", "images", "") if split else ("images", "")
    folders = ImageFolders(path, subfolders, image_dir)
    images, captions = [], []
    for i, annotation in enumerate(annotations):
        if not isinstance(annotation, dict) or not isinstance(annotation.get("caption"), str) or \
                _coco_id(annotation.get("image_id")) is None:
            raise UserError(f"{path}: annotation {i} needs image_id and caption (a string)")
        key = _coco_id(annotation["image_id"])
        if key not in files:
            raise UserError(f"{path}: annotation {i} names image_id {annotation['image_id']!r}, not in images")
        if not annotation["caption"].strip():
            raise UserError(f"{path}: annotation {i} (image_id {key}) has a blank caption")
        name = files[key]
        if not isinstance(name, str):
            raise UserError(f"{path}: image {key} has a file_name that is {json_type(name)}, not a string")
        images.append(folders.find(name, f"{path}#annotation {i}"))
        captions.append(annotation["caption"].strip())
    return Examples({"image": images, "caption": captions}, [f"{path}#annotation {i}" for i in range(len(images))])


def load_examples(cfg: CaptionConfig, source: str | None) -> Examples:
    if source is None:
        return generate_captions(cfg.builtin_examples, cfg.seed, cfg.image_size)
    if source.startswith("tfds:"):  # coco_captions: an image with its captions
        from rnn_apps.data.readers import read_tfds_records

        images, captions = [], []
        for record in read_tfds_records(source, cfg.tfds_data_dir or None):
            for caption in record["captions"]["text"]:
                images.append(record["image"])
                captions.append(caption)
        return Examples({"image": images, "caption": captions}, [f"{source}#{i}" for i in range(len(images))])
    path = Path(source)
    if path.suffix.lower() == ".json":
        return read_coco(path, cfg.image_dir)
    if path.suffix.lower() in (".tsv", ".txt", ".csv") and path.is_file():
        if path.suffix.lower() == ".csv":
            rows = read_records(path)
            folders = ImageFolders(path, TSV_FOLDERS, cfg.image_dir)
            for origin, row in rows:
                if "image" not in row or "caption" not in row:
                    raise UserError(f"{origin}: needs columns image and caption; found {', '.join(row)}")
                if not row["caption"].strip():
                    raise UserError(f"{origin}: blank caption")
            return Examples({"image": [folders.find(r["image"].strip(), o) for o, r in rows],
                             "caption": [r["caption"].strip() for _, r in rows]}, [o for o, _ in rows])
        return read_flickr(path, cfg.image_dir)
    raise UserError(f"{source}: give an image<TAB>caption .tsv/.txt, a COCO captions .json or tfds:coco_captions")


TASK = Task(
    name="caption",
    shape="one-to-many",
    description="describe an image in words: a CNN conditions an RNN decoder, with soft or hard attention",
    config_class=CaptionConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=output,
    build_model=build_model,
    split="group",  # the captions of one image stay in one part
)
