"""What runs inside a Ray worker: one fit group, from a job that names it.

Nothing of the driver's session crosses to the worker but plain values (the command line's
options, the caller's extra plugins, names, the driver's data provenance): the worker rebuilds
the plugins, the config and the data from the same paths, as the driver did, and keeps them for
the next group of the same run that lands in this process. Before fitting, it checks that the
data it read is the data the driver read (each split's SHA-256): a node that sees other files
errors its group's items with the reason, and the run goes on. Each item's result goes back as
a plain dictionary as soon as it is scored (a streaming generator); the driver turns it into a
report of its own item.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.collect import Item
from harness.core.reports import ItemReport, Session
from harness.core.runner import FitCache, follow_classification_task, load_task_data, run_item, short_traceback
from harness.progress import no_progress


@dataclass(frozen=True)
class WorkerSetup:
    """What every group of one run shares; sent once through Ray's object store."""

    run_id: str  # a worker keeps the plugins, config and data it built for this run only
    options: argparse.Namespace
    plugins: Mapping[str, object]  # the caller's extra plugins (tests, embedding), by reference
    model_names: tuple[str, ...]
    task_names: tuple[str, ...]  # every selected task: which task the probe follows depends on them
    cwd: str  # relative paths of the command line are relative to the driver's folder
    # --tune: (model, training task) -> the configuration the search chose (Session.tuned): the
    # worker's fits and resume keys must use the driver's tuned recipe, not the default one.
    tuned: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupJob:
    """One fit group: a (model, training task, seed) fit and the items scored on it."""

    model: str
    fits_on: str
    seed: int
    tasks: tuple[str, ...]  # the group's items, in collection order
    device: str
    provenance: Mapping[str, str]  # task -> the driver's provenance of its data, canonical JSON
    attempt: int = 1
    train_rows: int | None = None  # a learning curve's subset fit: its training rows


def canonical_provenance(provenance: Any) -> str:
    return json.dumps([dict(p) for p in provenance], sort_keys=True, default=str)


@dataclass
class _Context:
    session: Session


_CONTEXTS: dict[str, _Context] = {}


def _context(setup: WorkerSetup) -> _Context:
    """This run's plugins, config and session, built on the first group this process runs."""
    if setup.run_id in _CONTEXTS:
        return _CONTEXTS[setup.run_id]
    from harness.core.config import load_config
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager
    from harness.core.profiles import get_profile

    _CONTEXTS.clear()  # a worker process serves one run at a time: drop an earlier run's data
    if os.path.isdir(setup.cwd):
        os.chdir(setup.cwd)
    hooks = Hooks(make_plugin_manager(dict(setup.plugins)))
    models, tasks = hooks.models(), hooks.tasks()
    options = setup.options
    config = load_config(options.config, models, tasks)
    follow_classification_task(tasks, list(setup.task_names), config)
    session = Session(options, config, get_profile(options.profile), models, tasks, tuple(options.seeds))
    session.tuned = {key: dict(chosen) for key, chosen in setup.tuned.items()}
    _CONTEXTS[setup.run_id] = _Context(session)
    return _CONTEXTS[setup.run_id]


def placement(job: GroupJob) -> dict[str, Any]:
    """Where this group runs: the node, its Ray id, and the GPUs Ray gave this task."""
    import ray

    context = ray.get_runtime_context()
    found: dict[str, Any] = {
        "executor": "ray",
        "node": ray.util.get_node_ip_address(),
        "node_id": context.get_node_id(),
        "gpu_ids": [int(g) if str(g).isdigit() else str(g) for g in ray.get_gpu_ids()],
        "device": job.device,
    }
    if job.attempt > 1:
        found["attempt"] = job.attempt
    return found


def data_mismatch(session: Session, job: GroupJob, where: str) -> str | None:
    """Why this worker's data is not the driver's (the first split that differs), or None."""
    for task, expected in job.provenance.items():
        here = json.loads(canonical_provenance(session.data[task].provenance))
        theirs = json.loads(expected)
        for index in range(max(len(here), len(theirs))):
            mine = here[index] if index < len(here) else {}
            driver = theirs[index] if index < len(theirs) else {}
            if mine != driver:
                part = next(
                    (e[k] for k in ("split", "probe_file", "variants_of") for e in (driver, mine) if e.get(k)), "?"
                )
                return (
                    f"data differs from the driver's: task {task}, {part}: SHA-256 {mine.get('sha256', '-')} "
                    f"read on node {where}, {driver.get('sha256', '-')} read by the driver; every node must "
                    "read the same files (a shared filesystem, docs/cluster.md)"
                )
    return None


def as_wire(report: ItemReport, where: Mapping[str, Any]) -> dict[str, Any]:
    """A report as plain values (the driver has the Item itself)."""
    return {
        "task": report.item.task.name,
        "outcome": report.outcome,
        "reason": report.reason,
        "seconds": report.seconds,
        "fields": dict(report.fields),
        "model_info": dict(report.model_info),
        "cost": dict(report.cost),
        "fit_details": dict(report.fit_details),
        "traceback": report.traceback,
        "retained": dict(report.retained),
        "placement": dict(where),
    }


def group_error(job: GroupJob, reason: str, traceback: str | None = None, where: Mapping[str, Any] | None = None):
    """Every item of the group as an error with ``reason`` (the run goes on)."""
    return [
        {"task": task, "outcome": "error", "reason": reason[:500], "traceback": traceback, "placement": where}
        for task in job.tasks
    ]


def run_group(setup: WorkerSetup, job: GroupJob) -> Iterator[dict[str, Any]]:
    """Fit the group's model once and score each of its items, yielding each item's report as it
    finishes (a Ray streaming generator: the driver records it at once); never raises for an item."""
    where = placement(job)
    try:
        session = _context(setup).session
        session.device = job.device
        missing = [task for task in job.tasks if task not in session.data]
        if missing:
            load_task_data(session, missing)
        mismatch = data_mismatch(session, job, where["node"])
        model = session.models[job.model]
        items = [Item(model, session.tasks[task], job.seed, train_rows=job.train_rows) for task in job.tasks]
    except Exception as err:  # the data or plugins could not be rebuilt on this node
        reason = f"on node {where['node']}: {type(err).__name__}: {err}"
        failed = group_error(job, reason, short_traceback(err), where)
    else:
        failed = group_error(job, mismatch, None, where) if mismatch else []
    if failed:  # a plain loop, not `yield from`: Ray drives the generator with send(), a list's iterator has none
        for wire in failed:  # noqa: UP028
            yield wire
        return
    session.items = items
    fits = FitCache(session, no_progress)
    for index, item in enumerate(items):
        report = run_item(item, session, fits, no_progress)
        fits.release_after(index, item)
        yield as_wire(report, where)
