"""The machine a run's times were measured on: the CPU and the flags that change its speed (and, on
bf16 paths, the last digits of results), cores and threads, memory, and the GPUs the run used.

A leaderboard records it in ``run.hardware`` (one entry per machine: this one for the items run
here, each Ray node's for the items run there, from the items' ``placement``), the console and the
page print it beside the times, and ``harness publish`` says when merged runs' times come from
different machines. Read from ``/proc/cpuinfo``, :mod:`os` and :mod:`platform`; torch is asked
only when the run already imported it (threads, CUDA), never imported for this.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

# The /proc/cpuinfo flags that change how fast the fits run (x86, then Arm), with the names a reader
# knows them by: AMX and AVX512-BF16 made the same command 1.6x faster (issue 22).
SPEED_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512F",
    "avx512_vnni": "AVX512-VNNI",
    "avx512_bf16": "AVX512-BF16",
    "amx_tile": "AMX",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
    "asimd": "NEON",
    "sve": "SVE",
    "bf16": "BF16",
    "i8mm": "I8MM",
}
X86 = ("x86_64", "amd64", "i686", "i386")
# What tells two machines apart for timing: everything but where they sit in a cluster.
MACHINE_FIELDS = ("cpu_model", "cpu_flags", "machine", "cores", "usable_cores", "threads", "memory_gib", "gpus", "cuda")


@cache
def _cpu(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """The CPU's model name and flags, from the first processor in ``cpuinfo`` (else platform's)."""
    model, flags = "", frozenset()
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and not model:
            model = " ".join(value.split())
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
        if not line.strip() and model and flags:  # the end of the first processor's block
            break
    return model or platform.processor() or platform.machine() or "unknown CPU", flags


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _threads(usable: int) -> int:
    """The threads the fits computed with: torch's where the run imported it, else the most of the
    loaded BLAS and OpenMP libraries' (threadpoolctl: a ``threadpool_limits`` around the run shows
    there), else the OpenMP setting (Ray sets it to a task's CPUs), else every usable core."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        return int(torch.get_num_threads())
    try:
        from threadpoolctl import threadpool_info

        counts = [int(library["num_threads"]) for library in threadpool_info() if library.get("num_threads")]
    except Exception:  # threadpoolctl could not read a library: fall back to the setting
        counts = []
    if counts:
        return max(counts)
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else usable


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> tuple[list[dict[str, Any]], str | None]:
    """The CUDA GPUs this process sees and torch's CUDA version, if the run imported torch."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_available():
        return [], None
    gpus = []
    for index in range(cuda.device_count()):
        properties = cuda.get_device_properties(index)
        gpus.append({"name": properties.name, "memory_gib": round(properties.total_memory / 2**30, 1)})
    return gpus, torch.version.cuda


def describe_machine(cpuinfo: str = "/proc/cpuinfo") -> dict[str, Any]:
    """This machine, as the leaderboard's ``hardware`` entry records it (call it after the fits:
    the threads and GPUs are those the run used)."""
    model, flags = _cpu(cpuinfo)
    usable = _usable_cores()
    gpus, cuda = _gpus()
    return {
        "cpu_model": model,
        "cpu_flags": [flag for flag in SPEED_FLAGS if flag in flags],
        "machine": platform.machine(),
        "cores": os.cpu_count() or usable,
        "usable_cores": usable,
        "threads": _threads(usable),
        "memory_gib": _memory_gib(),
        "gpus": gpus,
        "cuda": cuda,
    }


def machine_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry without where it sits (node, node id): what to compare two machines by."""
    return {key: entry.get(key) for key in MACHINE_FIELDS}


def distinct(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` once each, in order."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        if dict(entry) not in out:
            out.append(dict(entry))
    return out


def flags_text(entry: Mapping[str, Any]) -> str:
    """The speed flags a reader looks for, and on x86 the absence of AVX-512 and AMX said aloud."""
    flags = set(entry.get("cpu_flags", ()))
    shown = [name for flag, name in SPEED_FLAGS.items() if flag in flags]
    if str(entry.get("machine", "")).lower() in X86:
        shown += [f"no {name}" for flag, name in (("avx512f", "AVX-512"), ("amx_tile", "AMX")) if flag not in flags]
    return ", ".join(shown)


def hardware_text(entry: Mapping[str, Any]) -> str:
    """One machine in a line: ``AMD EPYC 7B13 (AVX2, no AVX-512, no AMX); 2 threads, 2 of 2 cores;
    23.4 GiB; no GPU``, prefixed with its node under Ray."""
    flags = flags_text(entry)
    cpu = f"{entry['cpu_model']} ({flags})" if flags else entry["cpu_model"]
    threads = entry.get("threads")
    cores = f"{entry['usable_cores']} of {entry['cores']} cores"
    parts = [cpu, f"{threads} thread{'s' * (threads != 1)}, {cores}" if threads else cores]
    if entry.get("memory_gib") is not None:
        parts.append(f"{entry['memory_gib']:g} GiB")
    gpus = entry.get("gpus") or []
    if gpus:
        names = distinct({"name": g["name"], "memory_gib": g["memory_gib"]} for g in gpus)
        listed = ", ".join(f"{sum(g == n for g in gpus)}x {n['name']} ({n['memory_gib']:g} GiB)" for n in names)
        parts.append(f"{listed}, CUDA {entry.get('cuda') or '?'}")
    else:
        parts.append("no GPU")
    where = f"node {entry['node']}: " if entry.get("node") else ""
    return where + "; ".join(parts)


def recorded(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The machines a run section records (none in a leaderboard written before they were)."""
    return [dict(entry) for entry in run.get("hardware", [])]


def times_lines(run: Mapping[str, Any]) -> Sequence[str]:
    """The lines that say where the times were measured, for the console and ``harness show``."""
    machines = recorded(run)
    if not machines:
        return ["Times measured on hardware this leaderboard does not record (written before it was)."]
    if len(machines) == 1:
        return [f"Times measured on {hardware_text(machines[0])}."]
    return [f"Times measured on {len(machines)} machines:", *(f"  {hardware_text(entry)}" for entry in machines)]
