"""The vision tasks on data they were not built around, each beside the baselines a
practitioner would try first, in one run (issue 25's table).

* ``video`` (``real_video.py``): clips of handwritten digits (scikit-learn's bundled digits
  when installed, else a 5x7 font) moving and pausing, per-frame motion labels, written in the
  clips-by-stem layout and read through the task's own reader; baselines: logistic regression
  on frame differences, a single-frame model, frames alone (``motion=none``).
* ``vqa`` (``real_vqa.py``): Sort-of-CLEVR, made by its public generator
  (kimhc6028/relational-networks, given by path: ``--generator`` or
  ``SORT_OF_CLEVR_GENERATOR``; skipped without it, never copied here); baselines: the majority
  answer per question type, the question alone, CNN+MLP (concat); the Relation Network head.
* ``caption`` (``real_caption.py``): multi-shape scenes of another drawing than the built-in
  data, with a checker that says whether a caption is true of its scene; baselines: the most
  frequent training caption and the nearest training picture's caption.

    python benchmarks/bench_vision_real.py [--quick] [--tasks video vqa caption] [--generator PATH]

The issue's budgets: video none (a fixed number of epochs, early stopping), vqa
``time_budget=20`` minutes, caption ``time_budget=10``; ``--quick`` makes each task's data and
budget small (minutes in all). Prints one table and writes
``benchmarks/results/bench_vision_real.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_caption  # noqa: E402
import real_video  # noqa: E402
import real_vqa  # noqa: E402


def summary(task: str, row: dict) -> tuple[str, str]:
    """``(model, result)`` of one row, in the task's own measure."""
    if task == "video":
        return row["model"], f"{row['accuracy']:.4f} per frame"
    if task == "vqa":
        return row["model"], (f"{row['overall']:.3f} overall, {row['non-relational']:.3f} non-relational, "
                              f"{row['relational']:.3f} relational")
    return row["name"], (f"{row['true_pct']:.1f} % true of the scene, {row['distinct_captions']} / "
                         f"{row['captions']} distinct, BLEU-4 {row['bleu_4']:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data and budgets for every task")
    parser.add_argument("--tasks", nargs="+", default=["video", "vqa", "caption"], choices=["video", "vqa", "caption"])
    parser.add_argument("--generator", help="Sort-of-CLEVR's sort_of_clevr_generator.py (or its folder)")
    args = parser.parse_args()
    results: dict[str, list] = {}
    if "video" in args.tasks:
        results["video"] = real_video.run(args.quick)
    if "vqa" in args.tasks:
        results["vqa"] = real_vqa.run(args.quick, generator=args.generator)
    if "caption" in args.tasks:
        results["caption"] = real_caption.run(args.quick)
    print("\n| task | data | model | result |\n|---|---|---|---|")
    for task, rows in results.items():
        if not rows:
            print(f"| {task} | skipped (see above) | | |")
        for row in rows:
            model, result = summary(task, row)
            print(f"| {task} | {row.get('data', 'Sort-of-CLEVR')} | {model} | {result} |")
    out = HERE / "results" / "bench_vision_real.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
