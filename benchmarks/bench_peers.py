"""Peers benchmark: rnn-apps against nanoGPT, plain Keras and PyTorch, side by side in one run.

Issue 16 asks rnn-apps to beat its peers, measured on this machine in the same run (the
absolute numbers move with the machine and its load; the comparisons are the point):

1. Character language model on tiny shakespeare (../shared/data/tiny_shakespeare/input.txt).
   The peer is the real nanoGPT (``--nanogpt-dir``, run with ``--torch-python``), trained
   with its README's CPU recipe (4 layers, 4 heads, 128 wide, block 64, batch 12, 2,000
   iterations, dropout 0, config/train_shakespeare_char.py's learning rate, no compile).
   Its data files are prepared here, in a temporary folder, the way its
   data/shakespeare_char/prepare.py does: a sorted character vocabulary, the first 90 %
   of the characters for training, the last 10 % for validation. rnn-apps then trains
   the ``fast-shakespeare`` preset on exactly that split (``--set val_data=``) with a
   ``time_budget`` of nanoGPT's wall time less a start-up allowance, so that its whole
   command takes no longer than nanoGPT's.

   Validation loss, mean next-character cross-entropy in nats over the held-out 10 %:
   * each side's own estimate: nanoGPT's is the mean over ``eval_iters`` (20) random
     batches of 12 windows of 64 characters (noisy, a few hundredths); rnn-apps'
     ``evaluate`` reads the whole held-out text in 16 streams with the state carried,
     so almost every character is predicted with its full context;
   * the same estimate for both (the one to compare): every disjoint 64-character
     window of the held-out text, each read from scratch (nanoGPT: its checkpoint, saved
     at its best evaluation, context up to 64 characters as in its block; rnn-apps: its
     best epoch, from a zero state). It is nanoGPT's estimator over all 1,742 windows
     instead of 240 random ones.

2. Training throughput (tokens/s) of the same network three ways: rnn-apps' textgen
   model and pipeline (``fast-shakespeare``), a hand-written Keras model (Embedding, the
   same recurrent layer, Dense; ``model.fit`` on numpy arrays) and the equivalent PyTorch
   ``nn.GRU``/``nn.LSTM`` model (run with ``--torch-python``). Same truncated-BPTT windows
   (state carried between windows), batch, width, Adam with global-norm clipping at 1.0;
   a fixed number of steps after warm-up, the three taking turns within each repeat,
   median of the repeats. rnn-apps' figure is its model, loss, metrics and pipeline under
   ``model.fit``, without the training loop's callbacks (progress, checkpoints). Goals:
   rnn-apps at least 0.95x hand-written Keras and at least 1x PyTorch.

Prints tables and writes ``benchmarks/results/bench_peers.json`` (commands, versions,
load averages, times, losses, ratios). A peer whose folder or Python is missing, or
absent data, is skipped with the reason printed.

    python benchmarks/bench_peers.py [--nanogpt-dir DIR] [--torch-python PATH] [--skip-lm] [--skip-speed]

The torch Python lives outside the repository (torch is no dependency of rnn-apps), e.g.
``python -m venv /tmp/peer-venv && /tmp/peer-venv/bin/pip install torch numpy``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import pickle
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "tiny_shakespeare" / "input.txt"
RECIPE = "fast-shakespeare"  # the textgen preset under test
BLOCK = 64  # nanoGPT's context in the CPU recipe, and the window of the shared loss estimate
NANOGPT_REPORTED = {"val_loss": 1.886, "wall_s": [94, 106]}  # measured on this machine before (issue 16)
# nanoGPT README, "I only have a macbook": the CPU recipe, on its shakespeare_char config.
NANOGPT_RECIPE = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
                  "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
                  "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0"]


# --- the machine ---------------------------------------------------------------------------
def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (what ``uptime`` prints). On 2 cores a side running two
    busy threads makes about 2 by itself; more than that is other work competing."""
    return [round(x, 2) for x in os.getloadavg()]


