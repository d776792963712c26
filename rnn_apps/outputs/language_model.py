"""The next token (many-to-many, next-step prediction): the output kind of language models.

A language-model run reads its text as one long token sequence (lines joined by "\\n").
Training batches come in one of two layouts (``rnn_apps.pipeline``):

* truncated BPTT (``tbptt > 0``): ``batch_size`` contiguous streams cut into windows of
  ``tbptt`` tokens; the model is ``stateful``, so each window starts from the state the
  previous one ended in, and gradients stop at the window border. ``ResetStates`` zeroes
  the states at the start of every epoch and of every validation pass.
* independent windows (``tbptt: 0``): shuffled windows of ``window`` tokens, each from a
  zero state.

Generation and serving use the model's one-step twin (same weights, explicit state
inputs and outputs), built by the task's ``build_step_model``; the vocabulary is the
one of the task's text input. An export also carries ``steps``: ``STEPS_PER_CALL`` steps
in one call, each choosing its token in the graph (``rnn_apps.lite`` checks every choice
in NumPy, so the text is the one the one-step loop gives, only faster).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.data.examples import Examples
from rnn_apps.data.pipeline import stream_dataset, window_dataset
from rnn_apps.data.text import OOV, PAD
from rnn_apps.decoding.sampling import NEG_INF, Generator, ban_tokens, decode_loop, keras_step
from rnn_apps.decoding.settings import Sampling
from rnn_apps.errors import UserError
from rnn_apps.layers.recurrent import copy_weights
from rnn_apps.metrics import sequence_cross_entropy
from rnn_apps.outputs.results import ParityProbe, continuation_result
from rnn_apps.outputs.signatures import Signature, step_signature
from rnn_apps.task import Features

BANNED = (PAD, OOV)  # never generated
# Steps of the ``steps`` signature, unrolled in the graph. A TFLite WHILE loop around them ran
# ~20-30 us per step against ~10 unrolled (2 CPU cores, 128-unit GRU); 16 keeps the export's
# conversion to seconds and its file within twice the one-step model's.
STEPS_PER_CALL = 16


def joined_text(examples: Examples) -> str:
    """The lines of ``examples`` as one text, each line ending in "\\n"."""
    return "".join(line + "\n" for line in examples["text"])


def next_token_accuracy(results: list[dict], rests: list[str]) -> float:
    """% of one-token continuations that begin the rest of their line (a word-level token
    may come with or without its leading space)."""
    right = [bool(text) and (rest.startswith(text) or bool(text.strip()) and rest.lstrip().startswith(text.lstrip()))
             for text, rest in zip((r["text"] for r in results), rests)]
    return 100 * float(np.mean(right)) if right else 0.0


@keras.saving.register_keras_serializable(package="rnn_apps")
def bits_per_token(y_true, logits):
    """Cross-entropy in bits (nats / ln 2): bits per character at char level."""
    nats = keras.losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
    return nats / math.log(2.0)


def language_model_compile_args() -> dict:
    return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), bits_per_token]}


class ResetStates(keras.callbacks.Callback):
    """Zero a stateful model's carried states when an epoch or a validation pass starts."""

    def _reset(self):
        for layer in self.model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_state()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()

    def on_test_begin(self, logs=None):
        self._reset()


