"""``rnn-apps export``: write a run in a format something else can serve, and check it."""
from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from rnn_apps.cli.common import RUN_DIR, err, out
from rnn_apps.exporters import EXPORTERS, MAX_SEQ_LEN


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--format", "fmt", type=click.Choice(list(EXPORTERS)), default="savedmodel", show_default=True,
              help="savedmodel: every signature, raw strings in; tflite: the tensor-only signatures, builtin ops")
@click.option("--quantize", type=click.Choice(["none", "dynamic", "float16", "int8"]),
              help="tflite: none (default), dynamic (int8 weights), float16, int8 (full-integer; not for recurrent loops)")
@click.option("--seq-len", type=click.IntRange(min=1, max=MAX_SEQ_LEN), help="tflite: static length of text inputs "
                                                           "(default the run's max_length, + the end token)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="output directory (default RUN_DIR/export/FORMAT); must not exist")
@click.option("--check", "check_examples", type=click.IntRange(min=1), is_flag=False, flag_value=50,
              help="then run N held-out examples (default 50) through Keras, the SavedModel and the export, print "
                   "the differences and exit 1 beyond the documented tolerances")
def export(run_dir, fmt, quantize, seq_len, out_dir, check_examples):
    """Export a run for serving.

    A SavedModel holds every signature of the task: one on raw inputs (strings in, labels
    or text out) and tensor-only ones with static shapes (ids in, probabilities or logits
    out). A TFLite export is a folder with model.tflite (the tensor-only signatures,
    builtin ops only: it runs in LiteRT without TensorFlow), the vocabularies and
    manifest.json (signatures, tokenization, labels, decoding ids): everything a device
    app needs. `rnn-apps predict EXPORT_DIR ...` runs it with rnn-apps' TF-free runtime.

    \b
    Tolerances of --check: float exports within 1e-4 on probabilities, and the same labels,
    generated text and greedy translations; quantized exports >= 99% label (or token)
    agreement or at most 1 point lower on the task's metric.

    \b
    Examples:
      rnn-apps export RUN_DIR --out exported/sentiment
      rnn-apps export RUN_DIR --format tflite --quantize dynamic --check
      rnn-apps predict RUN_DIR/export/tflite "great acting"
    """
    import rnn_apps

    options = {"quantize": quantize, "seq_len": seq_len}
    path = rnn_apps.export(run_dir, format=fmt, out=out_dir, **options)
    out.print(f"wrote {path}")
    if check_examples:
        from rnn_apps.exporters.check import check_export

        with err.status(f"checking {check_examples} held-out examples against Keras..."):
            report = check_export(run_dir, path, check_examples)
        table = Table("check", "compared", "max |diff|", "agreement", "keras", "export", "within tolerance",
                      title=f"{path.name}: {report.summary}")
        for row in report.rows:
            table.add_row(row.name, row.compared, f"{row.max_abs_diff:.2e}" if row.max_abs_diff is not None else "",
                          f"{row.agreement:.1%}" if row.agreement is not None else "",
                          row.reference, row.exported, "yes" if row.ok else "[red]no[/]")
        out.print(table)
        if not report.ok:
            err.print(f"[red]{path} differs from the Keras model beyond the tolerances above[/]")
            raise SystemExit(1)
