"""The Ray executor (``harness run --executor ray``): each fit group is one Ray task.

A fit group is one (model, training task, seed) fit, or a learning curve's subset fit, and every
item scored on it. Each group asks Ray for what its model needs: ``[models.NAME] resources = { gpus = .., cpus = .. }`` where the
config says so; else one CPU, and one GPU for a model that requires CUDA, or that runs on torch
when the cluster has GPUs; none for classical baselines. More than one GPU is a placement group
of one bundle on one node. Ray sets ``CUDA_VISIBLE_DEVICES`` for each task, so a fit sees the GPUs
it was given as ``cuda``; the leaderboard records per item the node and the GPU ids.

Each item's report streams back as soon as its worker has scored it (a Ray streaming generator)
and goes to the same :class:`~harness.core.runner.Recorder` as the local executor's: the run
directory's store (so either executor resumes the other's run), the console. A group whose worker
dies (node lost, process killed for memory) runs once more for the items it had not sent back;
lost again, those items are errors with the reason. Ctrl-C cancels what is still outstanding: the
driver waits on Ray in short polls and remembers a Ctrl-C itself (:class:`CtrlC`), so it stops
within a poll even when the KeyboardInterrupt does not make it back through Ray's C++ core.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from harness.core.collect import Item
from harness.core.executors.worker import (
    GroupJob,
    WorkerSetup,
    canonical_provenance,
    harness_origin,
    recipe_and_weights,
    run_group,
)
from harness.core.reports import ItemReport, Session
from harness.core.runner import Recorder, error_report, skipped_report
from harness.errors import UsageError, warn
from harness.progress import ProgressFactory

INSTALL = "pip install 'clinical-harness[ray]'"
# The object store holds only reports and retained predictions: the data travels by path.
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20
# Environment a worker needs to rebuild the run as the driver built it.
# Where the Hugging Face cache is and that it stays offline; never a token (nothing is downloaded).
_ENV_PREFIXES = ("HARNESS_",)
_ENV_NAMES = ("HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
# How long one wait on Ray lasts before the driver looks for a Ctrl-C of its own (CtrlC).
POLL_SECONDS = 0.5


def ray_module():
    """``ray``, or a usage error with the install line."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_address(address: str | None) -> str | None:
    """``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` (Ray Client); None starts a local cluster."""
    if address is None or address == "auto":
        return address
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--ray-address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    return address


