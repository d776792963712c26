"""A token sequence (one-to-many, many-to-many encoder-decoder): translate now, caption later.

Training uses teacher forcing: the decoder reads ``[START] y_1 ... y_n`` (the model input
``target_in``) and is scored on ``y_1 ... y_n [END]``; padding is left out of the loss and
the accuracy. Decoding (greedy, sampling, beam), the attention maps and the on-device
``encode`` / ``decode_step`` signatures come from the shared engine
(``rnn_apps.decoding.engine``), which takes any encoder: the task names the input the
encoder reads and supplies the two networks built from its training model's layers.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.data.examples import Examples
from rnn_apps.data.inputs import TextInput
from rnn_apps.data.pipeline import examples_dataset
from rnn_apps.data.text import PAD
from rnn_apps.decoding.engine import EncoderDecoder
from rnn_apps.decoding.settings import Decoding
from rnn_apps.errors import UserError
from rnn_apps.layers.recurrent import copy_weights
from rnn_apps.metrics import caption_diversity, cider, sacrebleu_warnings_once, sequence_cross_entropy
from rnn_apps.outputs.results import ParityProbe, sequence_result
from rnn_apps.outputs.signatures import Signature
from rnn_apps.task import Features

START, END = "[START]", "[END]"


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


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """sacreBLEU of ``hypotheses`` against one reference each."""
    from sacrebleu.metrics import BLEU

    sacrebleu_warnings_once()
    return BLEU().corpus_score(hypotheses, [references]).score


@dataclasses.dataclass(frozen=True)
class Networks:
    """The task's builders of its decoding halves, ``(cfg, features, batch_size=None,
    source_length=None) -> keras.Model`` each (see ``rnn_apps.decoding.engine``)."""

    encoder: Callable
    decoder: Callable


class TokenSequence:
    """The output kind "sequence": a sentence written token by token after an encoder.

    Args:
        cfg: the run's config (``max_length``, ``attention`` ...).
        networks: the encoder / decoder builders.
        text: the target text's tokenization (``tokens`` kind, reserving ``[START]``/``[END]``).
        source: the input the encoder reads.
        verb, noun: what the task calls producing an output and the output itself: the
            name of the raw serving signature and of the result key (``translate`` /
            ``translation``; ``caption`` / ``caption``).
        references: ``single`` (each example its own reference) or ``grouped`` (the examples
            of one source are its references: an image's captions; scored once per image).
    """

    kind = "sequence"
    predict_options = ("beam", "length_penalty", "max_length", "attention_plot", "temperature", "top_k",
                       "top_p", "seed")
    evaluate_options = ("beam", "length_penalty", "max_length")

    def __init__(self, cfg: Any, networks: Networks, text: TextInput, source: str, verb: str = "translate",
                 noun: str = "translation", references: str = "single"):
        self.cfg, self.networks, self.text, self.source = cfg, networks, text, source
        self.verb, self.noun, self.references = verb, noun, references
        self.name = text.name
        self._engines: dict[int, EncoderDecoder] = {}

    def fit(self, features: Features, train: Examples) -> None:
        self.text.fit(train[self.name])

    def save(self, directory: Path) -> None:
        self.text.save(directory)

    def load(self, features: Features, directory: Path) -> None:
        self.text.load(directory)

    @property
    def vocab_size(self) -> int:
        return self.text.vocab_size

    @property
    def start_id(self) -> int:
        return self.text.token_id(START)

    @property
    def end_id(self) -> int:
        return self.text.token_id(END)

    def compile_args(self, features: Features) -> dict:
        return {"loss": masked_loss, "metrics": [masked_accuracy]}

    def callbacks(self) -> list:
        return []

    @staticmethod
    def loss_weight(targets, weights=None):
        """What ``masked_loss`` averages over: the real target tokens (for summing the
        shares of several workers, ``rnn_apps.training.distributed``)."""
        return keras.ops.sum(keras.ops.cast(keras.ops.not_equal(targets, PAD), "int32"))

    # --- teacher forcing ------------------------------------------------------------------
    def teacher_forcing(self, texts: tf.Tensor) -> tuple[dict, tf.RaggedTensor]:
        """``[b]`` target strings -> ({``target_in``: ``[START] y``}, ``y [END]``), ragged."""
        ids = self.text.ids(texts)
        column = lambda i: tf.fill([ids.nrows(), 1], i)  # noqa: E731
        return {"target_in": tf.concat([column(self.start_id), ids], axis=1)}, tf.concat([ids, column(self.end_id)], 1)

    def dataset(self, features: Features, examples: Examples, cfg: Any, training: bool) -> tf.data.Dataset:
        """Batches of ``({source: [b, S], target_in: [b, T]}, target_out [b, T])``."""
        return examples_dataset(features.inputs, examples, lambda part: (part, self.text.prepare(part[self.name])),
                                cfg, training, encode_target=self.teacher_forcing)

    # --- decoding -----------------------------------------------------------------------
    def engine(self, model: keras.Model, features: Features) -> EncoderDecoder:
        """The decoding engine of a trained ``model`` (built once per model)."""
        if id(model) not in self._engines:
            def twins(batch_size, source_length):
                return tuple(copy_weights(model, build(self.cfg, features, batch_size, source_length))
                             for build in (self.networks.encoder, self.networks.decoder))

            self._engines[id(model)] = EncoderDecoder(twins, start_id=self.start_id, end_id=self.end_id,
                                                      banned=(PAD, self.start_id), max_length=self.cfg.max_length + 1)
        return self._engines[id(model)]

    def output_text(self, ids: tf.Tensor) -> tf.Tensor:
        """``[b, n]`` decoder output ids -> ``[b]`` sentences (``[END]`` and padding dropped)."""
        ids = tf.convert_to_tensor(ids, tf.int32)
        return self.text.decode_ragged(tf.ragged.boolean_mask(ids, (ids != PAD) & (ids != self.end_id)))

    def texts(self, outputs: list[list[int]]) -> list[str]:
        """Output ids per sentence -> sentences."""
        if not outputs:
            return []
        padded = tf.ragged.constant(outputs, dtype=tf.int32, ragged_rank=1).to_tensor()
        return [t.decode("utf-8") for t in self.output_text(tf.reshape(padded, [len(outputs), -1])).numpy()]

    def source_tensor(self, features: Features, values: list) -> np.ndarray:
        """The encoder's input for raw ``values`` of the source input, batched."""
        return np.asarray(features.inputs[self.source].batch(values)[self.source])

    def generate(self, model: keras.Model, features: Features, values: list, decoding: Decoding) -> list[dict]:
        """Outputs for raw source ``values``: text, tokens and ids (and log-probability for beam search)."""
        ids, scores = self.engine(model, features).decode(self.source_tensor(features, values), decoding)
        tokens = self.text.id_tokens
        return [{"output": text, "tokens": [tokens[i] for i in row], "ids": row,
                 **({"log_probability": float(score)} if decoding.beam > 1 else {})}
                for text, row, score in zip(self.texts(ids), ids, scores)]

    def attention(self, model: keras.Model, features: Features, value: Any, output_ids: list[int]) -> dict:
        """Attention weights ``[outputs + END, source + END]`` of one output, with the
        source and output tokens to label a plot (``rnn_apps.plots.plot_attention``)."""
        source = self.source_tensor(features, [value])
        weights = self.engine(model, features).attention(source, output_ids)
        kind = features.inputs[self.source]
        seen = {"image": source[0]} if kind.kind == "image" else {"source_tokens": kind.tokens_of(source[0])}
        return {"weights": weights, **seen, "target_tokens": [self.text.id_tokens[i] for i in output_ids] + [END]}

    # --- results --------------------------------------------------------------------------
    def predict(self, model: keras.Model, features: Features, inputs: list, attention_plot: str | Path | None = None,
                **options) -> list[dict]:
        """Each input with its ``translation`` (the decoded sentence), ``tokens`` and ``ids``;
        with ``attention_plot`` also a PNG of its attention map (``NAME_1.png``... for several)."""
        decoding = Decoding.from_options(**options)
        values = features.as_examples(inputs)[self.source]
        seed = decoding.sampling.seed if decoding.sampling is not None else None
        results = [sequence_result(self.source, value if isinstance(value, str) else f"array {i + 1}", self.noun,
                                   out["output"], out["tokens"], out["ids"], out.get("log_probability"), seed)
                   for i, (value, out) in enumerate(zip(values, self.generate(model, features, values, decoding)))]
        if attention_plot is not None:
            if getattr(self.cfg, "attention", "") == "none":
                raise UserError("this run was trained with attention: none; there is no attention to plot")
            from rnn_apps.plots import plot_attention, plot_image_attention

            path = Path(attention_plot)
            for i, (value, result) in enumerate(zip(values, results)):
                out = path if len(results) == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix or '.png'}")
                attention = self.attention(model, features, value, result["ids"])
                draw = plot_image_attention if "image" in attention else plot_attention
                result["attention_plot"] = str(draw(attention, out, title=result[self.noun]))
        return results

    def evaluate(self, model: keras.Model, features: Features, examples: Examples, beam: int | None = None,
                 length_penalty: float | None = None, max_length: int | None = None) -> dict:
        """Standard sacreBLEU and chrF of the output text against the references as they are in
        the data (cased, untokenized; Unicode NFC), with their signatures; BLEU-1..4 and CIDEr
        where one source has several references, with the outputs' diversity (distinct outputs,
        distinct-1/-2: ``rnn_apps.metrics.caption_diversity``); exact match; the teacher-forced
        loss and token accuracy. ``bleu_lowercase`` is the case-insensitive BLEU, labelled as such."""
        from sacrebleu.metrics import BLEU, CHRF

        sacrebleu_warnings_once()
        decoding = Decoding.from_options(beam=beam, length_penalty=length_penalty, max_length=max_length)
        raw = [t.strip() for t in self.text.prepare(examples[self.name])]
        groups: dict = {}  # source -> indices of its examples (one each, or an image's captions)
        for i, value in enumerate(examples[self.source]):
            key = i if self.references == "single" else (value if isinstance(value, str) else id(value))
            groups.setdefault(key, []).append(i)
        firsts = [indices[0] for indices in groups.values()]
        sources = [examples[self.source][i] for i in firsts]
        outputs = self.generate(model, features, sources, decoding)
        hypotheses = [out["output"] for out in outputs]
        references = [[raw[i] for i in indices] for indices in groups.values()]
        streams = [[refs[k] if k < len(refs) else None for refs in references]
                   for k in range(max(len(r) for r in references))] if references else [[]]
        nats, correct, tokens = 0.0, 0, 0
        for inputs, target_out in self.dataset(features, examples, self.cfg, training=False):
            batch = sequence_cross_entropy(model(inputs, training=False), target_out, target_out != PAD)
            nats, correct, tokens = nats + batch[0], correct + batch[1], tokens + batch[2]
        bleu, chrf = BLEU(), CHRF()
        report = {"examples": len(sources), "bleu": bleu.corpus_score(hypotheses, streams).score,
                  "chrf": chrf.corpus_score(hypotheses, streams).score,
                  "bleu_lowercase": BLEU(lowercase=True).corpus_score(hypotheses, streams).score,
                  "exact_match": float(np.mean([h in refs for h, refs in zip(hypotheses, references)])) if outputs
                  else 0.0, "loss": nats / max(tokens, 1), "accuracy": correct / max(tokens, 1), "beam": decoding.beam,
                  "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature())}
        if self.references == "grouped":
            report["references"] = len(examples)
            for n in (1, 2, 3, 4):
                report[f"bleu_{n}"] = BLEU(max_ngram_order=n).corpus_score(hypotheses, streams).score
            report.update(cider(hypotheses, references))
            # a decoder that collapses onto a few sentences can still score BLEU: say how varied they are
            report.update({k: v for k, v in caption_diversity(hypotheses).items() if k != "captions"})
        if decoding.beam > 1:
            report["mean_log_probability"] = float(np.mean([out["log_probability"] for out in outputs]))
        report["samples"] = [{"source": s if isinstance(s, str) else f"array {i + 1}", "reference": r[0],
                              self.noun: h} for i, (s, r, h) in enumerate(list(zip(sources, references, hypotheses))[:5])]
        return report

    # --- serving --------------------------------------------------------------------------
    def signatures(self, model: keras.Model, features: Features, seq_len: int | None = None) -> dict[str, Signature]:
        """``translate`` (raw source -> output strings and ids, the greedy loop in the graph; named by ``verb``),
        and for on-device decoding ``encode`` and ``decode_step`` with static ``[1, ...]`` shapes."""
        from rnn_apps.layers.recurrent import state_names

        engine, source = self.engine(model, features), features.inputs[self.source]
        greedy = engine.greedy_function()

        @tf.function(input_signature=source.raw_specs())
        def produce(*raw):
            tokens = greedy(source.from_raw(list(raw))[self.source])
            return {self.noun: self.output_text(tokens), "ids": tokens}

        return {self.verb: Signature(produce),
                **engine.signatures(source.tensor_specs(seq_len)[0], state_names(self.cfg))}

    def parity_probe(self, features: Features, examples: Examples) -> ParityProbe:
        """Held-out sources, decoded the run's default way; the truth is each one's (first)
        reference (corpus BLEU)."""
        truth = [t if isinstance(t, str) else str(t[0]) if len(t) else "" for t in examples[self.name]]
        return ParityProbe([{self.source: value} for value in examples[self.source]], {}, truth, self.noun, "BLEU",
                           lambda results, truth: corpus_bleu([r[self.noun] for r in results], truth))

    def signature_inputs(self, model: keras.Model, features: Features, examples: Examples,
                         seq_len: int | None = None) -> dict[str, list[dict]]:
        """Realistic inputs of each signature: the raw sources as one batch; each source's
        ids for ``encode``; its real encoder outputs and states with ``[START]`` for ``decode_step``."""
        from rnn_apps.layers.recurrent import state_names

        source = features.inputs[self.source]
        spec = source.tensor_specs(seq_len)[0]
        inputs = source.tensor_values(examples[self.source], seq_len)[spec.name]
        encoder, _ = self.engine(model, features).twins(1, spec.shape[1] if spec.dtype == tf.int32 else None)
        steps = []
        for row in inputs:
            encoded, mask, *states = [t.numpy() for t in encoder(row[None], training=False)]
            steps.append({"token": np.array([[self.start_id]], np.int32), "encoder_outputs": encoded,
                          "source_mask": mask, **dict(zip(state_names(self.cfg), states))})
        return {self.verb: [source.raw_values(examples[self.source])],
                "encode": [{spec.name: row[None]} for row in inputs], "decode_step": steps}

    def settings(self) -> dict:
        """For an export's manifest: the output text's tokenization and the decoding ids."""
        return {**self.text.settings(), "kind": self.kind, "source": self.source, "noun": self.noun,
                "start_id": self.start_id, "end_id": self.end_id, "banned_ids": [PAD, self.start_id],
                "max_output_length": self.cfg.max_length + 1}
