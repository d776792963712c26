"""``rnn-apps train TASK --workers N``: N local worker processes on loopback ports.

Each worker is the same ``rnn-apps train`` command with its own ``TF_CONFIG`` (see
``rnn_apps.training.distributed``); worker 0, the chief, shows its progress here and
writes the run directory, the others log to a temporary folder that is removed at the end
(its path is printed, and a failed worker's last lines are shown).

Fault tolerance, the way a cluster manager (Kubernetes' TFJob, restartPolicy OnFailure)
provides it: when a worker dies (killed, out of memory, a crash), the others are stopped
— they would wait for it in the next all-reduce forever — and all N start again from the
run's last committed checkpoint (``--resume``), with new ports, at most ``max_restarts``
times. A mistake in the command (exit status 2) or Ctrl-C stops everything at once.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console

from rnn_apps.errors import Interrupted, UserError

USER_MISTAKE, INTERRUPTED = 2, 130  # exit statuses of the CLI that a restart cannot fix


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    """The ``TF_CONFIG`` of worker ``index`` among local workers on ``ports``."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def describe_exit(code: int) -> str:
    """``was killed by SIGKILL`` / ``exited with status 2``."""
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"


def stop(processes: list[subprocess.Popen], grace: float = 5.0) -> None:
    """SIGTERM every process still running, then SIGKILL what is left after ``grace`` seconds."""
    for p in processes:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a worker's log ('' if it has none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def failure(index: int, code: int, logs: Path, restarts: int) -> str:
    """What stopped the workers, ending with the useful part: the worker's own error message
    (a data mistake: file and line), else its last log lines."""
    said = f"worker {index} {describe_exit(code)}" + (f" after {restarts} restarts" if restarts else "")
    with contextlib.suppress(OSError):
        message = (logs / f"worker-{index}.error").read_text(encoding="utf-8").strip()
        if message:
            return f"{said}: {message}"
    shown = tail(logs / f"worker-{index}.log") if index else ""
    return f"{said}; its last lines:\n{shown}" if shown else said


def run_local_workers(train_args: list[str], workers: int, run_dir: Path, console: Console | None = None,
                      max_restarts: int = 3, resume: bool = False, resume_args: list[str] = ()) -> Path:
    """Run ``rnn-apps train *train_args --run-dir run_dir`` (``resume``: ``--resume run_dir``)
    as ``workers`` local workers; a restart runs ``--resume run_dir *resume_args`` (``--epochs N``).

    Returns the run directory once the chief has finished; raises ``UserError`` (a worker's
    mistake, or more than ``max_restarts`` failures) or ``Interrupted`` (Ctrl-C, SIGTERM or
    SIGHUP to the launcher: the workers are stopped too).
    """
    console = console or Console(stderr=True)
    logs = Path(tempfile.mkdtemp(prefix="rnn-apps-workers-"))
    args, restarts = [*train_args, "--resume" if resume else "--run-dir", str(run_dir)], 0
    processes: list[subprocess.Popen] = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, _interrupt)
    try:
        while True:
            ports = free_ports(workers)
            processes = []
            for index in range(workers):
                env = {**os.environ, "TF_CONFIG": tf_config(ports, index),
                       "RNN_APPS_ERROR_FILE": str(logs / f"worker-{index}.error")}  # its UserError, if any
                output = None if index == 0 else open(logs / f"worker-{index}.log", "ab")
                processes.append(subprocess.Popen([sys.executable, "-m", "rnn_apps.cli.main", "train", *args], env=env,
                                                  stdout=output, stderr=subprocess.STDOUT if output else None,
                                                  start_new_session=True,  # Ctrl-C reaches the launcher only
                                                  preexec_fn=_die_with_parent))
                if output:
                    output.close()  # the worker has its own copy
            console.print(f"{workers} workers on 127.0.0.1 ports {', '.join(map(str, ports))} "
                          f"(pids {', '.join(str(p.pid) for p in processes)}); worker 0 writes {run_dir}, "
                          f"the others log to {logs}", soft_wrap=True, highlight=False)
            failed = watch(processes)
            if failed is None:
                return run_dir
            index, code = failed
            if code in (USER_MISTAKE, INTERRUPTED) or restarts >= max_restarts:
                raise UserError(failure(index, code, logs, restarts))
            restarts += 1
            resumable = (run_dir / "run.json").is_file()
            args = ["--resume", str(run_dir), *resume_args] if resumable else args
            console.print(f"[yellow]worker {index} {describe_exit(code)}[/]: stopped the others; restarting all "
                          f"{workers} workers {'from the last checkpoint of ' + str(run_dir) if resumable else 'afresh'}"
                          f" (restart {restarts} of at most {max_restarts})", soft_wrap=True)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {run_dir} keeps every finished epoch: continue with "
                          f"rnn-apps train --resume {run_dir} --workers {workers}") from None
    finally:
        stop(processes)
        shutil.rmtree(logs, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """In a worker, before it runs: be sent SIGTERM when the launcher dies (Linux), so that
    no worker outlives a launcher killed with SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def watch(processes: list[subprocess.Popen], grace: float = 60.0) -> tuple[int, int] | None:
    """Wait until the chief (process 0) has exited 0 and the others have too, or ``grace``
    seconds more (a worker stuck shutting down is stopped): None; or until one has failed:
    ``(index, status)``, after stopping the others."""
    chief_done = None
    while True:
        codes = [p.poll() for p in processes]
        failed = next(((i, c) for i, c in enumerate(codes) if c not in (None, 0)), None)
        if failed is not None and chief_done is None:
            stop(processes)
            return failed
        if codes[0] == 0:
            chief_done = chief_done or time.monotonic()
            if all(c is not None for c in codes) or time.monotonic() - chief_done > grace:
                stop(processes)
                return None
        time.sleep(0.2)
