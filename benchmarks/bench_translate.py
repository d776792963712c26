"""Translate benchmark: English -> Spanish on spa-eng (../shared/data/spa-eng/spa.txt).

Setup (all of it in the JSON):

* data: every pair of spa.txt; a seeded split (seed 42) by source sentence (the same
  English sentence with several translations stays in one part) holds out 5 % for
  validation and 5 % for test, so no test source was seen in training;
* model: the ``spa-eng`` preset (bidirectional GRU encoder 256 per direction, GRU decoder
  256, bahdanau attention), with ``--tokenizer subwords`` (the default: SentencePiece,
  8,000 pieces per side, cased) or ``words`` (cased words, as before but not lower-cased),
  trained with ``time_budget`` CPU minutes (default 10);
* scores: standard sacreBLEU and chrF of the output text against the references as they
  are in the data (cased, untokenized), with the signature; the case-insensitive BLEU;
  ``[UNK]`` in the outputs; on the first ``--test-sentences`` (default 1,000) test pairs,
  greedy and beam 4;
* speed: sentences/s decoding those sentences, batch 128, greedy vs beam 4.

With ``--attention none`` the same budget trains the encoder-decoder without attention,
for comparison. Prints a table and writes ``benchmarks/results/bench_translate_TOKENIZER.json``.

    python benchmarks/bench_translate.py [--data PATH] [--budget-minutes 10] [--tokenizer words]
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
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "spa-eng" / "spa.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="training time budget")
    parser.add_argument("--tokenizer", default="subwords", choices=["subwords", "words", "chars"])
    parser.add_argument("--test-sentences", type=int, default=1000)
    parser.add_argument("--attention", default="bahdanau", choices=["bahdanau", "luong", "none"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (spa-eng lives in ../shared/data/)")
        return 0

    from rich.console import Console
    from rich.table import Table

    import rnn_apps
    from rnn_apps.decoding.settings import Decoding
    from rnn_apps.machine import describe

    name = f"bench_translate_{args.tokenizer}{'' if args.attention == 'bahdanau' else '_' + args.attention}"
    out = args.out or HERE / "results" / f"{name}.json"
    overrides = [f"time_budget={args.budget_minutes}", "val_fraction=0.05", "test_fraction=0.05",
                 f"attention={args.attention}", "early_stopping=0", f"tokenizer={args.tokenizer}"]
    if args.tokenizer == "words":
        overrides += ["source_vocab_size=12000", "target_vocab_size=12000", "max_length=20"]
    results: dict = {"machine": describe(), "data": str(args.data)}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = rnn_apps.train("translate", data=str(args.data), preset="spa-eng", epochs=100,
                                 run_dir=Path(tmp) / "run", overrides=overrides, console=Console(stderr=True))
        run = rnn_apps.load_run(run_dir)
        history = json.loads((run_dir / "history.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        splits = run.task.split_examples(run.task.load_examples(run.cfg, str(args.data)), run.cfg)
        test = splits["test"].take(range(min(args.test_sentences, len(splits["test"]))))
        results["training"] = {
            "config": {k: getattr(run.cfg, k) for k in ("cell", "units", "bidirectional", "attention", "embedding_dim",
                                                        "max_length", "batch_size", "learning_rate")},
            "pairs": {"train": len(splits["train"]), "val": len(splits["val"]), "test_scored": len(test)},
            "budget_minutes": args.budget_minutes, "train_seconds": metrics["train_seconds"],
            "epochs_started": len(history["loss"]), "val_loss_per_epoch": history["val_loss"],
            "val_accuracy_per_epoch": history["val_masked_accuracy"],
            "parameters": int(run.model.count_params())}
        engine = run.output.engine(run.model, run.features)
        source = run.output.source_tensor(run.features, list(test["source"]))
        for beam in (1, 4):
            report = run.output.evaluate(run.model, run.features, test, beam=beam)
            engine.decode(source[:128], Decoding(beam=beam))  # trace outside the timing
            started = time.perf_counter()
            ids, _ = engine.decode(source, Decoding(beam=beam))
            seconds = time.perf_counter() - started
            unknown = sum(1 in row for row in ids)  # outputs holding [UNK]
            results[f"beam_{beam}"] = {"bleu": report["bleu"], "chrf": report["chrf"],
                                       "bleu_lowercase": report["bleu_lowercase"], "exact_match": report["exact_match"],
                                       "outputs_with_unk": unknown, "sentences_per_s": len(test) / seconds,
                                       "signature": report["bleu_signature"]}
        examples = ["I am hungry.", "Where is the train station?", "She reads a book every night."]
        results["examples"] = {beam: [(r["source"], r["translation"]) for r in
                                      rnn_apps.predict(run_dir, examples, beam=beam)] for beam in (1, 4)}

    console = Console()
    t = results["training"]
    table = Table("measure", "greedy", "beam 4",
                  title=f"translate en->es, spa-eng preset, {args.tokenizer}, attention {args.attention}, "
                        f"{t['budget_minutes']:g} min CPU budget")
    for key, fmt in (("bleu", "{:.1f}"), ("chrf", "{:.1f}"), ("bleu_lowercase", "{:.1f}"), ("exact_match", "{:.3f}"),
                     ("outputs_with_unk", "{}"), ("sentences_per_s", "{:,.0f}")):
        table.add_row(key, fmt.format(results["beam_1"][key]), fmt.format(results["beam_4"][key]))
    table.add_row("training", f"{t['epochs_started']} epochs started in {t['train_seconds']:.0f} s", "")
    table.add_row("val token accuracy by epoch", " ".join(f"{a:.3f}" for a in t["val_accuracy_per_epoch"]), "")
    console.print(table)
    console.print(f"sacreBLEU signature: {results['beam_4']['signature']}", highlight=False)
    for source, translation in results["examples"][4]:
        console.print(f"{source}  ->  {translation}", highlight=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
