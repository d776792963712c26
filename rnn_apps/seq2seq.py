"""Sequence to sequence: the preprocessing, decoding, evaluation and serving of encoder-decoders.

A task (``translate`` now) supplies two networks built from the same named layers as
its training model (``Networks``):

    encoder:  source ids [b, S] -> encoder outputs [b, S, E], source mask [b, S], decoder states
    decoder:  [tokens [b, T], encoder outputs, source mask, *states]
                  -> [logits [b, T, V], attention weights [b, T, S], *states]

Training uses teacher forcing: the decoder reads ``[START] y_1 ... y_n`` and is scored on
``y_1 ... y_n [END]``; padding is left out of the loss and the accuracy. Every source
sentence ends in ``[END]`` too, so none is empty and the encoder sees where it stops.

Decoding runs the encoder once, then one decoder step per output token with the
encoder outputs and the source mask carried along as constant "states" (so a beam
search repeats and reorders them with the recurrent states). Greedy decoding, sampling
and beam search are the shared ones in ``rnn_apps.decoding``.
"""
from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.decoding import Sampling, beam_search, decode_loop
from rnn_apps.errors import UserError
from rnn_apps.layers import copy_weights
from rnn_apps.pipeline import batch_dataset, bucket_boundaries, vectorized_dataset
from rnn_apps.readers import Examples
from rnn_apps.text import PAD, TokenVocabulary, detokenize, tokenize

SOURCE_FILE, TARGET_FILE = "source_tokens.json", "target_tokens.json"
START, END = "[START]", "[END]"
START_ID, END_ID = 2, 3  # in both vocabularies: 0 padding, 1 [UNK], then these two
BANNED = (PAD, START_ID)  # never produced by the decoder


# --- loss and accuracy over real target tokens ---------------------------------------------

@keras.saving.register_keras_serializable(package="rnn_apps")
def masked_loss(y_true, logits):
    """Mean cross-entropy (nats) over the real target tokens of the batch (id 0 = padding)."""
    real = keras.ops.cast(keras.ops.not_equal(y_true, PAD), "float32")
    nats = keras.losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
    return keras.ops.sum(nats * real) / keras.ops.maximum(keras.ops.sum(real), 1.0)


@keras.saving.register_keras_serializable(package="rnn_apps")
def masked_accuracy(y_true, logits):
    """Fraction of real target tokens whose most likely prediction is right."""
    real = keras.ops.cast(keras.ops.not_equal(y_true, PAD), "float32")
    hit = keras.ops.cast(keras.ops.equal(keras.ops.cast(y_true, "int32"),
                                         keras.ops.cast(keras.ops.argmax(logits, axis=-1), "int32")), "float32")
    return keras.ops.sum(hit * real) / keras.ops.maximum(keras.ops.sum(real), 1.0)


def seq2seq_compile_args() -> dict:
    return {"loss": masked_loss, "metrics": [masked_accuracy]}


def normalize(texts: list[str], form: str) -> list[str]:
    """Unicode normal form ``form`` (NFC, NFKC or none), applied in Python before any tensor
    sees the text (TensorFlow has no normalisation op without tensorflow-text)."""
    return [unicodedata.normalize(form, t) for t in texts] if form != "none" else list(texts)


@dataclasses.dataclass(frozen=True)
class Networks:
    """The task's builders of its decoding halves, ``(cfg, prep, batch_size=None,
    source_length=None) -> keras.Model`` each (see the module docstring)."""

    encoder: Callable
    decoder: Callable


@dataclasses.dataclass
class Decoding:
    """How output sentences are chosen.

    Attributes:
        beam: beams per sentence (1 = greedy).
        length_penalty: GNMT's alpha for beam search (longer beams favoured as it grows).
        max_length: most output tokens including ``[END]`` (0 = the run's ``max_length`` + 1).
        sampling: sample instead (temperature / top-k / top-p / seed); needs ``beam`` 1.
    """

    beam: int = 1
    length_penalty: float = 0.0
    max_length: int = 0
    sampling: Sampling | None = None

    def __post_init__(self):
        if self.beam < 1:
            raise UserError(f"beam must be at least 1, got {self.beam}")
        if self.sampling is not None and self.beam > 1:
            raise UserError("choose either beam search (--beam) or sampling (--temperature/--top-k/--top-p)")


