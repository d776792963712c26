"""``rnn-apps info`` and ``rnn-apps plot``: what a run is, and its curves."""
from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from rnn_apps.cli.common import RUN_DIR
from rnn_apps.cli.common import out as console


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--json", "as_json", is_flag=True, help="print machine-readable JSON")
def info(run_dir, as_json):
    """Task, data, parameter count, config and final metrics of a run.

    \b
    Example:
      rnn-apps info runs/sentiment/20260101-120000
    """
    import rnn_apps

    details = rnn_apps.info(run_dir)
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    table = Table("", "", title=details["run"], show_header=False)
    for key in ("task", "shape", "data", "created", "parameters"):
        if details[key] is not None:
            table.add_row(key, f"{details[key]:,}" if key == "parameters" else str(details[key]))
    if not details["finished"]:  # how far an unfinished run got, and how to go on
        table.add_row("training", f"unfinished: {details['epochs_done']} of {details['epochs']} epochs done")
        table.add_row("last checkpoint", details["last_checkpoint"] or "none yet (stopped in epoch 1)")
        for key, values in details["history"].items():
            if values:
                table.add_row(key, "  ".join(f"{v:.4f}" if isinstance(v, (int, float)) else str(v) for v in values))
        table.add_row("continue", details["resume"])
    for split, report in details["metrics"].items():
        if isinstance(report, dict):
            table.add_row(f"{split} metrics", "  ".join(f"{k} {v:.4f}" for k, v in report.items()
                                                        if isinstance(v, float)))
    table.add_row("config", "  ".join(f"{k}={v}" for k, v in details["config"].items()))
    console.print(table)


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="PNG path (default RUN_DIR/curves.png)")
def plot(run_dir, out):
    """Draw loss and metrics per epoch (train and validation) of a run as a PNG.

    \b
    Example:
      rnn-apps plot runs/sentiment/20260101-120000 --out curves.png
    """
    from rnn_apps.errors import UserError
    from rnn_apps.plots import plot_history
    from rnn_apps.runs import check_output_file, read_json_file, read_run

    read_run(run_dir)
    history = run_dir / "history.json"
    if history.is_file() and not isinstance(read_json_file(history), dict):  # a damaged one names itself
        raise UserError(f"{history} is damaged (expected a JSON object of per-epoch lists)")
    check_output_file(out if out is not None else run_dir / "curves.png", image=True)
    console.print(f"wrote {plot_history(run_dir, out)}")
