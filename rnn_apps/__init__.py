"""rnn-apps: ready recurrent-network applications on TensorFlow/Keras 3.

The public functions (``train``, ``evaluate``, ``predict``, ``generate``, ``info``, ``export``,
``load_run``, ``tune``, ``compare``) are imported lazily, so ``import rnn_apps`` (and the
CLI's ``--help``) does not load TensorFlow.
"""
__version__ = "0.1.0"

_API = ("train", "evaluate", "predict", "generate", "info", "export", "load", "load_run")
# Modules named apart from their function (``rnn_apps.compare`` as a module would shadow the function).
_ELSEWHERE = {"tune": "rnn_apps.tuning", "compare": "rnn_apps.comparison"}


def __getattr__(name):
    if name in _API:
        from rnn_apps import api

        return getattr(api, name)
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'rnn_apps' has no attribute {name!r}")


__all__ = [*_API, *_ELSEWHERE]
