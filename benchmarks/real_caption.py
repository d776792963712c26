"""Captioning on data the task was not built around: multi-shape scenes with a truth checker.

Why: BLEU rewards a caption that shares n-grams with the references even when it says
something false about the picture, and a decoder that collapses onto one sentence form
can out-score a constant caption on BLEU while being true less often. This benchmark
draws its own scenes (not the task's built-in generator: 2 to 4 shapes of distinct
colours, no sizes, other caption forms), so a caption can be *checked*:
``caption_is_true(caption, scene)`` parses "a red circle left of a blue square" /
"a red circle and a blue square" and says whether the scene has those objects in that
relation. It trains the ``caption`` task with its default config on a TSV of PNGs (the
Flickr8k-style layout, through the task's own reader) under ``time_budget`` minutes and
reports, on held-out scenes:

* % of default-decoded (greedy) captions true of the scene, and with beam 3 (and % whose two
  objects are there, whatever their relation: which half of a caption goes wrong);
* distinct captions / total and distinct-1/-2 (``rnn_apps.metrics.caption_diversity``);
* BLEU-4 against all references (sacreBLEU);

against two baselines that do not write: the most frequent training caption, and the
caption of the nearest training picture in pixels. ``run(quick)`` returns the rows, for a
combined vision benchmark; ``main`` prints a table and writes
``benchmarks/results/real_caption.json``.

    python benchmarks/real_caption.py [--budget-minutes 10] [--scenes 2500] [--quick]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white"]
KINDS = ("circle", "square", "triangle")
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
PATTERN = re.compile(r"^an? (\w+) (\w+) (left of|right of|above|below|and) an? (\w+) (\w+)$")


def holds(relation: str, a, b) -> bool:
    """Whether ``a`` is ``relation`` ``b``: along that axis, by more than half the other axis's
    distance (a lenient reading: "left of" for a shape up and to the left at 60 degrees)."""
    dx, dy = b.x - a.x, b.y - a.y
    if relation == "left of":
        return dx > 0.5 * abs(dy)
    if relation == "right of":
        return -dx > 0.5 * abs(dy)
    if relation == "above":
        return dy > 0.5 * abs(dx)
    if relation == "below":
        return -dy > 0.5 * abs(dx)
    return True  # "and": both objects present


def caption_is_true(caption: str, scene) -> bool:
    """True when ``caption`` (any case, trailing period allowed) names two distinct objects of
    ``scene`` by colour and kind and their relation holds."""
    match = PATTERN.match(caption.strip().lower().rstrip(" ."))
    if not match:
        return False
    color_a, kind_a, relation, color_b, kind_b = match.groups()
    firsts = [s for s in scene if (s.color, s.kind) == (color_a, kind_a)]
    seconds = [s for s in scene if (s.color, s.kind) == (color_b, kind_b)]
    return any(holds(relation, a, b) for a in firsts for b in seconds if a is not b)


def objects_present(caption: str, scene) -> bool:
    """Whether the two objects ``caption`` names are in ``scene`` (its relation aside)."""
    match = PATTERN.match(caption.strip().lower().rstrip(" ."))
    if not match:
        return False
    color_a, kind_a, _, color_b, kind_b = match.groups()
    named = [(s.color, s.kind) for s in scene]
    return (color_a, kind_a) in named and (color_b, kind_b) in named and (color_a, kind_a) != (color_b, kind_b)


def dominant(a, b) -> str:
    """The relation of ``a`` to ``b`` along the axis they differ most on."""
    if abs(a.x - b.x) >= abs(a.y - b.y):
        return "left of" if a.x < b.x else "right of"
    return "above" if a.y < b.y else "below"


def make_scene(rng: random.Random, size: int):
    """2 to 4 shapes of distinct colours and random kinds, not overlapping."""
    from rnn_apps.data.shapes import place

    count = rng.choice((2, 3, 4))
    return place(rng, count, size, size / 10, rng.sample(COLORS, count), kinds=KINDS, margin=2.0)


def describe(rng: random.Random, scene, n: int = 5) -> list[str]:
    """``n`` reference captions: random pairs, both directions, sometimes "and"."""
    out = []
    for _ in range(n):
        a, b = rng.sample(scene, 2)
        relation = "and" if rng.random() < 0.2 else dominant(a, b)
        out.append(f"a {a.color} {a.kind} {relation} a {b.color} {b.kind}")
    return out


def make_data(scenes: int, seed: int, size: int = 64) -> list[tuple]:
    """``[(picture uint8 [size, size, 3], scene, captions)]``, deterministic for a seed."""
    from rnn_apps.data.shapes import render

    rng = random.Random(seed)
    data = []
    for _ in range(scenes):
        scene = make_scene(rng, size)
        data.append((render(scene, size), scene, describe(rng, scene)))
    return data


def write_tsv(data: list[tuple], folder: Path) -> Path:
    """The Flickr8k layout: ``images/NAME.png`` and ``captions.tsv`` of ``NAME.png#k<TAB>caption``."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    lines = []
    for i, (picture, _, captions) in enumerate(data):
        Image.fromarray(picture).save(folder / "images" / f"scene_{i:05d}.png")
        lines += [f"scene_{i:05d}.png#{k}\t{c}" for k, c in enumerate(captions)]
    (folder / "captions.tsv").write_text("\n".join(lines) + "\n")
    return folder / "captions.tsv"


