"""Runs side by side: a leaderboard, learning curves overlaid, per-class results, one HTML file.

    compare([RUN, RUN, ...]) -> {"rows": [...], "differences": [...], "curves": {...}, "html": PATH}

The runs must be of one task (their metrics mean the same thing). The leaderboard shows
only the config keys whose values differ, the held-out metrics (test split, or validation
when a run has none), the parameter count and the training time, best first by ``metric``.
Figures are drawn with matplotlib Agg and inlined into the HTML as base64 PNGs, so the file
opens anywhere, offline, with nothing beside it.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import io
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rnn_apps.config import read_config_file
from rnn_apps.errors import UserError
from rnn_apps.runs import read_json_file, read_run, write_text

LOWER_IS_BETTER = ("loss", "perplexity", "cer", "wer", "ter", "error")


@dataclasses.dataclass
class RunSummary:
    """What ``compare`` reads of one finished run directory."""

    name: str
    path: Path
    task: str
    config: dict
    metrics: dict
    history: dict
    parameters: int
    seconds: float | None


def read_summary(run_dir: str | Path, name: str) -> RunSummary:
    """A finished run's config, reports, history and parameter count (``model.keras``)."""
    from rnn_apps.runs import load_model

    path, meta = read_run(run_dir)
    if not (path / "metrics.json").is_file():
        raise UserError(f"{path} has not finished training (no metrics.json); continue it with --resume {path}")
    metrics = read_json_file(path / "metrics.json")
    history = read_json_file(path / "history.json") if (path / "history.json").is_file() else {}
    if not isinstance(metrics, dict) or not isinstance(history, dict):
        raise UserError(f"{path}: metrics.json or history.json is damaged (expected a JSON object)")
    from rnn_apps.api import _task

    try:
        _task(meta["task"])  # its custom layers, for loading its model
    except UserError as exc:
        raise UserError(f"{path / 'run.json'}: {exc}") from None
    model = load_model(path / "model.keras")
    return RunSummary(name, path, meta["task"], read_config_file(path / "config.yaml"), metrics, history,
                      int(model.count_params()), metrics.get("train_seconds"))


def run_names(paths: list[Path]) -> list[str]:
    """Short distinct names: the folder name, with as many parent folders as it takes."""
    for depth in range(1, 6):
        names = ["/".join(p.resolve().parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return [str(p) for p in paths]


def compare(runs: Iterable[str | Path], out: str | Path | None = None, metric: str | None = None) -> dict:
    """Compare finished runs of one task; with ``out`` write the self-contained HTML report.

    Args:
        runs: two or more run directories.
        out: the HTML file to write (atomically); None writes nothing.
        metric: the held-out metric to rank by (default the first one, e.g. loss); lower is
            better for losses, perplexity and error rates, higher for the rest.

    Returns ``{"task", "split", "metric", "differences": [keys], "rows": [{run, config: {key:
    value}, metrics, parameters, seconds, epochs}], "curves": {run: {history key: [values]}},
    "lines": {metric: [labels of the lines drawn]}, "figures": {name: PNG bytes}, "html": path or None}``.
    """
    paths = [Path(r) for r in runs]
    if len(paths) < 2:
        raise UserError("compare needs at least two run directories")
    if out is not None:
        from rnn_apps.runs import check_new_path

        check_new_path(out, "file")
    names = run_names(paths)
    tasks = [read_run(p)[1]["task"] for p in paths]  # before any model is loaded: fail fast
    if len(set(tasks)) > 1:
        which = ", ".join(f"{n} is {t}" for n, t in zip(names, tasks))
        raise UserError(f"runs of different tasks cannot be compared ({which}); compare runs of one task")
    summaries = [read_summary(p, n) for p, n in zip(paths, names)]
    split = "test" if all("test" in s.metrics for s in summaries) else "val"
    names = [k for k, v in summaries[0].metrics.get(split, {}).items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "examples"
             and all(isinstance(s.metrics.get(split, {}).get(k), (int, float)) for s in summaries)]
    if metric is not None and metric not in names:
        raise UserError(f"metric {metric!r} is not in every run's {split} report; metrics: {', '.join(names)}")
    metric = metric or (names[0] if names else None)
    lower = metric is not None and any(metric.endswith(w) for w in LOWER_IS_BETTER)
    if metric is not None:
        summaries.sort(key=lambda s: s.metrics[split][metric] * (1 if lower else -1))
    differences = differing_keys([s.config for s in summaries])
    rows = [{"run": s.name, "path": str(s.path), "config": {k: s.config.get(k) for k in differences},
             "metrics": {k: s.metrics[split][k] for k in names}, "parameters": s.parameters, "seconds": s.seconds,
             "epochs": len(next(iter(s.history.values()), []))} for s in summaries]
    curves, lines = plot_curves(summaries)
    figures = {"curves": curves}
    if all("per_class" in s.metrics.get(split, {}) for s in summaries):
        figures["per_class"] = plot_per_class(summaries, split)
    if all("confusion" in s.metrics.get(split, {}) for s in summaries):
        figures["confusion"] = plot_confusions(summaries, split)
    result = {"task": tasks[0], "split": split, "metric": metric, "lower_is_better": lower,
              "differences": differences, "rows": rows, "curves": {s.name: s.history for s in summaries},
              "lines": lines, "figures": figures, "html": None}
    if out is not None:
        write_text(Path(out), render_html(result))
        result["html"] = str(out)
    return result


def differing_keys(configs: list[dict]) -> list[str]:
    """Config keys whose values are not the same in every run, in config order."""
    keys = list(dict.fromkeys(k for c in configs for k in c))
    return [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]


# --- figures --------------------------------------------------------------------------------------

def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(summaries: list[RunSummary]) -> tuple[bytes, dict[str, list[str]]]:
    """One panel per metric; each run one colour, training dashed and validation solid.
    Returns the PNG and the lines drawn in each panel (``{metric: ["RUN (train)", ...]}``)."""
    plt = _pyplot()
    metrics = list(dict.fromkeys(k for s in summaries for k in s.history if not k.startswith("val_")))
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(5 * max(1, len(metrics)), 3.8), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, name in zip(axes[0], metrics):
        for i, s in enumerate(summaries):
            for key, style, label in ((name, "--", "train"), (f"val_{name}", "-", "val")):
                values = s.history.get(key)
                if values:
                    ax.plot(np.arange(1, len(values) + 1), [np.nan if v is None else v for v in values], style,
                            color=colours(i % 10), marker="o", markersize=3, label=f"{s.name} ({label})")
        ax.set(title=name, xlabel="epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    lines = {name: [line.get_label() for line in ax.get_lines()] for ax, name in zip(axes[0], metrics)}
    return _png(fig), lines


def plot_per_class(summaries: list[RunSummary], split: str) -> bytes:
    """Grouped bars: F1 of every class, one bar per run."""
    plt = _pyplot()
    labels = [row["label"] for row in summaries[0].metrics[split]["per_class"]]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(labels) * len(summaries) / 2 + 2), 3.5))
    width = 0.8 / len(summaries)
    for i, s in enumerate(summaries):
        f1 = {row["label"]: row["f1"] for row in s.metrics[split]["per_class"]}
        ax.bar(np.arange(len(labels)) + i * width, [f1.get(label, 0.0) for label in labels], width, label=s.name)
    ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=30 if len(labels) > 6 else 0)
    ax.set(ylabel=f"F1 ({split})", ylim=(0, 1))
    ax.legend(fontsize=7)
    return _png(fig)


