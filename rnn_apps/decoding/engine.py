"""The encoder-decoder inference engine: encode once, then one decoder step per token.

Any encoder fits (a sentence today, an image grid for captioning) as long as the task
builds two networks from the same named layers as its training model:

    encoder:  inputs [b, ...] -> [encoder outputs [b, S, E], mask [b, S], *decoder states [b, D]]
    decoder:  [tokens [b, T], encoder outputs, mask, *states]
                  -> [logits [b, T, V], attention weights [b, T, S], *states]

Decoding runs the encoder once, reads ``[START]``, then steps the decoder with the
encoder outputs and the mask carried along as constant "states", so the shared greedy /
sampling loop (``decode_loop``) and ``beam_search`` drive it unchanged (a beam search
repeats and reorders them with the recurrent states). Everything is compiled once per
setting; the same functions serve inside a SavedModel, and ``encode`` / ``decode_step``
with static shapes are what a device runs.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from rnn_apps.decoding.beam import beam_search
from rnn_apps.decoding.sampling import decode_loop, sampling_tensors
from rnn_apps.decoding.settings import Decoding, Sampling
from rnn_apps.outputs.signatures import Signature, step_signature


class EncoderDecoder:
    """Greedy, sampling and beam decoding (and serving) of one trained encoder-decoder.

    Args:
        twins: ``(batch_size, source_length) -> (encoder, decoder)`` Keras models holding
            the trained weights (None = any size); called once per shape and cached.
        start_id, end_id: the ``[START]`` and ``[END]`` ids of the output vocabulary.
        banned: ids never produced (padding, ``[START]``).
        max_length: default most output tokens, ``[END]`` included.
    """

    def __init__(self, twins: Callable, *, start_id: int, end_id: int, banned: Sequence[int], max_length: int):
        self._build, self.start_id, self.end_id = twins, start_id, end_id
        self.banned, self.max_length = tuple(banned), max_length
        self._twins: dict[tuple, tuple] = {}
        self._functions: dict[tuple, Callable] = {}

    def twins(self, batch_size: int | None = None, source_length: int | None = None) -> tuple:
        key = (batch_size, source_length)
        if key not in self._twins:
            self._twins[key] = self._build(batch_size, source_length)
        return self._twins[key]

    @staticmethod
    def _encode(encoder, inputs: tf.Tensor) -> list:
        """``[encoder outputs, mask, *states]``; the outputs' Keras padding mask is dropped
        (``tf.identity``): the decoder takes the mask as an explicit input."""
        encoded, *rest = encoder(inputs, training=False)
        return [tf.identity(encoded), *rest]

    def start(self, inputs: tf.Tensor):
        """Encode and read ``[START]``: (step function, first logits ``[b, V]``, states)."""
        encoder, decoder = self.twins()

        def step(tokens, states):
            encoded, mask, *recurrent = states
            logits, _, *new = decoder([tokens, encoded, mask, *recurrent], training=False)
            return logits, [encoded, mask, *new]

        states = self._encode(encoder, inputs)
        logits, states = step(tf.fill([tf.shape(inputs)[0], 1], self.start_id), states)
        return step, logits[:, -1, :], states

    def compiled(self, decoding: Decoding, max_length: int) -> Callable:
        """A ``tf.function`` ``inputs [b, ...] -> (tokens [b, n], log-probability [b])``
        (log-probability only for beam search; sampling and greedy give zeros)."""
        key = (decoding.beam, decoding.length_penalty, max_length)
        if key in self._functions:
            return self._functions[key]
        encoder, _ = self.twins()  # built here: a tf.function must not create the layers
        spec = tf.TensorSpec([None, *encoder.inputs[0].shape[1:]], encoder.inputs[0].dtype)
        if decoding.beam == 1:  # greedy or sampling, settings as tensors (see Sampling.tensors)
            @tf.function(input_signature=[spec, tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.float32),
                                          tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
                                          tf.TensorSpec([], tf.int64)])
            def run(inputs, greedy, temperature, top_k, top_p, seed):
                step, logits, states = self.start(inputs)
                tokens, _, _ = decode_loop(step, logits, states, tf.constant(max_length), greedy=greedy,
                                           temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                                           banned=self.banned, end_id=self.end_id)
                return tokens, tf.zeros(tf.shape(tokens)[:1])
        else:
            @tf.function(input_signature=[spec])
            def run(inputs):
                step, logits, states = self.start(inputs)
                tokens, log_prob, _ = beam_search(step, logits, states, beam=decoding.beam, max_length=max_length,
                                                  end_id=self.end_id, length_penalty=decoding.length_penalty,
                                                  banned=self.banned)
                return tokens, log_prob
        self._functions[key] = run
        return run

    def greedy_function(self, max_length: int | None = None) -> Callable:
        """``inputs [b, ...] -> [b, n]`` greedy output ids (padding after ``[END]``), compiled;
        call this outside a ``tf.function`` (it builds the twins), then use the result inside."""
        run = self.compiled(Decoding(), max_length or self.max_length)
        settings = sampling_tensors(Sampling(greedy=True, seed=0))
        return lambda inputs: run(inputs, **settings)[0]

    def decode(self, inputs: np.ndarray, decoding: Decoding,
               batch_size: int = 128) -> tuple[list[list[int]], np.ndarray]:
        """Encoder inputs ``[n, ...]`` -> (output ids per input without ``[END]``, log-probabilities ``[n]``)."""
        run = self.compiled(decoding, decoding.max_length or self.max_length)
        outputs, scores = [], []
        settings = sampling_tensors(decoding.sampling or Sampling(greedy=True, seed=0))
        from rnn_apps.progress import track

        starts = range(0, len(inputs), batch_size)
        what = f"decoding {len(inputs):,} inputs" + (f", beam {decoding.beam}" if decoding.beam > 1 else "")
        for start in track(starts, len(starts), what):
            chunk = tf.constant(inputs[start:start + batch_size])
            if decoding.beam > 1:
                tokens, log_prob = run(chunk)
            else:  # each chunk its own seed, so inputs do not share random draws
                tokens, log_prob = run(chunk, **{**settings, "seed": settings["seed"] + start})
            for row in tokens.numpy():
                ids = row.tolist()
                outputs.append(ids[:ids.index(self.end_id)] if self.end_id in ids else [i for i in ids if i != 0])
            scores.append(log_prob.numpy())
        return outputs, np.concatenate(scores) if scores else np.zeros(0)

    def attention(self, inputs: np.ndarray, output_ids: Sequence[int]) -> np.ndarray:
        """Attention weights ``[outputs + END, S]`` of one input ``[1, ...]``, recomputed by
        teacher-forcing the decoder on its own output (the same steps it took)."""
        encoder, decoder = self.twins()
        encoded, mask, *states = self._encode(encoder, tf.constant(inputs))
        tokens = tf.constant([[self.start_id, *output_ids]], tf.int32)
        _, weights, *_ = decoder([tokens, encoded, mask, *states], training=False)
        return weights.numpy()[0]

    def signatures(self, input_spec: tf.TensorSpec, state_names: Sequence[str]) -> dict[str, Signature]:
        """``encode`` (``input_spec``, static, batch 1 -> encoder outputs, mask, states) and
        ``decode_step`` (token + encoder outputs + mask + states -> logits, attention, states)."""
        encoder, decoder = self.twins(1, input_spec.shape[1] if len(input_spec.shape) == 2 else None)

        @tf.function(input_signature=[input_spec])
        def encode(inputs):
            encoded, mask, *states = encoder(inputs, training=False)
            return {"encoder_outputs": encoded, "source_mask": mask, **dict(zip(state_names, states))}

        encoded, mask = decoder.inputs[1], decoder.inputs[2]
        fixed = [tf.TensorSpec(encoded.shape, tf.float32, name="encoder_outputs"),
                 tf.TensorSpec(mask.shape, tf.float32, name="source_mask")]
        return {"encode": Signature(encode, tensor_only=True),
                "decode_step": step_signature(decoder, state_names, fixed, extra_outputs=["attention"])}