def reachable(address: str, seconds: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nothing listens at: Ray itself would retry for minutes."""
    if address == "auto":
        return  # Ray looks for a cluster on this machine and says at once if there is none
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=seconds).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UsageError(
            f"--ray-address {address}: no Ray cluster answers there ({reason}); start one with `ray start --head`"
        ) from None


def start_ray(ray: Any, address: str | None, env: Mapping[str, str] | None, what: str) -> bool:
    """Start a local Ray cluster (no address) or join ``address``; return whether we did (and so
    shut it down with :func:`stop_ray`), False when the caller runs Ray already (embedding, tests).
    ``env``: variables every worker of this job gets (a search's trials: they are Tune's actors,
    not our tasks)."""
    if ray.is_initialized():
        return False
    settings: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if address is None:  # a new cluster on this machine, even where `ray start` runs one
        settings.update(address="local", object_store_memory=LOCAL_OBJECT_STORE_BYTES)
        # Ray starts its workers at niceness 15: beside other work on the machine a fit (or a search
        # trial) then gets a fraction of the CPU time that the local executor's would (measured: a
        # trial at 10% CPU next to processes at 25%). The workers of our own cluster run as we do.
        os.environ.setdefault("RAY_worker_niceness", "0")
    else:
        settings["address"] = address
    if env:
        settings["runtime_env"] = {"env_vars": dict(env)}
    # Ray puts the driver's working directory first on every worker's sys.path: a folder named
    # `harness` there (another checkout) would be what workers import. So Ray is joined from an
    # empty folder of our own; workers find the harness as the driver did (worker_environment)
    # and then change into the driver's directory for its relative paths.
    folder, here = tempfile.mkdtemp(prefix="harness-ray-"), os.getcwd()
    try:
        os.chdir(folder)
        ray.init(**settings)
    except Exception as err:  # ConnectionError, RuntimeError, or Ray's bare Exception on a start-up timeout
        shutil.rmtree(folder, ignore_errors=True)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if address is None:
            raise UsageError(f"{what}: cannot start a Ray cluster on this machine ({first})") from None
        raise UsageError(f"--ray-address {address}: cannot join a Ray cluster there ({first})") from None
    finally:
        os.chdir(here)
    _INIT_FOLDERS.append(folder)  # kept while Ray runs: its processes started in it
    return True


def stop_ray(ray: Any) -> None:
    """Shut down the Ray that :func:`start_ray` started, and remove the folders it started in."""
    if ray.is_initialized():
        ray.shutdown()
    while _INIT_FOLDERS:
        shutil.rmtree(_INIT_FOLDERS.pop(), ignore_errors=True)


_INIT_FOLDERS: list[str] = []


@dataclass(frozen=True)
class Resources:
    cpus: float
    gpus: float

    def as_options(self) -> dict[str, float]:
        return {"num_cpus": self.cpus, "num_gpus": self.gpus}


def resources_for(model: Any, table: Mapping[str, float], requested_device: str, cluster_gpus: float) -> Resources:
    """What one fit of ``model`` asks of the cluster; ``table`` is its config's ``resources``: one
    CPU, and one GPU for a model that requires CUDA, or runs on torch where there are GPUs (or
    ``--device cuda`` asks for one); none with ``--device cpu``."""
    cpus = float(table.get("cpus", 1))
    if "gpus" in table:
        gpus = float(table["gpus"])
    elif requested_device == "cpu":
        gpus = 0.0
    elif model.requires_cuda:
        gpus = 1.0
    elif "torch" in model.needs and (cluster_gpus > 0 or requested_device.startswith("cuda")):
        gpus = 1.0  # --device cuda on a cluster without GPUs: an error that says so, not a CPU run
    else:
        gpus = 0.0
    return Resources(cpus, gpus)


def group_device(resources: Resources, requested_device: str) -> str:
    """Where the group's fit runs: Ray chooses the GPU, which the fit then sees as ``cuda``."""
    if requested_device == "cpu" or resources.gpus == 0:
        return "cpu"
    return "cuda"


@dataclass(frozen=True)
class FitGroup:
    key: tuple[str, str, int, int | None]  # (model, training task, seed, learning-curve subset rows)
    items: tuple[Item, ...]

    @property
    def label(self) -> str:
        model, task, seed, rows = self.key
        return f"{model} on {task}, seed {seed}" + ("" if rows is None else f", {rows} training rows")


def fit_groups(items: list[Item]) -> list[FitGroup]:
    """The items that share a fit, in collection order."""
    grouped: dict[tuple[str, str, int, int | None], list[Item]] = {}
    for item in items:
        grouped.setdefault(item.fit_key, []).append(item)
    return [FitGroup(key, tuple(members)) for key, members in grouped.items()]


def caller_plugins(pm: Any) -> dict[str, object]:
    """The plugins the caller of ``harness.cli.main`` added (tests, embedding): a worker registers
    them again (modules travel by name; built-ins and entry points are found as the driver found them)."""
    return {
        name: pm.get_plugin(name)
        for name, origin in pm.origins.items()
        if origin == "registered by the caller" and pm.get_plugin(name) is not None
    }


def worker_environment() -> dict[str, str]:
    """The harness's variables, the Hugging Face cache's place and offline switches, and the
    driver's own import paths (its checkout, a plugin's folder; its working directory where its
    ``sys.path`` holds ``''``, as under ``python -m``): site-packages and the standard library stay
    each node's own."""
    env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES}
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = [p or os.getcwd() for p in sys.path]
    own = [p for p in paths if not any(os.path.realpath(p).startswith(prefix) for prefix in prefixes)]
    inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(p for p in dict.fromkeys([*own, *inherited]) if p)  # in order, once each
    return env


