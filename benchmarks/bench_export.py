"""Deployment benchmark: what a TFLite export costs and keeps, task by task.

Why: the README says the TFLite export runs without TensorFlow, quantizes to a fraction of
the size and computes what Keras computes; this puts numbers on each claim. Each task is
trained on its built-in data with the ``small`` preset (textgen on fewer characters and
epochs, translate on fewer pairs: a few CPU minutes in all), exported, and measured:

1. size of ``model.tflite`` per quantization (int8 is refused for recurrent loops: recorded
   so) and of the SavedModel (all its files);
2. batch-1 latency, median ms over ``--calls`` after ``--warmup``, of the tensor-only
   signatures (``classify``; ``step``; ``encode``, ``decode_step``) on held-out inputs
   (``output.signature_inputs``): the live signature's ``tf.function`` over the Keras
   model, the loaded SavedModel, LiteRT's signature runner per quantization;
3. the task metric on the validation split, Keras beside the TF-free runtime
   (``rnn_apps.lite``) per quantization: accuracy; corpus BLEU of greedy translations
   (references made as ``TokenSequence.evaluate`` makes them); next-token accuracy over
   ``--tokens`` held-out tokens, teacher-forced through ``step``;
4. textgen generation speed, batch 1, greedy and sampled: the runtime (16 tokens a call of
   ``steps``, and one ``step`` a call as older exports run) against the compiled Keras loop;
5. in fresh processes: import + load + first prediction time, peak RSS and whether
   TensorFlow was imported, for the sentiment export through ``rnn_apps.lite`` and for
   ``tf.saved_model.load`` of its SavedModel.

Prints tables and writes ``benchmarks/results/bench_export.json``.

    python benchmarks/bench_export.py [--textgen-chars 100000] [--translate-pairs 6000] [--calls 300]
    python benchmarks/bench_export.py --tasks textgen --generation-only   # part 4 alone
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
SIGNATURES = {"sentiment": ["classify"], "textgen": ["step"], "translate": ["encode", "decode_step"]}
METRICS = {"sentiment": "accuracy", "textgen": "next-token accuracy", "translate": "BLEU (greedy)"}


def train(task: str, args, tmp: Path) -> tuple[Path, float]:
    import rnn_apps
    from rich.console import Console

    overrides = {"sentiment": [], "textgen": [f"builtin_chars={args.textgen_chars}"],
                 "translate": [f"builtin_examples={args.translate_pairs}"]}[task]
    epochs = {"textgen": args.textgen_epochs, "translate": args.translate_epochs}.get(task)
    started = time.perf_counter()
    run_dir = rnn_apps.train(task, preset="small", overrides=overrides, epochs=epochs, run_dir=tmp / task,
                             console=Console(stderr=True))
    return run_dir, time.perf_counter() - started


def export_all(run_dir: Path, tmp: Path) -> tuple[dict, dict, Path]:
    """Every quantization's TFLite export and the SavedModel: ({name: bytes or "refused: ..."},
    {quantization: folder} of those that converted, the SavedModel folder)."""
    import rnn_apps
    from rnn_apps.errors import UserError

    sizes, folders = {}, {}
    for q in QUANTIZATIONS:
        try:
            folders[q] = rnn_apps.export(run_dir, format="tflite", quantize=q, out=tmp / f"{run_dir.name}-{q}")
            sizes[q] = (folders[q] / "model.tflite").stat().st_size
        except UserError as exc:
            sizes[q] = "refused: " + str(exc).split(":")[0]
    saved = rnn_apps.export(run_dir, format="savedmodel", out=tmp / f"{run_dir.name}-savedmodel")
    sizes["savedmodel"] = sum(p.stat().st_size for p in saved.rglob("*") if p.is_file())
    return sizes, folders, saved


def median_ms(call, inputs: list, warmup: int, calls: int) -> float:
    for i in range(warmup):
        call(inputs[i % len(inputs)])
    times = []
    for i in range(calls):
        started = time.perf_counter()
        call(inputs[i % len(inputs)])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def latencies(task: str, run, saved: Path, folders: dict, held_out, args) -> dict:
    """{signature: {way: median ms}}; TF inputs are tensors made beforehand."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    live = run.output.signatures(run.model, run.features)
    inputs = run.output.signature_inputs(run.model, run.features, held_out)
    loaded = tf.saved_model.load(str(saved))
    rows = {}
    for name in SIGNATURES[task]:
        arrays = inputs[name]
        tensors = [{k: tf.constant(v) for k, v in kwargs.items()} for kwargs in arrays]
        function = live[name].function
        row = {"keras": median_ms(lambda kw: function(*(kw[s.name] for s in function.input_signature)),
                                  tensors, args.warmup, args.calls),
               "savedmodel": median_ms(lambda kw: loaded.signatures[name](**kw), tensors, args.warmup, args.calls)}
        for q, folder in folders.items():
            runner = Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner(name)
            row[f"tflite {q}"] = median_ms(lambda kw: runner(**kw), arrays, args.warmup, args.calls)
        rows[name] = row
    return rows