def wait_until_quiet(max_load: float, max_wait_s: float) -> dict:
    """Wait (up to ``max_wait_s``) until the 1-minute load falls under ``max_load``: other
    work on the two cores slows each side by a different amount (PyTorch's spinning OpenMP
    threads suffer most), which no ratio can correct."""
    started = time.perf_counter()
    while os.getloadavg()[0] >= max_load and time.perf_counter() - started < max_wait_s:
        time.sleep(10)
    return {"waited_s": round(time.perf_counter() - started), "load": load_average(),
            "quiet": os.getloadavg()[0] < max_load}


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], log: Path, **kwargs) -> dict:
    """Run ``command`` to completion, output to ``log``; wall and CPU seconds, load before/after."""
    before, cpu = load_average(), child_cpu_seconds()
    started = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs).returncode
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{command[0]} ... exited with {code}; its output is in {log}:\n"
                           + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
    return {"wall_s": round(wall, 1), "cpu_s": round(child_cpu_seconds() - cpu, 1), "load_before": before,
            "load_after": load_average()}


# --- 1. the character language model --------------------------------------------------------
def nanogpt_split(text: str) -> tuple[str, str]:
    """nanoGPT's shakespeare_char split: the first 90 % of the characters, then the rest."""
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


def write_nanogpt_data(text: str, folder: Path) -> Path:
    """``train.bin``/``val.bin`` (uint16 ids) and ``meta.pkl`` in nanoGPT's shakespeare_char format."""
    import numpy as np

    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    folder.mkdir(parents=True)
    for name, part in zip(("train", "val"), nanogpt_split(text)):
        np.array([stoi[c] for c in part], dtype=np.uint16).tofile(folder / f"{name}.bin")
    with (folder / "meta.pkl").open("wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    return folder


# Run by the torch Python inside the nanoGPT folder: the saved checkpoint's loss over every
# disjoint BLOCK-character window of val.bin. argv: checkpoint, val.bin, block.
NANOGPT_WINDOWS = r"""
import json, sys
import numpy as np, torch
from model import GPT, GPTConfig
checkpoint = torch.load(sys.argv[1], map_location="cpu")
model = GPT(GPTConfig(**checkpoint["model_args"]))
model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in checkpoint["model"].items()})
model.eval()
block = int(sys.argv[3])
ids = np.fromfile(sys.argv[2], dtype=np.uint16).astype(np.int64)
n = (len(ids) - 1) // block
x, y = ids[:n * block].reshape(n, block), ids[1:n * block + 1].reshape(n, block)
nats = 0.0
with torch.no_grad():
    for i in range(0, n, 256):
        _, loss = model(torch.from_numpy(x[i:i + 256]), torch.from_numpy(y[i:i + 256]))
        nats += loss.item() * x[i:i + 256].size
print(json.dumps({"nats_per_char": nats / x.size, "windows": n, "iter_num": checkpoint["iter_num"]}))
"""


def run_nanogpt(nanogpt: Path, python: str, text: str, tmp: Path) -> dict:
    """Train nanoGPT's CPU recipe on ``text``; its wall time, its own final val estimate and
    the shared 64-character-window loss of its checkpoint."""
    data = write_nanogpt_data(text, tmp / "shakespeare_char")
    # train.py reads data/<dataset>: an absolute dataset path replaces "data/" in os.path.join.
    command = [python, "train.py", *NANOGPT_RECIPE, f"--dataset={data}", f"--out_dir={tmp / 'nanogpt-out'}"]
    result = {"command": " ".join(command), "cwd": str(nanogpt), **timed(command, tmp / "nanogpt.log", cwd=nanogpt)}
    log = (tmp / "nanogpt.log").read_text()
    evals = [(int(s), float(t), float(v)) for s, t, v in
             re.findall(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)", log, re.MULTILINE)]
    if not evals:
        raise RuntimeError(f"no 'step N: ... val loss' line in nanoGPT's output ({tmp / 'nanogpt.log'})")
    result.update(evals=evals, val_loss_own=evals[-1][2], best_val_loss_own=min(v for *_, v in evals))
    windows = subprocess.run([python, "-c", NANOGPT_WINDOWS, str(tmp / "nanogpt-out" / "ckpt.pt"),
                              str(data / "val.bin"), str(BLOCK)], cwd=nanogpt, capture_output=True, text=True,
                             check=True)
    result["val_windows"] = json.loads(windows.stdout.strip().splitlines()[-1])
    return result


def rnn_apps_windows_loss(run_dir: Path, val_text: str) -> dict:
    """The best epoch's loss over every disjoint BLOCK-character window of ``val_text``, each
    from a zero state (nanoGPT's estimator, over all windows)."""
    import numpy as np
    import tensorflow as tf

    import rnn_apps

    run = rnn_apps.load_run(run_dir)
    ids = run.output.vocab.encode(val_text)
    n = (len(ids) - 1) // BLOCK
    x, y = ids[:n * BLOCK].reshape(n, BLOCK), ids[1:n * BLOCK + 1].reshape(n, BLOCK)
    twin = run.output.step_model(run.model)  # [tokens, *states] -> [logits, *states]
    nats = 0.0
    for i in range(0, n, 512):
        batch = x[i:i + 512]
        logits = twin([tf.constant(batch, tf.int32), *run.output.zero_states(twin, len(batch))], training=False)[0]
        nats += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.constant(y[i:i + 512], tf.int32), logits)))
    return {"nats_per_char": nats / x.size, "windows": n, "unknown_chars": int(np.sum(ids == 1))}


