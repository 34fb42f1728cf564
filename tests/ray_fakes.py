"""Fake models for the Ray executor's tests. Their fits run in Ray worker processes, so they talk
to the test through files in ``$HARNESS_TEST_DIR`` (Ray passes ``HARNESS_*`` variables on).

* ``gpu-a``, ``gpu-b``: with ``HARNESS_TEST_BARRIER`` set, each fit waits until the other model's
  fit has started too, so the run passes only if the two groups run side by side. Each records the
  device it was given and the ``CUDA_VISIBLE_DEVICES`` Ray set in its fit details.
* ``killed-once``, ``killed-twice``: the fit kills its own worker process (SIGKILL, as the kernel's
  OOM killer would) on its first attempt, or on its first two.
* ``killed-in-probe``: fits fine, but its classifier kills the worker while the probe is scored
  (the first time only), once the driver has saved the group's indications item
  (``$HARNESS_TEST_ITEMS``): items stream back one by one, before their group ends.
* ``tamper``: a hook that rewrites a data file (``$HARNESS_TEST_TAMPER``) after the driver read
  it, as if a worker's node had another copy; the same for the config (``$HARNESS_TEST_TAMPER_CONFIG``:
  lookup's recipe gets ``epochs = 7``) and for a weights file (``$HARNESS_TEST_TAMPER_WEIGHTS``: its
  last bytes change, its size does not), the weights once the driver has fingerprinted them.
* ``weighted``: the lookup fake with a hub id, so it looks for weights (``[models.weighted] weights``).
* ``HARNESS_TEST_INTERRUPT_AFTER=N``: Ctrl-C (KeyboardInterrupt) in the driver once N items of
  this run have finished (read back from the run directory ones not counted).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from harness import ModelSpec, hookimpl

from . import fakes
from .conftest import DEADLINE_SECONDS

_finished_here = 0


def _folder() -> Path:
    return Path(os.environ["HARNESS_TEST_DIR"])


def _details(classifier, request):
    classifier.details.update(device=request.device, cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))
    return classifier


def _barrier(request, other: str) -> None:
    (_folder() / f"started-{request.spec.name}-{request.seed}").write_text("fitting")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (_folder() / f"started-{other}-{request.seed}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{other} never ran beside {request.spec.name}")
        time.sleep(0.05)


def fit_gpu_a(request):
    if os.environ.get("HARNESS_TEST_BARRIER"):
        _barrier(request, "gpu-b")
    return _details(fakes.fit_lookup(request), request)


def fit_gpu_b(request):
    if os.environ.get("HARNESS_TEST_BARRIER"):
        _barrier(request, "gpu-a")
    return _details(fakes.fit_lookup(request), request)


def _attempt(name: str) -> int:
    """Which attempt this is (1, 2, ...), counted by files that only one process can create."""
    number = 1
    while True:
        try:
            (_folder() / f"{name}-attempt-{number}").open("x").close()
            return number
        except FileExistsError:
            number += 1


def _killing(kills: int):
    def fit(request):
        if _attempt(request.spec.name) <= kills:
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(30)  # never reached: the process is gone
        return fakes.fit_lookup(request)

    return fit


def _wait_until_saved(name: str) -> None:
    """Until the driver has saved item ``name`` in the run directory ($HARNESS_TEST_ITEMS)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        for path in Path(os.environ["HARNESS_TEST_ITEMS"]).glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                if json.loads(path.read_text(encoding="utf-8"))["name"] == name:
                    return
        time.sleep(0.05)
    raise RuntimeError(f"{name} never reached the run directory while its group ran")


@dataclass
class ProbeKiller(fakes.Lookup):
    def predict_scores(self, texts):
        if "sespis" in texts and _attempt("killed-in-probe-scoring") == 1:  # a probe case's typo
            _wait_until_saved("indications[killed-in-probe-seed42]")  # the driver has it: it streamed back
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(30)
        return super().predict_scores(texts)


def fit_probe_killer(request):
    _attempt("killed-in-probe-fit")
    lookup = fakes.fit_lookup(request)
    return ProbeKiller(lookup.table, lookup.width, details=lookup.details)


@hookimpl
def harness_add_models(register) -> None:
    register.add(ModelSpec("gpu-a", "fake", "memorise", fit_gpu_a, markers=("fake",)))
    register.add(ModelSpec("gpu-b", "fake", "memorise", fit_gpu_b, markers=("fake",)))
    register.add(ModelSpec("killed-once", "fake", "memorise", _killing(1), markers=("fake",)))
    register.add(ModelSpec("killed-twice", "fake", "memorise", _killing(2), markers=("fake",)))
    register.add(ModelSpec("killed-in-probe", "fake", "memorise", fit_probe_killer, markers=("fake",)))
    register.add(ModelSpec("weighted", "fake", "memorise", fakes.fit_lookup, hub_id="test/weighted", markers=("fake",)))


@hookimpl
def harness_collection_finished(session, items) -> None:
    global _finished_here
    _finished_here = 0
    tampered = os.environ.get("HARNESS_TEST_TAMPER")
    if tampered:  # after the driver read and hashed it, before any worker reads it
        path = Path(tampered)
        path.write_text(path.read_text(encoding="utf-8") + "urosepsis," + ",".join(["1"] + ["0"] * 11) + "\n")
    config = os.environ.get("HARNESS_TEST_TAMPER_CONFIG")
    if config:  # after the driver loaded it, before any worker loads it
        path = Path(config)
        path.write_text(path.read_text(encoding="utf-8") + "\n[models.lookup]\nrecipe = { epochs = 7 }\n")


@hookimpl
def harness_item_started(item) -> None:
    weights = os.environ.get("HARNESS_TEST_TAMPER_WEIGHTS")
    if weights and not (_folder() / "weights-tampered").exists():  # after the driver fingerprinted them
        (_folder() / "weights-tampered").write_text("once")
        path = Path(weights)
        data = bytearray(path.read_bytes())
        data[-4:] = bytes(255 - b for b in data[-4:])
        path.write_bytes(bytes(data))


@hookimpl
def harness_item_finished(report) -> None:
    global _finished_here
    limit = os.environ.get("HARNESS_TEST_INTERRUPT_AFTER")
    if report.resumed or report.outcome == "skipped" or not limit:
        return
    _finished_here += 1
    if _finished_here >= int(limit):
        raise KeyboardInterrupt
