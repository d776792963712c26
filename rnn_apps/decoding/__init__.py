"""Decoding: turning a model's next-token predictions into sequences.

* ``sampling``: greedy, temperature, top-k and nucleus sampling; the compiled
  ``decode_loop`` and the language model's ``Generator``;
* ``beam``: beam search;
* ``engine``: the encoder-decoder inference engine (encode once, then one decoder step
  per token) that translation and captioning share.

All of them drive one interface, ``step(tokens [batch, time], states) -> (logits, states)``.
"""