class NextToken:
    """The output kind "next_token": a language model over the task's text input.

    Args:
        cfg: the run's config (``tbptt``, ``window``, ``batch_size``, sampling defaults ...).
        build_step_model: ``(cfg, vocab_size, batch_size=None) -> keras.Model`` mapping
            ``[tokens [batch, time], *states [batch, units]]`` to ``[logits, *states]``.
        input: the name of the text input whose vocabulary the model predicts.
    """

    kind = "next_token"
    predict_options = ("temperature", "top_k", "top_p", "seed", "max_length")
    evaluate_options: tuple[str, ...] = ()

    def __init__(self, cfg: Any, build_step_model: Callable, input: str = "text"):
        self.cfg, self.build_step_model, self.input = cfg, build_step_model, input
        self._twins: dict[tuple, keras.Model] = {}
        self._generators: dict[int, Generator] = {}
        self.vocab = None

    def fit(self, features: Features, train: Examples) -> None:
        self.vocab = features.inputs[self.input].vocab  # what the model reads, it predicts

    def save(self, directory: Path) -> None:
        pass  # the vocabulary is saved by the text input

    def load(self, features: Features, directory: Path) -> None:
        self.vocab = features.inputs[self.input].vocab

    def compile_args(self, features: Features) -> dict:
        return language_model_compile_args()

    # --- training ------------------------------------------------------------------------
    def dataset(self, features: Features, examples: Examples, cfg: Any, training: bool) -> tf.data.Dataset:
        """Batches of ``(tokens [batch, time], next tokens [batch, time])``."""
        ids = self.vocab.encode(joined_text(examples))
        text = f"{examples.source + ': ' if examples.source else ''}the {'training' if training else 'held-out'} text"
        if cfg.tbptt > 0:
            # A shorter held-out text still fills every stream: only the window shrinks.
            window = min(cfg.tbptt, (len(ids) - 1) // cfg.batch_size)
            if window < 1:
                raise UserError(f"{text} has {len(ids)} tokens, too few for {cfg.batch_size} streams; "
                                f"lower batch_size or raise val_fraction")
            return stream_dataset(ids, cfg.batch_size, window)
        if len(ids) <= cfg.window:
            raise UserError(f"{text} has {len(ids)} tokens, fewer than one window of {cfg.window + 1}; lower window")
        return window_dataset(ids, cfg.window, cfg.batch_size, training, cfg.seed)

    def describe_splits(self, plan: Any) -> str:
        """What a language model trains on: tokens, and windows of ``tbptt`` (or ``window``) tokens."""
        parts = []
        for name in ("train", "val", "test"):
            if len(plan.splits[name]):
                tokens = len(self.vocab.encode(joined_text(plan.splits[name])))
                windows = int(plan.datasets[name].cardinality()) if name in plan.datasets else 0
                parts.append(f"{tokens:,} {name} tokens" + (f" ({windows:,} batches of windows)" if windows > 0
                                                             else ""))
        size = self.cfg.tbptt or self.cfg.window
        return ", ".join(parts) + f"; windows of {size} tokens, {self.vocab.size:,}-token vocabulary"

    def callbacks(self) -> list:
        return [ResetStates()] if self.cfg.tbptt > 0 else []

    # --- the one-step model -------------------------------------------------------------
    def step_model(self, model: keras.Model, batch_size: int | None = None) -> keras.Model:
        """The one-step twin of a trained ``model`` (cached per model and batch size)."""
        key = (id(model), batch_size)
        if key not in self._twins:
            self._twins[key] = copy_weights(model, self.build_step_model(self.cfg, self.vocab.size, batch_size))
        return self._twins[key]

    def unrolled_step_model(self, model: keras.Model) -> keras.Model:
        """The batch-1 twin for ``[1, 1]`` tokens with every recurrent layer unrolled (cached):
        the same computation without the one-iteration loop a recurrent layer is otherwise,
        so that a TFLite graph of many steps is plain ops (a loop per step costs more than the step)."""
        key = (id(model), "unrolled")
        if key not in self._twins:
            single = self.step_model(model, batch_size=1)

            def unrolled(layer):
                config = layer.get_config()
                return layer.__class__.from_config({**config, "unroll": True}
                                                   if isinstance(layer, keras.layers.RNN) else config)

            inputs = [keras.Input(batch_shape=(1, 1), dtype="int32", name=single.inputs[0].name),
                      *(keras.Input(batch_shape=tuple(t.shape), name=t.name) for t in single.inputs[1:])]
            self._twins[key] = copy_weights(single, keras.models.clone_model(single, input_tensors=inputs,
                                                                             clone_function=unrolled))
        return self._twins[key]

    def zero_states(self, twin: keras.Model, batch: int) -> list:
        return [tf.zeros([batch, spec.shape[-1]]) for spec in twin.inputs[1:]]

    def generator(self, model: keras.Model) -> Generator:
        """The compiled generator of ``model`` (built once per model)."""
        if id(model) not in self._generators:
            twin = self.step_model(model)
            self._generators[id(model)] = Generator(keras_step(twin), lambda b: self.zero_states(twin, b), BANNED)
        return self._generators[id(model)]

    def prompt_ids(self, prompt: str, copies: int) -> np.ndarray:
        """``[copies, time]`` ids of ``prompt``; an empty prompt starts at a line break."""
        ids = self.vocab.encode(prompt or "\n")
        if not len(ids):
            ids = self.vocab.encode("\n")
        return np.tile(ids[None, :], (copies, 1)).astype(np.int32)

    def stream(self, model: keras.Model, prompt: str, length: int, sampling: Sampling,
               num_samples: int = 1, chunk: int = 32) -> Iterator[list[str]]:
        """Yield, per chunk, the new text of each of ``num_samples`` samples."""
        prompt_ids = self.prompt_ids(prompt, num_samples)
        last = prompt_ids[:, -1]
        for ids in self.generator(model).stream(prompt_ids, length, sampling, chunk):
            yield [self.vocab.decode(row, after=int(prev)) for row, prev in zip(ids, last)]
            last = ids[:, -1]

    def generate(self, model: keras.Model, prompt: str, length: int, sampling: Sampling,
                 num_samples: int = 1) -> list[str]:
        """``num_samples`` continuations of ``prompt`` (``length`` tokens each)."""
        prompt_ids = self.prompt_ids(prompt, num_samples)
        ids = self.generator(model).generate(prompt_ids, length, sampling)
        last = prompt_ids[0, -1]
        return [self.vocab.decode(row, after=int(last)) for row in ids]

    # --- results --------------------------------------------------------------------------
    def predict(self, model: keras.Model, features: Features, inputs: list, temperature: float | None = None,
                top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                max_length: int | None = None) -> list[dict]:
        """Each input is a prompt; the result is its continuation (``max_length`` tokens,
        default ``generate_length``), sampled with the run's settings unless given."""
        pick = lambda given, default: default if given is None else given  # noqa: E731
        sampling = Sampling(temperature=pick(temperature, self.cfg.temperature), top_k=pick(top_k, self.cfg.top_k),
                            top_p=pick(top_p, self.cfg.top_p), seed=pick(seed, self.cfg.seed))
        length = pick(max_length, self.cfg.generate_length)
        prompts = [str(p) for p in features.as_examples(inputs)[self.input]]
        return [continuation_result(p, self.generate(model, p, length, sampling)[0], sampling.seed) for p in prompts]

    def evaluate(self, model: keras.Model, features: Features, examples: Examples) -> dict:
        """Cross-entropy (nats and bits per token, bits per character), perplexity and
        next-token accuracy over ``examples`` read as one text with full context."""
        ids = self.vocab.encode(joined_text(examples))
        if len(ids) < 2:
            raise UserError("need at least two tokens of text to evaluate a language model")
        streams = max(1, min(16, (len(ids) - 1) // 64))
        per_stream = (len(ids) - 1) // streams
        x = ids[:streams * per_stream].reshape(streams, per_stream)
        y = ids[1:streams * per_stream + 1].reshape(streams, per_stream)
        twin = self.step_model(model)
        step = self.generator(model).run_window  # compiled once, shared with generation
        states, nats, correct = self.zero_states(twin, streams), 0.0, 0
        for start in range(0, per_stream, 512):  # windows bound memory; the state carries across
            logits, states = step(tf.constant(x[:, start:start + 512]), states)
            window_nats, window_correct, _ = sequence_cross_entropy(logits, y[:, start:start + 512])
            nats, correct = nats + window_nats, correct + window_correct
        tokens = x.size
        chars = len(self.vocab.decode(x.reshape(-1))) if self.vocab.level != "char" else tokens
        return {"nats_per_token": nats / tokens, "bits_per_token": nats / tokens / math.log(2),
                "bits_per_char": nats / max(chars, 1) / math.log(2), "perplexity": math.exp(nats / tokens),
                "accuracy": correct / tokens, "tokens": tokens}

    # --- serving --------------------------------------------------------------------------
    def signatures(self, model: keras.Model, features: Features, seq_len: int | None = None) -> dict[str, Signature]:
        """``generate`` (prompt, length, temperature, seed -> text; the loop in the graph) and
        ``step`` (one token + states -> logits + states, static ``[1, ...]`` shapes)."""
        twin = self.step_model(model)
        single = self.step_model(model, batch_size=1)
        names = [t.name for t in single.inputs[1:]]
        units = [int(t.shape[-1]) for t in single.inputs[1:]]
        vocab, step = self.vocab, keras_step(twin)

        @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="prompt"),
                                      tf.TensorSpec([], tf.int32, name="length"),
                                      tf.TensorSpec([], tf.float32, name="temperature"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def generate(prompt, length, temperature, seed):
            ids = vocab.encode_serving(tf.reshape(tf.where(prompt == "", "\n", prompt), [1])).to_tensor()
            ids = tf.cond(tf.shape(ids)[1] > 0, lambda: ids,
                          lambda: vocab.encode_serving(tf.constant(["\n"])).to_tensor())
            states = [tf.zeros([1, u]) for u in units]
            logits, states = step(ids, states)
            tokens, _, _ = decode_loop(step, logits[:, -1, :], states, length, greedy=temperature <= 0,
                                       temperature=tf.maximum(temperature, 1e-6), top_k=tf.constant(0),
                                       top_p=tf.constant(1.0), seed=seed, banned=BANNED)
            # Decoded after the prompt's last token, which is then cut off, so word spacing is right.
            both = vocab.decode_graph(tf.concat([ids[:, -1:], tokens], axis=1))[0]
            alone = vocab.decode_graph(ids[:, -1:])[0]
            return {"text": tf.strings.substr(both, tf.strings.length(alone), -1), "ids": tokens[0]}

        return {"generate": Signature(generate), "step": step_signature(single, names),
                "steps": steps_signature(self.unrolled_step_model(model), names, STEPS_PER_CALL, BANNED)}

    def parity_probe(self, features: Features, examples: Examples) -> ParityProbe:
        """Held-out lines cut at a third and at two thirds: the greedy next token after each
        cut, whose truth is the rest of the line (next-token accuracy %, through ``predict``)."""
        rows, truth = [], []
        for line in examples[self.input]:
            for cut in (len(line) // 3, 2 * len(line) // 3):
                if cut > 0:
                    rows.append({self.input: line[:cut]})
                    truth.append(line[cut:] + "\n")
        return ParityProbe(rows, {"temperature": 0.0, "seed": 0, "max_length": 1}, truth, "text",
                           "next-token accuracy %", next_token_accuracy)

    def signature_inputs(self, model: keras.Model, features: Features, examples: Examples,
                         seq_len: int | None = None) -> dict[str, list[dict]]:
        """Realistic inputs of each signature: greedy ``generate`` after a few stretches of
        held-out text; ``step`` on the next token with the states after that stretch, and
        ``steps`` from there, greedy (its tokens must match exactly across runtimes)."""
        single = self.step_model(model, batch_size=1)
        names = [t.name for t in single.inputs[1:]]
        text = self.vocab.encode(joined_text(examples))
        generate, steps = [], []
        for start in range(0, min(len(text) - 8, 200), 50):
            prompt, token = text[start:start + 7], text[start + 7:start + 8]
            generate.append({"prompt": np.array(self.vocab.decode(prompt), dtype=object),
                             "length": np.array(20, np.int32), "temperature": np.array(0.0, np.float32),
                             "seed": np.array(0, np.int64)})
            _, *states = single([tf.constant(prompt[None, :], tf.int32), *self.zero_states(single, 1)], training=False)
            steps.append({"token": token[None, :].astype(np.int32), **{n: s.numpy() for n, s in zip(names, states)}})
        uniforms = np.random.default_rng(0).random((len(steps), 1, STEPS_PER_CALL)).astype(np.float32)
        blocks = [{**call, "uniforms": u, "temperature": np.zeros([1], np.float32), "top_k": np.zeros([1], np.int32),
                   "top_p": np.ones([1], np.float32)} for call, u in zip(steps, uniforms)]
        return {"generate": generate, "step": steps, "steps": blocks}

    def settings(self) -> dict:
        """For an export's manifest: ids never generated, and the run's sampling defaults."""
        return {"kind": self.kind, "input": self.input, "banned_ids": list(BANNED),
                "defaults": {"temperature": self.cfg.temperature, "top_k": self.cfg.top_k, "top_p": self.cfg.top_p,
                             "seed": self.cfg.seed, "max_length": self.cfg.generate_length}}


def sample_with(logits: tf.Tensor, uniform: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor,
                top_p: tf.Tensor) -> tf.Tensor:
    """``[1, vocab]`` logits -> ``[1]`` the token a uniform ``[1, 1]`` in [0, 1) picks from the
    filtered distribution (temperature, top-k, nucleus), in float32: the inverse of its CDF.

    What ``rnn_apps.lite.decoding.choose_rows`` computes in float64 (a few tokens per million
    may differ, which the runtime corrects). One sort of only what the filters need: the
    ``top_k`` best, all of them for a nucleus alone, one where neither filters.
    """
    vocab = logits.shape[-1]
    scaled = logits / tf.maximum(temperature, 1e-6)
    filtering_k = (top_k > 0) & (top_k < vocab)
    ordered = tf.math.top_k(scaled, k=tf.where(filtering_k, top_k, tf.where(top_p < 1, vocab, 1))[0]).values
    kth = tf.where(filtering_k, ordered[:, -1], tf.float32.min)[:, None]
    before = tf.math.cumsum(tf.nn.softmax(ordered), axis=-1, exclusive=True)  # mass of the better tokens
    kept = tf.reduce_min(tf.where(before < top_p, ordered, tf.float32.max), axis=-1, keepdims=True)
    kept = tf.where(top_p < 1, kept, tf.float32.min)
    scaled = tf.where(scaled < tf.maximum(kth, kept), NEG_INF, scaled)
    cdf = tf.math.cumsum(tf.nn.softmax(scaled), axis=-1)
    return tf.minimum(tf.reduce_sum(tf.cast(cdf <= uniform * cdf[:, -1:], tf.int32), axis=-1), vocab - 1)


def steps_signature(step_model: keras.Model, state_names: list[str], count: int, banned=BANNED) -> Signature:
    """``count`` generation steps in one call, unrolled, for a device's fast loop.

    Inputs: ``token [1, 1]`` (the last token, not yet read), the states before it
    ``[1, units]`` by name, ``uniforms [1, count]`` (the draw of each step), ``temperature [1]``
    (<= 0: greedy), ``top_k [1]``, ``top_p [1]``. Step i reads the previous token, then
    chooses the next (argmax, or ``sample_with`` its uniform; ``banned`` never).
    Outputs: ``tokens [1, count]`` int32, ``logits [1, count, vocab]`` (before the ban) and
    the states after each step ``[1, count, units]`` by name, so that a caller can restart
    from any step.
    """
    units = [int(t.shape[-1]) for t in step_model.inputs[1:]]
    specs = [tf.TensorSpec([1, 1], tf.int32, name="token"),
             *(tf.TensorSpec([1, u], tf.float32, name=n) for n, u in zip(state_names, units)),
             tf.TensorSpec([1, count], tf.float32, name="uniforms"), tf.TensorSpec([1], tf.float32, name="temperature"),
             tf.TensorSpec([1], tf.int32, name="top_k"), tf.TensorSpec([1], tf.float32, name="top_p")]

    @tf.function(input_signature=specs)
    def steps(token, *rest):
        states, (uniforms, temperature, top_k, top_p) = list(rest[:len(units)]), rest[len(units):]
        tokens, logits_seen, states_seen = [], [], []
        for i in range(count):  # unrolled: a loop in a TFLite graph costs more than the step
            logits, *states = step_model([token, *states], training=False)
            logits = logits[:, -1, :]
            allowed = ban_tokens(logits, banned)
            # tf.where, not tf.cond: a TFLite IF splits the graph and cost more than sampling always
            token = tf.where(temperature <= 0, tf.argmax(allowed, axis=-1, output_type=tf.int32),
                             sample_with(allowed, uniforms[:, i:i + 1], temperature, top_k, top_p))[:, None]
            tokens.append(token)
            logits_seen.append(logits)
            states_seen.append(states)
        return {"tokens": tf.concat(tokens, axis=1), "logits": tf.stack(logits_seen, axis=1),
                **{n: tf.stack([s[k] for s in states_seen], axis=1) for k, n in enumerate(state_names)}}

    return Signature(steps, tensor_only=True)
