"""``rnn-apps tasks`` and ``rnn-apps config TASK``: what can be trained, and how."""
from __future__ import annotations

import click
from rich.table import Table

from rnn_apps.cli.common import out
from rnn_apps.models import TASKS


@click.command()
def tasks():
    """List the tasks with their problem shape.

    \b
    Example:
      rnn-apps tasks
    """
    table = Table("task", "shape", "example", title="rnn-apps tasks")
    for name, entry in TASKS.items():
        table.add_row(name, entry.shape, entry.example)
    out.print(table)


@click.command()
@click.argument("task", type=click.Choice(list(TASKS)))
def config(task):
    """Show every config key of TASK with its type, default and meaning, its presets and
    the options its predict and evaluate take.

    Any key can be set with `train --set KEY=VALUE`, as `train --KEY VALUE`, or in a
    YAML/JSON file (--config).

    \b
    Example:
      rnn-apps config sentiment
    """
    from rnn_apps.config import describe_fields
    from rnn_apps.models import get_task
    from rnn_apps.options import flags

    record = get_task(task)
    table = Table("key", "type", "default", "meaning", title=f"{task} config")
    for row in describe_fields(record.config_class):
        table.add_row(row["key"], row["type"], repr(row["default"]), row["help"])
    out.print(table)
    output = record.output(record.config_class())
    out.print(f"presets (--preset): {', '.join(record.presets)}")
    out.print(f"inputs: {', '.join(record.inputs(record.config_class()))}; output: {output.kind}")
    out.print(f"predict options: {flags(output.predict_options)}; evaluate options: {flags(output.evaluate_options)}")
