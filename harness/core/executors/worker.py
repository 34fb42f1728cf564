"""What runs inside a Ray worker: one fit group, from a job that names it.

Nothing of the driver's session crosses to the worker but plain values (the command line's
options, the caller's extra plugins, names, the driver's data provenance): the worker rebuilds
the plugins, the config and the data from the same paths, as the driver did, and keeps them for
the next group of the same run that lands in this process. Before fitting, it checks that it
runs what the driver ran, as the driver recorded it: the harness it imported (folder, version,
SHA-256 of its Python sources), the data it read (each split's SHA-256 and where it was read), and
the model's effective recipe and weights (:func:`~harness.core.weights.weights_fingerprint`) from
the config it loaded itself. A node that differs errors its group's items with one reason naming
the field that differs, and the run goes on. Each item's result goes back as a plain dictionary as
soon as it is scored (a streaming generator); the driver turns it into a report of its own item.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from harness.core.collect import Item
from harness.core.hardware import describe_machine
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
    harness: Mapping[str, str] = field(default_factory=dict)  # harness_origin() on the driver


@dataclass(frozen=True)
class GroupJob:
    """One fit group: a (model, training task, seed) fit and the items scored on it."""

    model: str
    fits_on: str
    seed: int
    tasks: tuple[str, ...]  # the group's items, in collection order
    device: str
    provenance: Mapping[str, str]  # task -> the driver's provenance of its data, canonical JSON
    recipe: Mapping[str, Any] = field(default_factory=dict)  # the model's effective recipe on the driver
    weights: Mapping[str, Any] | None = None  # weights_fingerprint() of the folder the driver found
    attempt: int = 1
    train_rows: int | None = None  # a learning curve's subset fit: its training rows


def canonical_provenance(provenance: Any) -> str:
    return json.dumps([dict(p) for p in provenance], sort_keys=True, default=str)


def plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples as lists, paths as strings): what two processes compare."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@cache
def harness_origin() -> dict[str, str]:
    """Which harness this process imported: its folder, its version, and the SHA-256 of its Python
    sources (two checkouts of different commits share a version; a `git pull` changes only these)."""
    import harness

    folder = Path(harness.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return {"location": str(folder), "version": harness.__version__, "sources_sha256": digest.hexdigest()}


def first_difference(fields: Sequence[str], here: Mapping[str, Any], driver: Mapping[str, Any]) -> str | None:
    """The first of ``fields`` whose value differs between the two, or None."""
    return next((name for name in fields if here.get(name) != driver.get(name)), None)


def origin_mismatch(expected: Mapping[str, str], where: str) -> str | None:
    """Why the harness this worker imported is not the driver's (naming the field), or None."""
    if not expected:  # a driver that recorded nothing (an embedding caller's own setup)
        return None
    here = harness_origin()
    name = first_difference(("location", "version", "sources_sha256"), here, expected)
    if name is None:
        return None
    return (
        f"the harness imported on node {where} is not the driver's: {name} {here[name]} there, "
        f"{expected[name]} on the driver; every node must import the driver's harness, the same "
        "installation at the same path (docs/cluster.md)"
    )


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
    """Why this worker's data is not the driver's (the first split that differs, and the first of
    its fields: the SHA-256, then where it was read, then the rest), or None."""
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
                others = sorted((set(mine) | set(driver)) - {"sha256", "source", "probe_file"})
                name = first_difference(("sha256", "source", "probe_file", *others), mine, driver)
                label = "SHA-256" if name == "sha256" else name
                return (
                    f"data differs from the driver's: task {task}, {part}: {label} {mine.get(name, '-')} "
                    f"read on node {where}, {driver.get(name, '-')} read by the driver; every node must "
                    "read the same files at the same paths (a shared filesystem, docs/cluster.md)"
                )
    return None


def recipe_and_weights(session: Session, model: Any, fits_on: str, device: str) -> tuple[dict, dict | None]:
    """The model's effective recipe for this fit and the fingerprint of the weights it would load,
    as plain values: the driver records them in the job, the worker computes its own."""
    from harness.core.weights import find_weights, weights_fingerprint

    recipe = plain(dict(session.recipe(model, fits_on, device)))
    if not model.uses_weights:
        return recipe, None
    folder, _ = find_weights(model, session.config.weight_options(model.name))
    return recipe, plain(weights_fingerprint(folder))


