"""``rnn-apps evaluate``: score a trained run."""
from __future__ import annotations

import json

import click

from rnn_apps.cli import render
from rnn_apps.cli.common import RUN_DIR, catalogue_options


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--data", metavar="SRC", help="labelled data to score (default: the run's own test split)")
@catalogue_options("evaluate")
@click.option("--json", "as_json", is_flag=True, help="print machine-readable JSON")
def evaluate(run_dir, data, as_json, **options):
    """Score a trained run on its test split or on --data.

    \b
    sentiment: loss, accuracy, precision/recall/F1 and the confusion matrix
    textgen:   nats and bits per token, bits per character, perplexity
    translate: corpus BLEU and chrF (sacrebleu), exact match, teacher-forced loss and
               token accuracy, and a few example translations
    Options a run's task does not take are refused with the list of those it does.

    \b
    Examples:
      rnn-apps evaluate runs/sentiment/20260101-120000
      rnn-apps evaluate RUN_DIR --data other_reviews.tsv --json
      rnn-apps evaluate runs/translate/20260101-120000 --beam 4
    """
    import rnn_apps

    report = rnn_apps.evaluate(run_dir, data=data, **options)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render.report(report)
