"""``rnn-apps``: train, evaluate, predict, inspect and export recurrent-network tasks.

The CLI is thin: each command (one module each) parses options, calls the function of
the same name in ``rnn_apps`` and renders the result with rich (``render``, by output
kind). TensorFlow is imported only inside commands, so ``rnn-apps --help`` is fast.
"""
from __future__ import annotations

import sys

import click

from rnn_apps.cli.common import CONTEXT, VERBOSE, Group, quiet_native_logs
from rnn_apps.cli.compare import compare
from rnn_apps.cli.diagnose import diagnose
from rnn_apps.cli.evaluate import evaluate
from rnn_apps.cli.export import export
from rnn_apps.cli.generate import generate
from rnn_apps.cli.info import info, plot
from rnn_apps.cli.predict import predict
from rnn_apps.cli.serve import serve
from rnn_apps.cli.tasks import config, tasks
from rnn_apps.cli.train import train
from rnn_apps.cli.tune import tune


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(package_name="rnn-apps")
@click.option("--verbose", is_flag=True, help="show TensorFlow's own log lines too (or RNN_APPS_VERBOSE=1)")
def cli(verbose):
    """Ready recurrent-network applications: train, evaluate, predict and export.

    \b
    Start here:
      rnn-apps tasks                         what can be trained
      rnn-apps train sentiment               train on built-in data (a few CPU minutes)
      rnn-apps evaluate runs/sentiment/...   test-split metrics of that run
      rnn-apps predict RUN "not bad at all"  label your own sentences
      rnn-apps train textgen                 a character-level language model
      rnn-apps generate RUN --prompt "ROSA:" sample text from it, streamed
      rnn-apps train translate               an encoder-decoder with attention
      rnn-apps predict RUN "the dog saw a cat ." --beam 4 --attention-plot att.png
      rnn-apps tune sentiment --space space.yaml --study-dir runs/tune   search settings
      rnn-apps compare RUN RUN ...           runs side by side (compare.html)
      rnn-apps serve RUN [EXPORT ...]        TF Serving's REST API on localhost:8501
    """


for command in (tasks, config, train, tune, compare, evaluate, predict, generate, info, export, serve, plot,
                diagnose):
    cli.add_command(command)


def main() -> None:
    if not VERBOSE:
        quiet_native_logs()
    cli(prog_name="rnn-apps")


if __name__ == "__main__":
    sys.exit(main())
