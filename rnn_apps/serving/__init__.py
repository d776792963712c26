"""Serving trained runs and exports over HTTP (``rnn-apps serve``).

* ``app``: the FastAPI application: TF Serving's REST API, health, metadata and metrics;
* ``batching``: dynamic batching of concurrent requests for one model;
* ``page``: the web page per model (``GET /``, ``GET /ui/NAME``), drawn from its kinds.

Needs the ``serve`` extra (``pip install 'rnn-apps[serve]'``: FastAPI, uvicorn,
prometheus-client). Serving a TFLite export imports no TensorFlow.
"""
