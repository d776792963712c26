"""Serving signatures: what a task offers to a SavedModel (and, tensor-only, to TFLite).

Every output kind supplies its signatures as ``{name: Signature}``; exporters only write
them. Two families:

* raw signatures take what a user has (strings; later image bytes) and return what a
  user wants (labels, text): tokenization and decoding loops run inside the graph;
* tensor-only signatures take and return numeric tensors with fully static shapes
  (``[1, length]`` token ids, ``[1, units]`` states): what builtin-ops TFLite converts
  and what a device app calls with its own tokenizer and decode loop.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import tensorflow as tf


@dataclasses.dataclass
class Signature:
    """A ``tf.function`` with an input signature, and whether it is tensor-only."""

    function: Any
    tensor_only: bool = False


def step_signature(step_model: Any, state_names: Sequence[str], fixed: Sequence[tf.TensorSpec] = (),
                   extra_outputs: Sequence[str] = ()) -> Signature:
    """A one-step signature over a Keras model ``[token, *fixed, *states] -> [logits, *extra, *states]``.

    ``token [1, 1]`` int32 and ``fixed`` tensors (e.g. encoder outputs) go in with the
    states ``[1, units]`` named ``state_names``; out come ``logits [1, vocab]`` (the last
    step), the ``extra_outputs`` (e.g. ``attention``, last step) and the new states by name.
    Used by the language model's ``step`` and the encoder-decoder's ``decode_step``.
    """
    units = [int(t.shape[-1]) for t in step_model.inputs[1 + len(fixed):]]
    specs = ([tf.TensorSpec([1, 1], tf.int32, name="token"), *fixed]
             + [tf.TensorSpec([1, u], tf.float32, name=n) for n, u in zip(state_names, units)])

    @tf.function(input_signature=specs)
    def step(*args):
        logits, *rest = step_model(list(args), training=False)
        extra, states = rest[:len(extra_outputs)], rest[len(extra_outputs):]
        return {"logits": logits[:, -1, :], **{n: e[:, -1] for n, e in zip(extra_outputs, extra)},
                **dict(zip(state_names, states))}

    return Signature(step, tensor_only=True)
