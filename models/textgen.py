"""Text generation: a character- or word-level language model (many-to-many).

At every step the model reads one token and predicts the next; to generate, it samples
from that prediction and reads its own sample back in:

    tokens [batch, time] -> Embedding -> RNN stack (states carried) -> Dense -> logits [batch, time, vocab]

Two builds share the same named layers (weights move between them by name):

* ``build_model``: the training model. With truncated BPTT (``tbptt > 0``) its recurrent
  layers are ``stateful``: the state at the end of one window is where the next window of
  the same stream starts, while gradients stop at the window border.
* ``build_step_model``: the same network with explicit state inputs and outputs,
  ``[tokens, *states] -> [logits, *states]``, which generation runs one token at a time
  (and which export serves as the ``step`` signature).

The built-in data are short plays from a small probabilistic grammar, with structure at
several ranges: spelling and agreement inside words and clauses ("the king walks", "the
kings walk"), matching quotes and brackets, speakers taking turns, answers that repeat
the noun a question asked about, and scene numbers that count up from one scene to the
next.
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, setting
from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import text_input
from rnn_apps.data.readers import read_text_file
from rnn_apps.errors import UserError
from rnn_apps.layers.recurrent import recurrent_stack, state_names
from rnn_apps.outputs.language_model import NextToken
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class TextgenConfig(RecurrentConfig, TrainConfig):
    cell: Literal["vanilla", "simple", "lstm", "gru"] = setting("gru", "recurrent cell")
    units: int = setting(256, "hidden units per recurrent layer", min=1)
    bidirectional: bool = setting(False, "must stay false: a language model reads left to right")
    embedding_dim: int = setting(64, "size of the token embedding", min=1)
    epochs: int = setting(10, "passes over the training text", min=1)
    batch_size: int = setting(32, "streams (tbptt) or windows per mini-batch", min=1)
    learning_rate: float = setting(3e-3, "optimizer step size", min=0)
    test_fraction: float = setting(0.0, "last part of the text held out for the final test", min=0, max=0.5)
    val_fraction: float = setting(0.1, "part of the text (before the test part) held out for validation",
                                  min=0, max=0.5)
    tokenizer: Literal["chars", "words", "subwords"] = setting(
        "chars", "model characters, words (punctuation kept) or subwords (a SentencePiece model: lossless)")
    vocab_size: int = setting(10000, "vocabulary cap (including padding and unknown)", min=3)
    tbptt: int = setting(100, "truncated BPTT: window length, state carried across windows (0 = off)", min=0)
    window: int = setting(100, "window length of independent shuffled windows when tbptt is 0", min=1)
    builtin_chars: int = setting(300_000, "size of the built-in text in characters", min=1000)
    encoding_errors: Literal["strict", "replace"] = setting(
        "strict", "invalid UTF-8 in --data: strict = stop with the byte offset; replace = use U+FFFD")
    generate_length: int = setting(200, "tokens `predict` generates per prompt", min=1)
    temperature: float = setting(0.8, "sampling temperature for `predict` (0 = greedy)", min=0)
    top_k: int = setting(0, "sample from the k most likely tokens only (0 = all)", min=0)
    top_p: float = setting(1.0, "nucleus sampling threshold (1 = off)", min=0.01, max=1)

    def __post_init__(self):
        if self.bidirectional:
            raise UserError("textgen cannot be bidirectional: a language model must not see the future")


PRESETS = {
    "tiny": {"units": 32, "embedding_dim": 16, "epochs": 2, "builtin_chars": 20000, "batch_size": 8,
             "tbptt": 50},
    "small": {"units": 128, "epochs": 6},
    "default": {},
    "shakespeare": {"cell": "gru", "units": 512, "embedding_dim": 64, "batch_size": 64, "tbptt": 100,
                    "epochs": 4, "learning_rate": 3e-3, "early_stopping": 0},
    # beats nanoGPT's CPU recipe: 1.535 nats/char in 69 s vs its 1.886 in 100 s, 2 cores (benchmarks/bench_peers.py)
    "fast-shakespeare": {"cell": "gru", "units": 256, "embedding_dim": 64, "batch_size": 32, "tbptt": 64,
                         "epochs": 3, "learning_rate": 1e-2, "lr_schedule": "cosine", "warmup_steps": 50,
                         "early_stopping": 0},
    "large": {"cell": "lstm", "units": 512, "layers": 2, "residual": True, "dropout": 0.2},
}


def inputs(cfg: TextgenConfig) -> dict:
    """The text, tokenized with case, punctuation and line breaks kept (text must come back)."""
    return {"text": text_input("text", "tokens.json", cfg.tokenizer, max_tokens=cfg.vocab_size, stream=True)}


def _network(cfg: TextgenConfig, vocab_size: int, tokens, states, stateful: bool):
    x = keras.layers.Embedding(vocab_size, cfg.embedding_dim, name="embedding")(tokens)
    x, final_states = recurrent_stack(x, cfg, initial_states=states, return_states=True, stateful=stateful,
                                      bidirectional=False)
    return keras.layers.Dense(vocab_size, name="next_token_logits", dtype="float32")(x), final_states


def build_model(cfg: TextgenConfig, features: Features) -> keras.Model:
    """Training model: ``tokens [batch, time]`` -> ``logits [batch, time, vocab]``.

    With truncated BPTT the batch size is fixed (``batch_size`` streams) and the states
    live inside the stateful layers between calls.
    """
    stateful = cfg.tbptt > 0
    tokens = keras.Input(batch_shape=(cfg.batch_size if stateful else None, None), dtype="int32", name="tokens")
    logits, _ = _network(cfg, features.inputs["text"].vocab_size, tokens, None, stateful)
    return keras.Model(tokens, logits, name=f"textgen_{cfg.cell}")


def build_step_model(cfg: TextgenConfig, vocab_size: int, batch_size: int | None = None) -> keras.Model:
    """Generation model: ``[tokens [batch, time], *states [batch, units]]`` -> ``[logits, *states]``.

    States are in ``layers.state_names`` order (``h_1``, and ``c_1`` for an LSTM, per layer).
    ``batch_size=1`` gives the static shapes on-device generation needs.
    """
    tokens = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="tokens")
    states = [keras.Input(batch_shape=(batch_size, cfg.units), name=name) for name in state_names(cfg)]
    logits, final_states = _network(cfg, vocab_size, tokens, states, stateful=False)
    return keras.Model([tokens, *states], [logits, *final_states], name=f"textgen_{cfg.cell}_step")


# --- built-in data ---------------------------------------------------------------------

NAMES = ["ROSA", "TOMAS", "INES", "MARCO", "LENA", "OSKAR", "VERA", "HUGO"]
PLACES = ["the garden", "a narrow street", "the old mill", "the harbour", "a cold kitchen", "the tower"]
TIMES = ["at night", "at dawn", "in the rain", "at noon", "in winter"]
ADJECTIVES = ["old", "red", "broken", "silver", "quiet", "heavy", "small", "bright"]
NOUNS = ["lantern", "key", "letter", "horse", "window", "coat", "ring", "boat", "bell", "map"]
VERBS = [("walk", "walks"), ("wait", "waits"), ("sing", "sings"), ("fall", "falls"), ("burn", "burns")]
PLACES_SMALL = ["under the table", "by the door", "in the well", "on the roof", "near the river"]
ASIDES = ["quietly", "laughing", "to herself", "at the window", "slowly"]


def _noun_phrase(rng: random.Random) -> tuple[str, bool]:
    """('the old keys', plural?)."""
    plural = rng.random() < 0.35
    noun = rng.choice(NOUNS) + ("s" if plural else "")
    adjective = rng.choice(ADJECTIVES) + " " if rng.random() < 0.6 else ""
    return f"the {adjective}{noun}", plural


def _statement(rng: random.Random) -> str:
    subject, plural = _noun_phrase(rng)
    verb = rng.choice(VERBS)[0 if plural else 1]
    tail = f" {rng.choice(PLACES_SMALL)}" if rng.random() < 0.5 else ""
    return f"{subject} {verb}{tail}."


def _scene(rng: random.Random, number: int) -> list[str]:
    """A scene header, a setting in brackets, then two speakers taking turns."""
    first, second = rng.sample(NAMES, 2)
    lines = [f"== scene {number} ==", f"[{rng.choice(PLACES)}, {rng.choice(TIMES)}]"]
    turn, turns = 0, rng.randint(3, 6)
    while turn < turns:
        speaker, other = (first, second) if turn % 2 == 0 else (second, first)
        aside = f"({rng.choice(ASIDES)}) " if rng.random() < 0.2 else ""
        kind = rng.random()
        if kind < 0.3:  # a question; the other speaker answers with the same noun phrase
            subject, plural = _noun_phrase(rng)
            lines.append(f"{speaker}: {aside}where {'are' if plural else 'is'} {subject}?")
            lines.append(f"{other}: {subject} {'are' if plural else 'is'} {rng.choice(PLACES_SMALL)}.")
            turn += 1
        elif kind < 0.5:  # reported speech in matching quotes
            lines.append(f'{speaker}: {aside}{rng.choice(NAMES).lower()} said "{_statement(rng)}"')
        else:
            lines.append(f"{speaker}: {aside}{' '.join(_statement(rng) for _ in range(rng.randint(1, 2)))}")
        turn += 1
    return lines + [""]


def generate_plays(chars: int, seed: int) -> Examples:
    """Lines of synthetic plays, about ``chars`` characters in all, deterministic for a seed."""
    rng = random.Random(seed)
    lines: list[str] = []
    size, number = 0, 1
    while size < chars:
        scene = _scene(rng, number)
        lines += scene
        size += sum(len(line) + 1 for line in scene)
        number = number + 1 if rng.random() < 0.9 else 1  # a new play now and then
    return Examples({"text": lines}, [f"builtin:{i + 1}" for i in range(len(lines))])


def load_examples(cfg: TextgenConfig, source: str | None) -> Examples:
    """The built-in plays (``source`` None) or the lines of a UTF-8 text file."""
    if source is None:
        return generate_plays(cfg.builtin_chars, cfg.seed)
    path = Path(source)
    if not path.is_file():
        raise UserError(f"text file not found: {path}")
    text = read_text_file(path, errors=cfg.encoding_errors)
    if not text.strip():
        raise UserError(f"{path}: the file is empty")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final line break is restored when the lines are joined
    return Examples({"text": lines}, [f"{path}:{i + 1}" for i in range(len(lines))])


TASK = Task(
    name="textgen",
    shape="many-to-many",
    description="character/word language model: learn a text, then generate more of it",
    config_class=TextgenConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=lambda cfg: NextToken(cfg, build_step_model),
    build_model=build_model,
    split="ordered",
)
