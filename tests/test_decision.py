"""The decision summary: which model to start with, per test set, from bands and costs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.leaderboard import schema_errors
from harness.scoring.decision import costs_of, decide, decision_from_document
from harness.scoring.evidence import compare_models
from harness.task import ScoredItem

ROOT = Path(__file__).resolve().parents[1]
WITH_COMPARISONS = [
    path
    for path in sorted((ROOT / "leaderboards").glob("*.json"))
    if any("comparisons" in s for s in json.loads(path.read_text(encoding="utf-8")).get("summaries", {}).values())
]


def _model(name: str, estimate: float, band: int, low: float | None = None, high: float | None = None) -> dict:
    low = estimate - 0.01 if low is None else low
    high = estimate + 0.01 if high is None else high
    return {"model": name, "seeds": 1, "estimate": estimate, "low": low, "high": high, "band": band}


def _comparison(*models: dict, significant_inside: tuple[tuple[str, str], ...] = ()) -> dict:
    """A comparison whose pairs agree with its bands: a pair across bands is significant, a pair
    inside a band is not, except the (better, worse) pairs of ``significant_inside``."""
    bands: dict[int, list[str]] = {}
    for m in models:
        bands.setdefault(m["band"], []).append(m["model"])
    pairs = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            significant = a["band"] != b["band"] or (a["model"], b["model"]) in significant_inside
            p_holm = 0.001 if significant else 0.5
            difference = a["estimate"] - b["estimate"]
            pairs.append(
                {
                    "a": a["model"],
                    "b": b["model"],
                    "difference": difference,
                    "ci_low": difference - 0.01,
                    "ci_high": difference + 0.01,
                    "p_value": p_holm / 3,
                    "p_holm": p_holm,
                    "significant": significant,
                }
            )
    return {
        "metric": "f1_weighted",
        "items": 600,
        "confidence": 0.95,
        "alpha": 0.05,
        "resamples": 1000,
        "permutations": 10_000,
        "bootstrap_seed": 0,
        "models": list(models),
        "pairs": pairs,
        "bands": [bands[b] for b in sorted(bands)],
    }


COSTS = {
    "big": {"train_seconds": 600.0, "params": 110_000_000},
    "small": {"train_seconds": 30.0, "params": 22_000_000},
    "rules": {"train_seconds": 0.0, "params": 0},
    "linear": {"train_seconds": 0.0, "params": 180_000},
}


def test_cheapest_in_the_top_band_is_recommended_with_its_interval():
    """No significant pair inside the top band: every model of it is a candidate, as before issue 22."""
    comparison = _comparison(
        _model("big", 0.95, 1, 0.93, 0.97), _model("small", 0.94, 1, 0.92, 0.96), _model("linear", 0.80, 2)
    )
    (row,) = decide({"internal": comparison}, COSTS)["test_sets"]
    assert row["top_band"] == ["big", "small"] and row["unbeaten"] == ["big", "small"]
    assert row["recommended"] == "small" and row["told_apart"] is True
    assert row["estimate"] == 0.94 and row["ci"] == [0.92, 0.96]
    assert row["band_interval"] == [0.92, 0.97]  # lowest lower, highest upper bound over the band
    assert row["pairs_inside_bands"] == [] and row["cheapest_in_band"] == "small"
    statement = row["statement"]
    assert "no band boundary separates them: big, small" in statement
    assert "start with the cheapest by parameters, small" in statement
    assert "significantly" not in statement  # no pair inside a band to list


def test_parameters_rank_before_training_time_when_flops_are_not_known_for_every_model():
    """Training time depends on the machine's load; parameters do not."""
    costs = {
        "slow-small": {"train_seconds": 90.0, "params": 1_000, "train_flops_estimate": None},
        "fast-big": {"train_seconds": 1.0, "params": 50_000, "train_flops_estimate": 3e12},
    }
    comparison = _comparison(_model("fast-big", 0.9, 1), _model("slow-small", 0.9, 1), _model("c", 0.5, 2))
    (row,) = decide({"t": comparison}, costs)["test_sets"]
    assert row["recommended"] == "slow-small" and row["ranked_by"] == "params"
    assert "cheapest by parameters, slow-small (1K parameters, 1.5 min to train)" in row["statement"]


def test_estimated_training_flops_rank_first_where_every_candidate_has_them():
    costs = {
        "lora": {"train_seconds": 5.0, "params": 10**8, "train_flops_estimate": 1e12},
        "encoder": {"train_seconds": 1.0, "params": 10**7, "train_flops_estimate": 4e12},
    }
    comparison = _comparison(_model("encoder", 0.9, 1), _model("lora", 0.89, 1), _model("c", 0.5, 2))
    (row,) = decide({"t": comparison}, costs)["test_sets"]
    assert row["recommended"] == "lora" and row["ranked_by"] == "train_flops_estimate"
    assert (
        "cheapest by estimated training FLOPs, lora (1.0e+12 training FLOPs (est.), 100M parameters"
        in (row["statement"])
    )


