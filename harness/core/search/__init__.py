"""``harness run --tune N`` (or ``--tune-time 20m``): before the grid, each model's recipe is searched
on eval with the same budget, on Ray Tune (docs/tuning.md).

Per (model, training task) of the run, in collection order: the model's search space (its
``ModelSpec.search_space`` with the config's ``search`` over it), trial 0 the model's own recipe,
trials fitted on train and scored on eval only (:mod:`.trial`), a seeded Optuna TPE searcher and
ASHA (:mod:`.tuner`). The best configuration by the task's selection metric on eval goes into
``Session.tuned``, which :meth:`Session.recipe` applies last: every fit of the grid, and every
item's resume key, then use the tuned recipe. Each search keeps its state under
``RUN_DIR/search/<model>--<task>/``: a killed run resumes it with ``Tuner.restore``; a finished
one is read back; a changed space or budget starts a new one, and a warning says why.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.atomic import write_atomically
from harness.core.search.plan import Budget, SearchPlan, make_plans, parse_duration, why_new
from harness.core.search.record import search_record, untuned_record
from harness.errors import UsageError, warn

if TYPE_CHECKING:
    from harness.core.hooks import Hooks
    from harness.core.reports import Session
    from harness.progress import ProgressFactory

SEARCH = "search"  # the run directory's folder of searches
INSTALL = "pip install 'clinical-harness[tune]'"

__all__ = ["SEARCH", "budget_of", "run_search", "search_dir_exists"]


def budget_of(options: argparse.Namespace) -> Budget | None:
    """The ``--tune`` / ``--tune-time`` budget, checked (a usage error otherwise); None without either."""
    trials, time_text = getattr(options, "tune", None), getattr(options, "tune_time", None)
    if trials is None and time_text is None:
        return None
    if trials is not None and trials < 1:
        raise UsageError(f"--tune {trials}: give at least 1 trial per model")
    seconds = None
    if time_text is not None:
        try:
            seconds = parse_duration(time_text)
        except ValueError as err:
            raise UsageError(f"--tune-time {time_text}: {err}") from None
    concurrent = getattr(options, "tune_concurrency", 1)
    if concurrent < 1:
        raise UsageError(f"--tune-concurrency {concurrent}: give at least 1")
    return Budget(trials, seconds, concurrent, getattr(options, "tune_seed", 0))


def search_dir_exists(run_dir: Path) -> bool:
    return (run_dir / SEARCH).is_dir()


def check_plans(session: Session) -> None:
    """Make the plans on this machine's device, before anything runs: a bad search config is one line."""
    budget = budget_of(session.options)
    if budget is not None and not session.collect_only:
        device = _local_device(session)
        make_plans(session, budget, _Every(device))


class _Every(dict):
    def __init__(self, device: str) -> None:
        super().__init__()
        self.device = device

    def __missing__(self, key: str) -> str:
        return self.device


def _local_device(session: Session) -> str:
    from harness.core.runner import pick_device

    return pick_device(session, getattr(session.options, "device", "auto"))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=1, ensure_ascii=False, default=str)
    write_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def run_search(session: Session, hooks: Hooks, run_dir: Path, progress: ProgressFactory) -> None:
    """Search every model of the session that has a space; fill ``session.tuned`` and ``session.searches``.

    Raises KeyboardInterrupt when the user stopped a search (its state is saved: ``--resume``).
    """
    budget = budget_of(session.options)
    if budget is None or session.collect_only:
        return
    session.search_budget = budget.as_dict()
    ray = None
    owned = False
    try:
        plans = make_plans(session, budget, _Every(_local_device(session)))
        if any(plan.space and not _finished(plan, run_dir / SEARCH / plan.folder_name) for plan in plans):
            ray, owned = _ray(session)  # not for a --resume whose searches all finished
            plans = make_plans(session, budget, _trial_devices(session, ray, budget))
        for plan in plans:
            record = _search(plan, session, hooks, run_dir / SEARCH / plan.folder_name, ray, budget, progress)
            key = (plan.model.name, plan.task)
            session.searches[key] = record
            if record["status"] == "tuned":
                session.tuned[key] = dict(record["chosen"])
            hooks.search_finished(plan.model.name, plan.task, record)
    finally:
        if owned and ray is not None:
            from harness.core.executors.ray_cluster import stop_ray

            stop_ray(ray)


def _ray(session: Session):
    """Ray, started here (a local cluster, or ``--ray-address``) unless the executor runs it already."""
    from harness.core.executors.ray_cluster import ray_module, start_ray, worker_environment
    from harness.core.search.tuner import TUNE_ENV

    try:
        import optuna  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        raise UsageError(f"--tune needs Ray Tune and Optuna, which are not installed: {INSTALL}") from None
    ray = ray_module()
    if ray.is_initialized():
        return ray, False
    env = {**worker_environment(), **TUNE_ENV}
    return ray, start_ray(ray, getattr(session.options, "ray_address", None), env, "--tune")