def plot_confusions(summaries: list[RunSummary], split: str) -> bytes:
    """One confusion matrix per run (rows: true label, columns: predicted)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(summaries), figsize=(3.2 * len(summaries), 3.2), squeeze=False)
    for ax, s in zip(axes[0], summaries):
        matrix, labels = np.asarray(s.metrics[split]["confusion"]), s.metrics[split].get("labels", [])
        ax.imshow(matrix, cmap="Blues")
        if len(labels) <= 12:
            ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(len(labels)), labels, fontsize=7)
            for (r, c), value in np.ndenumerate(matrix):
                ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > matrix.max() / 2 else "black")
        ax.set_title(s.name, fontsize=8)
    return _png(fig)


# --- HTML -----------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape("" if value is None else str(value))


def render_html(result: dict) -> str:
    """The report as one HTML page: the leaderboard and every figure inline (no external files)."""
    rows, differences = result["rows"], result["differences"]
    metrics = list(rows[0]["metrics"]) if rows else []
    head = ["run", *differences, *(f"{result['split']} {m}" for m in metrics), "parameters", "train s", "epochs run"]
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in [row["run"], *row["config"].values(), *row["metrics"].values(),
                                                         row["parameters"], row["seconds"], row["epochs"]]) + "</tr>"
        for row in rows)
    runs = ", ".join(row["run"] for row in rows)
    titles = {"curves": "Learning curves (dashed: training, solid: validation)",
              "per_class": f"F1 per class ({result['split']})", "confusion": f"Confusion matrices ({result['split']})"}
    images = "".join(
        f"<h2>{titles[name]}</h2><img alt=\"{html.escape(titles[name])} of {html.escape(runs)}\" "
        f"src=\"data:image/png;base64,{base64.b64encode(png).decode('ascii')}\">"
        for name, png in result["figures"].items())
    ranked = (f"ranked by {result['split']} {result['metric']}, "
              f"{'lower' if result['lower_is_better'] else 'higher'} is better; " if result["metric"] else "")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    where = "".join(f"<li>{html.escape(row['run'])}: {html.escape(row['path'])}</li>" for row in rows)
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>rnn-apps compare: {html.escape(result['task'])}</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
            "img{max-width:100%}</style></head><body>"
            f"<h1>{html.escape(result['task'])}: {len(rows)} runs</h1>"
            f"<p>{html.escape(ranked)}config columns: only the keys that differ</p>"
            f"<table><tr>{header}</tr>{body}</table><ul>{where}</ul>{images}</body></html>\n")
