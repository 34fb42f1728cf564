"""The README's main command, timed: ``harness run --models all --tasks indications,probe``.

The target (issue 25): under 8 minutes on 2 cores of a CPU without AMX or AVX512-BF16, where
every prediction runs in fp32. ``--without-bf16`` runs it as on such a CPU on any machine: the
harness's check for bf16 matrix products answers no, so the decoders predict in fp32 as they
would there (the arithmetic of such a CPU; its clock and caches are this machine's). It prints
the CPU, the wall time and each item's time, and keeps the run directory (``--out``) so that two
runs' scores can be compared:

    python benchmarks/main_command.py --without-bf16 --out /tmp/fp32
    python benchmarks/main_command.py --compare /tmp/fp32-before /tmp/fp32   # scores equal?
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

TARGET_SECONDS = 8 * 60


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the run directory (default: a new one under runs/)")
    parser.add_argument("--without-bf16", action="store_true", help="predict in fp32, as a CPU without bf16 does")
    parser.add_argument("--models", default="all")
    parser.add_argument("--tasks", default="indications,probe")
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"), help="compare two runs' (or leaderboards') scores"
    )
    return parser.parse_args(argv)


def cpu() -> str:
    from harness.core.hardware import describe_machine, hardware_text

    return hardware_text(describe_machine())


def scores(run: Path) -> dict[str, dict[str, float]]:
    """Every passed item's metrics per split (numbers only), by item name."""
    path = run if run.is_file() else run / "leaderboard.json"  # a run directory or a leaderboard
    document = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for item in document["results"]:
        if item["status"] != "passed":
            continue
        flat = {}
        for split, metrics in (item.get("metrics") or {}).items():
            for key, value in metrics.items():
                if isinstance(value, float):
                    flat[f"{split}.{key}"] = value
        out[item["name"]] = flat
    return out


def compare(a: Path, b: Path) -> int:
    first, second = scores(a), scores(b)
    worst, differing = 0.0, []
    for name in sorted(set(first) & set(second)):
        for key in sorted(set(first[name]) & set(second[name])):
            gap = abs(first[name][key] - second[name][key])
            worst = max(worst, gap)
            if gap > 0:
                differing.append((gap, name, key))
    print(f"{len(set(first) & set(second))} items in both; largest difference of any metric: {worst:.6f}")
    for _gap, name, key in sorted(differing, reverse=True)[:10]:
        print(f"  {name} {key}: {first[name][key]:.6f} -> {second[name][key]:.6f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.without_bf16:
        from harness.training import precision

        precision.cpu_has_bf16 = lambda: False
    from harness.cli import main as harness_main

    command = ["run", "--models", args.models, "--tasks", args.tasks]
    command += ["--out", str(args.out)] if args.out else []
    started = time.perf_counter()
    code = harness_main(command)
    wall = time.perf_counter() - started
    print(f"\n{cpu()}; bf16 prediction {'off (as without AVX512-BF16/AMX)' if args.without_bf16 else 'as detected'}")
    print(f"main command: {wall:.0f} s ({wall / 60:.1f} min), {wall / TARGET_SECONDS:.2f}x the 8-minute target")
    return code


if __name__ == "__main__":
    sys.exit(main())
