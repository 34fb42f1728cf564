"""Two fit groups sharing one GPU under ``--executor ray`` (``resources = { gpus = 0.5 }``), on a
tiny BERT checkpoint built here: both must pass, on the same GPU id, side by side.

    python benchmarks/ray_gpu_check.py                      # on a CUDA machine with Ray installed
    python benchmarks/ray_gpu_check.py --logical-gpus 1 --device cpu   # the mechanics, without a GPU

It starts a local Ray cluster (with ``--logical-gpus N``, one that believes it has N GPUs), builds
a tiny randomly initialised BERT with ``benchmarks/gpu_check.py``'s ``build_checkpoint``, points
``bert-base-uncased`` at it in a config with ``gpus = 0.5``, and runs ``harness run --executor ray
--models bert-base-uncased --tasks indications --seeds 1,2 --profile smoke``: two groups (seeds 1
and 2) of half a GPU each. It prints each item's node, GPU ids and device, and whether the two
fits overlapped in time (the run's wall time against the sum of the two fits). Exit status 0 when
both passed on one and the same GPU, 1 otherwise, 2 without CUDA (unless --device cpu).

With ``--tune``, the same model is searched instead (``harness run --tune 2 --tune-concurrency 2``,
``gpus = 0.5`` per trial): the two trials must both complete, side by side (their spans, from
start to last report, overlap) and on one and the same GPU id (each trial's placement).

    python benchmarks/ray_gpu_check.py --tune               # on a CUDA machine with Ray Tune
    python benchmarks/ray_gpu_check.py --tune --dry-run     # the mechanics on a CPU: 1 logical GPU

``--dry-run`` is ``--logical-gpus 1 --device cpu``: Ray schedules half-GPUs of a GPU it only
believes it has, and the fits run on the CPU.

Not run in this project's sessions so far: its GPU machines lack Ray (a wheel too large to carry).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logical-gpus", type=int, default=None, help="start Ray believing it has N GPUs")
    parser.add_argument("--device", default="auto", help="passed to harness run (cpu: the mechanics without CUDA)")
    parser.add_argument("--tune", action="store_true", help="two fractional-GPU search trials side by side")
    parser.add_argument("--dry-run", action="store_true", help="--logical-gpus 1 --device cpu: the mechanics, no GPU")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.logical_gpus, args.device = args.logical_gpus or 1, "cpu"
    import ray
    import torch

    if args.device != "cpu" and not torch.cuda.is_available():
        print("no CUDA device: run with --logical-gpus 1 --device cpu for the mechanics only", file=sys.stderr)
        return 2
    check = gpu_check()
    from harness.cli import main as harness

    with tempfile.TemporaryDirectory(prefix="ray-gpu-check-") as folder:
        checkpoint = check.build_checkpoint("bert", Path(folder) / "bert", dtype="float32")
        recipe = ", ".join(
            f"{k} = {json.dumps(v)}" for k, v in {"epochs": 1, "batch_size": 8, "max_length": 32}.items()
        )
        config = Path(folder) / "harness.toml"
        config.write_text(
            f'[models.bert-base-uncased]\nweights = "{checkpoint}"\nresources = {{ gpus = 0.5 }}\n'
            f"recipe = {{ {recipe} }}\n",
            encoding="utf-8",
        )
        out = Path(folder) / "run"
        ray.init(
            num_gpus=args.logical_gpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
        )
        start = time.perf_counter()
        if args.tune:
            argv = ["run", "--models", "bert-base-uncased", "--tasks", "indications", "--tune", "2"]
            argv += ["--tune-concurrency", "2", "--profile", "smoke", "--device", args.device, "--config", str(config)]
            code = harness([*argv, "--out", str(out), "--report", "summary"])
            ray.shutdown()
            return tune_verdict(out, code)
        argv = ["run", "--executor", "ray", "--models", "bert-base-uncased", "--tasks", "indications"]
        argv += ["--seeds", "1,2", "--profile", "smoke", "--device", args.device, "--config", str(config)]
        code = harness([*argv, "--out", str(out), "--report", "summary"])
        wall = time.perf_counter() - start
        ray.shutdown()
        if not (out / "leaderboard.json").is_file():
            print(f"harness run exited {code} without a leaderboard", file=sys.stderr)
            return 1
        results = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))["results"]
    fits = sum(r.get("cost", {}).get("train_seconds", 0.0) for r in results)
    for r in results:
        where = r.get("placement", {})
        print(
            f"{r['name']}: {r['status']} on node {where.get('node')} GPUs {where.get('gpu_ids')} {where.get('device')}"
        )
    print(
        f"wall {wall:.1f} s (Ray's start-up excluded), the two fits {fits:.1f} s: overlapped: {'yes' if wall < fits else 'no'}"
    )
    gpus = {tuple(r.get("placement", {}).get("gpu_ids", [])) for r in results}
    passed = all(r["status"] == "passed" for r in results) and len(results) == 2 and len(gpus) == 1
    print("two half-GPU groups on one GPU:", "PASSED" if passed and gpus != {()} else "FAILED")
    return 0 if passed and gpus != {()} else 1


def tune_verdict(out: Path, code: int) -> int:
    """The search's two trials: both completed, side by side, on one GPU id (0 if so, else 1)."""
    path = out / "leaderboard.json"
    if not path.is_file():
        print(f"harness run exited {code} without a leaderboard", file=sys.stderr)
        return 1
    record = json.loads(path.read_text(encoding="utf-8"))["search"]["tasks"]["indications"]["models"][
        "bert-base-uncased"
    ]
    trials = record["trials"]
    for trial in trials:
        where = trial.get("placement", {})
        print(
            f"trial {trial['trial']}: {trial['status']} in {trial['seconds']} s on node {where.get('node')} GPUs {where.get('gpu_ids')}"
        )
    spans = [t.get("placement", {}).get("span") for t in trials]
    overlapped = len(spans) == 2 and all(spans) and spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]
    print(f"the two trials' spans (Unix s): {spans}: side by side: {'yes' if overlapped else 'no'}")
    gpus = {tuple(t.get("placement", {}).get("gpu_ids", [])) for t in trials}
    passed = len(trials) == 2 and all(t["status"] == "completed" for t in trials) and len(gpus) == 1 and gpus != {()}
    passed = passed and overlapped
    print("two half-GPU trials on one GPU, side by side:", "PASSED" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
