"""A label per step (many-to-many, one output per step): video frames, text tokens.

Targets are one label per step of the task's sequence input (``frames`` of a clip, the
whitespace ``tokens`` of a sentence); a clip of T frames has T labels. Sequences of
different lengths are padded in a batch and every padded step gets weight 0 (Keras sample
weights), so padding counts in neither the loss nor the accuracy; which steps are real comes
from the input's ``step_mask`` (the one mask convention of sequence inputs).

Two decoders: ``softmax`` (a class per step, each alone) and ``crf`` (a linear-chain CRF over
the steps, ``rnn_apps.layers.crf``: trained on the sequence likelihood, decoded by Viterbi,
inside exports too). Two reports: ``segments`` (video: per-frame accuracy and per-class F1,
the segmental edit score, F1@IoU 0.1/0.25/0.5 and clip accuracy by majority vote) and
``entities`` (tagging: token accuracy and CoNLL entity precision/recall/F1 per type).
``predict`` gives each step's label, the runs of equal labels as segments (first and last
step, both included, as in segment label files), for text the tokens and entities, and for
clips optionally a strip of frames with their labels (``--plot``); the result dicts come from
``rnn_apps.outputs.results.step_result``, which the TFLite runtime uses too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.data.examples import Examples, as_text
from rnn_apps.data.pipeline import examples_dataset
from rnn_apps.data.text import LabelVocabulary
from rnn_apps.errors import UserError
from rnn_apps.graphs import kept_graph
from rnn_apps.layers.crf import CRF, CRFLoss
from rnn_apps.metrics import entity_report, segmentation_report, sequence_cross_entropy
from rnn_apps.outputs.results import ParityProbe, accuracy_percent, step_result
from rnn_apps.outputs.signatures import Signature
from rnn_apps.task import Features, model_inputs


class LabelPerStep:
    """The output kind "labels_per_step": one class per step of the sequence input ``input``.

    Args:
        name: the data column of the labels (a list per example).
        input: the sequence input the labels go with (``frames``, ``tokens``).
        decoder: ``softmax`` or ``crf``.
        report: ``segments`` (video) or ``entities`` (tagging).
    """

    kind = "labels_per_step"
    evaluate_options: tuple[str, ...] = ()

    def __init__(self, name: str = "labels", input: str = "frames", file: str = "labels.json",
                 decoder: str = "softmax", report: str = "segments"):
        if decoder not in ("softmax", "crf") or report not in ("segments", "entities"):
            raise ValueError(f"decoder softmax|crf, report segments|entities; got {decoder!r}, {report!r}")
        self.name, self.input, self.file, self.decoder, self.report = name, input, file, decoder, report
        self.labels: LabelVocabulary | None = None
        self.crf: CRF | None = None  # the model's CRF layer (decoder crf), once built or bound

    @property
    def predict_options(self) -> tuple[str, ...]:
        return ("plot",) if self.report == "segments" else ()  # a strip of frames

    def fit(self, features: Features, train: Examples) -> None:
        self.labels = LabelVocabulary.fit([as_text(v) for row in train[self.name] for v in row], source=train.source,
                                          purpose=f"{self.name} to learn one per step")

    def save(self, directory: Path) -> None:
        self.labels.save(directory / self.file)

    def load(self, features: Features, directory: Path) -> None:
        self.labels = LabelVocabulary.load(directory / self.file)

    def head(self, x: keras.KerasTensor) -> keras.KerasTensor:
        """``[b, T, features]`` -> ``[b, T, classes]``: softmax probabilities at every step, or
        (``crf``) emission scores passed through the CRF layer, which holds the transitions."""
        if self.decoder == "crf":
            emissions = keras.layers.Dense(len(self.labels), name="emissions", dtype="float32")(x)
            self.crf = CRF(len(self.labels), name="crf", dtype="float32")
            return self.crf(emissions)
        return keras.layers.Dense(len(self.labels), activation="softmax", name="probabilities", dtype="float32")(x)

    def bind(self, model: keras.Model) -> None:
        """Take the CRF layer of a model loaded from a file (``head`` made it in a new one) and
        give it to the reloaded loss, so a resumed run trains on."""
        if self.decoder == "crf":
            self.crf = model.get_layer("crf")
            if isinstance(getattr(model, "loss", None), CRFLoss):
                model.loss.bind(model)

    def compile_args(self, features: Features) -> dict:
        loss = CRFLoss(self.crf) if self.decoder == "crf" else keras.losses.SparseCategoricalCrossentropy()
        return {"loss": loss, "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def callbacks(self) -> list:
        return []

    @staticmethod
    def loss_weight(targets, weights):
        """What the loss averages over: the real (unpadded) steps, weight > 0 (for summing
        the shares of several workers, ``rnn_apps.training.distributed``)."""
        return keras.ops.sum(keras.ops.cast(keras.ops.greater(weights, 0), "int32"))

    # --- data -----------------------------------------------------------------------------
    def targets(self, examples: Examples, features: Features) -> list[list[int]]:
        """Class indices per step, cut like the input (``max_frames``, ``max_length``); an
        unknown label is a ``UserError`` with its origin."""
        steps = features.inputs[self.input].static_length
        return [self.labels.encode([as_text(v) for v in row[:steps]], [origin] * min(len(row), steps))
                for row, origin in zip(examples[self.name], examples.origins)]

    def dataset(self, features: Features, examples: Examples, cfg: Any, training: bool) -> tf.data.Dataset:
        """Batches of ``({input...}, labels [b, T], weights [b, T])``, 0 weight on padding."""
        def targets_of(part: Examples) -> tuple[Examples, tf.RaggedTensor]:
            return part, tf.ragged.constant(self.targets(part, features), dtype=tf.int32, ragged_rank=1)

        return examples_dataset(features.inputs, examples, targets_of, cfg, training,
                                encode_target=lambda t: ({}, t, tf.ones_like(t, tf.float32)), targets_per_step=True)

    # --- results --------------------------------------------------------------------------
    def decoded(self, model: keras.Model, kind: Any, tensors: dict) -> dict:
        """The model on a batch of ``kind``'s tensors (graph or eager): ``{"probabilities" [b, T, K]}``
        (softmax) or ``{"tags" [b, T] int32, "emissions" [b, T, K]}`` (CRF, Viterbi on the real steps)."""
        out = model(model_inputs(model, tensors), training=False)
        if self.decoder != "crf":
            return {"probabilities": out}
        crf = model.get_layer("crf")
        tags, _ = crf.decode(out, kind.step_mask(tensors) > 0)
        return {"tags": tags, "emissions": out}

    def steps(self, model: keras.Model, features: Features, examples: Examples) -> list[tuple]:
        """Per example ``(label indices [n], confidence [n] or None, emissions or probabilities
        [n, K])`` of its ``n`` real steps."""
        out = []
        kind = features.inputs[self.input]
        decode = kept_graph(model, "decoded", lambda m, tensors: self.decoded(m, kind, tensors))
        for batch in features.encode(examples, batch_size=32):
            decoded = decode(batch)
            lengths = np.asarray(kind.step_mask(batch)).sum(-1).astype(int)
            if self.decoder == "crf":
                for tags, scores, n in zip(decoded["tags"].numpy(), decoded["emissions"].numpy(), lengths):
                    out.append((tags[:n], None, scores[:n]))
            else:
                for p, n in zip(decoded["probabilities"].numpy(), lengths):
                    out.append((p[:n].argmax(-1), p[:n].max(-1), p[:n]))
        return out

    def tokens(self, features: Features, value: Any) -> list[str] | None:
        """A text input's tokens as its tokenizer splits them (None for other inputs)."""
        kind = features.inputs[self.input]
        if getattr(kind, "kind", None) != "text":
            return None
        from rnn_apps.lite.text import tokenize

        return tokenize(kind.prepare([value])[0], kind.level)

    def predict(self, model: keras.Model, features: Features, inputs: list, plot: str | Path | None = None) -> list[dict]:
        """Each input with its step ``labels``, their ``segments``, each step's ``confidence``
        (softmax), for text its ``tokens`` and ``entities``; with ``plot`` a PNG strip per clip
        (see ``rnn_apps.outputs.results.step_result``). The TFLite runtime returns the same."""
        examples = features.as_examples(inputs)
        results = []
        for i, (best, confidence, _) in enumerate(self.steps(model, features, examples)):
            value = examples[self.input][i]
            tokens = self.tokens(features, value)
            n = len(best) if tokens is None else min(len(best), len(tokens))
            results.append(step_result(self.input, value if isinstance(value, str) else f"array {i + 1}",
                                       [self.labels.labels[k] for k in best[:n]],
                                       None if confidence is None else confidence[:n],
                                       None if tokens is None else tokens[:n]))
        if plot is not None:
            from rnn_apps.plots import plot_frame_labels

            path = Path(plot)
            for i, result in enumerate(results):
                out = path if len(results) == 1 else path.with_name(f"{path.stem}_{i + 1}{path.suffix or '.png'}")
                frames = features.inputs[self.input].batch(examples[self.input][i:i + 1])[self.input][0]
                result["plot"] = str(plot_frame_labels(frames[: len(result["labels"])], result["labels"], out))
        return results

    def evaluate(self, model: keras.Model, features: Features, examples: Examples) -> dict:
        targets = self.targets(examples, features)
        decoded = self.steps(model, features, examples)
        if any(len(d[0]) != len(t) for d, t in zip(decoded, targets)):
            bad = next(i for i, (d, t) in enumerate(zip(decoded, targets)) if len(d[0]) != len(t))
            raise UserError(f"{examples.origins[bad]}: {len(targets[bad])} labels for {len(decoded[bad][0])} steps")
        predicted = [d[0] for d in decoded]
        if self.report == "entities":
            names = self.labels.labels
            report = entity_report([[names[k] for k in p] for p in predicted], [[names[k] for k in t] for t in targets])
            by_type = report.pop("by_type")
            report = {"accuracy": report.pop("token_accuracy"), **report, "sentences": len(targets),
                      "tokens": int(sum(len(t) for t in targets)), "entities_by_type": by_type}
        else:
            report = segmentation_report(predicted, targets, self.labels.labels)
        return {"loss": self.loss(model, decoded, targets), **report}

    def loss(self, model: keras.Model, decoded: list[tuple], targets: list) -> float:
        """The training loss on these examples, per real step: cross-entropy (softmax) or the
        CRF's negative log-likelihood (as ``CRFLoss``)."""
        if not targets:
            return 0.0
        if self.decoder != "crf":
            nats, _, count = sequence_cross_entropy(tf.math.log(tf.constant(np.concatenate([d[2] for d in decoded]))
                                                                + 1e-7)[None], np.concatenate(targets)[None])
            return nats / max(count, 1)
        crf, total = model.get_layer("crf"), 0.0
        for start in range(0, len(targets), 256):
            part = list(range(start, min(start + 256, len(targets))))
            emissions = tf.ragged.constant([decoded[i][2] for i in part], dtype=tf.float32, ragged_rank=1).to_tensor()
            gold = tf.ragged.constant([targets[i] for i in part], dtype=tf.int32).to_tensor()
            mask = tf.sequence_mask([len(targets[i]) for i in part], tf.shape(gold)[1])
            total += float(tf.reduce_sum(crf.negative_log_likelihood(emissions, gold, mask)))
        return total / max(sum(len(t) for t in targets), 1)

    # --- serving --------------------------------------------------------------------------
    def signatures(self, model: keras.Model, features: Features, seq_len: int | None = None) -> dict[str, Signature]:
        """``serving_default``: raw input (strings, frames + mask) -> ``labels [b, T]`` and
        ``probabilities [b, T, K]`` (softmax) or ``tags [b, T]`` (CRF, Viterbi in the graph);
        ``label_steps``: the same at ``[1, static length]``, tensor-only (what TFLite runs)."""
        kind = features.inputs[self.input]
        label_names = tf.constant(self.labels.labels)

        @tf.function(input_signature=kind.raw_specs())
        def serve(*args):
            out = self.decoded(model, kind, kind.from_raw(list(args)))
            out.pop("emissions", None)
            best = out["tags"] if self.decoder == "crf" else tf.argmax(out["probabilities"], axis=-1)
            return {**out, "labels": tf.gather(label_names, best)}

        @tf.function(input_signature=kind.tensor_specs(seq_len))
        def label_steps(*args):
            out = self.decoded(model, kind, kind.from_tensors(list(args)))
            out.pop("emissions", None)
            return out

        return {"serving_default": Signature(serve), "label_steps": Signature(label_steps, tensor_only=True)}

    def parity_probe(self, features: Features, examples: Examples) -> ParityProbe:
        """Held-out clips or sentences; the truth is each step's label (per-step accuracy %)."""
        truth = [[as_text(label) for label in steps] for steps in examples[self.name]]
        return ParityProbe([{self.input: value} for value in examples[self.input]], {}, truth, "labels",
                           "per-step accuracy %", lambda results, truth: accuracy_percent(results, truth, "labels"))

    def signature_inputs(self, model: keras.Model, features: Features, examples: Examples,
                         seq_len: int | None = None) -> dict[str, list[dict]]:
        kind = features.inputs[self.input]
        tensors = kind.tensor_values(examples[self.input], seq_len)
        return {"serving_default": [kind.raw_values(examples[self.input])],
                "label_steps": [{k: v[i:i + 1] for k, v in tensors.items()} for i in range(len(examples))]}

    def settings(self) -> dict:
        return {"kind": self.kind, "input": self.input, "labels": self.labels.labels, "decoder": self.decoder}