def run_rnn_apps(data: Path, text: str, budget_s: float, tmp: Path) -> dict:
    """Train the recipe on nanoGPT's split under ``budget_s`` seconds of training."""
    from rnn_apps.config import resolve_config
    from rnn_apps.models import get_task

    train_text, val_text = nanogpt_split(text)
    # A temporary copy of the split, never in the repo. The cut falls inside a line; textgen ends
    # the training text with that line's "\n" (one character more than nanoGPT trains on).
    (tmp / "train.txt").write_text(train_text)
    (tmp / "val.txt").write_text(val_text)
    run_dir = tmp / "rnn-apps-run"
    command = [sys.executable, "-m", "rnn_apps.cli.main", "train", "textgen", "--data", str(tmp / "train.txt"),
               "--preset", RECIPE, "--set", f"val_data={tmp / 'val.txt'}",
               "--set", f"time_budget={budget_s / 60:.4f}", "--run-dir", str(run_dir)]
    result = {"command": " ".join(command).replace(sys.executable, "python"),
              **timed(command, tmp / "rnn-apps.log")}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    log = (tmp / "rnn-apps.log").read_text()
    task = get_task("textgen")
    result.update(preset=task.presets[RECIPE], config=dataclasses.asdict(
                      resolve_config(task.config_class, presets=task.presets, preset=RECIPE)),
                  budget_s=round(budget_s, 1), train_s=metrics["train_seconds"],
                  budget_reached="time budget" in log, epochs_done=len(history["val_loss"]),
                  val_loss_per_epoch=[round(v, 4) for v in history["val_loss"]],
                  val_loss_own=metrics["val"]["nats_per_token"], val_tokens=metrics["val"]["tokens"],
                  val_windows=rnn_apps_windows_loss(run_dir, val_text))
    return result


# --- 2. training throughput ------------------------------------------------------------------
# Run by the torch Python: the same network and windows in PyTorch, state carried between
# windows (detached: truncated BPTT). argv: windows.npz, cell, units, embedding, vocab, lr,
# warm-up steps, timed steps, repeats. Prints tokens/s of each repeat.
TORCH_LOOP = r"""
import json, sys, time
import numpy as np, torch
path, cell, units, embedding, vocab, lr, warmup, steps, repeats = sys.argv[1:]
units, embedding, vocab, warmup, steps, repeats = map(int, (units, embedding, vocab, warmup, steps, repeats))
windows = np.load(path)
x, y = torch.from_numpy(windows["x"].astype(np.int64)), torch.from_numpy(windows["y"].astype(np.int64))
torch.manual_seed(0)

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding)
        self.rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](embedding, units, batch_first=True)
        self.out = torch.nn.Linear(units, vocab)

    def forward(self, tokens, state):
        h, state = self.rnn(self.embedding(tokens), state)
        return self.out(h), state

net = Net()
optimizer = torch.optim.Adam(net.parameters(), lr=float(lr))
state = None

def step(i):
    global state
    optimizer.zero_grad(set_to_none=True)
    logits, state = net(x[i % len(x)], state)
    state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y[i % len(y)].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    optimizer.step()
    return loss

for i in range(warmup):
    step(i)
rates = []
for r in range(repeats):
    started = time.perf_counter()
    for i in range(steps):
        loss = step(warmup + i)
    loss.item()
    rates.append(steps * x.shape[1] * x.shape[2] / (time.perf_counter() - started))
print(json.dumps({"tokens_per_s": rates, "torch": torch.__version__, "threads": torch.get_num_threads()}))
"""


