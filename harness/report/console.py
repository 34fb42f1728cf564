"""The built-in console reporter: a line per item as it finishes, then the tables and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from harness import hookimpl
from harness.render import make_console, to_rich
from harness.tables import all_tables, human_seconds, summary_line

_STYLE = {"passed": "green", "skipped": "yellow", "error": "red"}
_console = None


def console():
    global _console
    if _console is None:
        _console = make_console()
    return _console


@hookimpl
def harness_collection_finished(session, items) -> None:
    out = console()
    seeds = ", ".join(map(str, session.seeds))
    deselected = f", {session.deselected} deselected" if session.deselected else ""
    out.rule("harness")
    out.print(f"collected {len(items)} items{deselected} (seeds {seeds}; profile {session.profile.name})")
    for name, data in session.data.items():
        if data.note:
            out.print(f"[bold yellow]Data ({escape(name)}): {escape(data.note)}[/]")
    if session.collect_only:
        for item in items:
            note = f"  [yellow](will skip: {escape(item.skip_reason)})[/]" if item.skip_reason else ""
            out.print(f"  {escape(item.name)}{note}")


@hookimpl
def harness_item_started(item) -> None:
    console().print(f"[dim]running[/] {escape(item.name)} ...")


@hookimpl
def harness_item_finished(report) -> None:
    outcome = report.outcome.upper()
    detail = f" ({report.reason})" if report.reason else f" in {human_seconds(report.seconds)}"
    if report.resumed:
        detail += " (finished earlier; read from the run directory)"
    console().print(f"{escape(report.item.name)} [{_STYLE[report.outcome]}]{outcome}[/]{escape(detail)}")


@hookimpl
def harness_run_finished(
    session, document: dict[str, Any], leaderboard_path: Path | None, exit_code: int, artifacts: list[Path]
) -> None:
    out = console()
    if session.collect_only:
        out.print(f"{len(session.items)} items collected")
        return
    if document["results"]:
        for table in all_tables(document):
            out.print()
            out.print(to_rich(table))
    errors = [r for r in session.reports if r.outcome == "error"]
    if errors or session.summary_errors:
        out.rule("errors", style="red")
        for report in errors:
            out.print(f"[red]{escape(report.item.name)}[/]")
            out.print(report.traceback, markup=False, highlight=False)
        for task, traceback in session.summary_errors.items():
            out.print(f"[red]summary of task {escape(task)}[/]")
            out.print(traceback, markup=False, highlight=False)
    out.print()
    out.print(f"[bold yellow]{document['run']['data_note']}[/]")
    if leaderboard_path is not None:
        out.print(f"leaderboard: {leaderboard_path}")
    for path in artifacts:
        out.print(f"  with {path}")
    seconds = (session.finished or session.started) - session.started
    style = "red" if exit_code else "green"
    out.rule(f"[{style}]{summary_line(session.counts(), seconds)}[/]", style=style)
