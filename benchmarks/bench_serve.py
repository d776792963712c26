"""Serving benchmark: `rnn-apps serve` on loopback, batching on and off, against in-process predict.

Why: dynamic batching (``rnn_apps.serving.batching``) should let many concurrent clients
share one model call; this measures how much it buys, and what the HTTP layer costs on top
of ``rnn_apps.predict``. It trains tiny runs of sentiment, translate and textgen on their
built-in data (or takes ``--run TASK=DIR``), exports each to TFLite, and starts the real
server (``python -m rnn_apps.cli.main serve``) as child processes on free loopback ports,
one per batching mode (``--max-batch-size 1``: off; then each of ``--batch-sizes``, with
``--batch-timeout-ms``), each serving every target; the modes take turns cell by cell, so
that a burst of other work on the machine hits them alike. Then, per target (run directory,
TFLite export) and per number of concurrent clients (``--clients``, default 1, 8, 64):

* a fixed number of requests (``--requests``, one per client count; default 32, 128, 256),
  each ``POST /v1/models/NAME:predict`` with ``{"instances": [one sentence]}`` from a pool
  of built-in held-out sentences, sent by threads over keep-alive ``http.client``
  connections, after an untimed warm-up of one request per client; a cell also stops
  issuing requests after ``--cell-seconds``;
* throughput (requests/s over the cell's wall time), p50/p99 latency seen by the client,
  the mean rows per model call (from the server's ``/metrics``) and the CPU seconds the
  server and the client each used;
* the ceiling: the same sentences answered in this process by the loaded target's
  ``predict`` (what ``rnn_apps.predict`` does after loading), one at a time and in
  batches of each batch size;
* ``GET /v2/health/live`` at the same concurrencies: what HTTP alone costs here;
* textgen ``:generate_stream`` (server-sent events), run directory and TFLite export: time
  to the first event and characters/s, one stream at a time (``--streams`` times) and
  ``--concurrent-streams`` at once.

A SavedModel export is not a target ``rnn-apps serve`` takes (it serves run directories and
TFLite exports): the benchmark tries it once and records the server's refusal.

The load generator shares the machine's cores with the server (on the 2-core machines of
this project, both compete for them): compare the modes within one run (the ratios it
prints), not absolute numbers across runs or machines.

Goal (issue 27): with 64 clients, batching on gives at least 5x the throughput of batching
off for sentiment (the run directory), at a p99 no worse than 3x the single-client p50 of
the same server. Prints tables, writes ``benchmarks/results/bench_serve.json`` and exits
with status 1 when a request failed or the goal is not met at any batch size.

    python benchmarks/bench_serve.py [--quick] [--clients 1 8 64] [--requests 32 128 256]
                                     [--batch-sizes 32 64] [--run sentiment=RUN_DIR ...]

The defaults take about 4 minutes on 2 quiet cores (docs/serving.md has the results);
``--quick`` about 2.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "rnn_apps.cli.main"]
TASKS = ("sentiment", "translate")           # benchmarked through :predict
STREAMED = "textgen"                         # benchmarked through :generate_stream
GOAL_SPEEDUP, GOAL_P99 = 5.0, 3.0            # batching on / off at 64 clients; p99 / single-client p50
STREAM_LENGTH = 256                          # characters per textgen stream
TICKS = os.sysconf("SC_CLK_TCK")


# --- the targets -----------------------------------------------------------------------------------
def prepare_targets(args, folder: Path) -> tuple[dict[str, Path], dict]:
    """``{served name: path}``: each task's run (trained tiny, or ``--run``) and its float
    TFLite export (``NAME-tflite``); and what preparing them took."""
    import rnn_apps
    from rich.console import Console

    given = dict(item.split("=", 1) for item in args.run)
    quiet = Console(file=open(os.devnull, "w"))
    targets, seconds = {}, {}
    for task in (*TASKS, STREAMED):
        started = time.perf_counter()
        run = Path(given[task]) if task in given else \
            rnn_apps.train(task, preset=args.preset, run_dir=folder / task, console=quiet)
        targets[task] = Path(run).resolve()
        targets[f"{task}-tflite"] = rnn_apps.export(run, format="tflite", out=folder / f"{task}-tflite").resolve()
        seconds[task] = round(time.perf_counter() - started, 1)
        print(f"{task}: {'given' if task in given else 'trained'} and exported in {seconds[task]} s", flush=True)
    return targets, seconds


def savedmodel_refusal(run: Path, folder: Path) -> str:
    """What ``rnn-apps serve`` answers for a SavedModel export of ``run`` (it is not a target)."""
    import rnn_apps

    saved = rnn_apps.export(run, format="savedmodel", out=folder / "savedmodel")
    try:
        done = subprocess.run([*CLI, "serve", str(saved), "--port", str(free_port())], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "served (the server started; unexpected)"
    return f"exit {done.returncode}: " + " ".join((done.stderr or done.stdout).split())[:200]


def sentences(count: int) -> dict[str, list[str]]:
    """Held-out inputs per task (seeds the tiny runs' built-in data do not use)."""
    from rnn_apps.models.sentiment import generate_reviews
    from rnn_apps.models.translate import generate_pairs

    return {"sentiment": list(generate_reviews(count, 9_001)["text"]),
            "translate": list(generate_pairs(count, 9_001)["source"])}


# --- the server ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``rnn-apps serve`` in a child process with every target, until ``stop()``."""

    def __init__(self, targets: dict[str, Path], max_batch_size: int, timeout_ms: float, log: Path):
        self.port = free_port()
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            [*CLI, "serve", *(f"{name}={path}" for name, path in targets.items()), "--port", str(self.port),
             "--max-batch-size", str(max_batch_size), "--batch-timeout-ms", str(timeout_ms),
             "--deadline", "300"],  # a slow cell (batching off, 64 clients) is measured, not refused
            stdout=self.log, stderr=subprocess.STDOUT)
        self.max_batch_size = max_batch_size

    def wait_ready(self, timeout: float = 300) -> None:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n"
                                 f"{Path(self.log.name).read_text()[-3000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(self.port, "/v2/health/ready")[0] == 200:
                    return
            time.sleep(0.25)
        raise SystemExit(f"the server was not ready within {timeout:g} s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def batches(self, name: str) -> tuple[float, float]:
        """``(rows, model calls)`` so far for ``name``, from the server's Prometheus metrics."""
        text = get(self.port, "/metrics")[1].decode()
        value = lambda key: sum(float(v) for v in re.findall(  # noqa: E731
            rf'^rnn_apps_batch_size_{key}{{model="{re.escape(name)}"}} (\S+)$', text, re.M))
        return value("sum"), value("count")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- the load generator ----------------------------------------------------------------------------
def drive(port: int, method: str, path: str, bodies: list[bytes | None], clients: int, cap_s: float) -> dict:
    """Send ``bodies`` (one request each) from ``clients`` threads over keep-alive connections,
    none started after ``cap_s``: latencies (s), failures and wall time."""
    latencies, failures, lock = [], [], threading.Lock()
    following = iter(range(len(bodies)))
    started = time.perf_counter()
    ends = started + cap_s

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        headers = {"Content-Type": "application/json"}
        while time.perf_counter() < ends:
            with lock:
                i = next(following, None)
            if i is None:
                break
            sent = time.perf_counter()
            try:
                conn.request(method, path, body=bodies[i], headers=headers)
                response = conn.getresponse()
                answer = response.read()
                took = time.perf_counter() - sent
                with lock:
                    (latencies if response.status == 200 else failures).append(
                        took if response.status == 200 else f"{response.status}: {answer[:120]!r}")
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "failures": failures, "wall_s": time.perf_counter() - started}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def cell(server: Server, name: str, method: str, path: str, bodies: list, clients: int, cap_s: float,
         **labels) -> dict:
    """One measured cell: a warm-up of one request per client, then ``bodies``."""
    drive(server.port, method, path, bodies[:clients], clients, cap_s)
    rows_before, calls_before = server.batches(name)
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    run = drive(server.port, method, path, bodies, clients, cap_s)
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    rows_after, calls_after = server.batches(name)
    done, wall = run["latencies"], run["wall_s"]
    result = {**labels, "clients": clients, "requests": len(done), "asked": len(bodies),
              "failed": len(run["failures"]), "wall_s": round(wall, 2),
              "capped": len(done) + len(run["failures"]) < len(bodies),
              "rps": round(len(done) / wall, 1), "p50_ms": round(1000 * percentile(done, 50), 1),
              "p99_ms": round(1000 * percentile(done, 99), 1),
              "rows_per_call": round((rows_after - rows_before) / (calls_after - calls_before), 1)
              if calls_after > calls_before else None,
              "server_cpu_s": round(server_cpu, 1), "client_cpu_s": round(client_cpu, 1)}
    if run["failures"]:
        result["first_failure"] = run["failures"][0]
    print(json.dumps(result), flush=True)
    return result