def test_a_tie_in_parameters_is_broken_by_training_time():
    comparison = _comparison(_model("linear", 0.95, 1), _model("rules", 0.94, 1), _model("big", 0.5, 2))
    costs = {**COSTS, "linear": {"train_seconds": 2.0, "params": 0}}
    assert decide({"internal": comparison}, costs)["test_sets"][0]["recommended"] == "rules"


def test_training_times_within_a_tenth_of_a_second_are_a_tie():
    costs = {
        "a": {"train_seconds": 1.04, "params": 1000},
        "b": {"train_seconds": 1.0, "params": 1000},
        "c": {"train_seconds": 9.0, "params": 1},
    }
    comparison = _comparison(_model("a", 0.91, 1), _model("b", 0.9, 1), _model("c", 0.5, 2))
    assert decide({"t": comparison}, costs)["test_sets"][0]["recommended"] == "a"  # the tie goes to the better score


def test_one_band_crowns_no_model():
    comparison = _comparison(_model("big", 0.95, 1, 0.90, 0.99), _model("rules", 0.93, 1, 0.89, 0.96))
    (row,) = decide({"internal": comparison}, COSTS)["test_sets"]
    assert row["told_apart"] is False and row["recommended"] is None and row["ci"] is None
    assert row["top_band"] == ["big", "rules"] and row["band_interval"] == [0.89, 0.99]
    assert "cannot tell any of the 2 models apart" in row["statement"]


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


# --------------------------------------------------------------------------- a chain inside a band
# Three models with 10 %, 13.5 % and 17 % error on 600 binary rows, their errors on disjoint rows
# (issue 22): A-B and B-C are not significant after Holm, A-C is, and no band boundary can go
# between them. The cheapest, small-c, is significantly worse than big-a.

CHAIN_COSTS = {
    "big-a": {"train_seconds": 100.0, "params": 10**8},
    "mid-b": {"train_seconds": 10.0, "params": 10**6},
    "small-c": {"train_seconds": 1.0, "params": 10**4},
    "rules-d": {"train_seconds": 0.0, "params": 0},
}


def _chain(with_a_weak_fourth: bool) -> dict:
    rows = 600
    y = np.arange(rows) % 2 == 0
    wrong, start = {}, 0
    for model, errors in (("big-a", 60), ("mid-b", 81), ("small-c", 102)):
        wrong[model] = np.zeros(rows, dtype=bool)
        wrong[model][start : start + errors] = True
        start += errors
    if with_a_weak_fourth:
        wrong["rules-d"] = np.arange(rows) % 3 == 0  # a third wrong: below the chain on every test
    predictions = {model: (y ^ w)[:, None] for model, w in wrong.items()}
    return compare_models(y[:, None], predictions, ["adverse"])


def _p_holm(comparison: dict, a: str, b: str) -> float:
    return next(p["p_holm"] for p in comparison["pairs"] if {p["a"], p["b"]} == {a, b})


@pytest.mark.parametrize("with_a_weak_fourth", [True, False])
def test_a_model_significantly_worse_than_a_band_mate_is_not_recommended(with_a_weak_fourth):
    comparison = _chain(with_a_weak_fourth)
    alpha = comparison["alpha"]
    assert _p_holm(comparison, "big-a", "mid-b") > alpha and _p_holm(comparison, "mid-b", "small-c") > alpha
    assert _p_holm(comparison, "big-a", "small-c") <= alpha
    assert comparison["bands"][0] == ["big-a", "mid-b", "small-c"]  # one band: no boundary separates them
    (row,) = decide({"internal": comparison}, CHAIN_COSTS, metric_name="F1")["test_sets"]
    assert row["recommended"] == "mid-b" and row["told_apart"] is True  # before issue 22: small-c, or none
    assert row["unbeaten"] == ["big-a", "mid-b"] and row["cheapest_in_band"] == "small-c"
    (inside,) = row["pairs_inside_bands"]
    assert inside == {
        "band": 1,
        "better": "big-a",
        "worse": "small-c",
        "p_holm": _p_holm(comparison, "big-a", "small-c"),
    }
    statement = row["statement"]
    assert "no band boundary separates them: big-a, mid-b, small-c" in statement
    assert (
        f"the cheapest of them by parameters, small-c, is significantly worse than big-a (Holm p = {inside['p_holm']:.3g})"
        in statement
    )
    assert "start with the cheapest by parameters, mid-b" in statement
    (mid,) = [m for m in comparison["models"] if m["model"] == "mid-b"]
    assert row["ci"] == [mid["low"], mid["high"]] and f"F1 {mid['estimate']:.3f}" in statement


def test_a_significant_pair_inside_a_lower_band_is_listed():
    comparison = _comparison(
        _model("top", 0.99, 1),
        _model("x", 0.90, 2),
        _model("y", 0.85, 2),
        _model("z", 0.80, 2),
        significant_inside=(("x", "z"),),
    )
    (row,) = decide({"t": comparison}, COSTS)["test_sets"]
    assert row["recommended"] == "top"
    assert row["pairs_inside_bands"] == [{"band": 2, "better": "x", "worse": "z", "p_holm": 0.001}]
    assert row["statement"].endswith(
        "Though no band boundary separates them, inside band 2 (x, y, z), x is significantly better than z "
        "(Holm p = 0.001)."
    )


