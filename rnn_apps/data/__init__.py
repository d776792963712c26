"""Data: from where users keep examples to the tensors a model reads.

* ``examples``: ``Examples`` (named columns with file:line origins) and splits;
* ``readers``: TSV/CSV/JSONL files and prepared TFDS datasets;
* ``text``: vocabularies and tokenizers (Keras ``TextVectorization``, token vocabularies, labels);
* ``inputs``: input kinds (text ...), each fitting, saving and encoding itself;
* ``pipeline``: tf.data pipelines (per-name padding, length bucketing, token streams).
"""
