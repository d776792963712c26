"""Optimizers by name, with gradient clipping as a first-class setting."""
from __future__ import annotations

import keras

from rnn_apps.errors import UserError

OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


def make_optimizer(name: str, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule, *,
                   global_clipnorm: float = 0.0, clipnorm: float = 0.0,
                   weight_decay: float = 0.0) -> keras.optimizers.Optimizer:
    """``name`` (adam, rmsprop, sgd) at ``learning_rate`` (a number or a schedule).

    ``global_clipnorm`` scales the whole gradient down when its global L2 norm passes it
    (the notes' "clip the gradient when its norm passes a threshold"); ``clipnorm`` clips
    each weight's gradient separately. 0 turns either off; only one may be on.
    ``weight_decay`` shrinks every weight but biases and normalisation scales by
    ``weight_decay * learning_rate`` per step, apart from the gradient (AdamW with adam).
    """
    if global_clipnorm > 0 and clipnorm > 0:
        raise UserError("set only one of global_clipnorm and clipnorm (the other to 0)")
    if name not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {name!r}; optimizers: {', '.join(OPTIMIZERS)}")
    clipping = {"global_clipnorm": global_clipnorm} if global_clipnorm > 0 else \
        {"clipnorm": clipnorm} if clipnorm > 0 else {}
    optimizer = OPTIMIZERS[name](learning_rate=learning_rate, weight_decay=weight_decay or None, **clipping)
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def learning_rate_for(cfg, total_steps: int | None = None):
    """``cfg.learning_rate`` as it is (``lr_schedule: constant``), or a cosine decay to 0
    over ``total_steps`` after ``warmup_steps`` of linear warm-up from 0."""
    if getattr(cfg, "lr_schedule", "constant") == "constant":
        return cfg.learning_rate
    if not total_steps:
        raise UserError("lr_schedule cosine needs to know the number of steps: set epochs")
    warmup = min(cfg.warmup_steps, total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else cfg.learning_rate, decay_steps=max(total_steps - warmup, 1),
        warmup_target=cfg.learning_rate if warmup else None, warmup_steps=warmup)


def optimizer_for(cfg, total_steps: int | None = None) -> keras.optimizers.Optimizer:
    """The optimizer a run's config asks for (``optimizer``, ``learning_rate`` and its
    schedule over ``total_steps``, clipping, ``weight_decay``)."""
    return make_optimizer(cfg.optimizer, learning_rate_for(cfg, total_steps), global_clipnorm=cfg.global_clipnorm,
                          clipnorm=cfg.clipnorm, weight_decay=getattr(cfg, "weight_decay", 0.0))