def stream_once(port: int, name: str, prompt: str, seed: int) -> dict:
    """One ``:generate_stream``: seconds to the first text event, total seconds, characters."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"text_input": prompt, "parameters": {"length": STREAM_LENGTH, "seed": seed}})
    sent = time.perf_counter()
    first, chars, events = None, 0, 0
    try:
        conn.request("POST", f"/v1/models/{name}:generate_stream", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            return {"error": f"{response.status}: {response.read()[:120]!r}"}
        for line in iter(response.readline, b""):
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            if "text_output" in event:
                first = first if first is not None else time.perf_counter() - sent
                chars += len(event["text_output"])
                events += 1
            if event.get("done"):
                break
    finally:
        conn.close()
    return {"ttft_s": first, "total_s": time.perf_counter() - sent, "chars": chars, "events": events}


def streams(server: Server, name: str, prompt: str, count: int, concurrent: int) -> list[dict]:
    """``count`` streams one after another, then ``concurrent`` at once."""
    stream_once(server.port, name, prompt, 0)  # warm-up
    results = []
    for clients, runs in ((1, [stream_once(server.port, name, prompt, s) for s in range(1, count + 1)]),
                          (concurrent, concurrently(lambda s: stream_once(server.port, name, prompt, s),
                                                    range(100, 100 + concurrent)))):
        good = [r for r in runs if "error" not in r]
        wall = max(r["total_s"] for r in good) if good else float("nan")
        result = {"target": name, "streams": len(runs), "clients": clients, "failed": len(runs) - len(good),
                  "ttft_ms_p50": round(1000 * statistics.median(r["ttft_s"] for r in good), 1),
                  "ttft_ms_max": round(1000 * max(r["ttft_s"] for r in good), 1),
                  "chars_per_s": round(statistics.median(r["chars"] / (r["total_s"]) for r in good), 1),
                  "chars_per_s_all": round(sum(r["chars"] for r in good) /
                                           (wall if clients > 1 else sum(r["total_s"] for r in good)), 1),
                  "chars": good[0]["chars"] if good else 0, "events": good[0]["events"] if good else 0}
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def concurrently(call, items) -> list:
    answers, threads = {}, []
    for i, item in enumerate(items):
        threads.append(threading.Thread(target=lambda i=i, item=item: answers.__setitem__(i, call(item))))
        threads[-1].start()
    for thread in threads:
        thread.join()
    return [answers[i] for i in range(len(threads))]


# --- the ceiling: in-process predict ---------------------------------------------------------------------
def ceiling(targets: dict[str, Path], pool: dict[str, list[str]], count: int, batch_sizes: list[int],
            cap_s: float) -> list[dict]:
    """The same ``count`` sentences through the loaded target's ``predict`` in this process,
    one per call and in batches of each batch size: rows/s and per-call latency."""
    import rnn_apps

    results = []
    for task in TASKS:
        for name in (task, f"{task}-tflite"):
            model = rnn_apps.load(targets[name])
            texts = pool[task][:count]
            model.predict(texts[:1])
            model.predict(texts[:max(batch_sizes)])  # warm-up, both shapes
            for size in (1, *batch_sizes):
                calls, done, started = [], 0, time.perf_counter()
                while done < len(texts) and time.perf_counter() - started < cap_s:
                    sent = time.perf_counter()
                    model.predict(texts[done:done + size])
                    calls.append(time.perf_counter() - sent)
                    done += len(texts[done:done + size])
                wall = time.perf_counter() - started
                result = {"target": name, "mode": f"in-process, batch {size}", "requests": done,
                          "rps": round(done / wall, 1), "call_p50_ms": round(1000 * statistics.median(calls), 1)}
                print(json.dumps(result), flush=True)
                results.append(result)
    return results


# --- the report ------------------------------------------------------------------------------------------
def mode_name(size: int) -> str:
    return "off" if size == 1 else f"on, {size}"


def verdict(results: list[dict], ceiling_rows: list[dict], batch_sizes: list[int], top: int) -> list[dict]:
    """Per target and batch size: throughput on / off at ``top`` clients, p99 there over the
    single-client p50 of the same server, and whether sentiment meets the goal. Also what the
    p99 goal asks of throughput: ``top`` clients each waiting for an answer make the mean
    latency ``top / throughput`` (Little's law), so a p99 within 3x the single-client p50
    needs at least ``top / (3 p50)`` requests/s; beside it the in-process ceiling at that batch size."""
    find = lambda target, mode, clients: next((r for r in results if r["target"] == target and  # noqa: E731
                                               r["mode"] == mode and r["clients"] == clients), None)
    rows = []
    for target in dict.fromkeys(r["target"] for r in results):
        off = find(target, "off", top)
        for size in batch_sizes:
            on, single = find(target, mode_name(size), top), find(target, mode_name(size), 1)
            if not (off and on and single):
                continue
            speedup, p99 = on["rps"] / off["rps"], on["p99_ms"] / single["p50_ms"]
            ceiling_rps = next((c["rps"] for c in ceiling_rows
                                if c["target"] == target and c["mode"] == f"in-process, batch {size}"), None)
            rows.append({"target": target, "batch_size": size, "clients": top, "speedup": round(speedup, 2),
                         "p99_over_single_p50": round(p99, 2), "rps_on": on["rps"], "rps_off": off["rps"],
                         "rps_needed_for_p99": round(top / (GOAL_P99 * single["p50_ms"] / 1000), 1),
                         "ceiling_rps": ceiling_rps,
                         "goal_met": speedup >= GOAL_SPEEDUP and p99 <= GOAL_P99 if target == "sentiment" else None})
    return rows


def print_tables(report: dict) -> None:
    print(f"\nrnn-apps serve on loopback, {report['cpus']} CPU cores shared by the server and the load generator "
          f"(client threads); tiny runs (preset {report['preset']!r})")
    print(f"\n{'target':<17} {'mode':<20} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'rows/call':>9} {'srv cpu s':>9} {'cli cpu s':>9}")
    for r in report["predict"] + report["ceiling"] + report["health"]:
        p50, p99 = r.get("p50_ms", r.get("call_p50_ms")), r.get("p99_ms")
        print(f"{r['target']:<17} {r['mode']:<20} {r.get('clients', '-'):>7} {r['requests']:>8} {r['rps']:>8.1f} "
              f"{p50:>8.1f} {'-' if p99 is None else f'{p99:.1f}':>8} {r.get('rows_per_call') or '-':>9} "
              f"{r.get('server_cpu_s', '-'):>9} {r.get('client_cpu_s', '-'):>9}"
              + ("  CAPPED" if r.get("capped") else "") + (f"  {r['failed']} FAILED" if r.get("failed") else ""))
    print("(in-process rows: p50 is per predict call; rows/call: mean rows per model call, from /metrics)")
    print(f"savedmodel: not a target of rnn-apps serve ({report['savedmodel']})")
    print(f"\n{'stream target':<17} {'clients':>7} {'streams':>7} {'TTFT p50 ms':>11} {'TTFT max ms':>11} "
          f"{'chars/s':>8} {'all chars/s':>11}")
    for r in report["streams"]:
        print(f"{r['target']:<17} {r['clients']:>7} {r['streams']:>7} {r['ttft_ms_p50']:>11.1f} "
              f"{r['ttft_ms_max']:>11.1f} {r['chars_per_s']:>8.1f} {r['chars_per_s_all']:>11.1f}")
    print(f"\ngoal: sentiment at {report['verdict'][0]['clients'] if report['verdict'] else '?'} clients, batching "
          f"on / off >= {GOAL_SPEEDUP:g}x, p99 <= {GOAL_P99:g}x the single-client p50")
    for v in report["verdict"]:
        mark = "" if v["goal_met"] is None else ("  goal MET" if v["goal_met"] else "  goal NOT met")
        print(f"  {v['target']:<17} batch {v['batch_size']:>3}: {v['speedup']:>6.2f}x throughput "
              f"({v['rps_on']:g} / {v['rps_off']:g} req/s), p99 {v['p99_over_single_p50']:.2f}x single-client p50 "
              f"(that bar needs >= {v['rps_needed_for_p99']:g} req/s; in-process ceiling {v['ceiling_rps']}){mark}")


def code_version(package: Path) -> str:
    """Where ``rnn_apps`` was imported from, and its git commit (``+dirty`` with uncommitted changes)."""
    git = lambda *a: subprocess.run(["git", "-C", str(package), *a], capture_output=True, text=True)  # noqa: E731
    commit = git("rev-parse", "--short", "HEAD")
    if commit.returncode:
        return str(package)
    dirty = git("status", "--porcelain", "--", ".", "../cli", "../models").stdout.strip()
    return f"{package} at {commit.stdout.strip()}{'+dirty' if dirty else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--requests", type=int, nargs="+", default=[32, 128, 256],
                        help="requests per cell, one per --clients value")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64],
                        help="--max-batch-size of the batching servers (the off server uses 1)")
    parser.add_argument("--batch-timeout-ms", type=float, default=5.0)
    parser.add_argument("--cell-seconds", type=float, default=60.0, help="no request starts later in a cell")
    parser.add_argument("--streams", type=int, default=3, help="textgen streams one after another")
    parser.add_argument("--concurrent-streams", type=int, default=4,
                        help="streams at once on one model (they take turns chunk by chunk; the server's "
                             "--max-streams, 16, is the most it runs at once)")
    parser.add_argument("--preset", default="tiny", help="preset of the runs it trains")
    parser.add_argument("--run", action="append", default=[], metavar="TASK=DIR",
                        help=f"use this run instead of training one ({', '.join((*TASKS, STREAMED))})")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: --requests 8 32 64 --batch-sizes 32 --cell-seconds 15 --streams 1")
    parser.add_argument("--dir", type=Path, default=None, help="where runs and exports go (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_serve.json")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.batch_sizes, args.cell_seconds, args.streams = [8, 32, 64], [32], 15.0, 1
    if len(args.requests) != len(args.clients):
        parser.error("give one --requests value per --clients value")
    for item in args.run:
        if "=" not in item or item.split("=", 1)[0] not in (*TASKS, STREAMED):
            parser.error(f"--run {item}: expected TASK=DIR with TASK one of {', '.join((*TASKS, STREAMED))}")

    began = time.perf_counter()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="rnn-apps-bench-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    import rnn_apps

    report = {"code": code_version(Path(rnn_apps.__file__).parent), "cpus": os.cpu_count(),
              "load_average_at_start": os.getloadavg(), "preset": args.preset, "clients": args.clients,
              "requests": args.requests, "batch_sizes": args.batch_sizes,
              "batch_timeout_ms": args.batch_timeout_ms, "cell_seconds": args.cell_seconds,
              "note": "server and load generator share the machine's cores; compare modes within this run",
              "predict": [], "health": [], "streams": [], "ceiling": []}
    try:
        targets, report["prepare_s"] = prepare_targets(args, folder)
        report["savedmodel"] = savedmodel_refusal(targets["sentiment"], folder)
        pool = sentences(max(args.requests))
        prompt = "== scene 1 ==\n"
        servers = {}
        try:  # every mode's server at once (idle ones cost nothing): modes alternate cell by cell
            for size in (1, *args.batch_sizes):
                servers[size] = Server(targets, size, args.batch_timeout_ms, folder / f"server-{size}.log")
            started = time.perf_counter()
            for server in servers.values():
                server.wait_ready()
            print(f"servers ready in {time.perf_counter() - started:.1f} s", flush=True)
            for task in TASKS:
                for name in (task, f"{task}-tflite"):
                    for clients, count in zip(args.clients, args.requests):
                        bodies = [json.dumps({"instances": [text]}).encode() for text in pool[task][:count]]
                        for size, server in servers.items():
                            report["predict"].append(cell(server, name, "POST", f"/v1/models/{name}:predict",
                                                          bodies, clients, args.cell_seconds, target=name,
                                                          mode=mode_name(size)))
            for clients, count in zip(args.clients, args.requests):  # HTTP alone
                report["health"].append(cell(servers[1], "-", "GET", "/v2/health/live", [None] * count, clients,
                                             args.cell_seconds, target="health/live", mode="-"))
            for name in (STREAMED, f"{STREAMED}-tflite"):  # streams do not batch: one server is enough
                report["streams"] += streams(servers[1], name, prompt, args.streams, args.concurrent_streams)
        finally:
            for server in servers.values():
                server.stop()
        report["ceiling"] = ceiling(targets, pool, max(args.requests), args.batch_sizes, args.cell_seconds)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    report["load_average_at_end"] = os.getloadavg()
    report["verdict"] = verdict(report["predict"], report["ceiling"], args.batch_sizes, max(args.clients))
    report["seconds"] = round(time.perf_counter() - began, 1)
    print_tables(report)
    print(f"\n{report['seconds']:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    failed = sum(r.get("failed", 0) for r in report["predict"] + report["health"] + report["streams"])
    met = any(v["goal_met"] for v in report["verdict"] if v["target"] == "sentiment")
    return 0 if met and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
