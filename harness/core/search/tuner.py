"""One model's search on Ray Tune: a seeded Optuna TPE searcher whose first trial is the recipe,
an ASHA scheduler fed each epoch's eval score, at most ``max_concurrent`` trials at a time, a trial
lost with its worker run once more, and the state in the run directory so that ``Tuner.restore``
picks a killed search up where it stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.core.search.plan import SearchPlan
from harness.core.search.trial import TrialJob, run_trial
from harness.search import Dimension

EXPERIMENT = "trials"  # the Tune experiment's folder inside the search's folder
METRIC = "eval_best"  # the best eval score so far: what the fit keeps (its best epoch)
# Tune's defaults that do not suit a run directory: no per-trial CSV/JSON/TensorBoard loggers
# (the record holds what matters) and no change of directory in the trial (relative paths).
TUNE_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter, which verbose=0 silences (the new one boxes the config)
}


def optuna_space(space: Mapping[str, Dimension]) -> dict[str, Any]:
    """The space as Optuna distributions (Optuna's own, not Ray's conversion of tune.* domains)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    made: dict[str, Any] = {}
    for key, dimension in space.items():
        if dimension.kind == "choice":
            made[key] = CategoricalDistribution(list(dimension.values))
        elif dimension.kind in ("uniform", "log_uniform"):
            low, high = dimension.values
            made[key] = FloatDistribution(float(low), float(high), log=dimension.kind == "log_uniform")
        else:
            low, high = dimension.values
            made[key] = IntDistribution(int(low), int(high), log=dimension.kind == "log_int")
    return made


def _trial_zero(plan: SearchPlan) -> dict[str, Any]:
    point = {}
    for key, value in plan.trial_zero().items():
        kind = plan.space[key].kind
        point[key] = float(value) if kind in ("uniform", "log_uniform") else int(value) if kind != "choice" else value
    return point


def make_tuner(plan: SearchPlan, job: TrialJob, folder: Path, resources: Mapping[str, float], callback: Any):
    """A new Tuner for ``plan``, or the one whose state ``folder`` holds (``Tuner.restore``)."""
    import optuna
    from optuna.samplers import TPESampler
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    trainable = tune.with_resources(tune.with_parameters(run_trial, job=job), dict(resources))
    path = folder / EXPERIMENT
    if path.is_dir() and tune.Tuner.can_restore(str(path)):
        return tune.Tuner.restore(
            str(path), trainable=trainable, resume_unfinished=True, resume_errored=False, restart_errored=False
        ), True
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study and trial
    budget = plan.budget
    sampler = TPESampler(seed=budget.seed, n_startup_trials=budget.startup_trials())
    searcher = OptunaSearch(
        space=optuna_space(plan.space),
        metric=METRIC,
        mode="max",
        points_to_evaluate=[_trial_zero(plan)],
        sampler=sampler,
    )
    epochs = plan.max_epochs()
    scheduler = None
    if "epochs" in plan.recipe and epochs > budget.grace_period:  # torch families report each epoch
        scheduler = ASHAScheduler(
            metric=METRIC,
            mode="max",
            time_attr="training_iteration",
            max_t=epochs,
            grace_period=budget.grace_period,
            reduction_factor=budget.reduction_factor,
        )
    tune_config = tune.TuneConfig(
        search_alg=searcher,
        scheduler=scheduler,
        num_samples=budget.trials or -1,
        max_concurrent_trials=budget.max_concurrent,
        time_budget_s=budget.time_seconds,
        reuse_actors=True,  # one worker process serves trial after trial: imports (torch) once
    )
    run_config = tune.RunConfig(
        name=EXPERIMENT,
        storage_path=str(folder.resolve()),
        failure_config=tune.FailureConfig(max_failures=1),  # a lost worker: once more, then failed
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        verbose=0,
        callbacks=[callback],
    )
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config), False


def trial_callback(on_trial: Callable[[dict[str, Any]], None]):
    """A Tune callback handing each finished trial's record to ``on_trial`` (console, progress)."""
    from ray.tune import Callback

    class TrialFinished(Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            on_trial(trial_record(trial, trial_index(trial)))

        def on_trial_error(self, iteration, trials, trial, **info):
            on_trial(trial_record(trial, trial_index(trial)))

    return TrialFinished()


def trial_index(trial: Any) -> int:
    """The order Tune created the trial in, from 0 (its experiment tag starts with a counter from 1)."""
    head = str(getattr(trial, "experiment_tag", "") or "").partition("_")[0]
    return int(head) - 1 if head.isdigit() else 0


def _error_text(trial: Any) -> str:
    error = None
    try:
        error = trial.get_pickled_error() or trial.get_error()
    except Exception:  # an unreadable error file: say so rather than fail the search
        return "the trial failed (its error could not be read back)"
    cause = getattr(error, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"[:300]
    text = str(error or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:300]


def trial_record(trial: Any, index: int) -> dict[str, Any]:
    """One trial as the leaderboard's search section holds it: numbers and its configuration, no text."""
    result = trial.last_result or {}
    history = list(result.get("eval_by_epoch") or [])
    failed = trial.status == "ERROR"
    if failed:
        status = "failed"
    elif result.get("finished", result.get("done")):  # "done" is also set when ASHA stops a trial
        status = "completed"
    elif history:
        status = "stopped early"
    else:
        status = "not run"
    failures = int(getattr(trial.run_metadata, "num_failures", 0) or 0)
    return {
        "trial": index,
        "config": {key: _plain(value) for key, value in (trial.config or {}).items()},
        "status": status,
        "eval_by_epoch": [float(v) for v in history],
        "eval": float(max(history)) if history else None,
        "epochs": len(history) if result.get("per_epoch") else 0,  # a classical fit reports once, no epoch
        "seconds": float(result["trial_seconds"]) if "trial_seconds" in result else None,
        "attempts": max(int(result.get("attempt", 1)), failures + (0 if failed else 1)) if (history or failed) else 0,
        "error": _error_text(trial) if failed else None,
        "per_epoch": bool(result.get("per_epoch")),  # for the record's epoch counts; not written
        **({"placement": dict(result["placement"])} if result.get("placement") else {}),
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars from a sampler
        return value.item()
    return value


@contextlib.contextmanager
def tune_environment() -> Iterator[None]:
    """Tune's settings (:data:`TUNE_ENV`) while a Tuner is made and fitted, and its analysis quiet
    about the per-trial result files it is not given."""
    previous = {name: os.environ.get(name) for name in TUNE_ENV}
    os.environ.update(TUNE_ENV)
    analysis = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = analysis.level
    analysis.setLevel(logging.ERROR)
    try:
        yield
    finally:
        analysis.setLevel(level)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_tuner(tuner: Any) -> tuple[list[Any], bool]:
    """Fit; return the trials in creation order and whether the user stopped the search.

    On Ctrl-C Tune stops gracefully: it saves its state and returns. It says so only in a log
    line, but its SIGINT handler, once it has run, puts back the handler it replaced; one that
    never ran stays installed. So the handler in place after the fit tells (and is put back either
    way, so that a Ctrl-C during the grid still stops the run).
    """
    import signal
    import threading

    before = signal.getsignal(signal.SIGINT)
    watched = (
        threading.current_thread() is threading.main_thread()
        and os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0") == "0"
    )
    try:
        grid = tuner.fit()
    finally:
        interrupted = watched and signal.getsignal(signal.SIGINT) is before
        if watched:
            signal.signal(signal.SIGINT, before)
    trials = sorted(grid._experiment_analysis.trials, key=trial_index)
    return trials, interrupted
