"""Sequence tagging: many-to-many, one label per token (named entities, parts of speech, chunks).

A sentence's tokens are embedded, a bidirectional recurrent stack reads them in both
directions (a token's tag depends on the words after it as much as before), and each token
gets a tag, from a softmax per token or from a linear-chain CRF that scores whole tag
sequences (``--set decoder=crf``: ``I-PER`` never follows ``O``; ``rnn_apps.layers.crf``):

    tokens [b, T] -> Embedding (mask 0) ----+
    chars [b, T, C] -> char-CNN, max-pool --+-> biRNN stack -> Dense -> softmax   -> tags [b, T, K]
                                                                   -> CRF (Viterbi) -> tags [b, T]

Tokens are the text's own, split on whitespace only (``U.S.`` and a lone ``,`` are one
token each, one tag each), case kept (``Apple`` is a company, ``apple`` a fruit).
``encoder: none`` drops the recurrent stack: each token is tagged from its own embedding,
which learns each word's most frequent tag (the per-word majority baseline).

The built-in sentences come from templates with people, places, organisations and dates,
several words long (``Bank of Jordan`` holds a place name; ``12 May 2019`` a name). Many
words are ambiguous: ``Jordan``, ``Paris``, ``Washington``, ``Georgia``, ``May``, ``Ford``
are people in one sentence, places, months or companies in another, and a surname after a
first name is ``I-PER`` but ``B-PER`` alone, so only context decides: a per-word lookup
stays far below the RNN.

Real data: CoNLL column files (``word ... tag``, blank line between sentences, the tag column
``tag_column``), JSON lines ``{"tokens": [...], "tags": [...]}`` or ``tfds:conll2003`` (see
``rnn_apps.data.tagging``: tags checked, IOB1 read as BIO). ``evaluate`` reports token
accuracy and entity precision/recall/F1 overall and per type, exact spans (CoNLL's conlleval).
"""
from __future__ import annotations

import dataclasses
import random
from typing import Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, setting
from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import text_input
from rnn_apps.data.tagging import read_tagged
from rnn_apps.layers.embedding import SpelledWords, token_embedding
from rnn_apps.layers.recurrent import recurrent_stack
from rnn_apps.outputs.per_step import LabelPerStep
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class TagConfig(RecurrentConfig, TrainConfig):
    encoder: Literal["rnn", "none"] = setting("rnn", "rnn: recurrent stack; none: each token from its own embedding "
                                                     "(the per-word baseline)")
    decoder: Literal["softmax", "crf"] = setting("softmax", "softmax: a tag per token; crf: a linear-chain CRF over "
                                                            "the tags (Viterbi decoding)")
    word_chars: Literal["cnn", "none"] = setting("cnn", "cnn: each word's vector also gets a char-CNN over its "
                                                        "spelling (an unseen word keeps its capital and suffix); "
                                                        "none: word embeddings alone")
    chars_per_token: int = setting(16, "characters of each word the char-CNN reads", min=1)
    char_filters: int = setting(48, "char-CNN filters (the size of a word's spelling vector)", min=1)
    lowercase: bool = setting(False, "lower-case tokens first (case is a strong clue for names: off)")
    vocab_size: int = setting(20000, "vocabulary cap (including padding and OOV)", min=3)
    max_length: int = setting(128, "tokens kept per sentence (longer sentences are cut)", min=1)
    tag_column: str = setting("-1", "CoNLL files: the column holding the tag (from 0; -1 = last)")
    epochs: int = setting(8, "passes over the training sentences", min=1)
    batch_size: int = setting(32, "sentences per mini-batch", min=1)
    builtin_examples: int = setting(4000, "sentences of the built-in data", min=10)
    tfds_data_dir: str = setting("", "TensorFlow Datasets data dir for tfds: sources")


PRESETS = {
    "tiny": {"units": 16, "embedding_dim": 16, "epochs": 2, "builtin_examples": 300, "max_length": 40},
    "small": {"units": 32, "embedding_dim": 32, "epochs": 5, "builtin_examples": 2000},
    "default": {},
    "large": {"units": 128, "embedding_dim": 100, "layers": 2, "dropout": 0.3, "decoder": "crf"},
}


def inputs(cfg: TagConfig) -> dict:
    """The sentence's whitespace tokens, one id each (case kept unless ``lowercase``), and with
    ``word_chars: cnn`` the first ``chars_per_token`` characters of each (``sentence_chars``)."""
    chars = cfg.chars_per_token if cfg.word_chars == "cnn" else 0
    return {"sentence": text_input("sentence", "vocab.json", "whitespace", max_tokens=cfg.vocab_size,
                                 max_length=cfg.max_length, lowercase=cfg.lowercase, chars_per_token=chars)}


def build_model(cfg: TagConfig, features: Features) -> keras.Model:
    """``sentence [b, T] int32`` token ids (and ``sentence_chars [b, T, C]``) -> ``[b, T, tags]``
    probabilities (softmax) or emission scores (crf)."""
    text = features.inputs["sentence"]
    tokens = keras.Input(shape=(None,), dtype="int32", name="sentence")
    inputs, x = [tokens], token_embedding(tokens, text.id_tokens, cfg.embedding_dim, seed=cfg.seed)
    if cfg.word_chars == "cnn":  # a word's vector = its embedding + its spelling
        chars = keras.Input(shape=(None, cfg.chars_per_token), dtype="int32", name="sentence_chars")
        spelled = SpelledWords(text.chars.size, filters=cfg.char_filters, name="spelling")(chars)
        inputs, x = [tokens, chars], keras.layers.Concatenate(name="word_and_spelling")([x, spelled])
    if cfg.encoder == "rnn":
        x = recurrent_stack(x, cfg)
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return keras.Model(inputs, features.output.head(x), name=f"tag_{cfg.encoder}_{cfg.decoder}")


