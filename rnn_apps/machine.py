"""What machine ran this: CPU, the instruction sets that change float results, versions.

Floating-point results of training differ a little between CPUs (AVX-512 and AMX
kernels in oneDNN sum in other orders than AVX2 ones) and between thread counts, so a
test log or a benchmark's JSON says where it ran. ``python -m rnn_apps.machine`` prints
one line; benchmarks store ``describe()`` with their results.
"""
from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def cpu_flags() -> list[str]:
    """The flags that pick oneDNN's kernels: ``avx512*`` and ``amx*`` (and ``avx2``/``fma``)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    match = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
    flags = match.group(1).split() if match else []
    return sorted(f for f in set(flags) if f.startswith(("avx512", "amx")) or f in ("avx2", "fma"))


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def describe() -> dict:
    """CPU model and flags, cores this process may use, Python and library versions."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "flags": cpu_flags(), "cores": cores, "python": platform.python_version(),
            "tensorflow": version("tensorflow-cpu") if version("tensorflow-cpu") != "absent" else version("tensorflow"),
            "keras": version("keras"), "numpy": version("numpy"),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}


def one_line() -> str:
    d = describe()
    return (f"machine: {d['cpu']} | {d['cores']} cores | flags {' '.join(d['flags']) or 'none'} | "
            f"python {d['python']} tensorflow {d['tensorflow']} keras {d['keras']} numpy {d['numpy']} | "
            f"oneDNN opts {d['onednn_opts']}")


if __name__ == "__main__":
    print(one_line())
