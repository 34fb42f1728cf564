"""The schema catches broken documents; validate and show work on written leaderboards."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.leaderboard import schema_errors, write_atomic

from .conftest import read_leaderboard


@pytest.fixture
def document(run_harness, tiny_config, tmp_path):
    code, _, _ = run_harness(
        "run", "--models", "lookup,broken", "--config", str(tiny_config), "--out", str(tmp_path / "run")
    )
    assert code == 1
    return read_leaderboard(tmp_path / "run")


def _break(document, change):
    broken = copy.deepcopy(document)
    change(broken)
    return broken


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(schema_version=2),
        lambda d: d["run"].pop("data_note"),
        lambda d: d["results"][0]["metrics"]["eval"].update(f1_weighted=1.5),
        lambda d: d["results"][0].pop("metrics"),  # a passed indications item must have metrics
        lambda d: d["results"][0].update(reason="should be null when passed"),
        lambda d: d["results"][1].pop("pass_rate"),  # a passed probe item must have a pass rate
        lambda d: next(r for r in d["results"] if r["status"] == "error").pop("traceback"),  # an error needs one
        lambda d: d["results"][0]["decision_rule"].update(operator="=>"),
        lambda d: d["run"]["data"]["indications"][0].update(sha256="not-a-hash"),
    ],
)
def test_schema_rejects_broken_documents(document, change):
    assert schema_errors(document) == []
    assert schema_errors(_break(document, change)) != []


def test_invalid_document_is_never_written(document, tmp_path):
    target = tmp_path / "published" / "board.json"
    with pytest.raises(InputError, match="does not match"):
        write_atomic(_break(document, lambda d: d.pop("results")), target)
    assert not target.parent.exists()


def test_validate_command(document, run_harness, tmp_path):
    good = tmp_path / "run" / "leaderboard.json"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_break(document, lambda d: d["run"].pop("seeds"))))
    code, stdout, _ = run_harness("validate", str(good))
    assert code == 0 and "valid" in stdout
    code, _, stderr = run_harness("validate", str(good), str(bad))
    assert code == 2 and "bad.json" in stderr and "seeds" in stderr


@pytest.mark.parametrize(("fmt", "marker"), [("markdown", "| Model"), ("latex", "\\toprule"), ("table", "┃ Model")])
def test_show_rerenders_the_tables(document, run_harness, tmp_path, fmt, marker):
    code, stdout, _ = run_harness("show", str(tmp_path / "run" / "leaderboard.json"), "--format", fmt)
    assert code == 0
    assert marker in stdout
    for title in ("Overall results (weighted F1)", "Per-class F1 (site_a test set)", "Probe: variant inputs"):
        assert title in stdout
    assert "lookup" in stdout


COMMITTED = sorted((Path(__file__).parent.parent / "leaderboards").glob("*.json"))


@pytest.mark.parametrize("path", [p for p in COMMITTED if not p.name.endswith(".schema.json")], ids=lambda p: p.name)
def test_committed_example_leaderboards_validate_and_say_what_their_data_is(path, run_harness):
    document = json.loads(path.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    assert document["run"]["synthetic_data"] is True
    assert "SYNTHETIC" in document["run"]["data_note"] or "SILVER" in document["run"]["data_note"]
    assert path.name in (path.parent / "README.md").read_text(encoding="utf-8")  # each one is described
    code, stdout, _ = run_harness("show", str(path))
    assert code == 0 and "Model" in stdout
