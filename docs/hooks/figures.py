"""Figures in the README and the guide that come from a committed leaderboard, generated from it.

A page marks each generated region with two comments; what lies between them is rewritten from
the leaderboard with the harness's own renderers (the tables ``harness show`` prints, the decision
statements the console prints), so no figure is typed by hand and none can drift:

    <!-- figures leaderboards/synthetic-cpu-default.json: decision -->
    ...generated...
    <!-- end figures -->

What may follow the colon:

* ``decision`` — the decision statements, one bullet per task and test set;
* ``table TITLE`` — every table whose title starts with TITLE (as ``harness show --format
  markdown`` renders it, headings demoted to bold lines);
* ``run`` — one line: when and how the leaderboard was made (command, date, commit, machine);
* ``few-shot TASK`` — from a record of ``benchmarks/few_shot.py --json`` (not a leaderboard):
  that task's table of prompted configurations, with the machine, load, date and commit.

``python docs/hooks/figures.py`` rewrites every region of README.md and docs/*.md; with
``--check`` it changes nothing and exits 1 naming each stale region. The MkDocs build runs the
check as a hook (``on_pre_build``), so a guide whose numbers disagree with a committed
leaderboard does not build, and ``tests/test_docs.py`` runs it too.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = re.compile(
    r"(?P<open><!-- figures (?P<source>\S+): (?P<what>[^>]*?) -->\n)(?P<body>.*?)(?P<close><!-- end figures -->)",
    re.S,
)


class StaleFigures(Exception):
    """A region's text is not what its leaderboard gives (edited by hand, or the leaderboard moved)."""


def pages(root: Path = ROOT) -> list[Path]:
    """The files that may hold regions: the README and every guide page."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def render(source: str, what: str, root: Path = ROOT) -> str:
    """The text of one region (ending with a newline)."""
    from harness.leaderboard import load

    path = root / source
    if not path.is_file():
        raise StaleFigures(f"no leaderboard {source}")
    kind, _, argument = what.strip().partition(" ")
    if kind == "few-shot":
        return _few_shot(path, argument.strip(), root)
    document = load(path)
    if kind == "decision":
        return _decision(document)
    if kind == "table":
        return _tables(document, argument.strip())
    if kind == "run":
        return _run(document, source)
    raise StaleFigures(f"unknown figures kind {kind!r} (decision, table TITLE, run, few-shot TASK)")


def _few_shot(path: Path, task: str, root: Path) -> str:
    """A task's table from ``benchmarks/few_shot.py``'s record, by that script's own renderer."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("few_shot_benchmark", root / "benchmarks" / "few_shot.py")
    if spec is None or spec.loader is None:
        raise StaleFigures("no benchmarks/few_shot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return module.markdown(json.loads(path.read_text(encoding="utf-8")), task)
    except KeyError as err:
        raise StaleFigures(str(err)) from None


def _decision(document: dict[str, Any]) -> str:
    from harness.scoring.decision import decision_from_document

    lines = []
    for task, summary in document.get("summaries", {}).items():
        decision = summary.get("decision") or decision_from_document(document, task)
        for row in (decision or {}).get("test_sets", []):
            lines.append(f"- **{task}, {row['test_set']}**: {row['statement']}")
    if not lines:
        raise StaleFigures("the leaderboard has no decision")
    return "\n".join(lines) + "\n"


def _tables(document: dict[str, Any], title: str) -> str:
    from harness.report.render import to_text
    from harness.report.tables import model_table, task_tables

    tables = [table for table in [model_table(document), *task_tables(document)] if table.title.startswith(title)]
    if not title or not tables:
        raise StaleFigures(f"no table titled {title!r}")
    text = to_text(tables, "markdown")
    # A table's heading becomes a bold line: a page's own headings structure the page.
    return re.sub(r"^### (.+)$", r"**\1**", text, flags=re.M)


def _run(document: dict[str, Any], source: str) -> str:
    run = document["run"]
    commit = str(run.get("git_commit") or "")[:7] or "unknown commit"
    summary = run.get("summary") or {}
    counts = ", ".join(f"{summary[k]} {k}" for k in ("passed", "skipped", "error") if summary.get(k))
    took = f" in {_minutes(run['duration_seconds'])}" if run.get("duration_seconds") else ""
    return (
        f"_`{source}`: `{_command(run.get('command') or {})}` ({counts}{took}), "
        f"{str(run.get('timestamp_utc', ''))[:10]}, commit {commit}, {_machine(run)}._\n"
    )


def _command(command: dict[str, Any]) -> str:
    words = ["harness run"]
    for key in ("models", "tasks", "keyword", "markers"):
        if command.get(key):
            flag = {"keyword": "-k", "markers": "-m"}.get(key, f"--{key}")
            words.append(f"{flag} {command[key]}")
    return " ".join(words)


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _machine(run: dict[str, Any]) -> str:
    """The device and the machines the times were measured on, as the console and page say it
    (timings mean little without them)."""
    from harness.core.hardware import hardware_text, recorded

    machines = recorded(run)
    device = str(run.get("device") or "device unknown")
    if not machines:
        return f"{device}, hardware not recorded"
    return f"{device}, " + "; ".join(hardware_text(entry) for entry in machines)


def regenerate(text: str, root: Path = ROOT) -> str:
    """``text`` with every region rewritten from its leaderboard."""

    def fill(match: re.Match[str]) -> str:
        body = render(match["source"], match["what"], root)
        return f"{match['open']}{body}{match['close']}"

    return REGION.sub(fill, text)


def stale(paths: Iterable[Path], root: Path = ROOT) -> list[str]:
    """One line per region whose text differs from what its leaderboard gives."""
    problems = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for match in REGION.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(root)}:{line} ({match['source']}: {match['what']})"
            try:
                expected = render(match["source"], match["what"], root)
            except StaleFigures as err:
                problems.append(f"{where}: {err}")
                continue
            if match["body"] != expected:
                problems.append(f"{where}: differs from the leaderboard")
    return problems


def write(paths: Iterable[Path], root: Path = ROOT) -> list[Path]:
    changed = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = regenerate(text, root)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


# --- the MkDocs hook ----------------------------------------------------------------------


def on_pre_build(config: Any, **_: Any) -> None:
    problems = stale(pages())
    if problems:
        from mkdocs.exceptions import PluginError

        raise PluginError(
            "figures differ from the committed leaderboards (python docs/hooks/figures.py rewrites them):\n  "
            + "\n  ".join(problems)
        )


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        problems = stale(pages())
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    if argv:
        print("usage: python docs/hooks/figures.py [--check]", file=sys.stderr)
        return 2
    for path in write(pages()):
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
