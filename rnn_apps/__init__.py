"""rnn-apps: ready recurrent-network applications on TensorFlow/Keras 3.

The public functions (``train``, ``evaluate``, ``predict``, ``generate``, ``info``, ``export``,
``load_run``) are imported lazily, so ``import rnn_apps`` (and the CLI's ``--help``)
does not load TensorFlow.
"""
__version__ = "0.1.0"

_API = ("train", "evaluate", "predict", "generate", "info", "export", "load", "load_run")


def __getattr__(name):
    if name in _API:
        from rnn_apps import api

        return getattr(api, name)
    raise AttributeError(f"module 'rnn_apps' has no attribute {name!r}")


__all__ = list(_API)