def throughput(data: Path, torch_python: str | None, warmup: int, steps: int, repeats: int, tmp: Path) -> dict:
    """tokens/s of the recipe's network: rnn-apps, hand-written Keras, PyTorch (if available).
    The two Keras runs alternate within each repeat so that load changes hit both alike."""
    import keras
    import numpy as np

    from rnn_apps.config import resolve_config
    from rnn_apps.data.pipeline import stream_windows
    from rnn_apps.models import get_task
    from rnn_apps.outputs.language_model import joined_text
    from rnn_apps.training.loop import precision_policy
    from rnn_apps.training.optimizers import optimizer_for

    task = get_task("textgen")
    cfg = resolve_config(task.config_class, presets=task.presets, preset=RECIPE)
    batch, window = cfg.batch_size, cfg.tbptt
    train = task.split_examples(task.load_examples(cfg, str(data)), cfg)["train"]
    features = task.features(cfg).fit(train)
    vocab = features.inputs["text"].vocab_size
    dataset = features.dataset(train, training=True)

    # rnn-apps: its model, compile arguments (loss and metrics), optimizer and tf.data pipeline.
    keras.utils.set_random_seed(0)
    with precision_policy(cfg.precision):
        ours = task.build_model(cfg, features)
    jit = {"true": True, "false": False}.get(cfg.jit_compile, "auto")
    ours.compile(optimizer=optimizer_for(cfg, 10_000), jit_compile=jit, **features.output.compile_args(features))

    # Hand-written Keras: the same layers, the same windows as numpy arrays, plain fit.
    x, y = stream_windows(features.inputs["text"].vocab.encode(joined_text(train)), batch, window)
    x, y = x[:warmup + steps], y[:warmup + steps]  # [steps, batch, window]
    rnn = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cfg.cell]
    plain = keras.Sequential([keras.Input(batch_shape=(batch, window), dtype="int32"),
                              keras.layers.Embedding(vocab, cfg.embedding_dim),
                              rnn(cfg.units, return_sequences=True, stateful=True),
                              keras.layers.Dense(vocab)])
    plain.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate, global_clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    def flat(a):  # [steps, batch, window] -> [steps * batch, window]: fit's batch i is window row i
        return a.reshape(-1, window)

    def fit_ours(first: int, count: int) -> float:
        started = time.perf_counter()
        ours.fit(dataset.skip(first).take(count), epochs=1, verbose=0)
        return count * batch * window / (time.perf_counter() - started)

    def fit_plain(first: int, count: int) -> float:
        started = time.perf_counter()
        plain.fit(flat(x[first:first + count]), flat(y[first:first + count]), batch_size=batch, shuffle=False,
                  epochs=1, verbose=0)
        return count * batch * window / (time.perf_counter() - started)

    peer: dict = {}
    if torch_python:
        np.savez(tmp / "windows.npz", x=x, y=y)
        command = [torch_python, "-c", "<TORCH_LOOP>", str(tmp / "windows.npz"), cfg.cell, str(cfg.units),
                   str(cfg.embedding_dim), str(vocab), str(cfg.learning_rate), str(warmup), str(steps), "1"]

    def fit_torch() -> float:  # a fresh process per repeat (its own warm-up), so repeats interleave
        out = subprocess.run([torch_python, "-c", TORCH_LOOP, *command[3:]], capture_output=True, text=True,
                             check=True)
        peer.update(json.loads(out.stdout.strip().splitlines()[-1]))
        return peer["tokens_per_s"][0]

    fit_ours(0, warmup), fit_plain(0, warmup)  # trace and warm up outside the timing
    timers = {"rnn-apps": lambda: fit_ours(warmup, steps), "keras": lambda: fit_plain(warmup, steps)}
    if torch_python:
        timers["pytorch"] = fit_torch
    rates: dict[str, list[float]] = {name: [] for name in timers}
    load = [load_average()]
    for _ in range(repeats):  # one of each per repeat: a burst of other work hits all alike
        for name, timer in timers.items():
            rates[name].append(timer())
        load.append(load_average())
    result = {"network": {"cell": cfg.cell, "units": cfg.units, "layers": cfg.layers, "embedding_dim":
                          cfg.embedding_dim, "vocab": vocab, "batch": batch, "window": window,
                          "precision": cfg.precision},
              "warmup_steps": warmup, "timed_steps": steps, "repeats": repeats, "load_per_repeat": load,
              "tokens_per_s": {k: [round(r) for r in v] for k, v in rates.items()}}
    if cfg.layers != 1:
        result["note"] = "the hand-written and PyTorch models have one recurrent layer; the recipe has more"
    if torch_python:
        result["pytorch"] = {"command": " ".join(command), "torch": peer["torch"], "threads": peer["threads"]}
    median = {k: statistics.median(v) for k, v in rates.items()}
    result["median_tokens_per_s"] = {k: round(v) for k, v in median.items()}
    result["rnn_apps_over"] = {k: round(median["rnn-apps"] / v, 3) for k, v in median.items() if k != "rnn-apps"}
    return result


