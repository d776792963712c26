"""``rnn-apps predict``: run a trained model on your own inputs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from rnn_apps.cli import render
from rnn_apps.cli.common import RUN_DIR, UsageProblem, catalogue_options, read_inputs


def split_inputs(arguments: list[str]) -> list:
    """Bare arguments (values of the task's first input) and ``--NAME VALUE`` pairs (inputs by
    name, e.g. ``--image a.png --question "..."``; the k-th value of every name forms one input)."""
    bare, columns, i = [], {}, 0
    while i < len(arguments):
        item = arguments[i]
        if item.startswith("--") and len(item) > 2:
            name, sep, value = item[2:].partition("=")
            if not sep:
                if i + 1 >= len(arguments):
                    raise UsageProblem(f"{item} needs a value (inputs by name: --NAME VALUE)")
                i, value = i + 1, arguments[i + 1]
            columns.setdefault(name.replace("-", "_"), []).append(value)
        else:
            bare.append(item)
        i += 1
    count = max((len(v) for v in columns.values()), default=0)
    return bare + [{name: values[k] for name, values in columns.items() if k < len(values)} for k in range(count)]


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("run_dir", type=RUN_DIR)
@click.argument("texts", nargs=-1)
@click.option("--input", "input_file", type=click.Path(dir_okay=False, path_type=Path),
              help="a UTF-8 file with one input per line (a .jsonl file: one object of inputs by name per line)")
@catalogue_options("predict")
@click.option("--json", "as_json", is_flag=True, help="print machine-readable JSON")
@click.pass_context
def predict(ctx, run_dir, texts, input_file, as_json, **options):
    """Run a trained model on inputs given as arguments or read from --input.

    Bare arguments fill the task's first input (the text); a task with several inputs
    takes them by name (`--NAME VALUE`, repeatable). A classifier (sentiment) labels each
    text; a language model (textgen) continues each text as a prompt with the run's
    sampling settings (see `rnn-apps generate` for control); a translator (translate)
    translates each text, greedily unless --beam or sampling options are given; a video run
    labels each clip's frames and a vqa run answers each question, and both draw their
    inputs and results with --plot. Options a run's task does not take are refused with the
    list of those it does.

    \b
    Examples:
      rnn-apps predict RUN_DIR "the plot was not boring at all"
      rnn-apps predict RUN_DIR --input sentences.txt --json
      rnn-apps predict TRANSLATE_RUN "the old dogs saw a red boat ." --beam 4 --attention-plot att.png
      rnn-apps predict VQA_RUN --image scene.png --question "is there a red object ?" --plot answer.png
    """
    import rnn_apps

    inputs = split_inputs([*texts, *ctx.args])
    run = rnn_apps.load(run_dir)
    if input_file is not None:
        inputs += read_inputs(input_file, run.input_names)
    results = run.predict(inputs, **options)
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        render.predictions(run.output, results, run.input_names)
