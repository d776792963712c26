"""Translation: an encoder-decoder with attention (many-to-many, sequence to sequence).

The encoder reads the whole source sentence; the decoder writes the target sentence one
token at a time, starting from the encoder's final state and, at every step, looking
back at all encoder outputs through attention:

    source [b, S] -> Embedding (mask 0) -> (bi)RNN stack -> encoder outputs [b, S, E]
                                                       \\-> final states -> bridge -> decoder states
    target in [b, T] -> Embedding -> RNN stack (from those states) -> queries [b, T, D]
    attention(queries, encoder outputs, source mask) -> context [b, T, E]
    Dense([queries, context]) -> Dense -> logits [b, T, target vocab]

``attention: none`` drops the context: the decoder must then carry the whole sentence in
its state, which is the classic encoder-decoder bottleneck. The bridge is a Dense layer
per state, used only when the encoder's state width (units x directions) differs from the
decoder's.

The built-in data are sentence pairs from a small synchronous grammar: an English-like
source and an invented target language with verb-final word order, adjectives after
their noun (in reversed order), postpositions, gender and number agreement (determiner,
adjective and verb must agree with a noun that may be far away), relative clauses and
conjunctions, 3 to about 30 words.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Iterator, Literal

import keras

from rnn_apps.config import RecurrentConfig, TrainConfig, setting
from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import TextInput, text_input
from rnn_apps.data.readers import iter_source, read_source
from rnn_apps.layers.attention import Attention
from rnn_apps.layers.recurrent import recurrent_stack, state_names
from rnn_apps.outputs.sequence import END, START, Networks, TokenSequence
from rnn_apps.task import Features, Task


@dataclasses.dataclass
class TranslateConfig(RecurrentConfig, TrainConfig):
    units: int = setting(128, "encoder hidden units per direction", min=1)
    decoder_units: int = setting(0, "decoder hidden units (0 = units); the encoder state is projected "
                                    "when its width differs", min=0)
    attention: Literal["bahdanau", "luong", "none"] = setting(
        "bahdanau", "bahdanau (additive), luong (multiplicative, 'general') or none")
    attention_units: int = setting(128, "hidden size of the additive (bahdanau) score", min=1)
    embedding_dim: int = setting(64, "size of the source and target token embeddings", min=1)
    epochs: int = setting(12, "passes over the training pairs", min=1)
    learning_rate: float = setting(3e-3, "optimizer step size", min=0)
    tokenizer: Literal["subwords", "words", "chars"] = setting(
        "subwords", "subwords (a SentencePiece model per side: no unknown words, text back exactly as written), "
                    "words (punctuation kept as tokens) or characters")
    subword_model: Literal["unigram", "bpe"] = setting("unigram", "SentencePiece's unigram language model or BPE")
    lowercase: bool = setting(False, "lower-case source and target (also inside the exported model)")
    unicode_form: Literal["NFC", "NFKC", "none"] = setting(
        "NFC", "Unicode normal form applied to data and inputs (the SavedModel expects it already applied)")
    source_vocab_size: int = setting(10000, "source vocabulary cap (incl. padding, unknown, start, end)", min=5)
    target_vocab_size: int = setting(10000, "target vocabulary cap (incl. padding, unknown, start, end)", min=5)
    max_length: int = setting(40, "tokens kept per sentence (longer ones are cut); decoding stops after "
                                  "this many + 1", min=1)
    source_column: str = setting("auto", "column of the source sentence: header name, 0-based index or auto")
    target_column: str = setting("auto", "column of the target sentence: header name, 0-based index or auto")
    reverse: bool = setting(False, "swap the two columns: translate the second into the first")
    builtin_examples: int = setting(20000, "sentence pairs of the built-in language pair", min=10)

    @property
    def decoder_width(self) -> int:
        return self.decoder_units or self.units


PRESETS = {
    "tiny": {"units": 32, "embedding_dim": 16, "attention_units": 32, "epochs": 2, "builtin_examples": 1500,
             "batch_size": 32},
    "small": {"units": 64, "attention_units": 64, "epochs": 8},
    "default": {},
    "spa-eng": {"units": 256, "embedding_dim": 128, "attention_units": 128, "max_length": 32, "epochs": 10,
                "batch_size": 64, "learning_rate": 2e-3, "source_vocab_size": 8000, "target_vocab_size": 8000},
    "large": {"cell": "lstm", "units": 256, "layers": 2, "residual": True, "dropout": 0.2},
}


def _text(cfg: TranslateConfig, name: str, vocab_size: int, **kwargs) -> TextInput:
    """A side of the pair: tokens with case and punctuation kept (lower-cased if asked),
    ``[START]`` and ``[END]`` at ids 2 and 3."""
    return text_input(name, f"{name}_tokens.json", cfg.tokenizer, max_tokens=vocab_size, max_length=cfg.max_length,
                      lowercase=cfg.lowercase, unicode_form=cfg.unicode_form, reserved=(START, END),
                      subword_model=cfg.subword_model, **kwargs)


def inputs(cfg: TranslateConfig) -> dict:
    """The source sentence, ending in ``[END]`` so the encoder sees where it stops."""
    return {"source": _text(cfg, "source", cfg.source_vocab_size, end_token=END, serving_name="text")}


def output(cfg: TranslateConfig) -> TokenSequence:
    return TokenSequence(cfg, NETWORKS, _text(cfg, "target", cfg.target_vocab_size), source="source")


def _encoder(cfg: TranslateConfig, vocab_size: int, source):
    x = keras.layers.Embedding(vocab_size, cfg.embedding_dim, mask_zero=True, name="source_embedding")(source)
    outputs, states = recurrent_stack(x, cfg, "encoder", return_states=True)
    if cfg.units * (2 if cfg.bidirectional else 1) != cfg.decoder_width:
        states = [keras.layers.Dense(cfg.decoder_width, activation="tanh", name=f"bridge_{n}")(s)
                  for n, s in zip(state_names(cfg), states)]
    source_mask = keras.ops.cast(keras.ops.not_equal(source, 0), "float32")
    return outputs, source_mask, states


def _decoder(cfg: TranslateConfig, vocab_size: int, tokens, encoded, source_mask, states):
    decoder_cfg = dataclasses.replace(cfg, units=cfg.decoder_width, bidirectional=False)
    x = keras.layers.Embedding(vocab_size, cfg.embedding_dim, name="target_embedding")(tokens)
    queries, final = recurrent_stack(x, decoder_cfg, "decoder", initial_states=states, return_states=True)
    if cfg.attention == "none":
        hidden, weights = queries, keras.ops.zeros_like(queries[:, :, :1]) * source_mask[:, None, :]
    else:
        context, weights = Attention(cfg.attention, cfg.attention_units, name="attention")(queries, encoded, source_mask)
        # Luong et al. put a tanh here; under Adam with a 10,000-word target vocabulary it
        # saturated at the start of training and the decoder stopped learning (spa-eng).
        hidden = keras.layers.Dense(cfg.decoder_width, name="attentional")(
            keras.layers.Concatenate(name="query_and_context")([queries, context]))
    return keras.layers.Dense(vocab_size, name="logits", dtype="float32")(hidden), weights, final


def build_model(cfg: TranslateConfig, features: Features) -> keras.Model:
    """Training model (teacher forcing): ``{source [b, S], target_in [b, T]}`` -> ``logits [b, T, V]``."""
    source = keras.Input((None,), dtype="int32", name="source")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    encoded, source_mask, states = _encoder(cfg, features.inputs["source"].vocab_size, source)
    logits, _, _ = _decoder(cfg, features.output.vocab_size, target_in, encoded, source_mask, states)
    return keras.Model([source, target_in], logits, name=f"translate_{cfg.cell}_{cfg.attention}")


def build_encoder(cfg: TranslateConfig, features: Features, batch_size=None, source_length=None) -> keras.Model:
    """``source [b, S]`` -> ``[encoder outputs [b, S, E], source mask [b, S], *decoder states [b, D]]``."""
    source = keras.Input(batch_shape=(batch_size, source_length), dtype="int32", name="source")
    encoded, source_mask, states = _encoder(cfg, features.inputs["source"].vocab_size, source)
    return keras.Model(source, [encoded, source_mask, *states], name="translate_encoder")


def build_decoder(cfg: TranslateConfig, features: Features, batch_size=None, source_length=None) -> keras.Model:
    """``[tokens [b, T], encoder outputs, source mask, *states]`` -> ``[logits, attention [b, T, S], *states]``."""
    width = cfg.units * (2 if cfg.bidirectional else 1)
    tokens = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="token")
    encoded = keras.Input(batch_shape=(batch_size, source_length, width), name="encoder_outputs")
    source_mask = keras.Input(batch_shape=(batch_size, source_length), name="source_mask")
    states = [keras.Input(batch_shape=(batch_size, cfg.decoder_width), name=n) for n in state_names(cfg)]
    logits, weights, final = _decoder(cfg, features.output.vocab_size, tokens, encoded, source_mask, states)
    return keras.Model([tokens, encoded, source_mask, *states], [logits, weights, *final], name="translate_decoder")


NETWORKS = Networks(encoder=build_encoder, decoder=build_decoder)


# --- built-in data: a synchronous grammar ----------------------------------------------------
# Each rule writes an English-like phrase and its translation together. Target language:
# determiners agree with their noun in gender and number; adjectives follow the noun in
# reversed order and agree (-o/-a, plural -s); the object is marked by a particle "di";
# prepositions become postpositions; the verb comes last and agrees with its subject in
# number, also in the past tense where English shows no agreement; some nouns have
# irregular plurals and some verbs an irregular past; a "because" clause moves to the front.

NOUNS = [  # english, target, gender[, irregular target plural]
    ("cat", "miru", "f"), ("dog", "vako", "m"), ("bird", "pilo", "m"), ("house", "kasa", "f"),
    ("tree", "lembe", "m", "lembi"), ("river", "nira", "f"), ("friend", "amiko", "m", "amiki"),
    ("teacher", "tora", "f"), ("boy", "pimo", "m"), ("boat", "nave", "f"), ("book", "libe", "m"),
    ("garden", "horta", "f"), ("farmer", "kulto", "m"), ("window", "fene", "f", "fenai"), ("horse", "kabo", "m"),
    ("town", "urbe", "f"), ("king", "reko", "m", "regi"), ("song", "kanta", "f"), ("stone", "sasse", "m"),
    ("letter", "skriba", "f"), ("girl", "pima", "f"), ("door", "porta", "f"), ("wolf", "lupo", "m", "lupi"),
    ("bridge", "ponte", "m"), ("mountain", "monta", "f", "montai"), ("fish", "peske", "m"),
    ("queen", "rena", "f"), ("road", "vio", "m"), ("star", "stela", "f"), ("sailor", "marno", "m"),
    ("lamp", "lume", "f"), ("mouse", "muso", "m", "musi")]
ADJECTIVES = [("red", "rub"), ("big", "grand"), ("small", "pik"), ("old", "viej"), ("new", "nov"),
              ("happy", "fel"), ("quiet", "kiet"), ("dark", "skur"), ("green", "verd"), ("strange", "stran"),
              ("tall", "alt"), ("cold", "frid"), ("blue", "blav"), ("brave", "kur"), ("tired", "las"),
              ("warm", "kald"), ("sad", "trist"), ("white", "blank")]
VERBS = [  # base, 3rd person, past, target stem[, irregular target past stem]
    ("see", "sees", "saw", "vid", "vist"), ("find", "finds", "found", "trov"),
    ("follow", "follows", "followed", "sek"), ("like", "likes", "liked", "am"),
    ("carry", "carries", "carried", "port"), ("watch", "watches", "watched", "gard"),
    ("call", "calls", "called", "klam"), ("help", "helps", "helped", "jut", "jov"),
    ("hear", "hears", "heard", "aud"), ("draw", "draws", "drew", "pikt"), ("take", "takes", "took", "pren", "pris"),
    ("leave", "leaves", "left", "lask"), ("know", "knows", "knew", "sav", "sup"), ("wash", "washes", "washed", "lav")]
PREPOSITIONS = [("in", "ina"), ("on", "supe"), ("near", "pres"), ("under", "sub"), ("with", "kon"),
                ("behind", "dopo")]
ADVERBS = [("today", "oje"), ("often", "ofte"), ("quickly", "rapi"), ("again", "ankor"), ("at night", "nokte"),
           ("slowly", "lento"), ("never again", "nunke")]
DETERMINERS = {"the": {"m": "lo", "f": "la", "mp": "los", "fp": "las"},
               "a": {"m": "un", "f": "una"},
               "this": {"m": "ko", "f": "ka"}, "these": {"mp": "kos", "fp": "kas"}}


def _verb(verb: tuple, past: bool, plural: bool) -> str:
    """Target verb form: stem (irregular past stem if any) + ending for tense and number."""
    stem = verb[4] if past and len(verb) > 4 else verb[3]
    return stem + {(False, False): "e", (False, True): "en", (True, False): "is", (True, True): "isen"}[past, plural]


def _noun_phrase(rng: random.Random, depth: int) -> tuple[str, str, bool]:
    """(english, target, plural?)."""
    noun = rng.choice(NOUNS)
    english, target, gender = noun[:3]
    plural = rng.random() < 0.4
    det = rng.choice(["the", "the", "these"] if plural else ["the", "the", "a", "this"])
    adjectives = rng.sample(ADJECTIVES, rng.choice((0, 0, 1, 1, 2)))
    agreement = ("o" if gender == "m" else "a") + ("s" if plural else "")
    src = [det, *(a[0] for a in adjectives), {"mouse": "mice", "wolf": "wolves", "fish": "fish"}.get(english, english + "s")
           if plural else english]
    tgt = [DETERMINERS[det][gender + ("p" if plural else "")],
           (noun[3] if len(noun) > 3 else target + "s") if plural else target,
           *(a[1] + agreement for a in reversed(adjectives))]
    if depth == 0 and rng.random() < 0.2:  # relative clause: "that saw the river" -> "ke la nira di vistis"
        verb, past = rng.choice(VERBS), rng.random() < 0.5
        obj_src, obj_tgt, _ = _noun_phrase(rng, depth + 1)
        src += ["that", verb[2] if past else verb[0 if plural else 1], obj_src]
        tgt += ["ke", obj_tgt, "di", _verb(verb, past, plural)]
    return " ".join(src), " ".join(tgt), plural


def _clause(rng: random.Random) -> tuple[str, str]:
    """English: subject [negation] verb [object] [place] [adverb].
    Target:  subject [place] [object di] [adverb] [ne] verb."""
    subj_src, subj_tgt, plural = _noun_phrase(rng, 0)
    verb = rng.choice(VERBS)
    past, negated = rng.random() < 0.5, rng.random() < 0.25
    if negated:
        verb_src = f"{'did' if past else 'do' if plural else 'does'} not {verb[0]}"
    else:
        verb_src = verb[2] if past else verb[0] if plural else verb[1]
    src, tgt = [subj_src, verb_src], [subj_tgt]
    if rng.random() < 0.7:
        obj_src, obj_tgt, _ = _noun_phrase(rng, 0)
        src.append(obj_src)
        tgt.append(obj_tgt + " di")
    if rng.random() < 0.4:
        prep, post = rng.choice(PREPOSITIONS)
        pp_src, pp_tgt, _ = _noun_phrase(rng, 1)
        src.append(f"{prep} {pp_src}")
        tgt.insert(1, f"{pp_tgt} {post}")
    if rng.random() < 0.3:
        adverb_src, adverb_tgt = rng.choice(ADVERBS)
        src.append(adverb_src)
        tgt.append(adverb_tgt)
    return " ".join(src), " ".join(tgt + [("ne " if negated else "") + _verb(verb, past, plural)])


def generate_pairs(n: int, seed: int) -> Examples:
    """``n`` distinct (source, target) sentence pairs, deterministic for a seed."""
    rng = random.Random(seed)
    pairs: dict[str, str] = {}
    while len(pairs) < n:
        src, tgt = _clause(rng)
        if rng.random() < 0.25:
            joiner, joiner_tgt = rng.choice([("and", "e"), ("because", "kar"), ("but", "ma")])
            src2, tgt2 = _clause(rng)
            src = f"{src} {joiner} {src2}"
            tgt = f"kar {tgt2} , {tgt}" if joiner == "because" else f"{tgt} {joiner_tgt} {tgt2}"
        pairs.setdefault(src + " .", tgt + " .")
    sources = list(pairs)
    return Examples({"source": sources, "target": [pairs[s] for s in sources]},
                    [f"builtin:{i}" for i in range(len(sources))])


COLUMN_ALIASES = {"source": ("source", "src", "input"), "target": ("target", "tgt", "output", "translation")}


def load_examples(cfg: TranslateConfig, source: str | None) -> Examples:
    """The built-in pairs (``source`` None), or a ``source<TAB>target[<TAB>anything]`` file
    (Anki/ManyThings exports such as spa-eng), .csv, .jsonl or ``tfds:`` source."""
    if source is None:
        return generate_pairs(cfg.builtin_examples, cfg.seed)
    return as_configured(cfg, read_source(source, {"source": cfg.source_column, "target": cfg.target_column},
                                          COLUMN_ALIASES))


def stream_examples(cfg: TranslateConfig, source: str) -> Iterator[Examples]:
    """``load_examples`` of a file as a stream of chunks (``streaming: true``)."""
    for chunk in iter_source(source, {"source": cfg.source_column, "target": cfg.target_column}, COLUMN_ALIASES):
        yield as_configured(cfg, chunk)


def as_configured(cfg: TranslateConfig, pairs: Examples) -> Examples:
    """The pairs in the configured direction (``reverse``: target -> source)."""
    if cfg.reverse:
        return Examples({"source": pairs["target"], "target": pairs["source"]}, pairs.origins)
    return pairs


TASK = Task(
    name="translate",
    shape="many-to-many (encoder-decoder)",
    description="translate sentences: encoder-decoder RNN with attention, greedy or beam-search decoding",
    config_class=TranslateConfig,
    presets=PRESETS,
    load_examples=load_examples,
    inputs=inputs,
    output=output,
    build_model=build_model,
    split="group",  # one source sentence with several translations stays in one part
    stream_examples=stream_examples,
)
