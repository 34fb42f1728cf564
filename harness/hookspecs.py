"""Every hook the harness calls, in one place.

Plugins implement hooks with ``@harness.hookimpl`` and may accept any subset of a hook's
keyword arguments. The core never calls these directly: it goes through
:class:`harness.core.hooks.Hooks`.

Built-in model families, tasks, the console reporter and the leaderboard writer implement
these hooks exactly as a third-party plugin would.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from harness.core.collect import Item
    from harness.core.reports import ItemReport, Session
    from harness.registry import ModelRegistry, TaskRegistry
    from harness.tables import Table

PROJECT = "harness"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Registration: called once, at start-up, before the command line is parsed.
# ---------------------------------------------------------------------------


@hookspec
def harness_addoption(parser: argparse.ArgumentParser) -> None:
    """Add options to ``harness run`` (e.g. the probe task's ``--probe-file``).

    Called once for the ``run`` sub-command's parser. Option values reach tasks as
    :attr:`harness.task.LoadRequest.options`.
    """


@hookspec
def harness_add_models(register: ModelRegistry) -> None:
    """Register model specs with ``register.add(ModelSpec(...))``.

    Called once per plugin. A name registered twice fails, naming both plugins.
    """


@hookspec
def harness_add_tasks(register: TaskRegistry) -> None:
    """Register task specs with ``register.add(TaskSpec(...))``. Called once per plugin."""


# ---------------------------------------------------------------------------
# Running: called by the runner as the grid of items is collected and run.
# ---------------------------------------------------------------------------


@hookspec
def harness_collection_finished(session: Session, items: list[Item]) -> None:
    """Called after the grid (model x task x seed) is collected and filtered by -k / -m."""


@hookspec
def harness_item_started(item: Item) -> None:
    """Called just before an item runs (not for items skipped before running)."""


@hookspec
def harness_item_finished(report: ItemReport) -> None:
    """Called after each item with its outcome: passed, skipped (with reason) or error."""


@hookspec
def harness_search_started(model: str, task: str, what: str) -> None:
    """Called as ``--tune`` starts (or resumes, or reads back) the search of ``model`` on ``task``;
    ``what`` says what it searches, in a few words."""


@hookspec
def harness_search_trial_finished(model: str, task: str, trial: dict[str, Any]) -> None:
    """Called after each trial of a search: ``trial`` is its record (configuration, eval score per
    epoch, status, time), as the leaderboard's ``search`` section holds it."""


@hookspec
def harness_search_finished(model: str, task: str, record: dict[str, Any]) -> None:
    """Called once per (model, training task) when ``--tune`` has chosen its recipe, or said why
    it ran untuned: ``record`` as the leaderboard's ``search`` section holds it."""


# ---------------------------------------------------------------------------
# Reporting: called once at the end of a run.
# ---------------------------------------------------------------------------


@hookspec
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """Return this plugin's tables for a leaderboard document: a task's own output.

    Called for every plugin whenever results are shown (the console at the end of a run,
    ``harness show``, the HTML page), with a validated document that may come from another
    machine or an older run: return ``[]`` when the document holds nothing of yours. Tables are
    shown in plugin registration order; mark a task's main result table ``headline=True`` for
    ``--report summary``.
    """


@hookspec(firstresult=True)
def harness_write_leaderboard(document: dict[str, Any], out_dir: Path) -> Path | None:
    """Write the (already schema-validated) leaderboard document; return where it went.

    Stops at the first plugin that returns a path.
    """


@hookspec
def harness_write_artifacts(document: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write files that go with the leaderboard (plots, say) into ``out_dir``; return their paths.

    Called for every plugin after the leaderboard is written, with the same (validated)
    document. Each file must be written whole or not at all. The paths of every plugin
    reach :func:`harness_run_finished` as ``artifacts``.
    """


@hookspec
def harness_run_finished(
    session: Session,
    document: dict[str, Any],
    leaderboard_path: Path | None,
    exit_code: int,
    artifacts: list[Path],
    tables: list[Table],
) -> None:
    """Called last: reporters print result tables and the summary line here.

    ``tables`` is what every plugin's :func:`harness_tables` returned for ``document``.
    """