class CtrlC:
    """A Ctrl-C (SIGINT) during the run, remembered outside Ray.

    Ray runs Python's signal handlers from inside its waits (about once a second) and hands a
    KeyboardInterrupt back through its C++ core as a status; where that status is dropped, the
    interrupt is gone and the driver would wait on until the running fits end, however long. So
    while the run waits on Ray, SIGINT also sets :attr:`seen`, and the driver waits in polls of
    ``POLL_SECONDS`` and calls :meth:`check` after each. Installed only on the main thread (Python's
    rule for signal handlers) and only over Python's default handler (an embedding application's
    own handler is left alone)."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def check(self) -> None:
        """Raise KeyboardInterrupt if a Ctrl-C came, wherever its own exception went."""
        if self.seen:
            raise KeyboardInterrupt


@dataclass
class _Submitted:
    group: FitGroup
    items: tuple[Item, ...]  # those not yet recorded (not finished earlier, not yet streamed back)
    job: GroupJob
    resources: Resources
    placement_group: Any = None


class RayExecutor:
    """Fit groups as Ray tasks on a local cluster (no address) or a running one (``auto``, HOST:PORT)."""

    def __init__(self, address: str | None = None) -> None:
        self.ray = ray_module()
        self.address = check_address(address)
        if self.address is not None:
            reachable(self.address)  # before the data is read: a wrong address is one line, at once
        self.owned = False  # we started (or joined) Ray, so we shut it down

    def start(self) -> None:
        self.owned = start_ray(self.ray, self.address, worker_environment(), "--executor ray")

    def close(self) -> None:
        if self.owned:
            stop_ray(self.ray)
        self.owned = False

    # -- running ------------------------------------------------------------------------------
    def run(self, session: Session, recorder: Recorder, progress: ProgressFactory) -> None:
        ray = self.ray
        requested = getattr(session.options, "device", "auto")
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        most_gpus = max((node.get("GPU", 0.0) for node in nodes), default=0.0)
        most_cpus = max((node.get("CPU", 0.0) for node in nodes), default=0.0)
        setup = WorkerSetup(
            run_id=uuid.uuid4().hex,
            options=session.options,
            plugins=caller_plugins(recorder.hooks.pm),
            model_names=tuple(dict.fromkeys(item.model.name for item in session.items)),
            task_names=tuple(session.data),
            cwd=os.getcwd(),
            tuned={key: dict(chosen) for key, chosen in session.tuned.items()},
            harness=harness_origin(),
        )
        setup_ref = ray.put(setup)
        remote = ray.remote(run_group)
        env = worker_environment()
        pending: dict[Any, _Submitted] = {}
        devices: set[str] = set()

        def submit(entry: _Submitted) -> None:
            ctrl_c.check()
            options: dict[str, Any] = {**entry.resources.as_options(), "max_retries": 0, "num_returns": "streaming"}
            options["runtime_env"] = {"env_vars": env}
            if entry.resources.gpus > 1:  # several GPUs for one fit: one bundle, on one node
                from ray.util.placement_group import placement_group
                from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

                bundle = {k: v for k, v in {"CPU": entry.resources.cpus, "GPU": entry.resources.gpus}.items() if v}
                entry.placement_group = entry.placement_group or placement_group([bundle], strategy="STRICT_PACK")
                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(entry.placement_group, 0)
            pending[remote.options(**options).remote(setup_ref, entry.job)] = entry  # a stream of item reports

        try:
            with CtrlC() as ctrl_c:
                self._submit_all(session, recorder, submit, devices, (most_gpus, most_cpus), requested)
                session.device = "+".join(sorted(devices)) or session.device
                self._collect(pending, submit, recorder, ctrl_c)
        except KeyboardInterrupt:  # keep what finished; cancel the rest (their workers stop)
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            for entry in pending.values():
                self._done(entry)

    def _submit_all(
        self,
        session: Session,
        recorder: Recorder,
        submit: Callable[[_Submitted], None],
        devices: set[str],
        largest: tuple[float, float],
        requested: str,
    ) -> None:
        """Record skipped and earlier-finished items; hand every other group to Ray."""
        most_gpus, most_cpus = largest
        for group in fit_groups(session.items):
            model = group.items[0].model
            resources = resources_for(model, session.config.resources_for(model.name), requested, most_gpus)
            device = group_device(resources, requested)
            todo = []
            for item in group.items:
                stored = None if item.skip_reason else recorder.stored(item, device)
                if item.skip_reason or stored is not None:
                    recorder.finished(stored or skipped_report(item))
                else:
                    todo.append(item)
            if not todo:
                continue
            devices.add(device)
            if resources.gpus > most_gpus or resources.cpus > most_cpus:
                reason = (
                    f"needs {resources.gpus:g} GPU(s) and {resources.cpus:g} CPU(s) on one node; the largest node "
                    f"of the Ray cluster has {most_gpus:g} GPU(s) and {most_cpus:g} CPU(s) "
                    "(resources in [models.NAME] of the config)"
                )
                for item in todo:
                    recorder.finished(error_report(item, reason))
                continue
            tasks = {group.key[1], *(item.task.name for item in todo)}
            recipe, weights = recipe_and_weights(session, model, group.key[1], device)
            job = GroupJob(
                model=model.name,
                fits_on=group.key[1],
                seed=group.key[2],
                tasks=tuple(item.task.name for item in todo),
                train_rows=group.key[3],
                device=device,
                provenance={task: canonical_provenance(session.data[task].provenance) for task in sorted(tasks)},
                recipe=recipe,
                weights=weights,
            )
            for item in todo:
                recorder.started(item)
            submit(_Submitted(group, tuple(todo), job, resources))

    def _collect(
        self,
        pending: dict[Any, _Submitted],
        submit: Callable[[_Submitted], None],
        recorder: Recorder,
        ctrl_c: CtrlC,
    ) -> None:
        """Record each item as its group yields it; run a group's items still to come once more if
        its worker was lost. Waits in polls, so that a Ctrl-C stops it within one (``ctrl_c``)."""
        ray = self.ray
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            ctrl_c.check()
            if not ready:
                continue
            stream = ready[0]
            entry = pending[stream]
            try:
                wire = ray.get(next(stream))
            except StopIteration:  # the group is done
                self._done(pending.pop(stream))
                continue
            except ray.exceptions.RayTaskError as err:  # the harness's own code failed in the worker
                reason = f"the Ray worker failed: {type(err.cause).__name__}: {err.cause}"
                self._fail(pending.pop(stream), recorder, reason)
                continue
            except ray.exceptions.RayError as err:  # the worker or its node was lost
                pending.pop(stream)
                lost = f"{type(err).__name__}: {_first_line(err)}"
                if entry.job.attempt > 1:
                    self._fail(
                        entry, recorder, f"the Ray worker running this fit group was lost twice (retried once): {lost}"
                    )
                    continue
                warn(f"fit group {entry.group.label}", f"its Ray worker was lost ({lost}); running it once more")
                job = replace(entry.job, tasks=tuple(item.task.name for item in entry.items), attempt=2)
                submit(_Submitted(entry.group, entry.items, job, entry.resources, entry.placement_group))
                continue
            item = next(item for item in entry.items if item.task.name == wire["task"])
            entry.items = tuple(other for other in entry.items if other is not item)  # those still to come
            report = as_report(item, wire)
            recorder.save(report, entry.job.device)
            recorder.finished(report)

    def _fail(self, entry: _Submitted, recorder: Recorder, reason: str) -> None:
        """The group's items still to come, as errors with ``reason``."""
        self._done(entry)
        for item in entry.items:
            recorder.finished(error_report(item, reason))

    @staticmethod
    def _done(entry: _Submitted) -> None:
        if entry.placement_group is not None:
            from ray.util.placement_group import remove_placement_group

            remove_placement_group(entry.placement_group)
            entry.placement_group = None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "no message"


def as_report(item: Item, wire: Mapping[str, Any]) -> ItemReport:
    """A worker's plain report as a report of the driver's own item."""
    if wire["outcome"] == "error" and "model_info" not in wire:
        return error_report(item, wire["reason"], wire.get("traceback"), placement=wire.get("placement"))
    return ItemReport(
        item,
        wire["outcome"],
        wire["reason"],
        wire["seconds"],
        wire["fields"],
        wire["model_info"],
        wire["cost"],
        wire["fit_details"],
        wire["traceback"],
        retained=wire["retained"],
        placement=wire["placement"],
        rows=wire.get("rows"),
    )