def accuracy(run, models: dict, held_out, args) -> dict:
    texts, truth = list(held_out[run.input_names[0]]), [str(t) for t in held_out[run.output.name]]
    return {way: float(np.mean([r["label"] == t for r, t in zip(model.predict(texts), truth)]))
            for way, model in models.items()}


def greedy_bleu(run, models: dict, held_out, args) -> dict:
    """Corpus BLEU against references tokenized and joined as ``TokenSequence.evaluate`` does."""
    import sacrebleu
    import tensorflow as tf

    from rnn_apps.data.text import detokenize
    from rnn_apps.outputs.sequence import tokenize_for_reference

    text = run.output.text
    tokens = tokenize_for_reference(text, held_out[run.output.name])
    references = [t.decode("utf-8") for t in detokenize(tf.ragged.constant(tokens, dtype=tf.string), text.level).numpy()]
    sources = list(held_out[run.output.source])
    return {way: sacrebleu.corpus_bleu([r[run.output.noun] for r in model.predict(sources)], [references]).score
            for way, model in models.items()}


def next_token_accuracy(run, models: dict, held_out, args) -> dict:
    """Teacher-forced over the validation text: Keras reads it in one call of the batch-1
    twin, the runtime one ``step`` at a time with the states carried."""
    import tensorflow as tf

    from rnn_apps.outputs.language_model import joined_text

    ids = run.output.vocab.encode(joined_text(held_out))[:args.tokens + 1]
    results = {}
    for way, model in models.items():
        if way == "keras":
            twin = run.output.step_model(run.model, batch_size=1)
            logits = twin([tf.constant(ids[None, :]), *run.output.zero_states(twin, 1)], training=False)[0].numpy()[0]
        else:
            specs = model.manifest["signatures"]["step"]["inputs"]
            states, logits = {n: np.zeros(specs[n]["shape"], np.float32) for n in model.state_names}, []
            for token in ids:
                out, states = model.step(int(token), states)
                logits.append(out)
        results[way] = float(np.mean(np.asarray(logits).argmax(-1)[:-1] == ids[1:]))
    return results


