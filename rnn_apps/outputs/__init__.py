"""Output kinds: what a task predicts, and everything that follows from it.

* ``classification.ClassLabel`` ("label"): one class per example (many-to-one);
* ``sequence.TokenSequence`` ("sequence"): a token sequence from an encoder (translate);
* ``language_model.NextToken`` ("next_token"): the next token at every step (textgen).

Each kind gives its targets and loss, the datasets that feed them, ``predict`` and
``evaluate`` results (which the CLI renders by kind), the options those take, and its
serving signatures (see ``rnn_apps.task.Output``).
"""
