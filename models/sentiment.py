"""Sentiment classification: many-to-one.

A review (a sequence of words) goes in; one label comes out. The recurrent stack reads
the whole review and its summary (the state after the last word) is classified:

    tokens [batch, time] -> Embedding (mask 0) -> (bi)RNN stack -> pooling -> Dense -> p(label)

The built-in data are synthetic reviews where word order matters: negation flips a
clause ("not boring"), contrast picks a clause ("good acting but a dull plot": the part
after "but" decides; "a dull plot, even though the acting was good": the first part
decides), and negation can stand far from its adjective. A bag-of-words model sees the
same words in positive and negative reviews and stays well below the RNN; train it with
``--set encoder=bow`` to see the gap.
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Literal

import keras

from rnn_apps.classify import TextClassification, classifier_compile_args, classifier_output
from rnn_apps.config import RecurrentConfig, TrainConfig, setting
from rnn_apps.layers import SequencePooling, recurrent_stack
from rnn_apps.readers import Examples, read_source
from rnn_apps.task import Task


@dataclasses.dataclass
class SentimentConfig(RecurrentConfig, TrainConfig):
    encoder: Literal["rnn", "bow"] = setting("rnn", "rnn: recurrent stack; bow: bag-of-words baseline")
    pooling: Literal["last", "mean", "max"] = setting("last", "how the RNN's sequence is summarised")
    level: Literal["word", "char"] = setting("word", "tokenize into words or characters")
    vocab_size: int = setting(20000, "vocabulary cap (including padding and OOV)", min=3)
    max_length: int = setting(100, "tokens kept per text (longer texts are truncated)", min=1)
    text_column: str = setting("auto", "column with the text: a header name, a 0-based index or auto")
    label_column: str = setting("auto", "column with the label: a header name, a 0-based index or auto")
    builtin_examples: int = setting(20000, "size of the built-in synthetic data set", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources (default ~/tensorflow_datasets)")


PRESETS = {
    "tiny": {"units": 16, "embedding_dim": 16, "epochs": 2, "builtin_examples": 600, "batch_size": 32},
    "small": {"units": 32, "embedding_dim": 32, "epochs": 4},
    "default": {},
    "large": {"units": 128, "embedding_dim": 128, "layers": 2, "residual": True, "dropout": 0.2},
}


def build_model(cfg: SentimentConfig, data: TextClassification) -> keras.Model:
    """``tokens [batch, time] int32`` -> ``[batch, 1]`` p(positive) or ``[batch, C]`` softmax."""
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(data.encoder.vocab_size, cfg.embedding_dim, mask_zero=True,
                               name="embedding")(tokens)
    if cfg.encoder == "bow":
        x = keras.layers.GlobalAveragePooling1D(name="bag_of_words")(x)
        x = keras.layers.Dense(cfg.units, activation="relu", name="hidden")(x)
    else:
        x = recurrent_stack(x, cfg)
        x = SequencePooling(cfg.pooling, bidirectional=cfg.bidirectional, name="pooling")(x)
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return keras.Model(tokens, classifier_output(x, len(data.labels)), name=f"sentiment_{cfg.encoder}")


# --- built-in data ---------------------------------------------------------------------

POSITIVE = ["good", "great", "brilliant", "charming", "superb", "delightful", "clever", "moving",
            "gripping", "lovely", "excellent", "fresh", "witty", "stunning"]
NEGATIVE = ["bad", "dull", "boring", "awful", "clumsy", "bland", "tedious", "weak", "messy",
            "lifeless", "predictable", "forgettable", "painful", "flat"]
ASPECTS = ["acting", "plot", "script", "soundtrack", "ending", "cast", "dialogue", "pacing",
           "camera work", "humour", "story", "direction", "visuals", "editing"]
INTENSIFIERS = ["very", "really", "truly", "quite", "extremely", "remarkably", "rather"]
ASIDES = ["which my friend had recommended", "that everyone talked about for weeks",
          "which i had heard so much about", "that the trailer promised", "of this long film"]
OPENERS = ["", "", "honestly ,", "i watched it last night .", "so ,", "well ,"]


def _clause(rng: random.Random, positive: bool) -> str:
    """One clause whose sentiment is ``positive``; negation flips the adjective."""
    negated = rng.random() < 0.45
    adjective = rng.choice(NEGATIVE if positive != negated else POSITIVE)
    aspect = rng.choice(ASPECTS)
    intens = rng.choice(INTENSIFIERS) + " " if rng.random() < 0.3 else ""
    form = rng.randrange(4)
    if form == 0:
        return f"the {aspect} was {'not ' if negated else ''}{intens}{adjective}"
    if form == 1:  # long range: the negation and the adjective are far apart
        return f"the {aspect} , {rng.choice(ASIDES)} , was {'never ' if negated else ''}{intens}{adjective}"
    if form == 2:
        return f"i {'did not find' if negated else 'found'} the {aspect} {intens}{adjective}"
    if negated:
        return f"nobody could call the {aspect} {adjective}"
    return f"a {intens}{adjective} {aspect}"


def generate_reviews(n: int, seed: int) -> Examples:
    """``n`` synthetic labelled reviews (balanced), deterministic for a seed."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        decisive, other = _clause(rng, positive), _clause(rng, rng.random() < 0.5)
        shape = rng.random()
        if shape < 0.25:
            body = decisive
        elif shape < 0.6:
            body = f"{other} but {decisive}"
        elif shape < 0.8:
            body = f"although {other} , {decisive}"
        else:
            body = f"{decisive} , even though {other}"
        texts.append(f"{rng.choice(OPENERS)} {body} .".strip())
        labels.append("positive" if positive else "negative")
    order = list(range(n))
    rng.shuffle(order)
    return Examples({"text": [texts[i] for i in order], "label": [labels[i] for i in order]},
                    [f"builtin:{i}" for i in order])


def load_examples(cfg: SentimentConfig, source: str | None) -> Examples:
    """The built-in generator (``source`` None) or a file / ``tfds:`` source."""
    if source is None:
        return generate_reviews(cfg.builtin_examples, cfg.seed)
    return read_source(source, {"text": cfg.text_column, "label": cfg.label_column},
                       aliases={"text": ("sentence", "text", "review", "content", "document"),
                                "label": ("label", "sentiment", "polarity", "class", "target")},
                       tfds_data_dir=cfg.tfds_data_dir or None)


TASK = Task(
    name="sentiment",
    shape="many-to-one",
    description="classify the sentiment (or any label) of a text",
    config_class=SentimentConfig,
    presets=PRESETS,
    load_examples=load_examples,
    fit_preprocessing=TextClassification.fit,
    load_preprocessing=TextClassification.load,
    build_model=build_model,
    compile_args=lambda cfg, data: classifier_compile_args(len(data.labels)),
)
