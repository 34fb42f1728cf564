"""The built-in console reporter: a line per item as it finishes, then the decision, the tables
and a summary. Skipped models are announced once per kind of reason, with the fix; their full
reasons are in the leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from harness import hookimpl
from harness.core.hardware import times_lines
from harness.report.render import fit_to_width, make_console
from harness.report.search import search_line, trial_line
from harness.report.skips import group_skips, reason_kind
from harness.report.tables import model_table, summary_line, task_tables
from harness.scoring.decision import BAND_MEANING, decision_from_document, metric_words, rule_words
from harness.tables import Table, human_seconds

REPORTS = ("full", "summary")

_STYLE = {"passed": "green", "skipped": "yellow", "error": "red"}
_console = None


def console():
    global _console
    if _console is None:
        _console = make_console()
    return _console


@hookimpl
def harness_addoption(parser) -> None:
    parser.add_argument(
        "--report",
        choices=REPORTS,
        default="full",
        help="full: every table (default); summary: the decision, the overall table and the summary line",
    )


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
    for name, plan in getattr(session, "curves", {}).items():
        sizes = ", ".join(
            f"{rows:,}" if size == str(rows) else f"{size} ({rows:,})" for size, rows in zip(plan.sizes, plan.rows)
        )
        out.print(
            f"learning curve of {escape(name)}: training rows {escape(sizes)} (nested, stratified subsets per seed)"
        )
    if session.collect_only:
        for item in items:
            note = f"  [yellow](will skip: {escape(item.skip_reason)})[/]" if item.skip_reason else ""
            out.print(f"  {escape(item.name)}{note}")
        return
    print_skips(out, [(item.model.name, item.skip_reason) for item in items if item.skip_reason])


def print_skips(out, skipped: list[tuple[str, str]]) -> None:
    """One line per kind of skip reason: the models, and the command that fixes it."""
    groups = group_skips(skipped)
    if groups:
        out.print(
            f"[yellow]{sum(len(g.models) for g in groups)} models will be skipped[/] (full reasons in the leaderboard):"
        )
    for group in groups:
        fix = f" [dim]→[/] {escape(group.fix)}" if group.fix else ""
        out.print(f"  [yellow]{escape(group.reason)}[/]: {escape(', '.join(group.models))}{fix}")


@hookimpl
def harness_item_started(item) -> None:
    console().print(f"[dim]running[/] {escape(item.name)} ...")


@hookimpl
def harness_item_finished(report) -> None:
    if report.outcome == "skipped" and report.item.skip_reason:
        return  # announced, grouped, when the grid was collected
    outcome = report.outcome.upper()
    detail = f" ({report.reason})" if report.reason else f" in {human_seconds(report.seconds)}"
    if report.resumed:
        detail += " (finished earlier; read from the run directory)"
    console().print(f"{escape(report.item.name)} [{_STYLE[report.outcome]}]{outcome}[/]{escape(detail)}")


@hookimpl
def harness_search_started(model: str, task: str, what: str) -> None:
    console().print(f"[dim]search[/] {escape(model)} on {escape(task)}: {escape(what)}")


@hookimpl
def harness_search_trial_finished(model: str, task: str, trial: dict[str, Any]) -> None:
    console().print(f"  {escape(model)} trial {trial['trial']}: {escape(trial_line(trial))}")


@hookimpl
def harness_search_finished(model: str, task: str, record: dict[str, Any]) -> None:
    console().print(f"{escape(model)} on {escape(task)}: {escape(search_line(record))}")


@hookimpl
def harness_run_finished(
    session,
    document: dict[str, Any],
    leaderboard_path: Path | None,
    exit_code: int,
    artifacts: list[Path],
    tables: list[Table] | None = None,
) -> None:
    out = console()
    if session.collect_only:
        out.print(f"{len(session.items)} items collected")
        return
    report = getattr(session.options, "report", "full")
    print_results(out, document, task_tables(document) if tables is None else tables, report)
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
    out.print(f"[bold yellow]{escape(document['run']['data_note'])}[/]")
    if leaderboard_path is not None:
        out.print(f"leaderboard: {leaderboard_path}")
    for path in artifacts:
        out.print(f"  with {path}")
    seconds = (session.finished or session.started) - session.started
    style = "red" if exit_code else "green"
    out.rule(f"[{style}]{summary_line(session.counts(), seconds)}[/]", style=style)


def print_results(out, document: dict[str, Any], tables: list[Table], report: str = "full") -> None:
    """The decision, then the models and every task's table (``full``) or the tasks' headline
    tables alone (``summary``), each fitted to the console's width."""
    if not document["results"]:
        return
    print_decision(out, document)
    tables = [model_table(document), *tables] if report == "full" else [t for t in tables if t.headline]
    for table in tables:
        if table is None:
            continue
        for part in fit_to_width(_for_console(table, document), out.width):
            out.print()
            out.print(part)
    out.print()
    for line in times_lines(document["run"]):  # the tables' times mean little without the machine
        out.print(line, markup=False, highlight=False)


def print_decision(out, document: dict[str, Any]) -> None:
    for task, summary in document.get("summaries", {}).items():
        decision = summary.get("decision") or decision_from_document(document, task)
        if decision and decision["test_sets"]:
            _print_decision(out, decision)


def _print_decision(out, decision: dict[str, Any]) -> None:
    metric = metric_words(decision)
    out.print()
    out.print(f"[bold]Decision[/] ({escape(metric)}; {escape(rule_words(decision))})")
    for row in decision["test_sets"]:
        style = "green" if row["recommended"] else "yellow"
        out.print(f"  [{style}]•[/] {escape(row['statement'])}")
    if decision.get("budget"):
        out.print(f"  [bold]•[/] {escape(decision['budget'])}")
    out.print(f"  [dim]{escape(BAND_MEANING[0].upper() + BAND_MEANING[1:])}.[/]")


def _for_console(table: Table, document: dict[str, Any]) -> Table:
    """The Models table with a short status (the grouped reasons were printed) and, when every
    model that ran shares one, the hardware in the caption rather than a column."""
    if table.title != "Models" or "Status" not in table.headers:
        return table
    status, hardware = table.headers.index("Status"), table.headers.index("Hardware")
    used = {row[hardware] for row in table.rows} - {"–"}
    rows = []
    for row in table.rows:
        cells = list(row)
        outcome, _, reason = cells[status].partition(": ")
        cells[status] = f"{outcome}: {reason_kind(reason)[1]}" if outcome == "skipped" else outcome
        rows.append(cells)
    headers, caption = list(table.headers), "full skip and error reasons in the leaderboard"
    if len(used) == 1:
        caption = f"ran on {used.pop()}; {caption}"
        headers.pop(hardware)
        for cells in rows:
            cells.pop(hardware)
    return Table(table.title, tuple(headers), tuple(tuple(cells) for cells in rows), caption)
