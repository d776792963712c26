"""``rnn-apps compare``: finished runs of one task side by side, in the terminal and as HTML."""
from __future__ import annotations

from pathlib import Path

import click

from rnn_apps.cli.common import RUN_DIR, out


@click.command()
@click.argument("runs", nargs=-1, required=True, type=RUN_DIR)
@click.option("--out", "html", type=click.Path(dir_okay=False, path_type=Path), default=Path("compare.html"),
              show_default=True, help="the self-contained HTML report (figures inline, no network needed)")
@click.option("--metric", help="held-out metric to rank by (default: the first the runs report, e.g. loss)")
def compare(runs, html, metric):
    """Compare runs of one task: config differences, held-out metrics, parameters, time,
    learning curves overlaid, per-class F1 and confusion matrices where there are classes.

    \b
    Examples:
      rnn-apps compare runs/sentiment/20260101-120000 runs/sentiment/20260102-090000
      rnn-apps compare runs/tune-sst2/trials/* --metric accuracy --out sst2.html
    """
    from rich.table import Table

    import rnn_apps

    result = rnn_apps.compare(runs, out=html, metric=metric)
    rows = result["rows"]
    header = ["run", *result["differences"], *(f"{result['split']} {m}" for m in rows[0]["metrics"]), "parameters",
              "train s", "epochs run"]
    cells = [[row["run"], *(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row["config"].values()),
              *(f"{v:.4f}" for v in row["metrics"].values()), f"{row['parameters']:,}",
              "" if row["seconds"] is None else f"{row['seconds']:.1f}", str(row["epochs"])] for row in rows]
    title = f"{result['task']}: ranked by {result['split']} {result['metric']}"
    if sum(max(len(h), *(len(c[i]) for c in cells)) + 3 for i, h in enumerate(header)) <= out.width:
        table = Table(*header, title=title)
        for line in cells:
            table.add_row(*line)
    else:  # too wide for the terminal: one column per run, one row per setting or metric
        table = Table("", *(line[0] for line in cells), title=title)
        for i, name in enumerate(header[1:], start=1):
            table.add_row(name, *(line[i] for line in cells))
    out.print(table)
    if not result["differences"]:
        out.print("the runs' configs are identical", highlight=False)
    out.print(f"report: {result['html']}", highlight=False)
