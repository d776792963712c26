"""Text -> next token: the preprocessing, evaluation, generation and serving of language models.

A language-model run reads its text as one long token sequence (lines joined by "\\n").
Training batches come in one of two layouts (``rnn_apps.pipeline``):

* truncated BPTT (``tbptt > 0``): ``batch_size`` contiguous streams cut into windows of
  ``tbptt`` tokens; the model is ``stateful``, so each window starts from the state the
  previous one ended in, and gradients stop at the window border. ``ResetStates`` zeroes
  the states at the start of every epoch and of every validation pass.
* independent windows (``tbptt: 0``): shuffled windows of ``window`` tokens, each from a
  zero state.

Generation and serving use the model's one-step twin (same weights, explicit state
inputs and outputs), built by the task's ``build_step_model``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.decoding import Generator, Sampling, decode_loop, keras_step
from rnn_apps.errors import UserError
from rnn_apps.layers import copy_weights
from rnn_apps.pipeline import stream_dataset, window_dataset
from rnn_apps.readers import Examples
from rnn_apps.text import OOV, PAD, TokenVocabulary

TOKENS_FILE = "tokens.json"
BANNED = (PAD, OOV)  # never generated


def joined_text(examples: Examples) -> str:
    """The lines of ``examples`` as one text, each line ending in "\\n"."""
    return "".join(line + "\n" for line in examples["text"])


def split_in_order(examples: Examples, cfg: Any) -> dict[str, Examples]:
    """train = the first lines, val = the next ``val_fraction``, test = the last ``test_fraction``.

    Text is split in order, not shuffled: shuffled lines would put the neighbours of every
    validation line into training.
    """
    n = len(examples)
    n_test, n_val = int(round(n * cfg.test_fraction)), int(round(n * cfg.val_fraction))
    if n - n_test - n_val < 1:
        raise UserError(f"only {n} lines: too few to split into train/val/test")
    return {"train": examples.take(range(n - n_test - n_val)),
            "val": examples.take(range(n - n_test - n_val, n - n_test)),
            "test": examples.take(range(n - n_test, n))}


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


class LanguageModeling:
    """Fitted preprocessing of a language-model run (see ``rnn_apps.task.Preprocessing``).

    Args:
        cfg: the run's config (``level``, ``tbptt``, ``window``, ``batch_size``, ...).
        vocab: the fitted ``TokenVocabulary``.
        build_step_model: ``(cfg, vocab_size, batch_size=None) -> keras.Model`` mapping
            ``[tokens [batch, time], *states [batch, units]]`` to ``[logits, *states]``.
    """

    def __init__(self, cfg: Any, vocab: TokenVocabulary, build_step_model: Callable):
        self.cfg, self.vocab, self.build_step_model = cfg, vocab, build_step_model
        self._twins: dict[tuple, keras.Model] = {}
        self._generators: dict[int, Generator] = {}

    @classmethod
    def fit(cls, cfg: Any, train: Examples, build_step_model: Callable) -> "LanguageModeling":
        return cls(cfg, TokenVocabulary.fit(cfg.level, joined_text(train), cfg.vocab_size), build_step_model)

    @classmethod
    def load(cls, cfg: Any, run_dir: Path, build_step_model: Callable) -> "LanguageModeling":
        return cls(cfg, TokenVocabulary.load(run_dir / TOKENS_FILE), build_step_model)

    def save(self, run_dir: Path) -> None:
        self.vocab.save(run_dir / TOKENS_FILE)

    # --- training ------------------------------------------------------------------------
    def dataset(self, cfg: Any, examples: Examples, training: bool) -> tf.data.Dataset:
        """Batches of ``(tokens [batch, time], next tokens [batch, time])``."""
        ids = self.vocab.encode(joined_text(examples))
        if cfg.tbptt > 0:
            # A shorter held-out text still fills every stream: only the window shrinks.
            window = min(cfg.tbptt, (len(ids) - 1) // cfg.batch_size)
            if window < 1:
                raise UserError(f"the {'training' if training else 'held-out'} text has {len(ids)} tokens, too few "
                                f"for {cfg.batch_size} streams; lower batch_size or raise val_fraction")
            return stream_dataset(ids, cfg.batch_size, window)
        if len(ids) <= cfg.window:
            raise UserError(f"the {'training' if training else 'held-out'} text has {len(ids)} tokens, fewer than "
                            f"one window of {cfg.window + 1}; lower window")
        return window_dataset(ids, cfg.window, cfg.batch_size, training, cfg.seed)

    def callbacks(self, model: keras.Model) -> list:
        return [ResetStates()] if self.cfg.tbptt > 0 else []

    # --- the one-step model -------------------------------------------------------------
    def step_model(self, model: keras.Model, batch_size: int | None = None) -> keras.Model:
        """The one-step twin of a trained ``model`` (cached per model and batch size)."""
        key = (id(model), batch_size)
        if key not in self._twins:
            self._twins[key] = copy_weights(model, self.build_step_model(self.cfg, self.vocab.size, batch_size))
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

    # --- Preprocessing protocol ----------------------------------------------------------
    predict_options = ("temperature", "top_k", "top_p", "seed", "max_length")
    evaluate_options: tuple[str, ...] = ()

    def predict(self, model: keras.Model, inputs: list[str], temperature: float | None = None,
                top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                max_length: int | None = None) -> list[dict]:
        """Each input is a prompt; the result is its continuation (``max_length`` tokens,
        default ``generate_length``), sampled with the run's settings unless given."""
        pick = lambda given, default: default if given is None else given  # noqa: E731
        try:
            sampling = Sampling(temperature=pick(temperature, self.cfg.temperature), top_k=pick(top_k, self.cfg.top_k),
                                top_p=pick(top_p, self.cfg.top_p), seed=pick(seed, self.cfg.seed))
        except ValueError as exc:
            raise UserError(str(exc)) from None
        length = pick(max_length, self.cfg.generate_length)
        return [{"prompt": p, "text": self.generate(model, p, length, sampling)[0], "seed": sampling.seed}
                for p in inputs]

    def evaluate(self, model: keras.Model, cfg: Any, examples: Examples) -> dict:
        """Cross-entropy (nats and bits per token, bits per character), perplexity and
        next-token accuracy over ``examples`` read as one text with full context."""
        text = joined_text(examples)
        ids = self.vocab.encode(text)
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
            target = y[:, start:start + 512]
            nats += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(target, logits)))
            correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == target, tf.int32)))
        tokens = x.size
        chars = len(self.vocab.decode(x.reshape(-1))) if self.vocab.level == "word" else tokens
        return {"nats_per_token": nats / tokens, "bits_per_token": nats / tokens / math.log(2),
                "bits_per_char": nats / max(chars, 1) / math.log(2), "perplexity": math.exp(nats / tokens),
                "accuracy": correct / tokens, "tokens": tokens}

    def serving_functions(self, model: keras.Model) -> dict[str, Any]:
        """``generate`` (prompt, length, temperature -> text, the loop in the graph) and
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
            ids = vocab.encode_graph(tf.reshape(tf.where(prompt == "", "\n", prompt), [1])).to_tensor()
            ids = tf.cond(tf.shape(ids)[1] > 0, lambda: ids, lambda: vocab.encode_graph(tf.constant(["\n"])).to_tensor())
            states = [tf.zeros([1, u]) for u in units]
            logits, states = step(ids, states)
            tokens, _, _ = decode_loop(step, logits[:, -1, :], states, length, greedy=temperature <= 0,
                                       temperature=tf.maximum(temperature, 1e-6), top_k=tf.constant(0),
                                       top_p=tf.constant(1.0), seed=seed, banned=BANNED)
            # Decoded after the prompt's last token, which is then cut off, so word spacing is right.
            both = vocab.decode_graph(tf.concat([ids[:, -1:], tokens], axis=1))[0]
            alone = vocab.decode_graph(ids[:, -1:])[0]
            return {"text": tf.strings.substr(both, tf.strings.length(alone), -1), "ids": tokens[0]}

        @tf.function(input_signature=[tf.TensorSpec([1, 1], tf.int32, name="token")]
                     + [tf.TensorSpec([1, u], tf.float32, name=n) for n, u in zip(names, units)])
        def one_step(token, *states):
            logits, *new_states = single([token, *states], training=False)
            return {"logits": logits[:, -1, :], **{n: s for n, s in zip(names, new_states)}}

        return {"generate": generate, "step": one_step}

    def trackables(self) -> list:
        return [self.vocab.lookup]
