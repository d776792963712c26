"""``rnn-apps tune``: hyperparameter search on Optuna; ``--report`` shows a study."""
from __future__ import annotations

from pathlib import Path

import click

from rnn_apps.cli.common import UsageProblem, err, out
from rnn_apps.models import TASKS


@click.command()
@click.argument("task", type=click.Choice(list(TASKS)), required=False)
@click.option("--space", type=click.Path(dir_okay=False, path_type=Path), metavar="SPACE.yaml",
              help="YAML file: config key -> {log_uniform|uniform|int: [LOW, HIGH]} or {choice: [...]} or a value")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="finished trials the study should hold (a rerun continues to this count)")
@click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), metavar="MIN",
              help="stop starting trials after MIN minutes (the trial running then stops at its next step)")
@click.option("--metric", default="loss", show_default=True, help="validation metric to optimise (accuracy, ...)")
@click.option("--direction", type=click.Choice(["min", "max"]),
              help="default: min for losses and error rates, else max")
@click.option("--study-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder of the study: its journal, trials/ (run directories), report/")
@click.option("--storage", metavar="URL",
              help="an Optuna RDB URL shared by hosts (sqlite:///study.db, postgresql://...)")
@click.option("--study-name", help="the study's name in the storage (default: the task)")
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default="median", show_default=True,
              help="stop trials whose validation metric falls behind, epoch by epoch")
@click.option("--data", metavar="SRC", help="training data, as for `rnn-apps train`")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML or JSON file of config keys (the base of every trial)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="fix one config key (repeatable)")
@click.option("--preset", help="named preset of the task (the base of every trial)")
@click.option("--epochs", type=click.IntRange(min=1), help="epochs of every trial")
@click.option("--seed", type=click.IntRange(min=0), help="config seed of every trial")
@click.option("--sampler-seed", type=click.IntRange(min=0), help="seed of the TPE sampler (default random)")
@click.option("--report", "report", metavar="STUDY_DIR", help="only report a study (with --storage: its name)")
def tune(task, space, trials, time_budget, metric, direction, study_dir, storage, study_name, pruner, data,
         config_file, overrides, preset, epochs, seed, sampler_seed, report):
    """Search hyperparameters of TASK: every trial is an ordinary run in STUDY_DIR/trials.

    The space file names config keys (those of `rnn-apps config TASK`). Trials are chosen
    by TPE and pruned by the validation metric after each epoch. Rerun the same command to
    continue a study stopped by Ctrl-C or kill -9; run it on several hosts against one
    --storage URL (or one shared --study-dir) to share one study. The report (best trial,
    table, history / importance / parallel-coordinate PNGs) goes to STUDY_DIR/report.

    \b
    Examples:
      cat > space.yaml <<END
      learning_rate: {log_uniform: [1e-4, 1e-2]}
      cell: {choice: [gru, lstm]}
      units: {int: [32, 256], step: 32}
      dropout: {uniform: [0.0, 0.5]}
      END
      rnn-apps tune sentiment --space space.yaml --trials 20 --metric accuracy \\
          --study-dir runs/tune-sst2 --data ../shared/data/sst2/train.tsv --epochs 4
      rnn-apps tune --report runs/tune-sst2
      rnn-apps tune sentiment --space space.yaml --storage sqlite:///study.db --study-dir runs/tune-db
      rnn-apps compare runs/tune-sst2/trials/0003 runs/tune-sst2/trials/0007
    """
    import rnn_apps

    if report is None and (task is None or space is None):
        raise UsageProblem("name a TASK and a --space file, or --report STUDY_DIR")
    result = rnn_apps.tune(task, space, trials=trials, time_budget=time_budget, metric=metric, direction=direction,
                           study_dir=study_dir, storage=storage, study_name=study_name, pruner=pruner, data=data,
                           config=config_file, overrides=overrides, preset=preset, epochs=epochs, seed=seed,
                           sampler_seed=sampler_seed, report=report, console=err)
    render_report(result)


def render_report(result: dict) -> None:
    """The trials table, the best trial and where the plots are."""
    from rich.table import Table

    rows = result["trials"]
    params = list(dict.fromkeys(k for row in rows for k in row["params"]))
    finished = sum(r["state"] in ("complete", "pruned") for r in rows)
    table = Table(title=f"study {result['study']} ({result['task']}, {result['direction']} {result['metric']}): "
                        f"{finished} finished, {result['pruned']} pruned")
    for name in ["trial", "state", f"val {result['metric']}", *params, "epochs", "run"]:
        table.add_column(name, overflow="fold")  # narrow terminals wrap, never hide, values
    best = (result["best"] or {}).get("trial")
    folder = Path(result["study_dir"])
    for row in rows:
        value = row["value"]
        run = Path(row["run"]) if row["run"] else None
        shown = str(run.relative_to(folder)) if run and run.is_relative_to(folder) else str(run or "")
        cells = [f"{row['params'][k]:.4g}" if isinstance(row["params"].get(k), float)
                 else str(row["params"].get(k, "")) for k in params]
        table.add_row(f"{row['trial']}{' *' if row['trial'] == best else ''}", row["state"],
                      "" if value is None else f"{value:.4f}", *cells, str(row["epochs"]), shown,
                      style="bold green" if row["trial"] == best else None)
    out.print(table)
    if result["best"]:
        b = result["best"]
        test = {k: round(v, 4) for k, v in b["metrics"].get("test", {}).items() if isinstance(v, float)}
        out.print(f"best: trial {b['trial']}, val {result['metric']} {b['value']:.4f}, test {test}; run {b['run']}",
                  soft_wrap=True, highlight=False)
    for name, path in result["plots"].items():
        out.print(f"{name}: {path}", highlight=False)
    out.print(f"report: {result['report']}", highlight=False)
