"""Training: the loop every task shares, in pieces, with its callbacks and optimizers.

* ``loop``: ``train(...)`` = plan (read, split, fit features; nothing written yet) ->
  model (new, or from the last checkpoint) -> run directory -> fit -> finish;
* ``callbacks``: rich progress, atomic checkpoints, the NaN guard, the time budget;
* ``optimizers``: optimizers by name, with gradient clipping.
"""
