"""How the fit groups of a run are executed: ``local`` (one after another in this process, the
default: :class:`harness.core.runner.LocalExecutor`) or ``ray`` (as Ray tasks across the GPUs of a
node and across nodes: :mod:`harness.core.executors.ray_cluster`, run by
:mod:`harness.core.executors.worker` in each Ray worker). Ray is imported only by the code that
runs on it, so ``harness --help`` and ``harness list`` never load it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.core.runner import Executor

EXECUTORS = ("local", "ray")


def make_executor(options: argparse.Namespace) -> Executor:
    """The executor ``--executor`` names, checked before anything runs (a usage error otherwise)."""
    name = getattr(options, "executor", "local")
    address = getattr(options, "ray_address", None)
    if name == "local":
        tuning = getattr(options, "tune", None) is not None or getattr(options, "tune_time", None) is not None
        if address is not None and not tuning:
            raise UsageError("--ray-address is for --executor ray or --tune")
        check_ray_address(options)
        from harness.core.runner import LocalExecutor

        return LocalExecutor()
    from harness.core.executors.ray_cluster import RayExecutor

    return RayExecutor(address)


def check_ray_address(options: argparse.Namespace) -> None:
    """``--ray-address`` for the search of ``--executor local --tune``: its shape and that a cluster
    answers there, before anything runs (the executor checks its own)."""
    address = getattr(options, "ray_address", None)
    if address is not None and getattr(options, "executor", "local") == "local":
        from harness.core.executors.ray_cluster import check_address, reachable

        reachable(check_address(address))
