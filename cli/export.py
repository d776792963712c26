"""``rnn-apps export``: write a run in a format something else can serve."""
from __future__ import annotations

from pathlib import Path

import click

from rnn_apps.cli.common import RUN_DIR, out
from rnn_apps.exporters import EXPORTERS


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--format", "fmt", type=click.Choice(list(EXPORTERS)), default="savedmodel", show_default=True,
              help="export format")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="output directory (default RUN_DIR/export/FORMAT); must not exist")
def export(run_dir, fmt, out_dir):
    """Export a run for serving. A SavedModel holds every signature of the task: one on raw
    inputs (strings in, labels or text out) and tensor-only ones with static shapes (ids in,
    probabilities or logits out) for devices.

    \b
    Example:
      rnn-apps export RUN_DIR --out exported/sentiment
      python -c "import tensorflow as tf; m = tf.saved_model.load('exported/sentiment');
                 print(m.signatures['serving_default'](text=tf.constant(['great film'])))"
    """
    import rnn_apps

    out.print(f"wrote {rnn_apps.export(run_dir, format=fmt, out=out_dir)}")
