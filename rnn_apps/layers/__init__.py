"""Network building blocks shared by every task.

* ``cells``: the recurrent cells (``vanilla`` from the equations, ``simple``, ``lstm``, ``gru``);
* ``recurrent``: stacks of them (bidirectional, residual, with given or returned states),
  masked sequence pooling, and moving weights between a model and its decoding twins;
* ``attention``: soft attention over encoder outputs (bahdanau, luong);
* ``crf``: a linear-chain CRF over per-token scores (forward algorithm for the loss,
  Viterbi for prediction), for tagging.
"""
