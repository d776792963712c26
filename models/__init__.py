"""The task registry: one explicit line per task.

Each entry names the module that holds the task (its ``TASK`` record) and what
``rnn-apps tasks`` shows; the module is imported only when the task is used, so the CLI
starts without loading TensorFlow.
"""
from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class TaskEntry:
    module: str
    shape: str
    example: str


TASKS: dict[str, TaskEntry] = {
    "sentiment": TaskEntry("rnn_apps.models.sentiment", "many-to-one", "review -> positive/negative"),
    "textgen": TaskEntry("rnn_apps.models.textgen", "many-to-many", "text -> more text like it"),
    "translate": TaskEntry("rnn_apps.models.translate", "many-to-many (encoder-decoder)",
                           "sentence -> sentence in another language"),
    "video": TaskEntry("rnn_apps.models.video", "many-to-many (one output per step)", "clip -> a label per frame"),
    "vqa": TaskEntry("rnn_apps.models.vqa", "image + sentence -> answer", "picture + question -> answer"),
    "caption": TaskEntry("rnn_apps.models.caption", "one-to-many", "picture -> sentence, with attention"),
    "tag": TaskEntry("rnn_apps.models.tag", "many-to-many (one output per step)", "sentence -> a tag per word"),
}


def get_task(name: str):
    """The ``Task`` record of ``name`` (imports its module)."""
    from rnn_apps.errors import UserError

    if name not in TASKS:
        raise UserError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    task = importlib.import_module(TASKS[name].module).TASK
    assert task.name == name, f"{TASKS[name].module} registers {task.name!r}, not {name!r}"
    return task
