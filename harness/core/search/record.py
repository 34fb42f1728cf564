"""A finished search as numbers: every trial, the choice, the default beside it, the expected-max
curve (:mod:`harness.scoring.budget`); and the leaderboard's ``search`` section built from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.core.search.plan import FORMAT, SearchPlan
from harness.scoring.budget import expected_max_curve
from harness.search import space_as_config

if TYPE_CHECKING:
    from harness.core.reports import Session

# What every table and page of a search says beside its eval scores.
SELECTION_NOTE = (
    "Tuned eval scores are selection scores: eval chose the configuration, so they are optimistic; "
    "only the test sets are held out, and no trial read them."
)


def untuned_record(plan: SearchPlan) -> dict[str, Any]:
    """A model that was not searched (no space, or turned off): it runs its recipe."""
    return {"status": "untuned", "reason": plan.why_untuned, "space": {}, "default": {}, "trials": []}


def search_record(plan: SearchPlan, trials: Sequence[Mapping[str, Any]], wall_seconds: float) -> dict[str, Any]:
    """The search's record from its trials (:func:`harness.core.search.tuner.trial_record`, in order).

    The chosen configuration is the completed trial with the best eval score, the earliest on a tie:
    trial 0 is the recipe, so tuning can only match or beat it on eval. A trial stopped early by ASHA
    counts in the curve with the best score it reached (its budget was spent), but is never chosen.
    """
    torch_like = any(t.get("per_epoch") for t in trials)  # a loop that reports each epoch
    trials = [{k: v for k, v in t.items() if k != "per_epoch"} for t in trials if t["status"] != "not run"]
    completed = [t for t in trials if t["status"] == "completed" and t["eval"] is not None]
    chosen = max(completed, key=lambda t: (t["eval"], -t["trial"])) if completed else None
    default = next((t for t in trials if t["trial"] == 0), None)
    scored = [t["eval"] for t in trials if t["eval"] is not None]
    seconds = [t["seconds"] for t in trials if t["seconds"] is not None]
    planned = sum(
        int(t["config"].get("epochs", plan.recipe.get("epochs") or 1)) for t in trials if t["status"] != "failed"
    )
    ran = sum(t["epochs"] for t in trials if t["status"] != "failed")
    return {
        "status": "tuned" if chosen else "failed",
        "reason": None if chosen else "no trial finished: the model runs its recipe",
        "space": space_as_config(plan.space),
        "default": plan.trial_zero(),
        "chosen": chosen["config"] if chosen else None,
        "chosen_trial": chosen["trial"] if chosen else None,
        "default_eval": default["eval"] if default and default["status"] == "completed" else None,
        "tuned_eval": chosen["eval"] if chosen else None,
        "trials": trials,
        "epochs_planned": planned if torch_like else None,
        "epochs_run": ran if torch_like else None,
        "curve": expected_max_curve(scored, seconds) if scored else [],
        "wall_seconds": round(wall_seconds, 3),
    }


def search_section(session: Session) -> dict[str, Any] | None:
    """The leaderboard's ``search`` section (format 1), or None for a run without ``--tune``."""
    if session.search_budget is None:
        return None
    tasks: dict[str, Any] = {}
    for (model, task), record in session.searches.items():
        setup = session.data[task].setup if task in session.data else None
        entry = tasks.setdefault(
            task,
            {
                "metric": setup.selection_metric if setup else "f1_weighted",
                "primary_metric": session.data[task].extra.get("primary_metric", "f1_weighted"),
                "models": {},
            },
        )
        entry["models"][model] = dict(record)
    return {"format": FORMAT, "budget": dict(session.search_budget), "note": SELECTION_NOTE, "tasks": tasks}