# --------------------------------------------------------------------------- too few permutations


def test_when_no_pair_can_be_significant_the_decision_says_so_once_and_how_to_fix_it():
    models = [_model(f"m{i:02d}", 0.9 - 0.01 * i, 1) for i in range(15)]  # 105 pairs
    comparison = {**_comparison(*models), "permutations": 2000}
    (row,) = decide({"t": comparison}, COSTS)["test_sets"]
    statement = row["statement"]
    assert "no pair of the 15 models could be significant" in statement and "cannot tell" not in statement
    assert row["smallest_p_holm"] == pytest.approx(105 / 2001) and row["smallest_p_holm"] > 0.05
    assert row["recommended"] is None and row["told_apart"] is False
    assert "set the task's permutations to at least 10,499" in statement


def test_compare_models_raises_permutations_that_could_find_nothing():
    rng = np.random.default_rng(3)
    y = rng.random((40, 1)) < 0.5
    predictions = {f"m{i:02d}": rng.random((40, 1)) < 0.5 for i in range(15)}
    comparison = compare_models(y, predictions, ["adverse"], resamples=10, permutations=2000)
    assert comparison["permutations"] == 10_499 and comparison["permutations_requested"] == 2000
    assert len(comparison["pairs"]) * 1.0 / (comparison["permutations"] + 1) == pytest.approx(0.01)  # alpha / 5
    few = compare_models(y, dict(list(predictions.items())[:3]), ["adverse"], resamples=10, permutations=2000)
    assert few["permutations"] == 2000 and "permutations_requested" not in few  # 3 pairs: enough


# --------------------------------------------------------------------------- from a document


def _unbeaten(comparison: dict) -> set[str]:
    """Written out again here: the models no significant pair puts below another."""
    score = {m["model"]: m["estimate"] for m in comparison["models"]}
    worse = {
        (p["b"] if score[p["a"]] > score[p["b"]] else p["a"])
        for p in comparison["pairs"]
        if p["p_holm"] <= comparison["alpha"]
    }
    return set(score) - worse


@pytest.mark.parametrize("path", WITH_COMPARISONS, ids=lambda p: p.name)
def test_a_committed_leaderboard_recommends_its_cheapest_unbeaten_model_and_stores_that(path):
    """Expected values from the document itself, so a re-run leaderboard keeps this test honest."""
    document = json.loads(path.read_text(encoding="utf-8"))
    for task, summary in document["summaries"].items():
        decision = decision_from_document(document, task)
        if decision is None:
            continue
        assert summary.get("decision", decision) == decision  # a stored decision is the one this code makes
        passed = [e for e in document["results"] if e["task"] == task and e["status"] == "passed"]
        flops = {}
        for model in {e["model"] for e in passed}:  # the mean over seeds, where every seed has one
            values = [e["cost"].get("train_flops_estimate") for e in passed if e["model"] == model]
            flops[model] = None if None in values else sum(values) / len(values)
        params = {e["model"]: e["model_info"]["params"] for e in passed}
        for row in decision["test_sets"]:
            comparison = summary["comparisons"][row["test_set"]]
            unbeaten = _unbeaten(comparison)
            assert set(row["unbeaten"]) == unbeaten and set(row["top_band"]) == set(comparison["bands"][0])
            if row["recommended"] is not None:
                cost = flops if all(flops[m] is not None for m in row["top_band"]) else params
                assert row["ranked_by"] == ("train_flops_estimate" if cost is flops else "params")
                assert cost[row["recommended"]] == min(cost[m] for m in unbeaten)
                (chosen,) = [m for m in comparison["models"] if m["model"] == row["recommended"]]
                assert row["ci"] == [chosen["low"], chosen["high"]]
        document["summaries"][task]["decision"] = decision
    assert schema_errors(document) == []


def test_an_older_binary_leaderboard_decides_in_f1_words():
    """Before items named their primary metric, ``harness show`` said "weighted F1" for a binary task."""
    document = json.loads((ROOT / "leaderboards" / "synthetic-example-ade.json").read_text(encoding="utf-8"))
    summary = document["summaries"]["example-ade"]
    del summary["decision"]
    for entry in document["results"]:
        entry.pop("primary_metric", None)
    decision = decision_from_document(document, "example-ade")
    assert decision["metric_name"] == "F1"
    (row,) = decision["test_sets"]
    assert f"F1 {row['estimate']:.3f}" in row["statement"] and "weighted" not in row["statement"]


def test_costs_of_items_mean_time_and_flops_over_seeds():
    def item(seed: int, seconds: float, flops: float | None) -> ScoredItem:
        cost = {"train_seconds": seconds, "train_flops_estimate": flops}
        return ScoredItem("m", seed, {}, {}, {"params": 7}, cost)

    costs = costs_of([item(1, 1.0, 2e9), item(2, 3.0, 4e9), item(3, 5.0, None)])
    assert costs == {"m": {"train_seconds": 3.0, "train_flops_estimate": 3e9, "params": 7}}


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
