"""VQA on data the task was not built around: Sort-of-CLEVR, from its public generator.

Why: the built-in scenes are the toolkit's own; Sort-of-CLEVR (Santoro et al. 2017, "A simple
neural network module for relational reasoning") is the field's small relational VQA set:
75 x 75 scenes of six shapes (one per colour, each a square or a circle), ten questions of
each of three kinds per scene:

* non-relational: the shape of the object of a colour, whether it is on the left, at the top;
* binary relational: the shape of the object closest to / furthest from it, how many objects
  share its shape;
* ternary relational: how many objects lie between two named objects, whether one lies on
  the line through them, how many obtuse triangles they make with a third.

The generator is the public one of ``kimhc6028/relational-networks``
(``sort_of_clevr_generator.py``); it is not part of this repository. Give its path with
``--generator`` or ``SORT_OF_CLEVR_GENERATOR`` (a checkout of that repository or the file);
without it the benchmark is skipped with the reason printed. It runs with this Python (it
needs numpy and OpenCV) in a temporary folder; its pickle, data this benchmark just made, is
turned into the toolkit's JSON-lines layout (``{"image", "question", "answer",
"question_type"}`` + one PNG per scene) and ``rnn-apps train vqa`` reads that through its own
reader. The toolkit itself never loads a pickle.

Rows (accuracy on the generator's 200 held-out scenes, 6,000 questions; non-relational,
relational = binary and ternary together, and each kind):

* ``majority per type``: the most frequent training answer of each question subtype (what the
  question alone gives with a perfect question reader);
* ``question only``: the default config with ``image=none``;
* ``CNN+MLP (concat)``: the RN paper's baseline, ``fusion=concat``;
* ``Relation Network``: ``fusion=relation`` on a 4 x 4 grid (``image_size=64``), g and f 64 wide;
* ``default``: the default config (``fusion=multiply``).

Each trained row gets ``time_budget`` minutes (``--budget-minutes``, default 20: the issue's
measurement) and reports its epochs. ``run(quick)`` returns the rows for a combined vision
benchmark; ``main`` prints a table and writes ``benchmarks/results/real_vqa.json``.

    python benchmarks/real_vqa.py --generator PATH [--budget-minutes 20] [--scenes 9800] [--quick]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
COLORS = ["red", "green", "blue", "orange", "gray", "yellow"]  # the generator's order
ANSWERS = ["yes", "no", "rectangle", "circle", "1", "2", "3", "4", "5", "6"]  # its answer indices
# Our wording of its one-hot questions: (kind, subtype) -> (type name, question template).
QUESTIONS = {
    ("nonrel", 0): ("nonrel_shape", "what is the shape of the {0} object ?"),
    ("nonrel", 1): ("nonrel_left", "is the {0} object on the left ?"),
    ("nonrel", 2): ("nonrel_top", "is the {0} object at the top ?"),
    ("binary", 0): ("binary_closest", "what is the shape of the object closest to the {0} object ?"),
    ("binary", 1): ("binary_furthest", "what is the shape of the object furthest from the {0} object ?"),
    ("binary", 2): ("binary_count", "how many objects have the shape of the {0} object ?"),
    ("ternary", 0): ("ternary_between", "how many objects are between the {0} object and the {1} object ?"),
    ("ternary", 1): ("ternary_on_line", "is an object on the line through the {0} object and the {1} object ?"),
    ("ternary", 2): ("ternary_obtuse", "how many obtuse triangles do the {0} object and the {1} object make ?"),
}


def find_generator(given: str | None) -> Path | None:
    """The generator script from ``--generator`` or ``SORT_OF_CLEVR_GENERATOR`` (the file, or
    a folder holding it); None when neither names one."""
    given = given or os.environ.get("SORT_OF_CLEVR_GENERATOR")
    if not given:
        return None
    path = Path(given)
    path = path / "sort_of_clevr_generator.py" if path.is_dir() else path
    return path if path.is_file() else None


def question_text(vector: np.ndarray, kind: str) -> tuple[str, str]:
    """The generator's 18-number question (colour one-hots 0-5 and 6-11, kind 12-14, subtype
    15-17) -> (type, question in words)."""
    subtype = int(np.argmax(vector[15:18]))
    first = COLORS[int(np.argmax(vector[0:6]))]
    second = COLORS[int(np.argmax(vector[6:12]))] if kind == "ternary" else ""
    name, template = QUESTIONS[(kind, subtype)]
    return name, template.format(first, second)


def convert(pickle_path: Path, out: Path, scenes: int | None = None) -> dict[str, Path]:
    """The generator's pickle -> ``{split: questions .jsonl}`` with one PNG per scene in
    ``out/images``. Its pictures are BGR floats in 0..1 (OpenCV's order): saved as RGB."""
    from PIL import Image

    with open(pickle_path, "rb") as handle:  # data this benchmark generated a moment ago
        train, test = pickle.load(handle)
    (out / "images").mkdir(parents=True, exist_ok=True)
    files = {}
    for split, data in (("train", train[:scenes] if scenes else train), ("test", test)):
        lines = []
        for i, (img, ternary, binary, nonrel) in enumerate(data):
            name = f"images/{split}_{i:05d}.png"
            rgb = np.clip(np.round(np.asarray(img)[..., ::-1] * 255), 0, 255).astype(np.uint8)
            Image.fromarray(rgb).save(out / name)
            for kind, (vectors, answers) in (("nonrel", nonrel), ("binary", binary), ("ternary", ternary)):
                for vector, answer in zip(vectors, answers):
                    qtype, question = question_text(np.asarray(vector), kind)
                    lines.append(json.dumps({"image": name, "question": question, "answer": ANSWERS[int(answer)],
                                             "question_type": qtype}))
        files[split] = out / f"sort_of_clevr_{split}.jsonl"
        files[split].write_text("\n".join(lines) + "\n")
    return files


def generate(generator: Path, out: Path, seed: int = 1) -> Path:
    """Run the public generator in ``out`` (it writes ``./data/sort-of-clevr.pickle``)."""
    subprocess.run([sys.executable, str(generator), "--seed", str(seed)], cwd=out, check=True,
                   stdout=subprocess.DEVNULL)
    return out / "data" / "sort-of-clevr.pickle"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


GROUPS = {"non-relational": "nonrel", "relational": ("binary", "ternary"), "binary": "binary", "ternary": "ternary"}


def scores(types: list[str], right: list[bool]) -> dict:
    """Accuracy overall, per group (non-relational, relational, binary, ternary) and per type."""
    right_arr, out = np.asarray(right, float), {"overall": float(np.mean(right))}
    for group, prefix in GROUPS.items():
        mask = np.array([t.startswith(prefix) for t in types])
        out[group] = float(right_arr[mask].mean()) if mask.any() else float("nan")
    by_type = collections.defaultdict(list)
    for t, r in zip(types, right):
        by_type[t].append(r)
    out["by_type"] = {t: float(np.mean(r)) for t, r in sorted(by_type.items())}
    return out


def majority_per_type(train: list[dict], test: list[dict]) -> dict:
    """The most frequent training answer of each question type (ties: the first seen)."""
    counts = collections.defaultdict(collections.Counter)
    for row in train:
        counts[row["question_type"]][row["answer"]] += 1
    guess = {t: c.most_common(1)[0][0] for t, c in counts.items()}
    return scores([r["question_type"] for r in test], [guess.get(r["question_type"]) == r["answer"] for r in test])


def train_row(name: str, files: dict[str, Path], budget: float, run_dir: Path, overrides=()) -> dict:
    """Train the vqa task on the training JSON lines (``time_budget`` minutes, its own
    validation split) and score its test-set answers by question type."""
    from rich.console import Console

    import rnn_apps

    start = time.time()
    run = rnn_apps.train("vqa", data=str(files["train"]), run_dir=run_dir, console=Console(stderr=True),
                         overrides=[f"time_budget={budget}", *overrides])
    seconds = time.time() - start
    test = read_jsonl(files["test"])
    predictions = rnn_apps.predict(run, [{"image": str(files["test"].parent / r["image"]), "question": r["question"]}
                                        for r in test])
    history = json.loads((run / "history.json").read_text())
    return {"model": name, "overrides": list(overrides), **scores([r["question_type"] for r in test],
                                                                   [p["label"] == r["answer"] for p, r in
                                                                    zip(predictions, test)]),
            "epochs": len(history.get("loss", [])), "train_seconds": round(seconds)}


ROWS = {"question only (image=none)": ["image=none"], "CNN+MLP (fusion=concat)": ["fusion=concat"],
        "Relation Network (fusion=relation)": ["fusion=relation", "image_size=64", "fused_units=64"],
        "default (fusion=multiply)": []}


def run(quick: bool = False, budget: float | None = None, scenes: int | None = None, generator: str | None = None,
        rows: list[str] | None = None) -> list[dict]:
    """The table's rows (skipped with a reason when the generator is not given). ``quick``:
    1,000 scenes and 2 minutes a row; otherwise every scene (9,800) and ``budget`` (20)."""
    script = find_generator(generator)
    if script is None:
        print("skipped: give the Sort-of-CLEVR generator (kimhc6028/relational-networks) with --generator PATH "
              "or SORT_OF_CLEVR_GENERATOR")
        return []
    budget = budget if budget is not None else (2.0 if quick else 20.0)
    scenes = scenes if scenes is not None else (1000 if quick else None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = convert(generate(script, tmp), tmp / "sort_of_clevr", scenes)
        train = read_jsonl(files["train"])
        results = [{"model": "majority answer per question type", **majority_per_type(train, read_jsonl(files["test"])),
                    "epochs": 0, "train_seconds": 0}]
        for name, overrides in ROWS.items():
            if rows and name not in rows and not any(r in name for r in rows):
                continue
            results.append(train_row(name, files, budget, tmp / f"run{len(results)}", overrides))
            print_table(results[-1:])
    return results


def print_table(rows: list[dict]) -> None:
    print(f"{'model':36s} {'overall':>8s} {'non-rel':>8s} {'relational':>10s} {'binary':>7s} {'ternary':>8s} "
          f"{'epochs':>6s} {'s':>6s}")
    for r in rows:
        print(f"{r['model']:36s} {r['overall']:8.3f} {r['non-relational']:8.3f} {r['relational']:10.3f} "
              f"{r['binary']:7.3f} {r['ternary']:8.3f} {r['epochs']:6d} {r['train_seconds']:6d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generator", help="sort_of_clevr_generator.py (or the folder holding it)")
    parser.add_argument("--budget-minutes", type=float, default=None, help="time_budget of each trained row")
    parser.add_argument("--scenes", type=int, default=None, help="training scenes used (default all 9,800)")
    parser.add_argument("--rows", nargs="*", help="trained rows to run (by name or part of it)")
    parser.add_argument("--quick", action="store_true", help="1,000 scenes, 2 minutes a row")
    args = parser.parse_args()
    rows = run(args.quick, args.budget_minutes, args.scenes, args.generator, args.rows)
    if not rows:
        return 0
    print()
    print_table(rows)
    out = HERE / "results" / "real_vqa.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"budget_minutes": args.budget_minutes, "scenes": args.scenes, "quick": args.quick,
                               "cores": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
