"""The user guide builds, its figures are the committed leaderboards', and the help points into it."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import GUIDE_PAGES, make_parser

ROOT = Path(__file__).resolve().parents[1]


def _figures():
    spec = importlib.util.spec_from_file_location("figures", ROOT / "docs" / "hooks" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_builds_strict_and_offline(tmp_path):
    """A broken link, a page missing from the nav, a stale figure or a docstring the API reference
    cannot render fails the build (``strict: true``)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pages = {path.parent.name for path in (tmp_path / "site").glob("*/index.html")}
    for page in ("getting-started", "your-own-task", "reading-results", "models", "api", "results"):
        assert page in pages
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "harness_add_models" in api and "FitRequest" in api  # rendered from the docstrings


def test_every_generated_figure_equals_its_leaderboard():
    figures = _figures()
    assert figures.stale(figures.pages()) == []
    regions = sum(len(figures.REGION.findall(p.read_text(encoding="utf-8"))) for p in figures.pages())
    assert regions >= 5  # the README and the guide quote the committed leaderboards through regions


def test_a_number_edited_by_hand_in_the_guide_is_caught(tmp_path):
    """Copy the repository's pages and leaderboards, change one digit inside a generated region:
    the check names that region; regenerating puts the leaderboard's figure back."""
    figures = _figures()
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("img", "hooks"))
    shutil.copytree(ROOT / "leaderboards", tmp_path / "leaderboards", ignore=shutil.ignore_patterns("*.html"))
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks")  # the few-shot record and its renderer
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    page = tmp_path / "docs" / "getting-started.md"
    text = page.read_text(encoding="utf-8")
    region = figures.REGION.search(text)
    assert region is not None
    number = re.search(r"0\.9\d\d", region["body"])
    edited = number.group(0)[:-1] + str((int(number.group(0)[-1]) + 1) % 10)
    start = region.start("body") + number.start()
    page.write_text(text[:start] + edited + text[start + len(edited) :], encoding="utf-8")

    problems = figures.stale(figures.pages(tmp_path), tmp_path)
    assert problems == [
        f"docs/getting-started.md:{text.count(chr(10), 0, region.start()) + 1} "
        f"({region['source']}: {region['what']}): differs from the leaderboard"
    ]
    figures.write(figures.pages(tmp_path), tmp_path)
    assert page.read_text(encoding="utf-8") == text


def test_a_leaderboard_that_moves_makes_its_figures_stale(tmp_path):
    import json

    figures = _figures()
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("img", "hooks"))
    shutil.copytree(ROOT / "leaderboards", tmp_path / "leaderboards", ignore=shutil.ignore_patterns("*.html"))
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks")  # the few-shot record and its renderer
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    path = tmp_path / "leaderboards" / "synthetic-cpu-default.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["run"]["duration_seconds"] += 60
    path.write_text(json.dumps(document), encoding="utf-8")
    problems = figures.stale(figures.pages(tmp_path), tmp_path)
    assert problems and all("synthetic-cpu-default.json: run" in p for p in problems)


def test_each_commands_help_fits_80_columns_and_names_an_existing_guide_page(monkeypatch, capsys):
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager

    monkeypatch.setenv("COLUMNS", "80")
    parser = make_parser(Hooks(make_plugin_manager()))
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, command in [(None, parser), *commands.items()]:
        text = command.format_help()
        assert all(len(line) <= 80 for line in text.splitlines()), (name, text)
        page = GUIDE_PAGES.get(name, GUIDE_PAGES[None]).split()[0]
        assert page in text and (ROOT / page).is_file(), (name, page)


def test_the_readmes_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    missing = [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()]
    assert targets and missing == []


@pytest.mark.parametrize("path", ["README.md", "CHANGELOG.md"])
def test_front_door_files_exist(path):
    assert (ROOT / path).is_file()
