"""The budget shown from a leaderboard alone: a ``search`` section (as ``--tune`` writes it) on a
stored run renders in ``harness show``, the page and the plots, and validates."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness.leaderboard import validate
from harness.report.html import render_html
from harness.report.search import search_tables, write_search_plots
from harness.scoring.decision import decision_from_document

LEADERBOARD = Path(__file__).resolve().parents[1] / "leaderboards" / "synthetic-cpu-default.json"


def trial(index, config, scores, status="completed", seconds=10.0):
    return {
        "trial": index,
        "config": config,
        "status": status,
        "eval_by_epoch": scores,
        "eval": max(scores) if scores else None,
        "epochs": len(scores),
        "seconds": seconds,
        "attempts": 1,
        "error": None if status != "failed" else "WorkerCrashedError: the worker died",
    }


def model_record(trials, chosen, curve):
    return {
        "status": "tuned",
        "reason": None,
        "space": {"lr": {"log_uniform": [1e-5, 5e-4]}, "epochs": [3, 6]},
        "default": trials[0]["config"],
        "chosen": trials[chosen]["config"],
        "chosen_trial": chosen,
        "default_eval": trials[0]["eval"],
        "tuned_eval": trials[chosen]["eval"],
        "trials": trials,
        "epochs_planned": 12,
        "epochs_run": 8,
        "curve": curve,
        "wall_seconds": 42.0,
    }


@pytest.fixture
def tuned_document():
    document = copy.deepcopy(json.loads(LEADERBOARD.read_text(encoding="utf-8")))
    fast = [
        trial(0, {"lr": 2e-4, "epochs": 3}, [0.8, 0.85, 0.9]),
        trial(1, {"lr": 1e-5, "epochs": 6}, [0.5], "stopped early"),
    ]
    slow = [
        trial(0, {"lr": 2e-5, "epochs": 3}, [0.7, 0.75, 0.8], seconds=100.0),
        trial(1, {"lr": 5e-5, "epochs": 6}, [0.8, 0.9, 0.93, 0.95, 0.96, 0.96], seconds=200.0),
    ]
    fast_curve = [
        {"trials": 1, "expected_max": 0.7, "seconds": 10.0},
        {"trials": 2, "expected_max": 0.9, "seconds": 20.0},
    ]
    slow_curve = [
        {"trials": 1, "expected_max": 0.88, "seconds": 150.0},
        {"trials": 2, "expected_max": 0.96, "seconds": 300.0},
    ]
    document["search"] = {
        "format": 1,
        "budget": {
            "trials": 2,
            "time_seconds": None,
            "max_concurrent_trials": 1,
            "searcher": "optuna-tpe",
            "searcher_seed": 0,
            "startup_trials": 2,
            "scheduler": "asha",
            "grace_period": 1,
            "reduction_factor": 2,
        },
        "note": "Tuned eval scores are selection scores.",
        "tasks": {
            "indications": {
                "metric": "f1_weighted",
                "primary_metric": "f1_weighted",
                "models": {
                    "minilm-l6": model_record(fast, 0, fast_curve),
                    "tfidf-lr": model_record(slow, 1, slow_curve),
                    "regex": {
                        "status": "untuned",
                        "reason": "it has no search space",
                        "space": {},
                        "default": {},
                        "trials": [],
                    },
                },
            }
        },
    }
    validate(document)
    return document


def test_an_old_leaderboard_still_validates_and_has_no_budget_to_show():
    document = json.loads(LEADERBOARD.read_text(encoding="utf-8"))
    validate(document)
    assert search_tables(document) == []
    assert "search-budget" not in render_html(document)


def test_the_budget_renders_from_the_leaderboard_alone(tuned_document, tmp_path):
    titles = [t.title for t in search_tables(tuned_document)]
    assert titles == [
        "Search budget (indications)",
        "Search trials (indications)",
        "Expected maximum eval score by trials (indications)",
    ]
    budget = search_tables(tuned_document)[0]
    row = next(r for r in budget.rows if r[0] == "tfidf-lr")
    assert row[6:8] == ("0.800", "0.960") and "selection scores" in budget.caption
    page = render_html(tuned_document)
    assert "search-budget" in page and "Tuning budget" in page and "<svg" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")
    # The decision, re-derived from the stored comparisons, says the budget and where the curves cross.
    decision = decision_from_document(tuned_document, "indications")
    assert "tuned with 2 trials on eval" in decision["budget"] and "regex ran its own recipe" in decision["budget"]
    written = write_search_plots(tuned_document, tmp_path)
    assert sorted(p.name for p in written) == ["expected_max_indications.png", "expected_max_indications.svg"]


def test_a_bad_search_section_does_not_validate(tuned_document):
    broken = copy.deepcopy(tuned_document)
    broken["search"]["tasks"]["indications"]["models"]["tfidf-lr"]["trials"][0]["status"] = "great"
    with pytest.raises(Exception, match="search"):
        validate(broken)


def test_publish_keeps_each_runs_search(tuned_document, tmp_path):
    from harness.commands.publish import publish

    run = tmp_path / "run.json"
    run.write_text(json.dumps(tuned_document), encoding="utf-8")
    merged = publish([run], tmp_path / "published.json")
    validate(merged)
    assert merged["run"]["merged_from"][0]["search"] == tuned_document["search"]


def test_a_trial_asha_stopped_is_recorded_as_stopped_early_though_ray_marks_it_done():
    """Ray Tune sets ``done`` on the last result of a trial its scheduler stops, so ``done`` cannot
    tell a finished fit from a stopped one: the trial's own ``finished`` flag does (the budget
    table had shown MiniLM's 8 trials as completed while 19 of 49 planned epochs ran)."""
    from types import SimpleNamespace

    from harness.core.search.tuner import trial_record

    def trial(**result):
        last = {"eval_by_epoch": [0.5, 0.6], "per_epoch": True, "trial_seconds": 3.0, "attempt": 1, **result}
        return SimpleNamespace(last_result=last, status="TERMINATED", config={"epochs": 6}, run_metadata=None)

    assert trial_record(trial(done=True, finished=False), 1)["status"] == "stopped early"
    assert trial_record(trial(done=True, finished=True), 2)["status"] == "completed"
    assert trial_record(trial(done=True), 3)["status"] == "completed"  # a record from before the flag
    stopped = trial_record(trial(done=True, finished=False), 1)
    assert stopped["epochs"] == 2 and stopped["eval"] == 0.6