def generation_speed(run, folders: dict, args) -> dict:
    """Characters/s of batch-1 generation, the median of 5 timed runs after a warm-up: greedy
    and sampled (temperature 0.8, and with top-k 10 / top-p 0.9), the compiled Keras loop
    (greedy only) against the runtime on each export, once through ``steps`` (16 tokens a
    call) and once one ``step`` a call, as an export made before ``steps`` runs. The runtime's
    text must be the same both ways (and, greedy, the same as Keras's; sampled text is
    NumPy's draws there, TensorFlow's in Keras)."""
    from rnn_apps.decoding.settings import Sampling
    from rnn_apps.lite import load

    decodings = {"greedy": Sampling(greedy=True, seed=0), "temperature 0.8": Sampling(temperature=0.8, seed=0),
                 "top-k 10, top-p 0.9": Sampling(temperature=0.8, top_k=10, top_p=0.9, seed=0)}
    ways = {"keras (compiled loop)": run}
    for q, folder in folders.items():
        stepped = load(folder)
        stepped.block = 0  # the one-step path of an export without ``steps``
        ways[f"tflite {q}, one step a call"] = stepped
        ways[f"tflite {q}, steps"] = load(folder)
    rows = {}
    for name, sampling in decodings.items():
        reference = {}  # per export: the one-step text (and greedy: Keras's)
        for way, model in ways.items():
            if way.startswith("keras") and name != "greedy":
                continue
            model.generate(args.prompt, args.length, sampling)
            times = []
            for _ in range(5):
                started = time.perf_counter()
                text = model.generate(args.prompt, args.length, sampling)[0]
                times.append(time.perf_counter() - started)
            seconds = statistics.median(times)
            key = "keras" if way.startswith("keras") else way.split(",")[0]  # the export
            reference.setdefault(key, text)
            same = text == reference[key] and (name != "greedy" or text == reference["keras"])
            rows[f"{name}: {way}"] = {"chars_per_s": len(text) / seconds, "seconds": seconds, "same_text": same}
    return rows


MEASURES = {"sentiment": accuracy, "textgen": next_token_accuracy, "translate": greedy_bleu}  # {way: value}
CHILDREN = {
    "tflite runtime": "from rnn_apps.lite import load\nload(PATH).predict(TEXTS)\n",
    "savedmodel (tensorflow)": "import tensorflow as tf\n"
                               "tf.saved_model.load(PATH).signatures['serving_default'](text=tf.constant(TEXTS))\n",
}
# Peak RSS is the child's VmHWM: ru_maxrss survives fork + exec on Linux, so a child of
# this (large) process reports this process's peak; ru_maxrss is kept in the JSON to show it.
WRAPPER = ("import json, resource, sys, time\nstarted = time.perf_counter()\n{body}"
           "print(json.dumps({{'seconds': time.perf_counter() - started, "
           "'peak_rss_mb': int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024, "
           "'ru_maxrss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
           "'tensorflow_imported': 'tensorflow' in sys.modules}}))\n")


def runtime_cost(lite_folder: Path, saved: Path, texts: list[str], repeats: int) -> dict:
    """Per way, the median over ``repeats`` fresh interpreters of the in-process time
    (import + load + first prediction), the whole process's wall time and peak RSS."""
    rows = {}
    for way, body in CHILDREN.items():
        path = lite_folder if way.startswith("tflite") else saved
        code = WRAPPER.format(body=body.replace("PATH", repr(str(path))).replace("TEXTS", repr(texts)))
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                  cwd=HERE.parent)
            runs.append({**json.loads(done.stdout.strip().splitlines()[-1]),
                         "process_seconds": time.perf_counter() - started})
        rows[way] = {key: (statistics.median(r[key] for r in runs) if key != "tensorflow_imported"
                           else any(r[key] for r in runs)) for key in runs[0]}
    return rows


