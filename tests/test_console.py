"""The console of the main command, replayed from its committed leaderboard at 100 columns."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from rich.table import Table as RichTable

from harness.report import console as reporter

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "leaderboards" / "synthetic-cpu-default.json"
BOX = "┃│"


def _document() -> dict:
    return json.loads(MAIN.read_text(encoding="utf-8"))


def replay(document: dict, monkeypatch, *, width: int = 100, report: str = "full", show_lines: bool = False) -> str:
    """What ``harness run`` prints for the run that wrote ``document``, through the reporter's hooks.

    ``show_lines`` draws a rule between table rows, so each cell's lines can be counted from the
    text (it changes no column width)."""
    out = Console(width=width, record=True, highlight=False, force_terminal=False)
    if show_lines:
        plain_print = out.print

        def print_with_row_rules(*objects, **kwargs):
            for thing in objects:
                if isinstance(thing, RichTable):
                    thing.show_lines = True
            plain_print(*objects, **kwargs)

        out.print = print_with_row_rules  # type: ignore[method-assign]
    monkeypatch.setattr(reporter, "_console", out)
    run = document["run"]
    items, reports = [], []
    for entry in document["results"]:
        skipped = entry["status"] == "skipped"
        item = SimpleNamespace(
            name=entry["name"],
            skip_reason=entry["reason"] if skipped else None,
            model=SimpleNamespace(name=entry["model"]),
        )
        items.append(item)
        reports.append(
            SimpleNamespace(
                item=item,
                outcome=entry["status"],
                reason=entry["reason"],
                seconds=entry["duration_seconds"],
                resumed=False,
                traceback=None,
            )
        )
    session = SimpleNamespace(
        seeds=run["seeds"],
        deselected=0,
        profile=SimpleNamespace(name=run["profile"]),
        collect_only=False,
        data={"indications": SimpleNamespace(note=run["data_note"])},
        items=items,
        reports=reports,
        summary_errors={},
        started=0.0,
        finished=run["duration_seconds"],
        counts=lambda: run["summary"],
        options=argparse.Namespace(report=report),
    )
    reporter.harness_collection_finished(session=session, items=items)
    for report_ in reports:
        if report_.item.skip_reason is None:
            reporter.harness_item_started(item=report_.item)
        reporter.harness_item_finished(report=report_)
    reporter.harness_run_finished(
        session=session, document=document, leaderboard_path=Path("runs/x/leaderboard.json"), exit_code=0, artifacts=[]
    )
    return out.export_text()


def cell_heights(text: str) -> list[tuple[str, int, int]]:
    """(table title, column, lines) for every cell of every boxed table in ``text``, rows ruled."""
    lines, cells, title = text.splitlines(), [], ""
    for number, line in enumerate(lines):
        if not line.lstrip().startswith("┏"):
            if line.strip() and line.lstrip()[0] not in "┃│┡├└┗┏━─":
                title = line.strip()
            continue
        edges = [i for i, ch in enumerate(line) if ch in "┏┳┓"]
        segment: list[str] = []
        for row in lines[number + 1 :]:
            if row[edges[0] : edges[0] + 1] in ("┡", "├", "└", "┗", "╇", ""):
                for column, (left, right) in enumerate(zip(edges, edges[1:])):
                    filled = [i for i, seg in enumerate(segment) if seg[left + 1 : right].strip()]
                    cells.append((title, column, filled[-1] + 1 if filled else 0))
                segment = []
                if row[edges[0] : edges[0] + 1] in ("└", "┗", ""):
                    break
                continue
            assert row[edges[0]] in BOX, row
            segment.append(row)
    return cells


def test_no_table_cell_wraps_onto_more_than_two_lines_at_100_columns(monkeypatch):
    text = replay(_document(), monkeypatch, show_lines=True)
    cells = cell_heights(text)
    assert len(cells) > 200  # the parser found the tables
    tall = sorted({(title, lines) for title, _, lines in cells if lines > 2}, key=lambda c: -c[1])
    assert tall == [], f"cells over two lines (table, lines): {tall[:8]}"


def test_the_parser_sees_a_wrapped_cell():
    out = Console(width=40, record=True)
    table = RichTable(title="T", show_lines=True)
    table.add_column("a")
    table.add_column("b")
    table.add_row("x", "one two three four five six seven eight nine ten eleven twelve")
    out.print(table)
    assert max(lines for _, _, lines in cell_heights(out.export_text())) > 2


def test_skipped_models_are_one_line_per_reason_with_the_fix(monkeypatch):
    text = replay(_document(), monkeypatch)
    flowing = " ".join(text.split())  # a long line wraps on the terminal: read it as one
    assert flowing.count("weights not found locally") == 1
    weights = flowing[flowing.index("weights not found locally") : flowing.index("→ harness fetch NAME... --to DIR")]
    for model in ("bio-clinicalbert", "bioclinical-modernbert-large", "biomedbert-base", "canine-s", "byt5-small"):
        assert model in weights
    cuda = flowing[flowing.index("needs a CUDA GPU") : flowing.index("→ run on a machine with a CUDA GPU")]
    assert "medgemma-4b-lora" in cuda and "llama-3-8b-qlora" in cuda and "bert" not in cuda
    assert flowing.count("missing optional dependency sentencepiece") == 1
    assert "pip install 'clinical-harness[transformers]'" in flowing
    assert flowing.count("SKIPPED") == 0 and f"{_document()['run']['summary']['skipped']} skipped" in flowing
    assert "/root/.cache" not in text  # the full reasons stay in the leaderboard


def _statements(document: dict) -> list[str]:
    """The stored decision's statements, as the document has them (a re-run changes them)."""
    return [row["statement"] for row in document["summaries"]["indications"]["decision"]["test_sets"]]


def _flowing(text: str) -> str:
    return " ".join(text.split())  # a long line wraps on the terminal: read it as one


def test_the_decision_comes_before_the_tables(monkeypatch):
    document = _document()
    text = _flowing(replay(document, monkeypatch))
    decision = min(text.index(statement) for statement in _statements(document))
    assert decision < text.index("Overall results") and decision < text.index("Models")
    assert "Decision (weighted F1; among the models no model is significantly better than, the cheapest" in text
    assert "A band holds models no band boundary separates" in text


def test_report_summary_prints_the_decision_the_overall_table_and_the_summary_line(monkeypatch):
    full = replay(_document(), monkeypatch)
    summary = replay(_document(), monkeypatch, report="summary")
    assert all(statement in _flowing(summary) for statement in _statements(_document()))
    assert "Overall results (weighted F1)" in summary
    counts = _document()["run"]["summary"]
    assert f"{counts['passed']} passed, {counts['skipped']} skipped" in summary.strip().splitlines()[-1]
    for absent in ("Per-class F1", "Probe: variant inputs", "Model comparison", "Overall results (macro F1)"):
        assert absent in full and absent not in summary
    assert len(summary.splitlines()) < len(full.splitlines()) / 3


@pytest.mark.parametrize("report", ["summary", "full"])
def test_show_takes_the_same_report_option(run_harness, report, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, stdout, _ = run_harness("show", str(MAIN), "--report", report)
    assert code == 0
    assert all(statement in _flowing(stdout) for statement in _statements(_document()))
    assert ("Per-class F1" in stdout) == (report == "full")
    assert max(len(line) for line in stdout.splitlines()) <= 100
