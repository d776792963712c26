"""Motion for frame labelling: what changed from one frame to the next, given to the network.

A label such as *left* or *still* is a property of a frame *pair*, not of a frame: the
motion that brought the picture to frame t is ``x_t - x_{t-1}``. A per-frame CNN followed
by an RNN has to recover it by comparing the CNN's features across steps, and a recurrent
state that still holds "moving" blurs the frames where the motion stops (a short pause
after a movement reads as the movement). Handing the network the difference itself makes
a still frame a zero picture and the direction a local pattern (bright where the object
arrived, dark where it left), which a conv net reads from one step. Two places to do it:

* ``FrameDifference`` (before the CNN): frames ``[b, T, H, W, C]`` -> ``[b, T, H, W, 2C]``,
  each frame with its difference from the previous frame stacked as extra channels
  ("early fusion" of neighbouring frames). Needs a CNN that takes ``2C`` channels (the
  small conv net does; a pretrained backbone takes RGB).
* ``FeatureDifference`` (after the CNN): features ``[b, T, D]`` -> ``[b, T, 2D]``, each
  step's features with their change from the previous step; works with any CNN.

The first frame of a clip has no previous frame: its difference is zero (nothing moved
yet). Clips are padded at the end, so the first real frame is always step 0 and padding
never leaks into a real frame's difference (the padded steps are masked downstream).
"""
from __future__ import annotations

import keras
from keras import ops


def _previous(x):
    """``x`` shifted one step later along axis 1, step 0 repeated: ``x_{t-1}`` (``x_0`` at t = 0)."""
    return ops.concatenate([x[:, :1], x[:, :-1]], axis=1)


@keras.saving.register_keras_serializable(package="rnn_apps")
class FrameDifference(keras.layers.Layer):
    """``[b, T, H, W, C]`` -> ``[b, T, H, W, 2C]``: each frame, then ``x_t - x_{t-1}`` (0 at t = 0)."""

    def call(self, frames):
        return ops.concatenate([frames, frames - _previous(frames)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="rnn_apps")
class FeatureDifference(keras.layers.Layer):
    """``[b, T, D]`` -> ``[b, T, 2D]``: each step's features, then ``f_t - f_{t-1}`` (0 at t = 0)."""

    def call(self, features):
        return ops.concatenate([features, features - _previous(features)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else 2 * input_shape[-1])
