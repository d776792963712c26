"""Shared fixtures: a tiny trained run of any task, made once per test session."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from rich.console import Console  # noqa: E402

QUIET = Console(file=open(os.devnull, "w"))


def train_tiny(task: str, run_dir, **kwargs):
    """Train the ``tiny`` preset of ``task`` into ``run_dir`` (seconds, not minutes)."""
    import rnn_apps

    return rnn_apps.train(task, preset="tiny", run_dir=run_dir, console=QUIET, **kwargs)


@pytest.fixture(scope="session")
def sentiment_run(tmp_path_factory):
    """A finished tiny sentiment run directory, shared read-only by many tests."""
    return train_tiny("sentiment", tmp_path_factory.mktemp("runs") / "sentiment")


@pytest.fixture(scope="session")
def textgen_run(tmp_path_factory):
    """A finished tiny textgen run (char level, truncated BPTT), shared read-only."""
    return train_tiny("textgen", tmp_path_factory.mktemp("runs") / "textgen")


@pytest.fixture(scope="session")
def translate_run(tmp_path_factory):
    """A finished tiny translate run (built-in pairs, bahdanau attention), shared read-only."""
    return train_tiny("translate", tmp_path_factory.mktemp("runs") / "translate")


@pytest.fixture(scope="session")
def sentiment_tflite(sentiment_run, tmp_path_factory):
    """A float TFLite export of the tiny sentiment run, shared read-only."""
    import rnn_apps

    return rnn_apps.export(sentiment_run, format="tflite", out=tmp_path_factory.mktemp("exports") / "sentiment")


@pytest.fixture(scope="session")
def textgen_tflite(textgen_run, tmp_path_factory):
    """A float TFLite export of the tiny textgen run, shared read-only."""
    import rnn_apps

    return rnn_apps.export(textgen_run, format="tflite", out=tmp_path_factory.mktemp("exports") / "textgen")


@pytest.fixture(scope="session")
def video_run(tmp_path_factory):
    """A finished tiny video run (built-in moving-square clips), shared read-only."""
    return train_tiny("video", tmp_path_factory.mktemp("runs") / "video")


@pytest.fixture(scope="session")
def vqa_run(tmp_path_factory):
    """A finished tiny VQA run (built-in Sort-of-CLEVR scenes), shared read-only."""
    return train_tiny("vqa", tmp_path_factory.mktemp("runs") / "vqa")


@pytest.fixture(scope="session")
def caption_run(tmp_path_factory):
    """A finished tiny captioning run (built-in shapes, soft attention), shared read-only."""
    return train_tiny("caption", tmp_path_factory.mktemp("runs") / "caption")
