"""The decision summary: which model to start with, per test set, from bands and costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.leaderboard import schema_errors
from harness.scoring.decision import decide, decision_from_document

ROOT = Path(__file__).resolve().parents[1]


def _model(name: str, estimate: float, band: int, low: float | None = None, high: float | None = None) -> dict:
    low = estimate - 0.01 if low is None else low
    high = estimate + 0.01 if high is None else high
    return {"model": name, "seeds": 1, "estimate": estimate, "low": low, "high": high, "band": band}


def _comparison(*models: dict) -> dict:
    bands: dict[int, list[str]] = {}
    for m in models:
        bands.setdefault(m["band"], []).append(m["model"])
    return {
        "metric": "f1_weighted",
        "confidence": 0.95,
        "models": list(models),
        "bands": [bands[b] for b in sorted(bands)],
    }


COSTS = {
    "big": {"train_seconds": 600.0, "params": 110_000_000},
    "small": {"train_seconds": 30.0, "params": 22_000_000},
    "rules": {"train_seconds": 0.0, "params": 0},
    "linear": {"train_seconds": 0.0, "params": 180_000},
}


def test_cheapest_in_the_top_band_is_recommended_with_its_interval():
    comparison = _comparison(
        _model("big", 0.95, 1, 0.93, 0.97), _model("small", 0.94, 1, 0.92, 0.96), _model("linear", 0.80, 2)
    )
    (row,) = decide({"internal": comparison}, COSTS)["test_sets"]
    assert row["top_band"] == ["big", "small"]
    assert row["recommended"] == "small" and row["told_apart"] is True
    assert row["estimate"] == 0.94 and row["ci"] == [0.92, 0.96]
    assert row["band_interval"] == [0.92, 0.97]  # lowest lower, highest upper bound over the band
    assert "small" in row["statement"] and "not told apart" in row["statement"]


def test_a_tie_in_training_time_is_broken_by_parameters():
    comparison = _comparison(_model("linear", 0.95, 1), _model("rules", 0.94, 1), _model("big", 0.5, 2))
    assert decide({"internal": comparison}, COSTS)["test_sets"][0]["recommended"] == "rules"


def test_training_times_within_a_tenth_of_a_second_are_a_tie():
    costs = {
        "a": {"train_seconds": 1.04, "params": 900},
        "b": {"train_seconds": 1.0, "params": 1000},
        "c": {"train_seconds": 9.0, "params": 1},
    }
    comparison = _comparison(_model("a", 0.9, 1), _model("b", 0.9, 1), _model("c", 0.5, 2))
    assert decide({"t": comparison}, costs)["test_sets"][0]["recommended"] == "a"


def test_one_band_crowns_no_model():
    comparison = _comparison(_model("big", 0.95, 1, 0.90, 0.99), _model("rules", 0.93, 1, 0.89, 0.96))
    (row,) = decide({"internal": comparison}, COSTS)["test_sets"]
    assert row["told_apart"] is False and row["recommended"] is None and row["ci"] is None
    assert row["top_band"] == ["big", "rules"] and row["band_interval"] == [0.89, 0.99]
    assert "cannot tell" in row["statement"]


def test_a_model_with_errors_is_not_recommended():
    comparison = _comparison(_model("rules", 0.95, 1), _model("small", 0.94, 1), _model("big", 0.5, 2))
    (row,) = decide({"internal": comparison}, COSTS, failed={"rules"})["test_sets"]
    assert row["recommended"] == "small"
    assert row["top_band"] == ["rules", "small"]  # still shown: it scored in the band


def test_a_top_band_of_failed_models_recommends_none_and_says_why():
    comparison = _comparison(_model("rules", 0.95, 1), _model("big", 0.5, 2))
    (row,) = decide({"internal": comparison}, COSTS, failed={"rules"})["test_sets"]
    assert row["recommended"] is None and row["told_apart"] is True and row["ci"] is None
    assert "error" in row["statement"]


def test_unknown_cost_ranks_after_known_cost():
    costs = {"a": {"train_seconds": None, "params": None}, "b": {"train_seconds": 500.0, "params": 10**9}}
    comparison = _comparison(_model("a", 0.9, 1), _model("b", 0.9, 1), _model("c", 0.1, 2))
    assert decide({"t": comparison}, costs)["test_sets"][0]["recommended"] == "b"


def test_a_single_model_is_not_crowned():
    (row,) = decide({"t": _comparison(_model("small", 0.9, 1))}, COSTS)["test_sets"]
    assert row["recommended"] is None and row["told_apart"] is False


def test_the_committed_leaderboard_gives_the_expected_choice_and_validates():
    document = json.loads((ROOT / "leaderboards" / "synthetic-cpu-default.json").read_text(encoding="utf-8"))
    decision = decision_from_document(document, "indications")
    rows = {row["test_set"]: row for row in decision["test_sets"]}
    # internal: MiniLM (6 epochs since 2026-12-07) and tfidf-lr are not told apart, and tfidf-lr
    # trains in under a second; external: MiniLM beats every other model on the paired tests
    assert set(rows["internal"]["top_band"]) == {"minilm-l6", "tfidf-lr"}
    assert rows["internal"]["recommended"] == "tfidf-lr"
    assert rows["external"]["top_band"] == ["minilm-l6"]
    assert rows["external"]["recommended"] == "minilm-l6"
    models = document["summaries"]["indications"]["comparisons"]["internal"]["models"]
    (internal,) = [m for m in models if m["model"] == "tfidf-lr"]
    assert rows["internal"]["ci"] == [internal["low"], internal["high"]]
    document["summaries"]["indications"]["decision"] = decision
    assert schema_errors(document) == []


def test_the_schema_rejects_a_malformed_decision():
    document = json.loads((ROOT / "leaderboards" / "synthetic-cpu-default.json").read_text(encoding="utf-8"))
    decision = decision_from_document(document, "indications")
    decision["test_sets"][0]["told_apart"] = "yes"
    document["summaries"]["indications"]["decision"] = decision
    assert schema_errors(document) != []


@pytest.mark.parametrize("missing", ["summaries", "comparisons"])
def test_no_comparisons_no_decision(missing):
    document = {"results": [], "summaries": {"indications": {}} if missing == "comparisons" else {}}
    assert decision_from_document(document, "indications") is None


def test_a_run_writes_the_decision_from_its_costs(run_harness, tiny_config, tmp_path):
    from .conftest import read_leaderboard

    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications",
        "--config",
        str(tiny_config),
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 0, stdout
    document = read_leaderboard(tmp_path / "run")
    decision = document["summaries"]["indications"]["decision"]
    assert decision == decision_from_document(document, "indications")  # the run's costs reached summarise
    (row,) = decision["test_sets"]
    assert row["recommended"] is None and "only lookup was compared" in row["statement"]
    assert "only lookup was compared" in stdout
