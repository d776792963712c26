"""Image encoders: a small conv net trained from scratch, or a ``keras.applications`` backbone.

``image_encoder(cfg)`` is a Keras model ``images [b, H, W, C] float 0..1 -> grid [b, h, w, D]``,
a spatial grid of ``L = h * w`` feature vectors. Tasks read it three ways:

* pooled (``GlobalAveragePooling2D``): one vector per image, what VQA fuses with the question;
* flattened: one vector that keeps *where* things are (video frames, whose labels depend on
  motion, i.e. on positions across frames);
* as a sequence ``[b, L, D]`` (``grid_sequence``): the L locations a captioning decoder
  attends over.

The small net is the Relation Network's: ``cnn_layers`` times (3x3 conv, ``cnn_filters``
filters, stride 2, batch norm, ReLU), so 75 x 75 pixels become a 5 x 5 grid after four
layers; cheap on a CPU. A backbone (``cnn: MobileNetV2`` ...) starts from random weights
(``weights=None``) or from a file the user gives (``cnn_weights``); nothing downloads.
"""
from __future__ import annotations

from pathlib import Path

import keras

from rnn_apps.errors import UserError

# How each family of keras.applications expects its pixels; others get [-1, 1].
PREPROCESS = {"MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2", "ResNet50": "resnet", "ResNet101": "resnet",
              "ResNet50V2": "resnet_v2", "EfficientNetB0": "efficientnet", "VGG16": "vgg16", "DenseNet121": "densenet"}


def image_encoder(cfg, name: str = "cnn") -> keras.Model:
    """``[b, image_size, image_size, channels]`` float 0..1 -> ``[b, h, w, D]`` feature grid."""
    images = keras.Input((cfg.image_size, cfg.image_size, cfg.channels), name="images")
    if cfg.cnn == "small":
        x = images
        for k in range(cfg.cnn_layers):
            x = keras.layers.Conv2D(cfg.cnn_filters, 3, strides=2, padding="same", name=f"{name}_conv_{k + 1}")(x)
            # momentum 0.9: short runs; synchronized: under a distribution strategy the
            # statistics are those of the global batch, as on one device
            x = keras.layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"{name}_norm_{k + 1}")(x)
            x = keras.layers.ReLU(name=f"{name}_relu_{k + 1}")(x)
        return keras.Model(images, x, name=name)
    return keras.Model(images, _backbone(cfg, images), name=name)


def _backbone(cfg, images):
    if not hasattr(keras.applications, cfg.cnn) or cfg.cnn[0].islower():
        raise UserError(f"unknown cnn {cfg.cnn!r}; use small or a keras.applications model such as MobileNetV2, "
                        f"ResNet50, EfficientNetB0")
    if cfg.channels != 3:
        raise UserError(f"cnn {cfg.cnn} reads RGB images; set channels=3")
    x = keras.layers.Rescaling(255.0, name="to_pixels")(images)
    family = PREPROCESS.get(cfg.cnn)
    if family:
        x = getattr(keras.applications, family).preprocess_input(x)
    else:
        x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit_range")(x)
    model = getattr(keras.applications, cfg.cnn)(include_top=False, weights=None,
                                                 input_shape=(cfg.image_size, cfg.image_size, 3))
    if cfg.cnn_weights:
        path = Path(cfg.cnn_weights)
        if not path.is_file():
            raise UserError(f"cnn_weights: no such file: {path}")
        try:
            model.load_weights(str(path))
        except Exception as exc:  # wrong architecture, wrong file type
            raise UserError(f"cnn_weights: {path} does not fit {cfg.cnn} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0]})") from None
    return model(x)


def grid_sequence(grid: keras.KerasTensor, name: str = "grid_sequence") -> keras.KerasTensor:
    """``[b, h, w, D]`` -> ``[b, L, D]``: the L = h * w locations as a sequence to attend over."""
    h, w, d = grid.shape[1:]
    return keras.layers.Reshape((h * w, d), name=name)(grid)


@keras.saving.register_keras_serializable(package="rnn_apps")
class PerFrame(keras.layers.Layer):
    """Run an image model on every frame: ``[b, T, H, W, C]`` -> ``[b, T, *out]``.

    What ``TimeDistributed`` is for, written as two reshapes around one batched call
    (``[b * T, H, W, C]``): Keras 3.15's ``TimeDistributed`` mixed up the batch and time
    sizes in a graph where the number of frames is unknown (clips of any length).
    """

    def __init__(self, inner: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def build(self, input_shape):
        self.inner.build((None, *input_shape[2:]))

    def call(self, frames, training=None):
        shape = keras.ops.shape(frames)
        flat = keras.ops.reshape(frames, (-1, *frames.shape[2:]))
        out = self.inner(flat, training=training)
        return keras.ops.reshape(out, (shape[0], shape[1], *out.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], *self.inner.compute_output_shape((None, *input_shape[2:]))[1:])

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)
