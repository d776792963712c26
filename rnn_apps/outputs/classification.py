"""One label per example (many-to-one): sentiment's label, VQA's answer.

The head is one sigmoid unit for two classes (binary cross-entropy) or a softmax over
more (sparse categorical cross-entropy). ``predict`` gives each input's label, its
probability and the most likely labels; ``evaluate`` loss, accuracy, per-class P/R/F1 and
the confusion matrix. Three options serve VQA-like data:

* ``max_classes``: only the K most frequent labels of the training split are classes;
  examples with another label are left out of training and count as wrong in evaluation
  (``accuracy_all``);
* several labels per example (a list: the answers of several people): the most frequent is
  the target, and evaluation adds the VQA accuracy (``vqa_accuracy``) over the examples with
  ten or more answers, the number it is defined on;
* ``group``: a column (a question type) by which evaluation also reports accuracy.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.data.examples import Examples, as_text
from rnn_apps.data.pipeline import examples_dataset
from rnn_apps.data.text import LabelVocabulary
from rnn_apps.metrics import classification_report
from rnn_apps.outputs.results import ParityProbe, accuracy_percent, label_result
from rnn_apps.outputs.signatures import Signature
from rnn_apps.task import Features, model_inputs, run_inference


def class_probabilities(outputs: Any) -> Any:
    """Model outputs -> ``[batch, classes]`` probabilities (binary: ``[1 - p, p]``)."""
    if outputs.shape[-1] == 1:
        return tf.concat([1.0 - outputs, outputs], axis=-1)
    return outputs


def vqa_accuracy(answers: list, predicted: list[str]) -> dict:
    """The VQA accuracy (Antol et al. 2015, as the official evaluation computes it) of each
    example with ten or more human answers: the mean over the ten ways to leave one person
    out of ``min(#others who gave the predicted answer / 3, 1)``. It is defined over ten
    answers: an example with fewer (one ``"answer"``, or ``["yes"]``) would score 1/3 for a
    right answer, so it is not scored this way; plain accuracy (``accuracy``, against the
    most frequent answer) covers every example.

    Returns ``{}`` when no example has a list of answers, else ``vqa_accuracy`` and
    ``vqa_accuracy_examples`` (how many it covers; no ``vqa_accuracy`` when none) and, when
    some have fewer than ten, ``fewer_than_ten_answers`` (how many were left out of it).
    """
    if not any(isinstance(v, (list, tuple)) for v in answers):
        return {}
    scores, fewer = [], 0
    for value, guess in zip(answers, predicted):
        given = [as_text(a) for a in value] if isinstance(value, (list, tuple)) else [as_text(value)]
        if len(given) < 10:
            fewer += 1
            continue
        matches = given.count(guess)
        # leaving out a person who gave the answer leaves matches - 1 others; anyone else, matches
        scores.append(np.mean([min((matches - (a == guess)) / 3, 1.0) for a in given]))
    report: dict = {"vqa_accuracy": float(np.mean(scores))} if scores else {}
    report["vqa_accuracy_examples"] = len(scores)
    if fewer:
        report["fewer_than_ten_answers"] = fewer
    return report


class ClassLabel:
    """The output kind "label": one class per example, fitted from the ``name`` column."""

    kind = "label"
    evaluate_options: tuple[str, ...] = ()

    def __init__(self, name: str = "label", file: str = "labels.json", max_classes: int = 0, group: str | None = None,
                 draws_answers: bool = False):
        self.name, self.file, self.max_classes, self.group = name, file, max_classes, group
        self.draws_answers = draws_answers  # predict --plot: the picture beside the question and top answers (vqa)
        self.labels: LabelVocabulary | None = None

    @property
    def predict_options(self) -> tuple[str, ...]:
        return ("plot",) if self.draws_answers else ()

    @staticmethod
    def answer(value) -> str:
        """The label of one example: the value, or the most frequent of a list of them."""
        if isinstance(value, (list, tuple)):
            if not value:
                return ""
            counts = collections.Counter(as_text(v) for v in value)
            return max(counts, key=lambda v: (counts[v], -list(counts).index(v)))
        return as_text(value)

    def fit(self, features: Features, train: Examples) -> None:
        self.labels = LabelVocabulary.fit([self.answer(v) for v in train[self.name]], self.max_classes,
                                          source=train.source)

    def save(self, directory: Path) -> None:
        self.labels.save(directory / self.file)

    def load(self, features: Features, directory: Path) -> None:
        self.labels = LabelVocabulary.load(directory / self.file)

    # --- model --------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def head(self, x: keras.KerasTensor) -> keras.KerasTensor:
        """``[batch, features]`` -> ``[batch, 1]`` sigmoid (2 classes) or ``[batch, C]`` softmax."""
        if self.num_classes == 2:
            return keras.layers.Dense(1, activation="sigmoid", name="probability", dtype="float32")(x)
        return keras.layers.Dense(self.num_classes, activation="softmax", name="probabilities", dtype="float32")(x)

    def compile_args(self, features: Features) -> dict:
        if self.num_classes == 2:
            return {"loss": keras.losses.BinaryCrossentropy(),
                    "metrics": [keras.metrics.BinaryAccuracy(name="accuracy")]}
        return {"loss": keras.losses.SparseCategoricalCrossentropy(),
                "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def callbacks(self) -> list:
        return []

    # --- data ---------------------------------------------------------------------------
    def targets(self, examples: Examples) -> list[int]:
        """Class indices; an unknown label is a ``UserError`` with its file and line (or -1
        with ``max_classes``: a label outside the top K)."""
        return self.labels.encode([self.answer(v) for v in examples[self.name]], examples.origins,
                                  unknown=-1 if self.max_classes else None)

    def training_targets(self, examples: Examples) -> tuple[Examples, list[int]]:
        """The examples that have a class, and their class indices (with ``max_classes``, an
        example outside the top K has nothing to learn or score a loss on)."""
        targets = self.targets(examples)
        known = [i for i, t in enumerate(targets) if t >= 0]
        if len(known) < len(targets):
            return examples.take(known), [targets[i] for i in known]
        return examples, targets

    def dataset(self, features: Features, examples: Examples, cfg: Any, training: bool) -> tf.data.Dataset:
        return examples_dataset(features.inputs, examples, self.training_targets, cfg, training)

    # --- results ------------------------------------------------------------------------
    def probabilities(self, model: keras.Model, features: Features, examples: Examples) -> np.ndarray:
        """``[n, classes]`` probabilities for the inputs of ``examples``."""
        out = [class_probabilities(run_inference(model, batch)).numpy()
               for batch in features.encode(examples)]
        return np.concatenate(out) if out else np.zeros((0, self.num_classes))

    def predict(self, model: keras.Model, features: Features, inputs: list, plot: str | Path | None = None) -> list[dict]:
        """Each input (by name) with its ``label``, that label's ``probability``, the ``top`` five
        and all ``probabilities`` (20 classes or fewer); with ``plot`` (``draws_answers``) a PNG
        per input of its picture beside its question and top answers (``NAME_1.png``... for
        several), named in its result's ``plot``."""
        examples = features.as_examples(inputs)
        results = []
        for i, p in enumerate(self.probabilities(model, features, examples)):
            shown = {name: examples[name][i] if isinstance(examples[name][i], str) else f"array {i + 1}"
                     for name in features.inputs}
            results.append(label_result(shown, self.labels.labels, p))
        if plot is not None:
            draw_answers(features, examples, results, Path(plot))
        return results

    def evaluate(self, model: keras.Model, features: Features, examples: Examples) -> dict:
        """The report of ``classification_report`` on examples with a known label, and, when the
        data call for it, accuracy over all examples, VQA accuracy and accuracy per group."""
        targets, probs = np.array(self.targets(examples)), self.probabilities(model, features, examples)
        known = targets >= 0
        report = classification_report(targets[known], probs[known], self.labels.labels)
        predicted = [self.labels.labels[k] for k in probs.argmax(-1)] if len(probs) else []
        if not known.all():
            report["accuracy_all"] = float(np.mean(probs.argmax(-1) == targets))  # unknown labels: always wrong
            report["unknown_label_examples"] = int((~known).sum())
        report.update(vqa_accuracy(examples[self.name], predicted))
        if self.group and self.group in examples.columns:
            right = probs.argmax(-1) == targets
            groups = collections.defaultdict(list)
            for g, r in zip(examples[self.group], right):
                groups[as_text(g)].append(r)
            report[f"accuracy_by_{self.group}"] = {g: float(np.mean(r)) for g, r in sorted(groups.items())}
        return report

    def parity_probe(self, features: Features, examples: Examples) -> ParityProbe:
        """Held-out examples by input name; the truth is each one's label (accuracy %)."""
        rows = [{name: examples[name][i] for name in features.inputs} for i in range(len(examples))]
        return ParityProbe(rows, {}, [self.answer(t) for t in examples[self.name]], "label", "accuracy %",
                           lambda results, truth: accuracy_percent(results, truth, "label"))

    # --- serving --------------------------------------------------------------------------
    def signatures(self, model: keras.Model, features: Features, seq_len: int | None = None) -> dict[str, Signature]:
        """``serving_default``: raw inputs -> ``probabilities [batch, C]`` and ``label`` strings;
        ``classify``: the tensor-only twin on static ``[1, length]`` ids -> ``probabilities``."""
        label_names = tf.constant(self.labels.labels)
        kinds = list(features.inputs.values())
        raw_specs = [kind.raw_specs() for kind in kinds]
        tensor_specs = [kind.tensor_specs(seq_len) for kind in kinds]

        def model_tensors(args, specs, convert):
            tensors, start = {}, 0
            for kind, group in zip(kinds, specs):  # each kind takes its own specs' arguments
                tensors.update(getattr(kind, convert)(list(args[start:start + len(group)])))
                start += len(group)
            return model_inputs(model, tensors)

        @tf.function(input_signature=[spec for group in raw_specs for spec in group])
        def serve(*args):
            probs = class_probabilities(model(model_tensors(args, raw_specs, "from_raw"), training=False))
            return {"probabilities": probs, "label": tf.gather(label_names, tf.argmax(probs, axis=-1))}

        @tf.function(input_signature=[spec for group in tensor_specs for spec in group])
        def classify(*args):
            return {"probabilities": class_probabilities(model(model_tensors(args, tensor_specs, "from_tensors"),
                                                               training=False))}

        return {"serving_default": Signature(serve), "classify": Signature(classify, tensor_only=True)}

    def signature_inputs(self, model: keras.Model, features: Features, examples: Examples,
                         seq_len: int | None = None) -> dict[str, list[dict]]:
        """Realistic inputs of each signature (see ``rnn_apps.exporters.check``): the raw
        values of ``examples`` as one batch, and each example's ids on its own."""
        raw, tensors = {}, {}
        for name, kind in features.inputs.items():
            raw.update(kind.raw_values(examples[name]))
            tensors.update(kind.tensor_values(examples[name], seq_len))
        return {"serving_default": [raw],
                "classify": [{k: v[i:i + 1] for k, v in tensors.items()} for i in range(len(examples))]}

    def settings(self) -> dict:
        """For an export's manifest: the label of each output index."""
        return {"kind": self.kind, "labels": self.labels.labels, "binary": self.num_classes == 2}


def draw_answers(features: Features, examples: Examples, results: list[dict], plot: Path) -> None:
    """One PNG per input: its picture as the model saw it beside its question and top answers
    (``rnn_apps.plots.plot_answers``); adds the file's name to each result."""
    from rnn_apps.plots import plot_answers

    kinds = features.inputs
    image = next(name for name, kind in kinds.items() if kind.kind == "image")
    question = next((name for name in kinds if name != image), None)
    for i, result in enumerate(results):
        out = plot if len(results) == 1 else plot.with_name(f"{plot.stem}_{i + 1}{plot.suffix or '.png'}")
        picture = kinds[image].batch(examples[image][i:i + 1])[image][0]  # [size, size, C]
        result["plot"] = str(plot_answers(picture, str(result.get(question, "")), result["top"], out))