def score(name: str, captions: list[str], test: list[tuple], **extra) -> dict:
    """One row: % true of the scene, diversity and BLEU-4 of ``captions`` for the ``test`` scenes."""
    from sacrebleu.metrics import BLEU

    from rnn_apps.metrics import caption_diversity

    references = [refs for _, _, refs in test]
    streams = [[r[k] for r in references] for k in range(len(references[0]))]
    true = np.mean([caption_is_true(c, scene) for c, (_, scene, _) in zip(captions, test)])
    present = np.mean([objects_present(c, scene) for c, (_, scene, _) in zip(captions, test)])
    return {"name": name, "true_pct": 100 * float(true), "objects_pct": 100 * float(present),
            **caption_diversity(captions),
            "bleu_4": BLEU().corpus_score(captions, streams).score, "samples": captions[:3], **extra}


def baselines(train: list[tuple], test: list[tuple]) -> list[dict]:
    constant = collections.Counter(c for _, _, refs in train for c in refs).most_common(1)[0][0]
    pixels = np.stack([p.astype(np.float32).ravel() for p, _, _ in train])
    nearest = [train[int(((pixels - p.astype(np.float32).ravel()) ** 2).sum(1).argmin())][2][0] for p, _, _ in test]
    return [score("most frequent caption", [constant] * len(test), test),
            score("nearest training picture's caption", nearest, test)]


def train_and_score(train_tsv: Path, test: list[tuple], budget: float, run_dir: Path, overrides=(),
                    label: str = "caption, default config", epochs: int = 10_000) -> list[dict]:
    """Train the default config for ``budget`` minutes (or ``epochs``); rows for greedy and beam 3."""
    from rich.console import Console

    import rnn_apps
    from rnn_apps.decoding.settings import Decoding

    started = time.perf_counter()
    rnn_apps.train("caption", data=str(train_tsv), run_dir=run_dir, overrides=[f"time_budget={budget}", *overrides],
                   epochs=epochs, console=Console(stderr=True))
    seconds = time.perf_counter() - started
    history = json.loads((run_dir / "history.json").read_text())
    run = rnn_apps.load_run(run_dir)
    rows = []
    for beam in (1, 3):
        outputs = run.output.generate(run.model, run.features, [p for p, _, _ in test], Decoding(beam=beam))
        rows.append(score(f"{label}, {'greedy' if beam == 1 else 'beam 3'}", [o["output"] for o in outputs], test,
                          epochs=len(history["loss"]), train_seconds=seconds))
    return rows


def run(quick: bool = False, budget: float | None = None, scenes: int | None = None, overrides=(),
        epochs: int = 0) -> list[dict]:
    """The rows of the table: the two baselines, then the trained model greedy and beam 3
    (``epochs``: a fixed number of epochs without early stopping or budget, for comparing settings
    on a busy machine)."""
    budget = budget if budget is not None else (2.0 if quick else 10.0)
    scenes = scenes or (800 if quick else 2500)
    train, test = make_data(scenes, seed=1), make_data(100 if quick else 200, seed=2)
    rows = baselines(train, test)
    with tempfile.TemporaryDirectory() as tmp:
        tsv = write_tsv(train, Path(tmp) / "data")
        if epochs:
            budget, overrides = 0, [*overrides, "early_stopping=0"]
        label = "caption, " + (", ".join(overrides) if overrides else "default config")
        rows += train_and_score(tsv, test, budget, Path(tmp) / "run", overrides, label, epochs or 10_000)
    for row in rows:
        row.update(task="caption", data=f"multi-shape scenes ({scenes} train, {len(test)} test)")
    return rows


def print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("captions", "% true of scene", "% objects there", "distinct captions", "distinct-1", "distinct-2",
                  "BLEU-4",
                  title=f"caption: {rows[0]['data']}")
    for r in rows:
        table.add_row(r["name"], f"{r['true_pct']:.1f}", f"{r['objects_pct']:.1f}",
                      f"{r['distinct_captions']} / {r['captions']}",
                      f"{r['distinct_1']:.3f}", f"{r['distinct_2']:.3f}", f"{r['bleu_4']:.1f}")
    Console(width=130).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=None, help="training budget (default 10; quick 2)")
    parser.add_argument("--scenes", type=int, default=None, help="training scenes (default 2500; quick 800)")
    parser.add_argument("--quick", action="store_true", help="fewer scenes, a 2-minute budget")
    parser.add_argument("--set", action="append", default=[], help="extra config overrides (experiments)")
    parser.add_argument("--epochs", type=int, default=0, help="train this many epochs instead of the budget")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "real_caption.json")
    args = parser.parse_args()
    from rnn_apps.machine import describe as machine

    rows = run(args.quick, args.budget_minutes, args.scenes, args.set, args.epochs)
    print_table(rows)
    for r in rows:
        print(f"{r['name']}: {r['samples']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "settings": {k: str(v) for k, v in vars(args).items()},
                                    "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