class Seq2Seq:
    """Fitted preprocessing of an encoder-decoder run (see ``rnn_apps.task.Preprocessing``).

    Args:
        cfg: the run's config (``level``, ``lowercase``, ``unicode_form``, ``max_length``, ...).
        source, target: the fitted vocabularies (ids 2 and 3 are ``[START]`` and ``[END]``).
        networks: the task's encoder / decoder builders.
    """

    predict_options = ("beam", "length_penalty", "max_length", "attention_plot", "temperature", "top_k",
                       "top_p", "seed")
    evaluate_options = ("beam", "length_penalty", "max_length")

    def __init__(self, cfg: Any, source: TokenVocabulary, target: TokenVocabulary, networks: Networks):
        self.cfg, self.source, self.target, self.networks = cfg, source, target, networks
        self._twins: dict[tuple, tuple] = {}
        self._functions: dict[tuple, Any] = {}

    @classmethod
    def fit(cls, cfg: Any, train: Examples, networks: Networks) -> "Seq2Seq":
        def vocab(texts, size):
            texts = tf.constant(normalize(texts, cfg.unicode_form))
            lowered = tf.strings.lower(texts, encoding="utf-8") if cfg.lowercase else texts
            return TokenVocabulary.fit(cfg.level, [t.decode("utf-8") for t in lowered.numpy()], size, (START, END))

        return cls(cfg, vocab(train["source"], cfg.source_vocab_size), vocab(train["target"], cfg.target_vocab_size),
                   networks)

    @classmethod
    def load(cls, cfg: Any, run_dir: Path, networks: Networks) -> "Seq2Seq":
        return cls(cfg, TokenVocabulary.load(run_dir / SOURCE_FILE), TokenVocabulary.load(run_dir / TARGET_FILE),
                   networks)

    def save(self, run_dir: Path) -> None:
        self.source.save(run_dir / SOURCE_FILE)
        self.target.save(run_dir / TARGET_FILE)

    # --- text -> ids ---------------------------------------------------------------------
    def normalize(self, texts: list[str]) -> list[str]:
        return normalize(texts, self.cfg.unicode_form)

    def _lower(self, texts: tf.Tensor) -> tf.Tensor:
        return tf.strings.lower(texts, encoding="utf-8") if self.cfg.lowercase else texts

    def source_ids(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """``[b]`` strings -> ragged ids: at most ``max_length`` tokens, then ``[END]``."""
        ids = self.source.encode_graph(self._lower(texts))[:, : self.cfg.max_length]
        return tf.concat([ids, tf.fill([ids.nrows(), 1], END_ID)], axis=1)

    def target_ids(self, texts: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """``[b]`` strings -> (decoder input ``[START] y``, decoder target ``y [END]``), ragged."""
        ids = self.target.encode_graph(self._lower(texts))[:, : self.cfg.max_length]
        column = lambda i: tf.fill([ids.nrows(), 1], i)  # noqa: E731
        return tf.concat([column(START_ID), ids], axis=1), tf.concat([ids, column(END_ID)], axis=1)

    def padded_source(self, texts: list[str]) -> np.ndarray:
        return self.source_ids(tf.constant(self.normalize(texts))).to_tensor().numpy()

    def target_tokens(self, texts: list[str]) -> list[list[str]]:
        """Reference sentences as token lists, normalised as the model sees them."""
        tokens = tokenize(self._lower(tf.constant(self.normalize(texts))), self.target.level)
        return [[t.decode("utf-8") for t in row] for row in tokens.to_list()]

    def output_text(self, ids: tf.Tensor) -> tf.Tensor:
        """``[b, n]`` decoder output ids -> ``[b]`` sentences (``[END]`` and padding dropped)."""
        ids = tf.convert_to_tensor(ids, tf.int32)
        kept = tf.ragged.boolean_mask(ids, (ids != PAD) & (ids != END_ID))
        return detokenize(tf.gather(tf.constant(["", "[UNK]"] + self.target.tokens), kept), self.target.level)

    # --- training ------------------------------------------------------------------------
    def dataset(self, cfg: Any, examples: Examples, training: bool) -> tf.data.Dataset:
        """Batches of ``((source [b, S], decoder input [b, T]), decoder target [b, T])``."""
        def vectorize(source, target):
            target_in, target_out = self.target_ids(target)
            return self.source_ids(source), target_in, target_out

        sources, targets = self.normalize(examples["source"]), self.normalize(examples["target"])
        ds = vectorized_dataset((sources, targets), vectorize, cache=cfg.cache)
        boundaries = ()
        if training and cfg.batching == "bucket":
            boundaries = bucket_boundaries(self.source_ids(tf.constant(sources)).row_lengths().numpy())
        ds = batch_dataset(ds, batch_size=cfg.batch_size, batching=cfg.batching if training else "longest",
                           max_length=cfg.max_length + 1, training=training, seed=cfg.seed, boundaries=boundaries,
                           size=len(examples))
        return ds.map(lambda source, target_in, target_out: ((source, target_in), target_out))

    def callbacks(self, model: keras.Model) -> list:
        return []

    # --- decoding ------------------------------------------------------------------------
    def twins(self, model: keras.Model, batch_size: int | None = None,
              source_length: int | None = None) -> tuple[keras.Model, keras.Model]:
        """(encoder, decoder) of a trained ``model``, its weights copied in by layer name
        (cached per model and shapes)."""
        key = (id(model), batch_size, source_length)
        if key not in self._twins:
            self._twins[key] = tuple(copy_weights(model, build(self.cfg, self, batch_size, source_length))
                                     for build in (self.networks.encoder, self.networks.decoder))
        return self._twins[key]

    @staticmethod
    def _encode(encoder: keras.Model, source_ids: tf.Tensor) -> list:
        """``[encoder outputs, source mask, *states]``; the outputs' Keras padding mask is
        dropped (``tf.identity``): the decoder takes the mask as an explicit input."""
        encoded, *rest = encoder(source_ids, training=False)
        return [tf.identity(encoded), *rest]

    def _start(self, model: keras.Model, source_ids: tf.Tensor):
        """Encode and read ``[START]``: (step function, first logits ``[b, V]``, states)."""
        encoder, decoder = self.twins(model)

        def step(tokens, states):
            encoded, mask, *recurrent = states
            logits, _, *new = decoder([tokens, encoded, mask, *recurrent], training=False)
            return logits, [encoded, mask, *new]

        encoded, mask, *states = self._encode(encoder, source_ids)
        start = tf.fill([tf.shape(source_ids)[0], 1], START_ID)
        logits, states = step(start, [encoded, mask, *states])
        return step, logits[:, -1, :], states

    def _compiled(self, model: keras.Model, decoding: Decoding, max_length: int):
        """A ``tf.function`` ``source ids [b, S] -> (tokens [b, n], log-probability [b])``
        (log-probability only for beam search; sampling and greedy give zeros)."""
        key = (id(model), decoding.beam, decoding.length_penalty, max_length)
        if key in self._functions:
            return self._functions[key]
        self.twins(model)  # built here: a tf.function must not create the layers
        spec = tf.TensorSpec([None, None], tf.int32)
        if decoding.beam == 1:  # greedy or sampling, settings as tensors (see Sampling.tensors)
            @tf.function(input_signature=[spec, tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.float32),
                                          tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
                                          tf.TensorSpec([], tf.int64)])
            def run(source_ids, greedy, temperature, top_k, top_p, seed):
                step, logits, states = self._start(model, source_ids)
                tokens, _, _ = decode_loop(step, logits, states, tf.constant(max_length), greedy=greedy,
                                           temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                                           banned=BANNED, end_id=END_ID)
                return tokens, tf.zeros(tf.shape(tokens)[:1])
        else:
            @tf.function(input_signature=[spec])
            def run(source_ids):
                step, logits, states = self._start(model, source_ids)
                tokens, log_prob, _ = beam_search(step, logits, states, beam=decoding.beam, max_length=max_length,
                                                  end_id=END_ID, length_penalty=decoding.length_penalty,
                                                  banned=BANNED)
                return tokens, log_prob
        self._functions[key] = run
        return run

    def translate_ids(self, model: keras.Model, source_ids: np.ndarray, decoding: Decoding,
                      batch_size: int = 128) -> tuple[list[list[int]], np.ndarray]:
        """Source ids ``[n, S]`` -> (output ids per sentence without ``[END]``, log-probabilities ``[n]``)."""
        max_length = decoding.max_length or self.cfg.max_length + 1
        run = self._compiled(model, decoding, max_length)
        outputs, scores = [], []
        settings = (decoding.sampling or Sampling(greedy=True, seed=0)).tensors()
        for start in range(0, len(source_ids), batch_size):
            chunk = tf.constant(source_ids[start:start + batch_size], tf.int32)
            if decoding.beam > 1:
                tokens, log_prob = run(chunk)
            else:  # each chunk its own seed, so sentences do not share random draws
                tokens, log_prob = run(chunk, **{**settings, "seed": settings["seed"] + start})
            for row in tokens.numpy():
                ids = row.tolist()
                outputs.append(ids[:ids.index(END_ID)] if END_ID in ids else [i for i in ids if i != PAD])
            scores.append(log_prob.numpy())
        return outputs, np.concatenate(scores) if scores else np.zeros(0)

    def texts(self, outputs: list[list[int]]) -> list[str]:
        """Output ids per sentence -> sentences."""
        if not outputs:
            return []
        padded = tf.ragged.constant(outputs, dtype=tf.int32, ragged_rank=1).to_tensor()
        return [t.decode("utf-8") for t in self.output_text(tf.reshape(padded, [len(outputs), -1])).numpy()]

    def translate(self, model: keras.Model, texts: list[str], decoding: Decoding) -> list[dict]:
        """Translations of ``texts`` with their output tokens and ids (and log-probability for beam search)."""
        ids, scores = self.translate_ids(model, self.padded_source(texts), decoding)
        return [{"source": text, "translation": translation, "tokens": [self.token(i) for i in row], "ids": row,
                 **({"log_probability": float(score)} if decoding.beam > 1 else {})}
                for text, translation, row, score in zip(texts, self.texts(ids), ids, scores)]

    def token(self, i: int) -> str:
        return (["", "[UNK]"] + self.target.tokens)[i]

    def attention(self, model: keras.Model, text: str, output_ids: list[int]) -> dict:
        """Attention weights ``[output tokens + END, source tokens + END]`` of one translation,
        recomputed by teacher-forcing the decoder on its own output (the same steps it took)."""
        source = self.padded_source([text])
        encoder, decoder = self.twins(model)
        encoded, mask, *states = self._encode(encoder, tf.constant(source))
        inputs = tf.constant([[START_ID] + list(output_ids)], tf.int32)
        _, weights, *_ = decoder([inputs, encoded, mask, *states], training=False)
        source_tokens = [(["", "[UNK]"] + self.source.tokens)[i] for i in source[0]]
        return {"weights": weights.numpy()[0], "source_tokens": source_tokens,
                "target_tokens": [self.token(i) for i in output_ids] + [END]}

    # --- Preprocessing protocol ----------------------------------------------------------
    def predict(self, model: keras.Model, inputs: list[str], beam: int = 1, length_penalty: float = 0.0,
                max_length: int = 0, attention_plot: str | Path | None = None, temperature: float | None = None,
                top_k: int = 0, top_p: float = 1.0, seed: int | None = None) -> list[dict]:
        """Translate each input; with ``attention_plot`` also draw its attention map(s)."""
        sampling = None
        if temperature is not None or top_k or top_p < 1:
            try:
                sampling = Sampling(temperature=1.0 if temperature is None else temperature, top_k=top_k,
                                    top_p=top_p, seed=seed)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        decoding = Decoding(beam, length_penalty, max_length, sampling)
        results = self.translate(model, inputs, decoding)
        if attention_plot is not None:
            if self.cfg.attention == "none":
                raise UserError("this run was trained with attention: none; there is no attention to plot")
            from rnn_apps.plots import plot_attention

            path = Path(attention_plot)
            for i, result in enumerate(results):
                out = path if len(results) == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix or '.png'}")
                result["attention_plot"] = str(plot_attention(self.attention(model, result["source"], result["ids"]), out,
                                                              title=result["translation"]))
        if sampling is not None:
            for result in results:
                result["seed"] = sampling.seed
        return results

    def evaluate(self, model: keras.Model, cfg: Any, examples: Examples, beam: int = 1,
                 length_penalty: float = 0.0, max_length: int = 0) -> dict:
        """Corpus BLEU and chrF (sacrebleu), exact match, and the teacher-forced loss and
        token accuracy on ``examples``."""
        import sacrebleu

        decoding = Decoding(beam, length_penalty, max_length)
        sources = list(examples["source"])
        outputs, scores = self.translate_ids(model, self.padded_source(sources), decoding)
        hypotheses = self.texts(outputs)
        # References as the model sees them (normalised, lower-cased when configured), joined
        # by the same rules as the translations; words out of the vocabulary stay as they are.
        reference_tokens = self.target_tokens(list(examples["target"]))
        references = [t.decode("utf-8") for t in
                      detokenize(tf.ragged.constant(reference_tokens, dtype=tf.string), self.target.level).numpy()]
        exact = [[self.token(i) for i in row] == ref for row, ref in zip(outputs, reference_tokens)]
        nats, correct, tokens = 0.0, 0, 0
        for (source, target_in), target_out in self.dataset(cfg, examples, training=False):
            logits = model([source, target_in], training=False)
            real = tf.cast(target_out != PAD, tf.float32)
            nats += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(target_out, logits) * real))
            hits = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == target_out, tf.float32)
            correct += int(tf.reduce_sum(hits * real))
            tokens += int(tf.reduce_sum(real))
        report = {"examples": len(sources),
                  "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
                  "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
                  "exact_match": float(np.mean(exact)) if exact else 0.0,
                  "loss": nats / max(tokens, 1), "accuracy": correct / max(tokens, 1),
                  "beam": beam}
        if beam > 1:
            report["mean_log_probability"] = float(np.mean(scores))
        report["samples"] = [{"source": s, "reference": r, "translation": h}
                             for s, r, h in list(zip(sources, references, hypotheses))[:5]]
        return report

    def serving_functions(self, model: keras.Model) -> dict[str, Any]:
        """``translate`` (strings -> strings, greedy loop in the graph), and for on-device
        decoding ``encode`` and ``decode_step`` with static ``[1, ...]`` shapes."""
        source_length = self.cfg.max_length + 1
        encoder, decoder = self.twins(model, batch_size=1, source_length=source_length)
        names = [t.name for t in decoder.inputs[3:]]
        units = [int(t.shape[-1]) for t in decoder.inputs[3:]]
        width = int(decoder.inputs[1].shape[-1])
        greedy = self._compiled(model, Decoding(), self.cfg.max_length + 1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def translate(text):
            tokens, _ = greedy(self.source_ids(text).to_tensor(), **Sampling(greedy=True, seed=0).tensors())
            return {"translation": self.output_text(tokens), "ids": tokens}

        @tf.function(input_signature=[tf.TensorSpec([1, source_length], tf.int32, name="source_ids")])
        def encode(source_ids):
            encoded, mask, *states = encoder(source_ids, training=False)
            return {"encoder_outputs": encoded, "source_mask": mask, **dict(zip(names, states))}

        @tf.function(input_signature=[tf.TensorSpec([1, 1], tf.int32, name="token"),
                                      tf.TensorSpec([1, source_length, width], tf.float32, name="encoder_outputs"),
                                      tf.TensorSpec([1, source_length], tf.float32, name="source_mask")]
                     + [tf.TensorSpec([1, u], tf.float32, name=n) for n, u in zip(names, units)])
        def decode_step(token, encoder_outputs, source_mask, *states):
            logits, weights, *new = decoder([token, encoder_outputs, source_mask, *states], training=False)
            return {"logits": logits[:, -1, :], "attention": weights[:, -1, :], **dict(zip(names, new))}

        return {"translate": translate, "encode": encode, "decode_step": decode_step}

    def trackables(self) -> list:
        return [self.source.lookup, self.target.lookup]
