"""The README and the guide stay honest: the plugin example runs, and the commands are the ones CI uses."""

from __future__ import annotations

import importlib.util
import re
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