def print_tables(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console, tasks = Console(width=120), results["tasks"]
    lite = [f"tflite {q}" for q in QUANTIZATIONS[:3]]

    def show(title: str, header: list[str], rows: list[list]) -> None:
        table = Table(*header, title=title)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        console.print(table)

    size = lambda v: f"{v / 1024:,.0f} KB" if isinstance(v, int) else v.split(" ")[0].rstrip(":")  # noqa: E731
    show("export size (model.tflite; SavedModel: all its files)",
         ["task", "parameters", "train s", *QUANTIZATIONS, "savedmodel"],
         [[task, f"{r['parameters']:,}", f"{r['train_seconds']:.0f}",
           *(size(r["sizes"][k]) for k in (*QUANTIZATIONS, "savedmodel"))] for task, r in tasks.items()])
    measured = {task: r for task, r in tasks.items() if "latency_ms" in r}  # all but --generation-only
    if measured:
        show("batch-1 latency, median ms (keras: the live signature's tf.function)",
             ["signature", "keras", "savedmodel", *lite],
             [[f"{task} {name}", *(f"{row[w]:.3f}" if w in row else "-" for w in ("keras", "savedmodel", *lite))]
              for task, r in measured.items() for name, row in r["latency_ms"].items()])
        show("task metric on validation examples (tflite: the rnn_apps.lite runtime)",
             ["task", "metric", "examples", "keras", *lite],
             [[task, METRICS[task], r["quality_examples"], *(f"{r['quality'][w]:.4f}" if w in r["quality"] else "-"
                                                            for w in ("keras", *lite))] for task, r in measured.items()])
    if "generation" in results:
        show(f"textgen generation, batch 1, {results['settings']['length']} characters "
             f"(same text: as one step a call; greedy: and as keras)",
             ["decoding: way", "chars/s", "seconds", "same text"],
             [[way, f"{r['chars_per_s']:,.0f}", f"{r['seconds']:.3f}", r["same_text"]]
              for way, r in results["generation"].items()])
    if "runtime_cost" in results:
        show("sentiment export in a fresh process: import + load + first prediction (median)",
             ["way", "in-process s", "process wall s", "peak RSS (VmHWM) MB", "tensorflow imported"],
             [[way, f"{r['seconds']:.2f}", f"{r['process_seconds']:.2f}", f"{r['peak_rss_mb']:,.0f}",
               r["tensorflow_imported"]] for way, r in results["runtime_cost"].items()])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="sentiment,textgen,translate")
    parser.add_argument("--textgen-chars", type=int, default=100_000, help="built-in textgen text size")
    parser.add_argument("--textgen-epochs", type=int, default=None, help="default: the small preset's")
    parser.add_argument("--translate-pairs", type=int, default=6000, help="built-in translate pairs")
    parser.add_argument("--translate-epochs", type=int, default=None, help="default: the small preset's")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per signature and way")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--examples", type=int, default=0, help="validation examples for the metrics (0: all)")
    parser.add_argument("--latency-examples", type=int, default=50, help="held-out inputs cycled through")
    parser.add_argument("--tokens", type=int, default=2000, help="held-out textgen tokens for accuracy")
    parser.add_argument("--prompt", default="ROSA:")
    parser.add_argument("--length", type=int, default=500, help="characters generated")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per runtime-cost way")
    parser.add_argument("--generation-only", action="store_true",
                        help="textgen: train, export, measure generation speed; no latency, metric or sizes table")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_export.json")
    args = parser.parse_args()

    import rnn_apps
    from rnn_apps.lite import load
    from rnn_apps.machine import describe

    started = time.perf_counter()
    results: dict = {"machine": describe(), "settings": {k: str(v) for k, v in vars(args).items()}, "tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks.split(","):
            run_dir, seconds = train(task, args, Path(tmp))
            run = rnn_apps.load_run(run_dir)
            sizes, folders, saved = export_all(run_dir, Path(tmp))
            if args.generation_only:
                results["tasks"][task] = {"train_seconds": seconds, "parameters": int(run.model.count_params()),
                                          "sizes": sizes}
                if task == "textgen":
                    results["generation"] = generation_speed(run, folders, args)
                continue
            val = run.task.split_examples(run.task.load_examples(run.cfg, run.meta["data"]), run.cfg)["val"]
            take = lambda n: val.take(range(min(n or len(val), len(val))))  # noqa: E731
            scored = val if task == "textgen" else take(args.examples)
            results["tasks"][task] = {
                "train_seconds": seconds, "parameters": int(run.model.count_params()), "sizes": sizes,
                "latency_ms": latencies(task, run, saved, folders, take(args.latency_examples), args),
                "quality": MEASURES[task](run, {"keras": run, **{f"tflite {q}": load(f) for q, f in folders.items()}},
                                          scored, args),
                "quality_examples": f"{args.tokens} tokens" if task == "textgen" else len(scored)}
            if task == "textgen":
                results["generation"] = generation_speed(run, folders, args)
            if task == "sentiment":
                texts = list(take(8)[run.input_names[0]])
                results["runtime_cost"] = runtime_cost(folders["none"], saved, texts, args.repeats)
    results["total_seconds"] = time.perf_counter() - started
    print_tables(results)
    print(f"total {results['total_seconds']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
