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
        if address is not None:
            raise UsageError("--ray-address is for --executor ray")
        from harness.core.runner import LocalExecutor

        return LocalExecutor()
    from harness.core.executors.ray_cluster import RayExecutor

    return RayExecutor(address)
