"""The on-device runtime: run a TFLite export without TensorFlow or Keras.

    >>> from rnn_apps.lite import load
    >>> model = load("runs/sentiment/.../export/tflite")
    >>> model.predict(["great acting but a dull plot"])

* ``runtime``: loads an export folder (checking its files against ``manifest.json``)
  and runs it end to end by output kind: classify, generate, translate;
* ``text``: the tokenizers, written again without TensorFlow, giving the ids the
  trained vectorizers gave (tests compare them on real and generated text);
* ``decoding``: greedy, sampling and beam search in NumPy over a device's one-step call.

It imports numpy, ``ai-edge-litert`` and the plain-Python parts of rnn-apps only; a test
checks that TensorFlow and Keras stay out.
"""
from rnn_apps.lite.runtime import load  # noqa: F401