# --- built-in data: sentences about people, places, organisations and dates ----------------

FIRST = ["Anna", "Omar", "Lucia", "Kenji", "Maria", "David", "Jordan", "Paris", "Georgia", "May", "Grace", "Ivan"]
LAST = ["Smith", "Okafor", "Rossi", "Tanaka", "Novak", "Jordan", "Washington", "Ford", "Lincoln", "Chen", "Silva"]
PLACES = [["Paris"], ["Jordan"], ["Georgia"], ["Washington"], ["Lincoln"], ["Lagos"], ["Oslo"], ["Lima"],
          ["New", "York"], ["Cape", "Town"], ["Hong", "Kong"], ["Rio", "de", "Janeiro"]]
ORG_HEADS = [["Ford"], ["Apex"], ["Nordic", "Air"], ["Bank", "of", "{place}"], ["{place}", "Telecom"],
             ["University", "of", "{place}"], ["Lincoln", "Motors"], ["Washington", "Post"], ["{name}", "Group"]]
MONTHS = ["January", "March", "May", "June", "August", "October"]
SYLLABLES = ["ka", "ro", "vi", "len", "mar", "to", "sa", "dor", "el", "ni", "bu", "zan", "qu", "ief", "os"]
# The decisive clue may come after the entity, past an aside: only context read both ways tells.
ASIDES = ["", "", ", as the papers noted ,", ", to the surprise of many ,", ", which few had expected ,"]
CUES = {"PER": ["was born in {LOC} in {MONTH} .", "said she would resign .", "won the race again .",
                "married {PER} in {LOC} ."],
        "LOC": ["has a population of two million .", "lies on the coast .", "hosted the summit on {DATE} ."],
        "ORG": ["reported record profits .", "hired {PER} as its chief .", "was fined by {ORG} on {DATE} ."]}
TEMPLATES = [
    "{PER} said on {DATE} that {ORG} would open an office in {LOC} .",
    "{PER} flew from {LOC} to {LOC} on {DATE} .",
    "shares of {ORG} rose after {PER} joined the board .",
    "{ORG} hired {PER} , who grew up in {LOC} .",
    "in {LOC} , {PER} met {PER} of {ORG} .",
    "{PER} will visit {LOC} in {MONTH} .",
    "the {ORG} report , published on {DATE} , praised {PER} .",
    "since {DATE} , {ORG} has sold cars in {LOC} .",
    "{CLUE}", "{CLUE}", "{CLUE}", "{CLUE}",
]


def _name(rng: random.Random) -> str:
    """A made-up capitalised name (``Karovi``): most held-out ones were never seen in training."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _word(rng: random.Random, pool: list) -> list[str]:
    """A known word from ``pool`` (some ambiguous), or, one time in three, a made-up name."""
    return [_name(rng)] if rng.random() < 0.35 else list(rng.choice(pool))


def _entity(rng: random.Random, kind: str) -> tuple[list[str], str]:
    """The words of one entity of ``kind`` and its CoNLL type."""
    if kind == "PER":
        form = rng.random()
        first, last = _word(rng, [[w] for w in FIRST]), _word(rng, [[w] for w in LAST])
        return (first if form < 0.2 else last if form < 0.35 else first + last), "PER"
    if kind == "LOC":
        return _word(rng, PLACES), "LOC"
    if kind == "ORG":
        words = []
        for word in rng.choice(ORG_HEADS):
            words += _word(rng, [p for p in PLACES if len(p) == 1]) if word == "{place}" else \
                [_name(rng)] if word == "{name}" else [word]
        return words, "ORG"
    if kind == "MONTH":
        return [rng.choice(MONTHS)], "DATE"
    return [str(rng.randint(1, 28)), rng.choice(MONTHS), str(rng.randint(1990, 2024))], "DATE"


def _template(rng: random.Random) -> str:
    """A template; ``{CLUE}``: an entity whose type only a later phrase (past an aside) gives away."""
    template = rng.choice(TEMPLATES)
    if template == "{CLUE}":
        kind = rng.choice(list(CUES))
        template = f"{{{kind}}} {rng.choice(ASIDES)} {rng.choice(CUES[kind])}"
    return template


def tagged_sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    """One sentence from a template: its tokens and BIO tags."""
    tokens, tags = [], []
    for word in _template(rng).split():
        if word.startswith("{"):
            words, kind = _entity(rng, word[1:-1])
            tokens += words
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        else:
            tokens.append(word)
            tags.append("O")
    if rng.random() < 0.5:  # sentence case, as in news text
        tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
    return tokens, tags


def generate_sentences(n: int, seed: int) -> Examples:
    """``n`` tagged sentences, deterministic for a seed."""
    rng = random.Random(seed)
    rows = [tagged_sentence(rng) for _ in range(n)]
    return Examples({"sentence": [" ".join(tokens) for tokens, _ in rows], "tags": [tags for _, tags in rows]},
                    [f"builtin:{i}" for i in range(n)])


def load_examples(cfg: TagConfig, source: str | None) -> Examples:
    if source is None:
        return generate_sentences(cfg.builtin_examples, cfg.seed)
    read = read_tagged(source, cfg.tag_column, tfds_data_dir=cfg.tfds_data_dir or None)
    return Examples({"sentence": read["tokens"], "tags": read["tags"]}, read.origins)


TASK = Task(
    name="tag",
    shape="many-to-many (one output per step)",
    description="tag every token of a sentence: named entities, parts of speech (biRNN, softmax or CRF)",
    config_class=TagConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=lambda cfg: LabelPerStep("tags", input="sentence", decoder=cfg.decoder, report="entities"),
    build_model=build_model,
)