# --- the run ---------------------------------------------------------------------------------
def peer_reason(nanogpt: Path | None, torch_python: str | None) -> tuple[str | None, str | None]:
    """Why nanoGPT, and why the PyTorch loop, cannot run (None: they can)."""
    python_reason = None
    if not torch_python:
        python_reason = "no torch Python (--torch-python or PEER_PYTHON)"
    elif subprocess.run([torch_python, "-c", "import torch, numpy"], capture_output=True, check=False).returncode:
        python_reason = f"{torch_python} cannot import torch and numpy"
    if nanogpt is None:
        return "no nanoGPT folder (--nanogpt-dir or NANOGPT_DIR)", python_reason
    if not (nanogpt / "train.py").is_file() or not (nanogpt / "config" / "train_shakespeare_char.py").is_file():
        return f"{nanogpt} holds no nanoGPT (train.py, config/train_shakespeare_char.py)", python_reason
    return python_reason, python_reason


def nanogpt_version(nanogpt: Path) -> dict:
    commit = subprocess.run(["git", "-C", str(nanogpt), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=False)
    return {"commit": commit.stdout.strip() if commit.returncode == 0 else "unknown (not a git work tree)",
            **{f"{name} sha256": hashlib.sha256((nanogpt / name).read_bytes()).hexdigest()[:16]
               for name in ("train.py", "model.py")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--nanogpt-dir", type=Path, default=os.environ.get("NANOGPT_DIR") or None)
    parser.add_argument("--torch-python", default=os.environ.get("PEER_PYTHON") or None)
    parser.add_argument("--budget-s", type=float, default=100.0,
                        help="rnn-apps' training budget when nanoGPT is skipped (its earlier wall time)")
    parser.add_argument("--startup-allowance-s", type=float, default=15.0,
                        help="taken off nanoGPT's wall time for rnn-apps' start, data reading and final evaluation")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per throughput repeat")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quiet-load", type=float, default=1.0, help="wait for a 1-minute load below this")
    parser.add_argument("--quiet-wait-s", type=float, default=300.0, help="... but no longer than this")
    parser.add_argument("--skip-lm", action="store_true", help="skip the language-model comparison")
    parser.add_argument("--skip-speed", action="store_true", help="skip the throughput comparison")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bench_peers.json")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from rnn_apps.machine import describe

    console = Console()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (tiny shakespeare lives in ../shared/data/)")
        return 0
    nanogpt_reason, torch_reason = peer_reason(args.nanogpt_dir, args.torch_python)
    for name, reason in (("nanoGPT", nanogpt_reason), ("PyTorch throughput", torch_reason)):
        if reason:
            print(f"{name} skipped: {reason}")
    results: dict = {"machine": describe(), "recipe": RECIPE,
                     "uptime": subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip(),
                     "quiet": wait_until_quiet(args.quiet_load, args.quiet_wait_s), "skipped": {}}
    if nanogpt_reason:
        results["skipped"]["nanogpt"] = nanogpt_reason
    if torch_reason:
        results["skipped"]["pytorch"] = torch_reason
    text = args.data.read_text(encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_lm:
            lm: dict = {"data": str(args.data), "split": "nanoGPT's: first 90 % of the characters train, last 10 % val",
                        "val_chars": len(nanogpt_split(text)[1])}
            if not nanogpt_reason:
                lm["nanogpt"] = {**run_nanogpt(args.nanogpt_dir.resolve(), args.torch_python, text, tmp),
                                 **nanogpt_version(args.nanogpt_dir.resolve())}
                budget = lm["nanogpt"]["wall_s"] - args.startup_allowance_s
            else:
                lm["nanogpt_reported_earlier"] = NANOGPT_REPORTED
                budget = args.budget_s
            lm["rnn_apps"] = run_rnn_apps(args.data, text, budget, tmp)
            if "nanogpt" in lm:
                ours, peer = lm["rnn_apps"], lm["nanogpt"]
                lm["verdict"] = {"rnn_apps_wall_within_nanogpt": ours["wall_s"] <= peer["wall_s"],
                                 "val_windows_difference": round(ours["val_windows"]["nats_per_char"]
                                                                 - peer["val_windows"]["nats_per_char"], 4),
                                 "rnn_apps_reaches_1.88": ours["val_windows"]["nats_per_char"] <= 1.88}
            results["language_model"] = lm
        if not args.skip_speed:
            results["throughput"] = throughput(args.data, None if torch_reason else args.torch_python,
                                               args.warmup, args.steps, args.repeats, tmp)
    results["load_at_end"] = load_average()

    if "language_model" in results:
        lm = results["language_model"]
        sides = [("nanoGPT", lm["nanogpt"])] if "nanogpt" in lm else []
        sides.append((f"rnn-apps {RECIPE}", lm["rnn_apps"]))
        table = Table("measure", *(name for name, _ in sides),
                      title=f"character LM on {args.data.name}, validation = last 10 % ({lm['val_chars']:,} chars)")
        table.add_row("wall time, whole command (s)", *(f"{s['wall_s']:.0f}" for _, s in sides))
        table.add_row("CPU time (s)", *(f"{s['cpu_s']:.0f}" for _, s in sides))
        table.add_row("load before -> after", *(f"{s['load_before'][0]:.1f} -> {s['load_after'][0]:.1f}"
                                                for _, s in sides))
        table.add_row("val nats/char, own estimate", *(f"{s['val_loss_own']:.3f}" for _, s in sides))
        table.add_row(f"val nats/char, every {BLOCK}-char window from scratch",
                      *(f"{s['val_windows']['nats_per_char']:.3f}" for _, s in sides))
        console.print(table)
        if "nanogpt" not in lm:
            console.print(f"nanoGPT reported earlier on this machine: {NANOGPT_REPORTED['val_loss']} nats "
                          f"in {NANOGPT_REPORTED['wall_s'][0]}-{NANOGPT_REPORTED['wall_s'][1]} s (not this run)")
    if "throughput" in results:
        t = results["throughput"]
        n = t["network"]
        table = Table("implementation", "tokens/s (median)", "each repeat", "rnn-apps / this",
                      title=f"training throughput: {n['cell'].upper()} {n['units']}, batch {n['batch']} x window "
                            f"{n['window']}, {t['timed_steps']} steps x {t['repeats']}")
        for name, rates in t["tokens_per_s"].items():
            ratio = f"{t['rnn_apps_over'][name]:.2f}x" if name in t["rnn_apps_over"] else "-"
            table.add_row(name, f"{t['median_tokens_per_s'][name]:,}", " ".join(f"{r:,}" for r in rates), ratio)
        console.print(table)
    console.print(f"load averages (1, 5, 15 min): start {results['quiet']['load']}, end {results['load_at_end']}; "
                  f"2 cores; the benchmark's own two busy threads add about 2", highlight=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
