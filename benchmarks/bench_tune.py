"""Tuning benchmark on SST-2: a study under a fixed wall-clock budget vs the default config
trained for the same time.

Both sides train on SST-2's training file with the sentiment task's honest split (``split:
auto`` = contained: a phrase stays with its sentence; every trial and the default run use
seed 42, so they share the same train / validation / test sentences). The study chooses its
best trial by *validation* accuracy; the table reports that trial's accuracy on the honest
test sentences, which no choice looked at, beside the default config's.

The space is a generic one for a recurrent classifier (rates, sizes, cell, pooling,
dropouts), written before looking at any result. Measured on whatever this machine gives
(a shared CPU makes both sides slower alike: compare them with each other).

Prints a table and writes ``benchmarks/results/bench_tune.json``; skips cleanly without the data.

    python benchmarks/bench_tune.py [--data PATH] [--trials 20] [--minutes 60] [--pruner median]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "sst2" / "train.tsv"
SPACE = """\
learning_rate: {log_uniform: [3e-4, 1e-2]}
cell: {choice: [gru, lstm]}
units: {int: [32, 128], step: 32}
embedding_dim: {int: [32, 128], step: 32}
pooling: {choice: [last, max, mean]}
dropout: {uniform: [0.0, 0.5]}
embedding_dropout: {uniform: [0.0, 0.4]}
epochs: 3
"""


def honest_test_accuracy(run: Path, test) -> float:
    """Accuracy of a run's best model on the honest test sentences."""
    import rnn_apps

    loaded = rnn_apps.load(run)
    return float(loaded.output.evaluate(loaded.model, loaded.features, test)["accuracy"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--trials", type=int, default=20, help="trials the study may finish within the budget")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of each side")
    parser.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    parser.add_argument("--work", type=Path, help="where the study and the default run go (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_tune.json")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: no SST-2 data at {args.data}")
        return 0
    sys.path.insert(0, str(HERE.parent))
    from rich.console import Console
    from rich.table import Table

    import rnn_apps
    from rnn_apps.config import resolve_config
    from rnn_apps.models import get_task

    quiet = Console(file=open(os.devnull, "w"))
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_tune."))
    work.mkdir(parents=True, exist_ok=True)
    task = get_task("sentiment")
    cfg = resolve_config(task.config_class)
    honest = task.split_examples(task.load_examples(cfg, str(args.data)), cfg)
    (work / "space.yaml").write_text(SPACE)

    started = time.perf_counter()
    report = rnn_apps.tune("sentiment", work / "space.yaml", trials=args.trials, time_budget=args.minutes,
                           metric="accuracy", study_dir=work / "study", data=str(args.data), pruner=args.pruner,
                           console=Console(stderr=True))
    study_seconds = time.perf_counter() - started
    best = report["best"]
    study = {"seconds": round(study_seconds, 1), "trials_finished": sum(r["state"] in ("complete", "pruned")
                                                                          for r in report["trials"]),
             "trials_pruned": report["pruned"], "trials_failed": sum(r["state"] == "fail" for r in report["trials"]),
             "epochs_trained": sum(r["epochs"] for r in report["trials"]),
             "best_trial": best["trial"], "best_params": best["params"], "best_val_accuracy": best["value"],
             "best_honest_test_accuracy": honest_test_accuracy(Path(best["run"]), honest["test"]),
             "trials": [{k: r[k] for k in ("trial", "state", "value", "epochs", "params")} for r in report["trials"]]}
    print(json.dumps({k: v for k, v in study.items() if k != "trials"}), flush=True)

    started = time.perf_counter()
    run = rnn_apps.train("sentiment", data=str(args.data), run_dir=work / "default",
                         overrides=[f"time_budget={args.minutes}", "epochs=100"], console=quiet)
    default_seconds = time.perf_counter() - started
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    default = {"seconds": round(default_seconds, 1), "epochs_trained": len(history["loss"]),
               "val_accuracy": metrics["val"]["accuracy"],
               "honest_test_accuracy": honest_test_accuracy(run, honest["test"])}
    print(json.dumps(default), flush=True)

    results = {"data": str(args.data), "split": honest.note, "budget_minutes": args.minutes,
               "trials_requested": args.trials, "pruner": args.pruner, "space": SPACE, "study": study,
               "default": default, "cpus": os.cpu_count(),
               "note": "wall-clock budget on a CPU shared with other jobs; both sides measured in one run"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))

    table = Table("side", "wall s", "runs / epochs", "val accuracy", "honest test accuracy",
                  title=f"SST-2: {args.minutes:g}-minute budget each ({honest.note})")
    table.add_row(f"study: {study['trials_finished']} trials ({study['trials_pruned']} pruned), best = trial "
                  f"{best['trial']}", f"{study['seconds']:.0f}",
                  f"{study['trials_finished']} / {study['epochs_trained']}",
                  f"{study['best_val_accuracy']:.4f}", f"{study['best_honest_test_accuracy']:.4f}")
    table.add_row("default config, same budget", f"{default['seconds']:.0f}", f"1 / {default['epochs_trained']}",
                  f"{default['val_accuracy']:.4f}", f"{default['honest_test_accuracy']:.4f}")
    Console().print(table)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
