"""What the search costs on Ray Tune: its wall time against the same trials run one after another
in this process without Ray Tune, and how many trial epochs ASHA saved.

    python benchmarks/search_overhead.py                         # MiniLM on indications, 6 trials
    python benchmarks/search_overhead.py --models tfidf-lr --trials 8
    python benchmarks/search_overhead.py --models tfidf-lr --profile smoke --trials 4   # a minute

It runs the search as ``harness run --tune N`` does (``harness.core.search.run_search``: a local Ray
cluster started and stopped, a seeded Optuna TPE searcher, ASHA, one trial at a time, each trial
given every core), then fits the same trials' configurations again in a plain loop, each for the
epochs it ran under Tune (a trial ASHA stopped runs as far as it got), scoring eval after each epoch
as a trial does. It prints both wall times, their ratio with and without Ray's start-up, and the
epochs ASHA saved (planned by the trials' configurations minus run). Target: ratio <= 1.15x on
2 cores. MiniLM's search is given epochs 1-3 (``search = { epochs = [1, 2, 3] }``) so that it takes
minutes, not an hour, on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

MINILM_CONFIG = """
[models.minilm-l6]
recipe = { epochs = 3 }
search = { epochs = [1, 2, 3] }
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="minilm-l6", help="one model (default: minilm-l6)")
    parser.add_argument("--tasks", default="indications")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--config", type=Path, help="a harness config (default: MiniLM's epochs 1-3 for minilm-l6)")
    return parser.parse_args(argv)


def make_session(args: argparse.Namespace, folder: Path):
    from harness.cli import make_parser
    from harness.core.config import load_config
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager
    from harness.core.profiles import get_profile
    from harness.core.runner import build_session

    config = args.config
    if config is None and args.models == "minilm-l6":
        config = folder / "harness.toml"
        config.write_text(MINILM_CONFIG, encoding="utf-8")
    hooks = Hooks(make_plugin_manager())
    argv = ["run", "--models", args.models, "--tasks", args.tasks, "--profile", args.profile]
    argv += ["--tune", str(args.trials), "--out", str(folder / "run"), "--device", "cpu"]
    argv += ["--config", str(config)] if config else []
    options = make_parser(hooks).parse_args(argv)
    models, tasks = hooks.models(), hooks.tasks()
    session = build_session(
        options, models, tasks, load_config(options.config, models, tasks), get_profile(options.profile)
    )
    return session, hooks


def one_after_another(session, record) -> float:
    """The search's trials again, in this process, each for the epochs it ran; wall seconds."""
    from harness.core.search import _Every, _job, budget_of
    from harness.core.search.plan import make_plans
    from harness.core.search.trial import eval_score
    from harness.model import FitRequest
    from harness.progress import no_progress

    (plan,) = make_plans(session, budget_of(session.options), _Every("cpu"))
    job = _job(plan, session)
    started = time.perf_counter()
    for trial in record["trials"]:
        recipe = {**job.recipe, **trial["config"]}
        if trial["epochs"]:
            recipe["epochs"] = trial["epochs"]
        request = FitRequest(
            spec=job.model,
            labels=job.labels,
            train=job.train,
            eval=job.eval,
            seed=job.seed,
            recipe=recipe,
            device=job.device,
            weights=job.weights,
            progress=no_progress,
            setup=job.setup,
            on_epoch=lambda epoch, figure: None,  # the loop scores eval each epoch, as in a trial
        )
        classifier = job.model.fit(request)
        if not trial["epochs"]:
            eval_score(classifier, job)
    return time.perf_counter() - started


def ray_start_up() -> float:
    import logging

    import ray

    started = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    ray.get(ray.remote(lambda: None).remote())
    ray.shutdown()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from harness.core.search import run_search
    from harness.progress import no_progress

    with tempfile.TemporaryDirectory(prefix="search-overhead-") as folder:
        session, hooks = make_session(args, Path(folder))
        started = time.perf_counter()
        run_search(session, hooks, Path(folder) / "run", no_progress)
        tuned = time.perf_counter() - started
        (record,) = session.searches.values()
        if record["status"] != "tuned":
            print(f"the search did not run: {record.get('reason')}", file=sys.stderr)
            return 1
        plain = one_after_another(session, record)
    start_up = ray_start_up()
    trials = len(record["trials"])
    print(f"command: harness run --models {args.models} --tasks {args.tasks} --profile {args.profile} --tune {trials}")
    print(f"machine: {os.cpu_count()} CPU cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"search on Ray Tune:          {tuned:7.1f} s  (Ray's start-up and shut-down included)")
    print(f"same trials, one by one:     {plain:7.1f} s  (in this process, no Ray)")
    print(f"Ray start-up alone:          {start_up:7.1f} s")
    print(f"ratio Tune / one by one:     {tuned / plain:.2f}x  (target <= 1.15x)")
    print(f"ratio without Ray start-up:  {max(tuned - start_up, 0.0) / plain:.2f}x")
    if record.get("epochs_planned"):
        saved = record["epochs_planned"] - record["epochs_run"]
        print(f"ASHA: {record['epochs_run']} of {record['epochs_planned']} planned trial epochs ran; saved {saved}")
    else:
        print("ASHA: nothing to save (the model reports once per trial, not per epoch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
