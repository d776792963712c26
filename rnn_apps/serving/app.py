"""``rnn-apps serve``: run directories and TFLite exports behind HTTP, in the conventions
clients already speak.

* TF Serving's REST API (``g3doc/api_rest.md``; KServe V1 is the same): ``GET
  /v1/models/NAME`` (version status), ``GET /v1/models/NAME/metadata``, ``POST
  /v1/models/NAME:predict`` with ``{"instances": [...]}`` (rows) -> ``{"predictions": [...]}``
  or ``{"inputs": ...}`` (columns) -> ``{"outputs": ...}``; binary values as ``{"b64": ...}``;
  errors as ``{"error": "..."}``. A row is what ``rnn-apps predict --input`` reads: a bare
  value for the task's first input, or an object by input name; a prediction is what
  ``rnn-apps predict --json`` prints. rnn-apps' decoding options (``beam``,
  ``temperature`` ...) go in ``"parameters"``.
* ``GET /v1/models`` (every model), KServe's Open Inference Protocol health routes
  (``/v2/health/live``, ``/v2/health/ready``: 503 until every model has loaded and answered
  one warm-up request; ``/v2/models/NAME/ready``), Prometheus metrics at ``/metrics``, and
  FastAPI's OpenAPI page at ``/docs``.
* A web page per model (``rnn_apps.serving.page``): ``GET /`` lists the models, ``GET
  /ui/NAME`` is a form drawn from the model's input and output kinds.

Requests for one model are batched (``rnn_apps.serving.batching``). Every mistake in a
request is a 4xx JSON error naming the field; nothing from a request is opened as a path
unless ``allow_dir`` is set, and then only inside it. A TFLite export is served without
TensorFlow (``rnn_apps.lite``).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import prometheus_client as prom
from fastapi import FastAPI, Request  # at module level: FastAPI reads the route annotations by name
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from rnn_apps.errors import UserError
from rnn_apps.serving import page
from rnn_apps.serving.batching import BatchSettings, Batcher, DeadlineExceeded, QueueFull

log = logging.getLogger("rnn_apps.serving")
PICTURE_MAGIC = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif", b"BM": ".bmp",
                 b"\x93NUMPY": ".npy"}


class BadRequest(Exception):
    """A request the server cannot answer: ``status`` (4xx or 503) and a message naming the field."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class ServedModel:
    """One target: a run directory or a TFLite export, its state and its batcher."""

    name: str
    path: Path
    state: str = "LOADING"  # AVAILABLE once loaded and warmed, FAILED with ``error``
    error: str = ""
    predictor: Any = None
    kinds: dict = dataclasses.field(default_factory=dict)  # input name -> text | image | frames
    task: str = ""
    output_kind: str = ""
    options: tuple = ()
    batcher: Batcher | None = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)  # one model call at a time
    streams: int = 0  # generate requests running now (counted on the event loop)

    def load(self) -> None:
        """Load the target and answer warm-up requests (text inputs); a failure is kept
        in ``error`` (readiness then says why)."""
        try:
            self.predictor = load_target(self.path)
            self.kinds, self.task, self.output_kind, self.options = describe(self.predictor)
            if all(kind == "text" for kind in self.kinds.values()):
                self.predictor.predict([{name: "warm up" for name in self.kinds}])
                if self.output_kind in ("label", "labels_per_step") and not hasattr(self.predictor, "manifest"):
                    # a run's model and text step run in graphs from their second call (``kept_graph``): traced
                    # here, at two batch shapes so the trace takes any, not on a client's request
                    for rows in (["warm up"], ["warm up", "warm up once more"]):
                        self.predictor.predict([{name: text for name in self.kinds} for text in rows])
            self.state = "AVAILABLE"
        except UserError as exc:
            self.state, self.error = "FAILED", str(exc)
        except Exception as exc:  # a damaged file the loaders did not foresee: reported, never raised
            self.state, self.error = "FAILED", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def run_batch(self, rows: list, options: dict) -> list:
        with self.lock:
            return self.predictor.predict(rows, **options)


