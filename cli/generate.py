"""``rnn-apps generate``: sample text from a language-model run, streamed."""
from __future__ import annotations

import json

import click
from rich.markup import escape

from rnn_apps.api import MAX_NEW_TOKENS, MAX_SAMPLES, MAX_SEED
from rnn_apps.cli.common import RUN_DIR, FiniteFloatRange, err, out


@click.command()
@click.argument("run_dir", type=RUN_DIR)
@click.option("--prompt", default="", help="text to continue (default: start of a new line)")
@click.option("--length", type=click.IntRange(min=1, max=MAX_NEW_TOKENS), default=300, show_default=True,
              help="tokens to generate (characters at char level)")
@click.option("--temperature", type=FiniteFloatRange(min=0), default=0.8, show_default=True,
              help="< 1 safer and more repetitive, > 1 more surprising; 0 = greedy")
@click.option("--top-k", type=click.IntRange(min=0), default=0, show_default=True,
              help="sample only among the k most likely tokens (0 = all)")
@click.option("--top-p", type=FiniteFloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True,
              help="nucleus sampling: the smallest set of likely tokens with this much probability")
@click.option("--greedy", is_flag=True, help="always take the most likely token (deterministic)")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED),
              help="fix the samples (default: a random seed, printed)")
@click.option("--num-samples", type=click.IntRange(min=1, max=MAX_SAMPLES), default=1, show_default=True,
              help="independent samples, generated as one batch")
@click.option("--json", "as_json", is_flag=True, help="print machine-readable JSON when done")
def generate(run_dir, prompt, length, temperature, top_k, top_p, greedy, seed, num_samples, as_json):
    """Generate text from a textgen run, streaming it as it is produced.

    The prompt is read once; then each token costs one step of the recurrent network with
    its carried state, in a compiled loop.

    \b
    Examples:
      rnn-apps generate RUN_DIR --prompt "ROSA: where" --length 200
      rnn-apps generate RUN_DIR --temperature 0.5 --top-p 0.9 --seed 1 --num-samples 3
      rnn-apps generate RUN_DIR --greedy --json
    """
    import numpy as np

    import rnn_apps

    seed = seed if seed is not None else int(np.random.default_rng().integers(0, 2**31 - 1))
    options = dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed,
                   num_samples=num_samples)
    if as_json:
        click.echo(json.dumps(rnn_apps.generate(run_dir, prompt, length, **options), indent=2, ensure_ascii=False))
        return
    chunks = rnn_apps.generate(run_dir, prompt, length, stream=True, **options)
    samples = [""] * num_samples
    if num_samples == 1:
        out.print(f"[bold]{escape(prompt)}[/]", end="", highlight=False)
        for (piece,) in chunks:
            out.print(escape(piece), end="", highlight=False)
            samples[0] += piece
        out.print()
    else:
        from rich.console import Group as Stack
        from rich.live import Live
        from rich.panel import Panel

        def view():
            return Stack(*(Panel(f"[bold]{escape(prompt)}[/]{escape(text)}", title=f"sample {i + 1}",
                                 title_align="left") for i, text in enumerate(samples)))

        with Live(view(), console=out, refresh_per_second=8) as live:
            for pieces in chunks:
                samples = [text + piece for text, piece in zip(samples, pieces)]
                live.update(view())
    err.print(f"[dim]seed {seed} (repeat with --seed {seed})[/]")