def _trial_devices(session: Session, ray: Any, budget: Budget) -> Mapping[str, str]:
    return {name: device for name, (_, device) in _trial_resources(session, ray, budget).items()}


def _trial_resources(session: Session, ray: Any, budget: Budget) -> dict[str, tuple[dict[str, float], str]]:
    """Per model: what one trial asks of Ray, and the device its fit is told. ``[models.NAME]
    resources`` where the config says; else, as the Ray executor's fits, plus CPUs: the largest
    node's shared among the concurrent trials (one trial at a time gets them all)."""
    from harness.core.executors.ray_cluster import group_device, resources_for

    requested = getattr(session.options, "device", "auto")
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    most_gpus = max((node.get("GPU", 0.0) for node in nodes), default=0.0)
    most_cpus = max((node.get("CPU", 1.0) for node in nodes), default=1.0)
    made = {}
    for name in dict.fromkeys(item.model.name for item in session.items):
        table = session.config.resources_for(name)
        found = resources_for(session.models[name], table, requested, most_gpus)
        cpus = found.cpus if "cpus" in table else max(1.0, float(int(most_cpus) // budget.max_concurrent))
        made[name] = ({"cpu": cpus, "gpu": found.gpus}, group_device(found, requested))
    return made


def _finished(plan: SearchPlan, folder: Path) -> bool:
    record = _read(folder / "record.json")
    return record is not None and record.get("key") == plan.key()


def _search(
    plan: SearchPlan,
    session: Session,
    hooks: Hooks,
    folder: Path,
    ray: Any,
    budget: Budget,
    progress: ProgressFactory,
) -> dict[str, Any]:
    if not plan.space:
        return untuned_record(plan)
    key, basis = plan.key(), plan.basis()
    state = _read(folder / "key.json")
    if state is not None and state.get("key") != key:
        warn(
            f"search {plan.name}",
            f"starting a new search, not resuming the one in {folder}: {why_new(state.get('basis', {}), basis)}",
        )
        shutil.rmtree(folder)
    finished = _read(folder / "record.json")
    if finished is not None and finished.get("key") == key:
        hooks.search_started(plan.model.name, plan.task, "finished earlier; read from the run directory")
        return finished["record"]
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "key.json", {"key": key, "basis": basis})
    from harness.core.search.tuner import (
        make_tuner,
        run_tuner,
        trial_callback,
        trial_index,
        trial_record,
        tune_environment,
    )

    resources, _ = _trial_resources(session, ray, budget)[plan.model.name]
    job = _job(plan, session)
    with progress(f"search {plan.name}", budget.trials or 0) as advance, tune_environment():

        def on_trial(trial: dict[str, Any]) -> None:
            advance()
            hooks.search_trial_finished(plan.model.name, plan.task, trial)

        tuner, restored = make_tuner(plan, job, folder, resources, trial_callback(on_trial))
        hooks.search_started(
            plan.model.name, plan.task, "resuming the search" if restored else _what(plan, budget, resources)
        )
        started = time.monotonic()
        trials, interrupted = run_tuner(tuner)
    if interrupted:
        raise KeyboardInterrupt
    record = search_record(plan, [trial_record(t, trial_index(t)) for t in trials], time.monotonic() - started)
    _write(folder / "record.json", {"key": key, "record": record})
    return record


def _what(plan: SearchPlan, budget: Budget, resources: Mapping[str, float]) -> str:
    amount = f"{budget.trials} trials" if budget.trials else ""
    if budget.time_seconds:
        amount += f"{' or ' if amount else ''}{budget.time_seconds:g} s"
    ask = ", ".join(f"{value:g} {name.upper()}" for name, value in resources.items() if value)
    return f"{amount} over {', '.join(plan.space)} ({ask} per trial, {budget.max_concurrent} at a time)"


def _job(plan: SearchPlan, session: Session):
    """What the trials share: train and eval of the task, never its test sets."""
    from harness.core.search.trial import TrialJob
    from harness.core.weights import find_weights
    from harness.model import ClassificationSetup

    data = session.data[plan.task]
    options = session.config.weight_options(plan.model.name)
    weights, _ = find_weights(plan.model, options)
    return TrialJob(
        model=plan.model,
        labels=tuple(data.labels),
        setup=data.setup or ClassificationSetup(),
        train=data.splits["train"],
        eval=data.splits["eval"],
        seed=plan.seed,
        recipe=dict(plan.recipe),
        device=plan.device,
        weights=str(Path(weights).resolve()) if weights else None,
        allow_pickle=options.allow_pickle,
        trust_remote_code=options.trust_remote_code,
    )