def load_target(path: Path) -> Any:
    """A TFLite export through the TF-free runtime, else a run directory (``rnn_apps.load_run``)."""
    from rnn_apps.lite.runtime import is_export

    if is_export(path):
        from rnn_apps.lite.runtime import load

        return load(path)
    from rnn_apps.api import load_run

    return load_run(path)


def describe(predictor: Any) -> tuple[dict, str, str, tuple]:
    """``(input kinds by name, task name, output kind, predict options)`` of a run or an export."""
    if hasattr(predictor, "manifest"):
        manifest = predictor.manifest
        kinds = {name: settings["kind"] for name, settings in manifest["inputs"].items()}
        return kinds, manifest["task"], predictor.output.kind, tuple(predictor.predict_options)
    kinds = {name: kind.kind for name, kind in predictor.features.inputs.items()}
    return kinds, predictor.task.name, predictor.output.kind, tuple(predictor.output.predict_options)


def target_name(path: Path) -> str:
    """The name a target is served under by default: its task."""
    for file, key in (("manifest.json", "task"), ("run.json", "task")):
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            return json.loads((path / file).read_text(encoding="utf-8"))[key]
    return path.name


# --- requests ------------------------------------------------------------------------------
def parse_predict(body: Any, model: ServedModel) -> tuple[list[dict], bool, dict]:
    """``(rows by input name, columnar?, options)`` of a ``:predict`` body, or ``BadRequest``."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object with \"instances\" or \"inputs\"")
    unknown = sorted(set(body) - {"instances", "inputs", "signature_name", "parameters"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; a request has instances or inputs, and optionally "
                         f"signature_name and parameters")
    if ("instances" in body) == ("inputs" in body):
        raise BadRequest("give exactly one of \"instances\" (a list of rows) or \"inputs\" (columns)")
    if body.get("signature_name") not in (None, "", "serving_default"):
        raise BadRequest(f"signature_name {body['signature_name']!r} is not served; use serving_default")
    names, primary = list(model.kinds), next(iter(model.kinds))
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise BadRequest("\"instances\" must be a non-empty list of rows")
        rows = [row if isinstance(row, dict) and set(row) != {"b64"} else {primary: row}  # a bare binary value
                for row in instances]
        columnar = False
    else:
        columns = body["inputs"]
        columns = {primary: columns} if isinstance(columns, list) else columns
        if not isinstance(columns, dict) or not columns or \
                not all(isinstance(v, list) for v in columns.values()):
            raise BadRequest("\"inputs\" must be a list (the first input) or an object of equal-length lists "
                             "by input name")
        sizes = {len(v) for v in columns.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise BadRequest("\"inputs\" lists must be non-empty and of one length")
        rows = [{name: values[i] for name, values in columns.items()} for i in range(sizes.pop())]
        columnar = True
    for i, row in enumerate(rows):
        missing, extra = [n for n in names if n not in row], [n for n in row if n not in model.kinds]
        if missing or extra:
            raise BadRequest(f"row {i + 1}: {'no input named ' + extra[0] if extra else 'missing ' + missing[0]}; "
                             f"{model.name} reads {', '.join(names)}")
    options = body.get("parameters") or {}
    if not isinstance(options, dict):
        raise BadRequest("\"parameters\" must be an object of predict options")
    bad = sorted(set(options) - set(model.options))
    if bad:
        raise BadRequest(f"parameters: {model.name} takes no option {bad[0]!r}; it takes "
                         f"{', '.join(model.options) or 'none'}")
    for key, value in options.items():
        if key in ("plot", "attention_plot"):
            raise BadRequest(f"parameters.{key}: plots are drawn by the CLI, not over HTTP")
        if not isinstance(value, (int, float, bool)):
            raise BadRequest(f"parameters.{key} must be a number or true/false, got {json.dumps(value)[:40]}")
    return rows, columnar, options


class Materialized:
    """Rows with binary values (``{"b64": ...}``) decoded: text as UTF-8, pictures and clips
    written to a temporary folder (removed after the request) and given by path; a path in
    a request is read only inside ``allow_dir``."""

    def __init__(self, rows: list[dict], kinds: dict, allow_dir: Path | None, max_bytes: int):
        self.folder = tempfile.TemporaryDirectory(prefix="rnn-apps-serve-")
        self.rows = [{name: self._value(value, kinds[name], f"row {i + 1}: {name}", allow_dir, max_bytes)
                      for name, value in row.items()} for i, row in enumerate(rows)]

    def _value(self, value: Any, kind: str, where: str, allow_dir: Path | None, max_bytes: int) -> Any:
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise BadRequest(f"{where}: a binary value is {{\"b64\": \"...\"}}")
            try:
                data = base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"{where}: not valid base64") from None
            if len(data) > max_bytes:
                raise BadRequest(f"{where}: {len(data):,} bytes, more than the {max_bytes:,} allowed", 413)
            if kind == "text":
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    raise BadRequest(f"{where}: b64 text is not UTF-8") from None
            suffix = next((s for magic, s in PICTURE_MAGIC.items() if data.startswith(magic)), None)
            if suffix is None:
                raise BadRequest(f"{where}: not a PNG, JPEG, GIF, BMP or .npy file")
            file = Path(self.folder.name) / f"{len(list(Path(self.folder.name).iterdir()))}{suffix}"
            file.write_bytes(data)
            return str(file)
        if not isinstance(value, str):
            raise BadRequest(f"{where}: expected a string, got {type(value).__name__}")
        if kind == "text":
            return value
        if allow_dir is None:
            raise BadRequest(f"{where}: send the {kind} as {{\"b64\": ...}} (the server opens no paths; start it "
                             f"with --allow-dir DIR to allow paths inside DIR)")
        path = (allow_dir / value).resolve()
        if not path.is_relative_to(allow_dir):
            raise BadRequest(f"{where}: {value} is outside the allowed folder", 403)
        return str(path)

    def close(self) -> None:
        self.folder.cleanup()


GENERATE_OPTIONS = {"length": int, "temperature": float, "top_k": int, "top_p": float, "greedy": bool, "seed": int}


def parse_generate(body: Any, model: ServedModel):
    """``(prompt, length, Sampling)`` of a ``:generate`` / ``:generate_stream`` body
    (the Open Inference Protocol's generate extension: ``text_input`` and ``parameters``)."""
    from rnn_apps.decoding.settings import Sampling
    from rnn_apps.options import MAX_NEW_TOKENS, check_prompt, checked_values

    if model.output_kind != "next_token":
        raise BadRequest(f"{model.name} is a {model.task} model; generate needs a language model (textgen)")
    if not isinstance(body, dict) or not isinstance(body.get("text_input", ""), str):
        raise BadRequest("the body must be a JSON object with \"text_input\" (a string) and optional \"parameters\"")
    unknown = sorted(set(body) - {"text_input", "parameters"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; a generate request has text_input and parameters")
    options = body.get("parameters") or {}
    if not isinstance(options, dict):
        raise BadRequest("\"parameters\" must be an object")
    for key, value in options.items():
        if key not in GENERATE_OPTIONS:
            raise BadRequest(f"parameters: no option {key!r}; generate takes {', '.join(GENERATE_OPTIONS)}")
        wanted = GENERATE_OPTIONS[key]
        if isinstance(value, bool) != (wanted is bool) or not isinstance(value, (int, float)) or \
                (wanted is int and not float(value).is_integer()):
            raise BadRequest(f"parameters.{key} must be {'true/false' if wanted is bool else wanted.__name__}")
    prompt, length = body.get("text_input", ""), int(options.get("length", 200))
    if not 1 <= length <= MAX_NEW_TOKENS:
        raise BadRequest(f"parameters.length must be between 1 and {MAX_NEW_TOKENS:,}")
    try:
        check_prompt(prompt, "text_input")
        checked_values({"temperature": float(options.get("temperature", 1.0)), "top_p": float(options.get("top_p", 1.0)),
                        "seed": options.get("seed")})
        sampling = Sampling(greedy=bool(options.get("greedy", False)), temperature=float(options.get("temperature", 1.0)),
                            top_k=int(options.get("top_k", 0)), top_p=float(options.get("top_p", 1.0)),
                            seed=None if options.get("seed") is None else int(options["seed"]))
    except UserError as exc:
        raise BadRequest(str(exc)) from None
    return prompt, length, sampling


def columns_of(results: list[dict]) -> dict:
    """Row results as columns (TF Serving's ``outputs`` form)."""
    keys = list(results[0]) if results else []
    return {key: [row.get(key) for row in results] for key in keys}


def json_ready(value: Any) -> Any:
    """Results as plain JSON values (NumPy numbers and arrays included)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


# --- the application ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """How the server batches and what it accepts. ``api_key``: required on every route but
    health (``Authorization: Bearer KEY`` or ``X-API-Key``); ``max_body_bytes``: largest
    request; ``allow_dir``: the one folder request paths may name; ``max_streams``: generate
    requests one model runs at once (more are answered 429)."""

    batching: BatchSettings = BatchSettings()
    api_key: str | None = None
    max_body_bytes: int = 16 * 2**20
    allow_dir: Path | None = None
    max_streams: int = 16


def create_app(targets: dict[str, Path], settings: ServerSettings = ServerSettings()):
    """The FastAPI application serving ``targets`` (name -> run directory or TFLite export)."""
    models = {name: ServedModel(name, Path(path)) for name, path in targets.items()}
    registry = prom.CollectorRegistry()
    requests = prom.Counter("rnn_apps_requests", "Requests by model, route and HTTP status",
                            ["model", "route", "status"], registry=registry)
    latency = prom.Histogram("rnn_apps_request_seconds", "Time to answer a predict request", ["model"],
                             registry=registry)
    batch_rows = prom.Histogram("rnn_apps_batch_size", "Rows per model call", ["model"],
                                buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=registry)
    tokens = prom.Counter("rnn_apps_generated_characters", "Characters of text generated", ["model"],
                          registry=registry)
    queue_depth = prom.Gauge("rnn_apps_queue_depth", "Requests waiting per model", ["model"], registry=registry)
    loading: dict = {}

    async def load_all() -> None:
        for model in models.values():
            # the queue exists before the model can be AVAILABLE: a request that sees it
            # ready always finds its batcher (it used to find None for a moment: a 500)
            model.batcher = Batcher(model.run_batch, settings.batching,
                                    on_batch=lambda size, name=model.name: batch_rows.labels(name).observe(size))
            model.batcher.start()
            queue_depth.labels(model.name).set_function(lambda b=model.batcher: b.depth)
        for model in models.values():
            await asyncio.to_thread(model.load)
            log.info("%s: %s%s", model.name, model.state, f" ({model.error})" if model.error else "")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loading["task"] = asyncio.get_running_loop().create_task(load_all())
        yield
        loading["task"].cancel()
        for model in models.values():
            if model.batcher:
                await model.batcher.stop()

    app = FastAPI(title="rnn-apps", description="Recurrent-network tasks over TF Serving's REST API",
                  lifespan=lifespan)
    app.state.models = models

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        public = request.url.path.startswith("/v2/health") or page.is_public(request.url.path)
        if settings.api_key and not public:
            given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
            if given != settings.api_key:
                return error("missing or wrong API key (Authorization: Bearer KEY or X-API-Key)", 401)
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > settings.max_body_bytes):
            return error(f"request body over {settings.max_body_bytes:,} bytes", 413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error(f"bad request: {exc.errors()[0].get('msg', 'invalid')}", 400)

    def served(name: str) -> ServedModel:
        if name not in models:
            raise BadRequest(f"no model named {name!r}; this server has {', '.join(models)}", 404)
        return models[name]

    def status_of(model: ServedModel) -> dict:
        state = {"LOADING": "LOADING", "AVAILABLE": "AVAILABLE", "FAILED": "END"}[model.state]
        return {"version": "1", "state": state,
                "status": {"error_code": "OK" if model.state != "FAILED" else "UNKNOWN",
                           "error_message": model.error}}

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return error(str(exc), exc.status)

    @app.get("/v1/models")
    async def list_models():
        return {"models": [{"name": m.name, "path": str(m.path), "task": m.task, "output": m.output_kind,
                            "state": m.state} for m in models.values()]}

    @app.get("/v1/models/{name}")
    async def model_status(name: str):
        model = served(name.split(":")[0])
        return {"model_version_status": [status_of(model)]}

    @app.get("/v1/models/{name}/metadata")
    async def metadata(name: str):
        model = served(name)
        if model.state != "AVAILABLE":
            raise BadRequest(f"{name} is not ready: {model.state.lower()} {model.error}".strip(), 503)
        return {"model_spec": {"name": name, "signature_name": "", "version": "1"},
                "metadata": {"signature_def": {"signature_def": {"serving_default": {
                    "inputs": {n: {"kind": k, "dtype": "DT_STRING"} for n, k in model.kinds.items()},
                    "outputs": {"kind": model.output_kind}, "method_name": "tensorflow/serving/predict"}}},
                    "rnn_apps": {"task": model.task, "output": model.output_kind, "parameters": list(model.options)}}}

    @app.post("/v1/models/{spec}")
    async def predict(spec: str, request: Request):
        name, _, verb = spec.partition(":")
        model = served(name)
        if verb in ("generate", "generate_stream"):
            return await generate(model, request, stream=verb == "generate_stream")
        if verb != "predict":
            raise BadRequest(f"unknown method {verb!r}; POST /v1/models/{name}:predict (or :generate, "
                             f":generate_stream for a language model)", 404)
        started, status = time.perf_counter(), 200
        try:
            if model.state != "AVAILABLE":
                raise BadRequest(f"{name} is not ready: {model.state.lower()} {model.error}".strip(), 503)
            raw = await request.body()
            if len(raw) > settings.max_body_bytes:
                raise BadRequest(f"request body over {settings.max_body_bytes:,} bytes", 413)
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(f"the body is not JSON ({exc})") from None
            rows, columnar, options = parse_predict(body, model)
            values = Materialized(rows, model.kinds, settings.allow_dir, settings.max_body_bytes)
            try:
                results = await model.batcher.submit(values.rows, options)
            except QueueFull:
                raise BadRequest(f"{name}: the queue is full ({settings.batching.max_queue} requests); retry later",
                                 429) from None
            except DeadlineExceeded:
                raise BadRequest(f"{name}: no answer within {settings.batching.deadline_s:g}s", 503) from None
            except UserError as exc:
                raise BadRequest(str(exc)) from None
            finally:
                values.close()
            results = json_ready(results)
            return {"outputs": columns_of(results)} if columnar else {"predictions": results}
        except BadRequest as exc:
            status = exc.status
            raise
        except Exception:
            status = 500
            log.exception("predict on %s failed", name)
            return error("internal error while predicting (the server log has the details)", 500)
        finally:
            requests.labels(name, "predict", str(status)).inc()
            latency.labels(name).observe(time.perf_counter() - started)

    async def generate(model: ServedModel, request: Request, stream: bool):
        """The whole text (``:generate``), or server-sent events, one per chunk of new text
        (``:generate_stream``); the stream stops when the client goes away."""
        if model.state != "AVAILABLE":
            raise BadRequest(f"{model.name} is not ready: {model.state.lower()} {model.error}".strip(), 503)
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not JSON ({exc})") from None
        prompt, length, sampling = parse_generate(body, model)
        if model.streams >= settings.max_streams:
            raise BadRequest(f"{model.name}: {settings.max_streams} generate requests are running; retry later", 429)
        model.streams += 1
        released = False

        def release():  # once, whichever of the stream's end and the response's background comes first
            nonlocal released
            if not released:
                released, model.streams = True, model.streams - 1

        def chunks():
            """The model's chunks, the model locked for each chunk only: streams take turns
            chunk by chunk (their states are their own), and a waiting stream never holds the
            lock a running one needs (held for a whole stream, 7 streams on 6 worker threads
            deadlocked the server)."""
            produced = model.predictor.stream(prompt, length, sampling, 1)
            try:
                while True:
                    with model.lock:
                        chunk = next(produced, None)
                    if chunk is None:
                        return
                    yield chunk
            finally:
                produced.close()

        if not stream:
            try:
                text = await asyncio.to_thread(lambda: "".join(chunk[0] for chunk in chunks()))
            finally:
                release()
            requests.labels(model.name, "generate", "200").inc()
            return {"model_name": model.name, "text_output": text, "seed": sampling.seed}

        async def events():
            produced = chunks()
            try:
                while True:
                    if await request.is_disconnected():
                        break
                    chunk = await asyncio.to_thread(next, produced, None)
                    if chunk is None:
                        break
                    tokens.labels(model.name).inc(len(chunk[0]))
                    yield f"data: {json.dumps({'model_name': model.name, 'text_output': chunk[0]})}\n\n"
                yield f"data: {json.dumps({'model_name': model.name, 'done': True, 'seed': sampling.seed})}\n\n"
            finally:
                await asyncio.to_thread(produced.close)  # ends the decoding loop
                release()
                requests.labels(model.name, "generate_stream", "200").inc()

        return StreamingResponse(events(), media_type="text/event-stream", background=BackgroundTask(release))

    @app.get("/v2/health/live")
    async def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready():
        states = {m.name: m.state for m in models.values()}
        ok = all(s == "AVAILABLE" for s in states.values())
        body = {"ready": ok, "models": {m.name: {"state": m.state, **({"error": m.error} if m.error else {})}
                                        for m in models.values()}}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str):
        model = served(name)
        ok = model.state == "AVAILABLE"
        return JSONResponse({"name": name, "ready": ok, **({"error": model.error} if model.error else {})},
                            status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics():
        return Response(prom.generate_latest(registry), media_type=prom.CONTENT_TYPE_LATEST)

    # --- the web page (rnn_apps.serving.page): one shell, drawn from each model's view ---------
    @app.get("/", include_in_schema=False)
    async def home():
        return HTMLResponse(page.PAGE, headers=page.HEADERS)

    @app.get("/ui/{name}", include_in_schema=False)
    async def model_page(name: str):
        return HTMLResponse(page.PAGE, headers=page.HEADERS)

    @app.get("/ui/{name}/view")
    async def model_view(name: str):
        model = served(name)
        if model.state != "AVAILABLE":
            raise BadRequest(f"{name} is not ready: {model.state.lower()} {model.error}".strip(), 503)
        return page.view(model, GENERATE_OPTIONS)

    @app.post("/ui/{name}/attention", include_in_schema=False)
    async def model_attention(name: str, request: Request):
        """The attention map of one output the page shows (``page.attention``): its heatmap."""
        model = served(name)
        if model.state != "AVAILABLE":
            raise BadRequest(f"{name} is not ready: {model.state.lower()} {model.error}".strip(), 503)
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise BadRequest('the body is {"instances": [row], "ids": [...]}')
        rows, _, _ = parse_predict({"instances": body.get("instances")}, model)
        try:
            return await asyncio.to_thread(page.attention, model, rows[0], body.get("ids"))
        except UserError as exc:
            raise BadRequest(str(exc)) from None

    return app
