"""The README and the guide stay honest: the plugin example runs, and the commands are the ones CI uses."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
from pathlib import Path

from .conftest import read_leaderboard

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLUGINS_PAGE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def _plugin_example() -> str:
    section = PLUGINS_PAGE.split("## A model plugin", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_plugin_example_is_complete_and_short(tmp_path, run_harness, tiny_config):
    source = _plugin_example()
    assert len(source.splitlines()) < 60
    path = tmp_path / "my_plugin.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("my_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "word-nb",
        "--config",
        str(tiny_config),
        "--out",
        str(tmp_path / "run"),
        plugins={"word_nb": module},
    )
    assert code == 0, stdout
    items = read_leaderboard(tmp_path / "run")["results"]
    # ner is skipped: a classifier of whole texts does not tag tokens
    statuses = {item["task"]: item["status"] for item in items}
    assert statuses == {"indications": "passed", "probe": "passed", "robustness": "passed", "ner": "skipped"}
    assert items[0]["metrics"]["eval"]["f1_weighted"] > 0.5


def test_ci_runs_the_readme_test_command():
    test_command = re.search(r"# 2\. set up and run the tests\n(.+)\n", README).group(1).strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()


def _five_minutes() -> str:
    return README.split("## Five minutes", 1)[1].split("\n## ", 1)[0]


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 250


def test_the_five_minute_path_runs_as_written(tmp_path, monkeypatch, run_harness):
    """The README's copy command, config and three harness commands, run from a fresh folder (the
    run on the smoke profile: the commands' code paths, not their minutes)."""
    section = _five_minutes()
    blocks = re.findall(r"```(bash|toml)\n(.*?)```", section, re.S)
    copy, config, commands = blocks[0][1], blocks[1][1], blocks[2][1]
    assert [kind for kind, _ in blocks] == ["bash", "toml", "bash"]
    source, target = shlex.split(copy)[-2:]
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / source, tmp_path / target)
    config_path = re.match(r"# (\S+)", config).group(1)
    (tmp_path / config_path).write_text(config, encoding="utf-8")
    lines = [shlex.split(line) for line in commands.splitlines() if line.strip()]
    assert all(line[0] == ".venv/bin/harness" for line in lines)
    for argv in lines:
        argv = argv[1:]
        if argv[0] == "run" and "--collect-only" not in argv:
            argv += ["--profile", "smoke"]
        code, stdout, stderr = run_harness(*argv)
        assert code == 0, (argv, stdout, stderr)
        if "--collect-only" in argv:
            assert "smoking[minilm-l6-seed42]" in stdout
    board = read_leaderboard(tmp_path / "runs" / "smoking")
    passed = {item["model"] for item in board["results"] if item["status"] == "passed"}
    assert passed == {"tfidf-lr", "char-gbt", "minilm-l6"}
    decided = {entry["test_set"] for entry in board["summaries"]["smoking"]["decision"]["test_sets"]}
    assert decided == {"internal", "site_b"}
    page = (tmp_path / "runs" / "smoking" / "smoking.html").read_text(encoding="utf-8")
    assert "<title>smoking: leaderboard of " in page
    assert board["run"]["synthetic_data"] is True  # the example's notes are said to be synthetic