def config_mismatch(session: Session, job: GroupJob, where: str) -> str | None:
    """Why the recipe or weights this worker would fit with are not the driver's (naming the recipe
    key, or the weights' folder or file), or None: a worker loads the config itself."""
    recipe, weights = recipe_and_weights(session, session.models[job.model], job.fits_on, job.device)
    driver = plain(dict(job.recipe))
    if recipe != driver:
        key = first_difference(sorted(set(recipe) | set(driver)), recipe, driver)
        return (
            f"the recipe of {job.model} differs from the driver's: {key} = {recipe.get(key, '(unset)')!r} on node "
            f"{where}, {driver.get(key, '(unset)')!r} on the driver; every node must read the same config "
            "(docs/cluster.md)"
        )
    difference = weights_difference(weights, plain(job.weights))
    if difference:
        return (
            f"the weights of {job.model} differ from the driver's: {difference} (node {where} first, the driver "
            "second); every node must see the same weights at the same path (docs/cluster.md)"
        )
    return None


def weights_difference(here: Mapping[str, Any] | None, driver: Mapping[str, Any] | None) -> str | None:
    """The first field in which two weights fingerprints differ: the folder, which files, a file's
    size, a file's content (its first and last MiB); or None."""
    if here == driver:
        return None
    if here is None or driver is None:
        return f"folder {(here or {}).get('folder', 'none found')}, {(driver or {}).get('folder', 'none found')}"
    if here["folder"] != driver["folder"]:
        return f"folder {here['folder']}, {driver['folder']}"
    names = sorted(set(here["files"]) ^ set(driver["files"]))
    if names:
        name = names[0]
        return f"file {name}: {'present' if name in here['files'] else 'absent'}, {'present' if name in driver['files'] else 'absent'}"
    for name in sorted(here["files"]):
        mine, theirs = here["files"][name], driver["files"][name]
        if mine["bytes"] != theirs["bytes"]:
            return f"file {name}: {mine['bytes']:,} bytes, {theirs['bytes']:,} bytes"
        if mine != theirs:
            return f"file {name}: content (SHA-256 of its first and last MiB) {mine['ends_sha256'][:12]}…, {theirs['ends_sha256'][:12]}…"
    return "fingerprint"


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
        "rows": report.rows,  # the per-row predictions: the driver's store writes their file
        "placement": dict(where),
    }


def group_error(job: GroupJob, reason: str, traceback: str | None = None, where: Mapping[str, Any] | None = None):
    """Every item of the group as an error with ``reason`` (the run goes on)."""
    return [
        {"task": task, "outcome": "error", "reason": reason[:500], "traceback": traceback, "placement": where}
        for task in job.tasks
    ]


def _prepare(setup: WorkerSetup, job: GroupJob, node: str) -> tuple[Session | None, str | None]:
    """This run's session with the group's data loaded, or why this worker must not run the group."""
    mismatch = origin_mismatch(setup.harness, node)  # before this harness builds anything
    if mismatch:
        return None, mismatch
    session = _context(setup).session
    session.device = job.device
    missing = [task for task in job.tasks if task not in session.data]
    if missing:
        load_task_data(session, missing)
    return session, data_mismatch(session, job, node) or config_mismatch(session, job, node)


def run_group(setup: WorkerSetup, job: GroupJob) -> Iterator[dict[str, Any]]:
    """Fit the group's model once and score each of its items, yielding each item's report as it
    finishes (a Ray streaming generator: the driver records it at once); never raises for an item."""
    where = placement(job)
    session, items = None, []
    try:
        session, mismatch = _prepare(setup, job, where["node"])
        if session is not None:
            model = session.models[job.model]
            items = [Item(model, session.tasks[task], job.seed, train_rows=job.train_rows) for task in job.tasks]
    except Exception as err:  # the data or plugins could not be rebuilt on this node
        reason = f"on node {where['node']}: {type(err).__name__}: {err}"
        failed = group_error(job, reason, short_traceback(err), where)
    else:
        failed = group_error(job, mismatch, None, where) if mismatch else []
    if failed or session is None:  # a plain loop, not `yield from`: Ray drives the generator with send()
        for wire in failed:  # noqa: UP028
            yield wire
        return
    session.items = items
    fits = FitCache(session, no_progress)
    for index, item in enumerate(items):
        report = run_item(item, session, fits, no_progress)
        fits.release_after(index, item)
        # after the fit: the threads and GPUs it used (the leaderboard's run.hardware, per node)
        yield as_wire(report, {**where, "hardware": describe_machine()})
