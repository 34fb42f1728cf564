"""A finished session as the leaderboard document (:mod:`harness.leaderboard` is its format)."""

from __future__ import annotations

import platform
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

from harness.core.hardware import describe_machine, distinct
from harness.core.reports import ItemReport, Session
from harness.core.search.record import search_section
from harness.leaderboard import REAL_NOTE, SCHEMA_VERSION, SYNTHETIC_NOTE, package_version


@cache
def git_commit() -> str | None:
    """The harness checkout's commit, if it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _item(report: ItemReport) -> dict[str, Any]:
    item = report.item
    entry: dict[str, Any] = {
        "name": item.name,
        "model": item.model.name,
        "task": item.task.name,
        "seed": item.seed,
        **({} if item.train_rows is None else {"train_rows": item.train_rows}),
        "status": report.outcome,
        "reason": report.reason,
        "duration_seconds": round(report.seconds, 3),
        "model_info": dict(report.model_info),
    }
    if report.cost:
        entry["cost"] = dict(report.cost)
    if report.fit_details:
        entry["fit_details"] = dict(report.fit_details)
    if report.traceback:
        entry["traceback"] = report.traceback
    if report.placement:
        entry["placement"] = dict(report.placement)
    entry.update(report.fields)
    return entry


def data_note(session: Session, synthetic: bool) -> str:
    """Each task's note on its data (synthetic, silver...), or the general one."""
    notes = list(dict.fromkeys(task_data.note for task_data in session.data.values() if task_data.note))
    if notes:
        return " ".join(notes)
    return SYNTHETIC_NOTE if synthetic else REAL_NOTE


def machines(session: Session) -> list[dict[str, Any]]:
    """The machines the items' times come from, each once: this one for the items that ran here
    (or were read back from a local run), each Ray node's for the items that ran there."""
    placed = [r.placement for r in session.reports if r.placement and r.placement.get("hardware")]
    ran_here = len(placed) < len(session.reports) or not session.reports
    entries = [describe_machine()] if ran_here else []
    entries += [{"node": p["node"], "node_id": p["node_id"], **p["hardware"]} for p in placed]
    return distinct(entries)


def build_document(session: Session) -> dict[str, Any]:
    from harness import __version__

    data = {name: [dict(p) for p in task_data.provenance] for name, task_data in session.data.items()}
    synthetic = any(p.get("synthetic", False) for provenance in data.values() for p in provenance)
    finished = session.finished or time.time()
    options = session.options
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "harness_version": __version__,
            "git_commit": git_commit(),
            "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.started)),
            "python": platform.python_version(),
            "torch": package_version("torch"),
            "transformers": package_version("transformers"),
            "device": session.device,
            "seeds": list(session.seeds),
            "profile": session.profile.name,
            "config_sha256": session.config.sha256,
            "command": {
                "models": options.models,
                "tasks": options.tasks,
                "keyword": options.keyword,
                "markers": options.markers,
            },
            "synthetic_data": synthetic,
            "data_note": data_note(session, synthetic),
            "data": data,
            "summary": session.counts(),
            "duration_seconds": round(finished - session.started, 3),
            "hardware": machines(session),
        },
        "results": [_item(report) for report in session.reports],
        "summaries": {
            **session.summaries,
            **{task: {"error": traceback} for task, traceback in session.summary_errors.items()},
        },
    }
    if session.config.min_cell_count:  # [privacy]: the page and publish blank counts below it
        document["run"]["privacy"] = {"min_cell_count": session.config.min_cell_count}
    search = search_section(session)
    if search is not None:
        document["search"] = search
    return document
