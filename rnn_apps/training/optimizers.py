"""Optimizers by name, with gradient clipping as a first-class setting."""
from __future__ import annotations

import keras

from rnn_apps.errors import UserError

OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


def make_optimizer(name: str, learning_rate: float, *, global_clipnorm: float = 0.0,
                   clipnorm: float = 0.0) -> keras.optimizers.Optimizer:
    """``name`` (adam, rmsprop, sgd) at ``learning_rate``.

    ``global_clipnorm`` scales the whole gradient down when its global L2 norm passes it
    (the notes' "clip the gradient when its norm passes a threshold"); ``clipnorm`` clips
    each weight's gradient separately. 0 turns either off; only one may be on.
    """
    if global_clipnorm > 0 and clipnorm > 0:
        raise UserError("set only one of global_clipnorm and clipnorm (the other to 0)")
    if name not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {name!r}; optimizers: {', '.join(OPTIMIZERS)}")
    clipping = {"global_clipnorm": global_clipnorm} if global_clipnorm > 0 else \
        {"clipnorm": clipnorm} if clipnorm > 0 else {}
    return OPTIMIZERS[name](learning_rate=learning_rate, **clipping)


def optimizer_for(cfg) -> keras.optimizers.Optimizer:
    """The optimizer a run's config asks for (``optimizer``, ``learning_rate``, clipping)."""
    return make_optimizer(cfg.optimizer, cfg.learning_rate, global_clipnorm=cfg.global_clipnorm,
                          clipnorm=cfg.clipnorm)
