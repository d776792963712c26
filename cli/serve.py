"""``rnn-apps serve``: runs and TFLite exports behind HTTP (TF Serving's REST API)."""
from __future__ import annotations

import signal
from pathlib import Path

import click

from rnn_apps.cli.common import out as console

MAX_BATCH = 1024


def parse_targets(targets: tuple[str, ...]) -> dict[str, Path]:
    """``[NAME=]PATH`` arguments as ``{name: path}``; a name defaults to the target's task
    (``sentiment``, then ``sentiment-2`` ...). A path that is neither a run directory nor a
    TFLite export, or a name given twice, is a ``UserError``."""
    from rnn_apps.errors import UserError
    from rnn_apps.serving.app import target_name

    served: dict[str, Path] = {}
    for target in targets:
        name, _, path = target.rpartition("=") if "=" in target and not Path(target).exists() else ("", "", target)
        path = Path(path)
        if not ((path / "run.json").is_file() or (path / "manifest.json").is_file()):
            raise UserError(f"{path}: not a run directory (run.json) nor a TFLite export (manifest.json)")
        if name and not name.replace("-", "").replace("_", "").isalnum():
            raise UserError(f"{target}: a model name is letters, digits, '-' and '_'")
        if name in served:
            raise UserError(f"{target}: the name {name} is given twice")
        if not name:
            base, n = target_name(path), 1
            name = base
            while name in served:
                n += 1
                name = f"{base}-{n}"
        served[name] = path.resolve()
    return served


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="[NAME=]TARGET...")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (0.0.0.0: every interface)")
@click.option("--port", type=click.IntRange(0, 65535), default=8501, show_default=True,
              help="TF Serving's REST port by default")
@click.option("--max-batch-size", type=click.IntRange(1, MAX_BATCH), default=32, show_default=True,
              help="rows per model call; 1 turns batching off")
@click.option("--batch-timeout-ms", type=click.FloatRange(0, 10_000), default=5.0, show_default=True,
              help="how long a batch waits for more requests")
@click.option("--max-queue", type=click.IntRange(1, 100_000), default=256, show_default=True,
              help="requests waiting per model; more are answered 429")
@click.option("--deadline", "deadline_s", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="seconds a request may wait and run; later ones are answered 503")
@click.option("--api-key", envvar="RNN_APPS_API_KEY", help="required on every route but health "
              "(Authorization: Bearer KEY or X-API-Key); or RNN_APPS_API_KEY")
@click.option("--allow-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="let requests name picture/clip files inside this folder (otherwise only {\"b64\": ...})")
@click.option("--max-streams", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="generate requests one language model runs at once (they take turns chunk by chunk); "
                   "more are answered 429")
@click.option("--max-body-mb", type=click.FloatRange(0.001, 1024), default=16.0, show_default=True,
              help="largest request body")
def serve(targets, host, port, max_batch_size, batch_timeout_ms, max_queue, deadline_s, api_key, allow_dir,
          max_streams, max_body_mb):
    """Serve run directories and TFLite exports over HTTP, in TF Serving's REST API.

    A TARGET is a run directory or a TFLite export (served without TensorFlow), optionally
    named: NAME=PATH (default: the task's name).

    \b
    Examples:
      rnn-apps serve runs/sentiment/20260101-120000
      rnn-apps serve reviews=runs/sentiment/... mt=runs/translate/.../export/tflite --port 8080
      curl -s localhost:8501/v1/models/sentiment:predict \\
           -d '{"instances": ["not boring at all", "a dull film"]}'
      curl -s localhost:8501/v1/models/translate:predict \\
           -d '{"instances": ["the dog saw a cat ."], "parameters": {"beam": 4}}'
      curl -s localhost:8501/v2/health/ready     # 503 until every model has loaded
      curl -s localhost:8501/metrics             # Prometheus
    """
    from rnn_apps.errors import UserError

    try:
        import uvicorn

        from rnn_apps.serving.app import ServerSettings, create_app
        from rnn_apps.serving.batching import BatchSettings
    except ImportError as exc:
        raise UserError(f"serving needs the serve extra ({exc.name} is missing): pip install 'rnn-apps[serve]'") \
            from None
    served = parse_targets(targets)
    settings = ServerSettings(BatchSettings(max_batch_size, batch_timeout_ms, max_queue, deadline_s), api_key,
                              int(max_body_mb * 2**20), allow_dir.resolve() if allow_dir else None, max_streams)
    app = create_app(served, settings)
    for name, path in served.items():
        console.print(f"[bold]{name}[/]: {path}", highlight=False)
    console.print(f"serving on http://{host}:{port} (POST /v1/models/NAME:predict, /v2/health/ready, /metrics, "
                  f"/docs); batches of up to {max_batch_size} rows; Ctrl-C or SIGTERM stops", highlight=False)
    # uvicorn catches SIGTERM, lets the requests in flight finish (up to 10 s), then raises
    # the signal again for the handler that was there before it; this one makes that stop
    # exit 0, as TF Serving does (Kubernetes counts a pod stopped so as a clean stop), and
    # also ends the process at once should SIGTERM come before uvicorn listens for it.
    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped(signum: int, frame) -> None:
    """SIGTERM outside uvicorn's own handler: a requested stop, exit status 0."""
    raise SystemExit(0)
