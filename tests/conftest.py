"""Shared fixtures: a tiny trained run of any task, and its TFLite export, made once per test
session and shared read-only.

``tiny_run(task, **settings)`` trains the ``tiny`` preset of ``task`` (``settings`` are
``rnn_apps.train``'s keyword arguments, ``name`` the run directory's name) the first time a
test asks for that combination, and hands the same directory to every later test;
``tiny_export(task)`` is the float TFLite export of ``tiny_run(task)``. For every registered
task, ``<task>_run`` and ``<task>_tflite`` name those of its plain tiny run, so a new task
in ``rnn_apps.models.TASKS`` has its fixtures without a line here.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from rich.console import Console  # noqa: E402

from rnn_apps.models import TASKS  # noqa: E402  (the registry alone: no TensorFlow)

QUIET = Console(file=open(os.devnull, "w"))


def train_tiny(task: str, run_dir, **kwargs):
    """Train the ``tiny`` preset of ``task`` into ``run_dir`` (seconds, not minutes)."""
    import rnn_apps

    return rnn_apps.train(task, preset="tiny", run_dir=run_dir, console=QUIET, **kwargs)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``tiny_run(task, name=task, **settings)``: a finished tiny run of ``task`` trained with
    ``settings``, in a folder of its own (``runs*/<name>``), made on first use and then shared
    read-only by every test of the session that asks for the same task, name and settings."""
    made: dict[str, object] = {}

    def tiny_run(task: str, name: str | None = None, **settings):
        key = repr((task, name, sorted(settings.items())))
        if key not in made:
            made[key] = train_tiny(task, tmp_path_factory.mktemp("runs") / (name or task), **settings)
        return made[key]

    return tiny_run


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """``tiny_export(task)``: the float TFLite export of ``tiny_run(task)``, made on first use,
    shared read-only."""
    made: dict[str, object] = {}

    def tiny_export(task: str):
        if task not in made:
            import rnn_apps

            made[task] = rnn_apps.export(tiny_run(task), format="tflite",
                                         out=tmp_path_factory.mktemp("exports") / task)
        return made[task]

    return tiny_export


def _task_fixtures(task: str):
    """``<task>_run`` and ``<task>_tflite``: the plain tiny run of ``task`` and its export."""

    def run(tiny_run):
        return tiny_run(task)

    def export(tiny_export):
        return tiny_export(task)

    run.__doc__ = f"The finished tiny {task} run (built-in data), shared read-only."
    export.__doc__ = f"The float TFLite export of the tiny {task} run, shared read-only."
    return (pytest.fixture(run, scope="session", name=f"{task}_run"),
            pytest.fixture(export, scope="session", name=f"{task}_tflite"))


for _task in TASKS:
    globals()[f"_{_task}_run"], globals()[f"_{_task}_tflite"] = _task_fixtures(_task)
