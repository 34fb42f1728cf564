"""What the Ray executor costs over the local one, Ray's start-up included, on the same command.

Runs, each as a fresh ``harness run`` process (as a user would type it), into its own run directory:

1. ``harness run --models M --tasks T`` (the local executor);
2. the same with ``--executor ray`` (a local Ray cluster started and stopped by the run);

then, on its own, the start-up and shut-down of a local Ray cluster as the executor starts it
(``ray.init`` until a first task has run on a worker, then ``ray.shutdown``). It prints each wall
time and the ratio ray / local, and checks that the two leaderboards agree apart from timings and
where each item ran. With ``--repeat N`` each run is repeated and the medians are compared.

    python benchmarks/ray_overhead.py
    python benchmarks/ray_overhead.py --models regex,tfidf-lr,char-gbt --tasks indications,probe --repeat 3

On a machine with few cores, the Ray run's groups share the cores with each other and with
Ray's own processes; on a node with many cores (or GPUs) they run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMING = ("seconds", "peak_", "per_second", "fit_reused", "timestamp")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="regex,tfidf-lr,char-gbt")
    parser.add_argument("--tasks", default="indications,probe")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each executor (medians are compared)")
    return parser.parse_args(argv)


def timed_run(argv: list[str], out: Path) -> float:
    """Wall seconds of one ``harness run`` process (its exit status must be 0)."""
    env = {**os.environ, "HARNESS_DISABLE_PLUGINS": "plots"}  # plots are the same for both: left out
    command = [sys.executable, "-m", "harness.cli", "run", *argv, "--out", str(out), "--report", "summary"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def ray_start_up() -> tuple[float, float]:
    """(start-up, shut-down) seconds of a local cluster started the way the executor starts one."""
    code = """
import logging, time
t0 = time.perf_counter()
import ray
from harness.core.executors.ray_cluster import LOCAL_OBJECT_STORE_BYTES
ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
         object_store_memory=LOCAL_OBJECT_STORE_BYTES)
ray.get(ray.remote(lambda: 1).remote())
t1 = time.perf_counter()
ray.shutdown()
print(t1 - t0, time.perf_counter() - t1)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    start, stop = map(float, done.stdout.split())
    return start, stop


def comparable(document: dict) -> dict:
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not any(t in k for t in TIMING)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    results = [{k: v for k, v in r.items() if k != "placement"} for r in document["results"]]
    run = {k: v for k, v in document["run"].items() if k not in {"device", "duration_seconds", "hardware"}}
    return strip({**document, "results": results, "run": run})


def differences(a, b, path: str = "") -> list[tuple[str, object, object]]:
    """Every (path, a, b) where the two documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (u, v) in enumerate(zip(a, b)) for d in differences(u, v, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]


def describe(found: list[tuple[str, object, object]]) -> str:
    """'yes', or how they differ: only floats (and by how much), or something else too."""
    if not found:
        return "yes"
    floats = [(p, a, b) for p, a, b in found if isinstance(a, float) and isinstance(b, float)]
    if len(floats) == len(found):
        path, a, b = max(floats, key=lambda d: abs(d[1] - d[2]))
        return (
            f"NO: {len(floats)} float(s) differ, the most by {abs(a - b):.2g} ({path}); nothing else differs "
            "(multithreaded BLAS sums in another order: a Ray task gets as many threads as its CPUs)"
        )
    other = next((p, a, b) for p, a, b in found if (p, a, b) not in floats)
    return f"NO: {len(found)} value(s) differ, e.g. {other[0]}: {other[1]!r} vs {other[2]!r}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = ["--models", args.models, "--tasks", args.tasks, "--profile", args.profile]
    local, on_ray = [], []
    with tempfile.TemporaryDirectory(prefix="ray-overhead-") as folder:
        for round_ in range(args.repeat):
            local.append(timed_run(command, Path(folder) / f"local-{round_}"))
            on_ray.append(timed_run([*command, "--executor", "ray"], Path(folder) / f"ray-{round_}"))
        boards = [
            json.loads((Path(folder) / f"{name}-0" / "leaderboard.json").read_text()) for name in ("local", "ray")
        ]
    start, stop = ray_start_up()
    found = differences(comparable(boards[0]), comparable(boards[1]))
    local_s, ray_s = statistics.median(local), statistics.median(on_ray)
    print(f"command: harness run {' '.join(command)}  ({args.repeat} run(s) each, medians)")
    print(f"machine: {os.cpu_count()} CPU cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"local executor:   {local_s:7.1f} s   (runs: {', '.join(f'{s:.1f}' for s in local)})")
    print(f"ray executor:     {ray_s:7.1f} s   (runs: {', '.join(f'{s:.1f}' for s in on_ray)})")
    print(f"ray start-up alone: {start:.1f} s (to a first task done); shut-down {stop:.1f} s")
    print(f"ratio ray / local: {ray_s / local_s:.2f}x  (target <= 1.3x, start-up included)")
    print(f"leaderboards equal apart from timings and placement: {describe(found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
