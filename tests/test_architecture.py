"""The house rules (docs/architecture.md): layer contracts, no import cycle, ruff clean, and
tasks that own their output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import grimp
import pytest

from harness import TaskSpec, hookimpl
from harness.tables import Table

from .conftest import read_leaderboard

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def import_cycles(package: str) -> list[list[str]]:
    """Strongly connected components of more than one module in ``package``'s import graph (the
    graph import-linter builds, imports inside functions included; ``TYPE_CHECKING`` ones left out)."""
    graph = grimp.build_graph(package, include_external_packages=False, exclude_type_checking_imports=True)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_the_installed_package_has_no_import_cycle() -> None:
    assert import_cycles("harness") == []


def test_a_planted_cycle_is_found_even_inside_a_function(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from planted import b\n")
    (package / "b.py").write_text("def late():\n    from planted import c\n")
    (package / "c.py").write_text("import planted.a\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import planted.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("planted") == [["planted.a", "planted.b", "planted.c"]]


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing(command: list[str]) -> None:
    ruff = BIN / "ruff"
    if not ruff.exists():
        ruff = Path(shutil.which("ruff") or "ruff")
    done = subprocess.run([str(ruff), *command, "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


# --- tasks own their output ---------------------------------------------------------------


def _load(request: Any) -> Any:
    return request.upstream  # the indications task's data: this task scores the same fits


def _score(request: Any) -> dict[str, Any]:
    scores = request.fitted().classifier.predict_scores(["uti", "cellulitis"])
    return {"word_count_check": {"scored": int(scores.shape[0])}}


class ThirdPartyTask:
    """A task from outside the harness, with a table of its own."""

    @hookimpl
    def harness_add_tasks(self, register: Any) -> None:
        register.add(TaskSpec("spotcheck", "a third party's check", fits_on="indications", load=_load, score=_score))

    @hookimpl
    def harness_tables(self, document: dict[str, Any]) -> list[Table]:
        rows = tuple(
            (r["model"], str(r["word_count_check"]["scored"]))
            for r in document["results"]
            if r["task"] == "spotcheck" and r["status"] == "passed"
        )
        return [Table("Third-party spot check", ("Model", "Inputs scored"), rows)] if rows else []


def test_a_third_party_tasks_table_is_printed_through_the_hook(run_harness, tiny_config, tmp_path) -> None:
    out = tmp_path / "run"
    code, stdout, stderr = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,spotcheck",
        "--config",
        str(tiny_config),
        "--out",
        str(out),
        plugins={"third_party": ThirdPartyTask()},
    )
    assert code == 0, stdout[-3000:]
    assert "Third-party spot check" in stdout and "Inputs scored" in stdout
    assert [r["word_count_check"] for r in read_leaderboard(out)["results"] if r["task"] == "spotcheck"] == [
        {"scored": 2}
    ]


def test_renderers_name_no_task() -> None:
    """Tables and plots come from the tasks: the report package and the core find results by
    their shape, never by a task's name."""
    names = ('"indications"', '"probe"', '"ner"', '"robustness"')
    for folder in ("harness/report", "harness/core", "harness/scoring"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path.name == "manager.py":  # the list of built-in plugins to load, by module
                text = text.split("BUILTIN_PLUGINS", 1)[0]
            found = [name for name in names if name in text]
            assert not found, f"{path.relative_to(ROOT)} names {found}"


def test_no_source_file_cites_the_shared_folder() -> None:
    cited = [str(p.relative_to(ROOT)) for p in (ROOT / "harness").rglob("*.py") if "shared/" in p.read_text()]
    assert cited == []
