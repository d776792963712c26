"""Showing results with rich, by output kind ("label", "sequence", "next_token" ...).

The API returns plain dicts (what ``--json`` prints); each output kind has one renderer
for predictions and one for evaluation reports here, so a new task with an existing
kind renders without changes.
"""
from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from rnn_apps.cli.common import err, out


def _inputs(result: dict, names: list[str]) -> list[str]:
    return [escape(str(result[n])) for n in names]


def label_predictions(output, results: list[dict], inputs: list[str]) -> None:
    several = any(len(r.get("top", [])) > 2 for r in results)  # VQA: show the runners-up too
    table = Table(*inputs, "label", "probability", *(["next best"] if several else []))
    for r in results:
        others = ", ".join(f"{t['label']} {t['probability']:.2f}" for t in r.get("top", [])[1:4])
        table.add_row(*_inputs(r, inputs), escape(r["label"]), f"{r['probability']:.3f}",
                      *([escape(others)] if several else []))
    out.print(table)
    for r in results:
        if "plot" in r:
            err.print(f"wrote {r['plot']}")


def marked_entities(result: dict) -> str:
    """The sentence with each entity in brackets and its type after it, as rich markup:
    ``[Ada Lovelace]PER was born in [London]LOC``."""
    tokens, words, at = result["tokens"], [], 0
    for entity in result["entities"]:
        words += [escape(t) for t in tokens[at:entity["start"]]]
        words.append(f"[bold]\\[{escape(entity['text'])}][/][cyan]{escape(entity['type'])}[/]")
        at = entity["end"] + 1
    return " ".join(words + [escape(t) for t in tokens[at:]])


def step_predictions(output, results: list[dict], inputs: list[str]) -> None:
    """Per-step labels: a sentence with its entities marked (text), or a table of frame segments."""
    if results and "tokens" in results[0]:
        for r in results:  # a sentence without words still gets its line, saying so
            out.print(marked_entities(r) if r["tokens"] else "[dim](no words to tag)[/]", highlight=False)
        return
    for r in results:
        table = Table("frames", "label", *(["mean confidence"] if "confidence" in r else []),
                      title=escape(str(r[inputs[0]])))
        for s in r["segments"]:
            # segments name their first and last frame, both included (as segment label files do)
            confidence = ([f"{sum(r['confidence'][s['start']:s['end'] + 1]) / (s['end'] - s['start'] + 1):.2f}"]
                          if "confidence" in r else [])
            table.add_row(f"{s['start']}-{s['end']}", escape(s["label"]), *confidence)
        out.print(table)
        if "plot" in r:
            err.print(f"wrote {r['plot']}")


def sequence_predictions(output, results: list[dict], inputs: list[str]) -> None:
    noun = output.noun
    scored = "log_probability" in results[0]
    table = Table(*inputs, noun, *(["log p"] if scored else []))
    for r in results:
        table.add_row(*_inputs(r, inputs), escape(r[noun]), *([f"{r['log_probability']:.2f}"] if scored else []))
    out.print(table)
    for r in results:
        if "attention_plot" in r:
            err.print(f"wrote {r['attention_plot']}")


def continuation_predictions(output, results: list[dict], inputs: list[str]) -> None:
    for r in results:
        out.rule(style="dim")
        out.print(f"[bold]{escape(r['prompt'])}[/]{escape(r['text'])}", highlight=False)


PREDICTIONS = {"label": label_predictions, "sequence": sequence_predictions, "next_token": continuation_predictions,
               "labels_per_step": step_predictions}


def predictions(output, results: list[dict], inputs: list[str]) -> None:
    """Render ``results`` of a run whose output kind is ``output`` and inputs are named ``inputs``."""
    PREDICTIONS[output.kind](output, results, inputs)


def report(report: dict) -> None:
    """The numbers of an evaluation report in one table, then what the kind adds."""
    summary = Table("metric", "value", title=f"evaluation on {escape(str(report['data']))}")
    for key, value in report.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            summary.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(summary)
    if isinstance(report.get("entities_by_type"), dict) and report["entities_by_type"]:
        by = Table("entity type", "precision", "recall", "f1", "support", title="entities by type (exact spans)")
        for kind, scores in report["entities_by_type"].items():
            by.add_row(escape(kind), *(f"{scores[k]:.3f}" for k in ("precision", "recall", "f1")),
                       str(scores["support"]))
        out.print(by)
    for key, value in report.items():  # accuracy_by_type ...
        if key.startswith("accuracy_by_") and isinstance(value, dict):
            by = Table(key[len("accuracy_by_"):], "accuracy", title=key.replace("_", " "))
            for group, accuracy in value.items():
                by.add_row(escape(str(group)), f"{accuracy:.3f}")
            out.print(by)
    if report.get("samples"):
        columns = list(report["samples"][0])
        samples = Table(*columns, title="examples")
        for row in report["samples"]:
            samples.add_row(*(escape(str(row[c])) for c in columns))
        out.print(samples)
    if "per_class" in report:
        per_class = Table("label", "precision", "recall", "f1", "support")
        for row in report["per_class"]:
            per_class.add_row(escape(row["label"]), f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                              f"{row['f1']:.3f}", str(row["support"]))
        out.print(per_class)
        matrix = Table("true \\ predicted", *map(escape, report["labels"]), title="confusion matrix")
        for label, row in zip(report["labels"], report["confusion"]):
            matrix.add_row(escape(label), *map(str, row))
        out.print(matrix)
