"""The decision summary: per test set, the models in the top band and the cheapest of them.

In the spirit of the seed study's practical suggestion ("start with the small domain encoder;
if it works, stop"): among the models the tests cannot tell apart at the top, the one that is
cheapest to train (then the smallest) is where to start. Where every model lands in one band,
no model is recommended: the evidence does not rank them.

Pure functions of a task's comparisons (:func:`harness.scoring.evidence.compare_models`) and each
model's cost; the result is ``summaries.<task>.decision`` in the leaderboard.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

__all__ = ["CHEAPEST_BY", "costs_of", "decide", "decision_from_document"]

CHEAPEST_BY = ("train_seconds", "params")
# Training times closer than this count as a tie (then parameters decide): timings on shared
# machines vary far more than a tenth of a second.
TIME_RESOLUTION_SECONDS = 0.1
_METRIC_NAMES = {"f1_weighted": "weighted F1", "f1_macro": "macro F1", "f1_micro": "micro F1"}


def decide(
    comparisons: Mapping[str, Mapping[str, Any]],
    costs: Mapping[str, Mapping[str, Any]],
    failed: Collection[str] = (),
    metric_name: str | None = None,
) -> dict[str, Any]:
    """The decision for every test set of ``comparisons`` (test set -> comparison).

    ``costs`` maps a model to ``{"train_seconds": ..., "params": ...}`` (either may be None:
    unknown costs rank last); ``failed`` names models with an error in the run, which are never
    recommended. ``metric_name``: the words for the compared metric where its key alone would
    mislead (a binary task's one-column weighted F1 is the F1 of the positive label: "F1").
    """
    metric = next((c["metric"] for c in comparisons.values()), "f1_weighted")
    decision: dict[str, Any] = {"metric": metric, "cheapest_by": list(CHEAPEST_BY)}
    if metric_name:
        decision["metric_name"] = metric_name
    words = metric_words(decision)
    decision["test_sets"] = [
        _decide_test_set(name, c, costs, set(failed), words) for name, c in comparisons.items() if c["models"]
    ]
    return decision


def metric_words(decision: Mapping[str, Any]) -> str:
    """What a decision's metric is called: its ``metric_name`` if it has one, else its key's words."""
    return decision.get("metric_name") or _METRIC_NAMES.get(decision["metric"], decision["metric"])


def _cost_key(model: Mapping[str, Any], costs: Mapping[str, Mapping[str, Any]]) -> tuple[float, float, float]:
    cost = costs.get(model["model"], {})
    seconds, params = cost.get("train_seconds"), cost.get("params")
    ticks = math.inf if seconds is None else round(seconds / TIME_RESOLUTION_SECONDS)
    return ticks, math.inf if params is None else params, -model["estimate"]


def _decide_test_set(
    name: str, comparison: Mapping[str, Any], costs: Mapping[str, Mapping[str, Any]], failed: set[str], words: str
) -> dict[str, Any]:
    by_name = {m["model"]: m for m in comparison["models"]}
    top = [by_name[model] for model in comparison["bands"][0]]
    told_apart = len(comparison["bands"]) > 1
    candidates = [m for m in top if m["model"] not in failed] if told_apart else []
    chosen = min(candidates, key=lambda m: _cost_key(m, costs)) if candidates else None
    best = max(top, key=lambda m: m["estimate"])
    row = {
        "test_set": name,
        "top_band": [m["model"] for m in top],
        "recommended": chosen["model"] if chosen else None,
        # the recommended model's estimate; with none recommended, the best in the top band
        "estimate": (chosen or best)["estimate"],
        "ci": [chosen["low"], chosen["high"]] if chosen else None,
        "band_interval": [min(m["low"] for m in top), max(m["high"] for m in top)],
        "told_apart": told_apart,
    }
    row["statement"] = _statement(row, comparison, costs, len(by_name), words)
    return row


def _statement(row: dict[str, Any], comparison: Mapping[str, Any], costs: Mapping, models: int, metric: str) -> str:
    level = f"{100 * comparison.get('confidence', 0.95):.0f}% CI"
    where, top = f"On {row['test_set']}", row["top_band"]
    lo, hi = row["band_interval"]
    if models == 1:
        return f"{where}, only {top[0]} was compared: there is nothing to choose between."
    if not row["told_apart"]:
        return (
            f"{where}, the bands cannot tell the {models} models apart ({metric} {lo:.3f}–{hi:.3f}): "
            "no model is recommended on this evidence."
        )
    if row["recommended"] is None:
        return f"{where}, every model in the top band ({', '.join(top)}) had an error in this run: none is recommended."
    chosen = row["recommended"]
    ci_lo, ci_hi = row["ci"]
    score = f"{metric} {row['estimate']:.3f} ({level} {ci_lo:.3f}–{ci_hi:.3f})"
    if len(top) == 1:
        return f"{where}, {chosen} is better than every other model on the paired tests: {score}."
    return (
        f"{where}, {len(top)} models are not told apart at the top ({', '.join(top)}; {metric} "
        f"{lo:.3f}–{hi:.3f}); start with the cheapest, {chosen} ({_cost_text(costs.get(chosen, {}))}): {score}."
    )


def _cost_text(cost: Mapping[str, Any]) -> str:
    from harness.tables import human_count, human_seconds

    return f"{human_seconds(cost.get('train_seconds'))} to train, {human_count(cost.get('params'))} parameters"


def decision_from_document(document: Mapping[str, Any], task: str) -> dict[str, Any] | None:
    """The decision for a leaderboard that has comparisons (e.g. one written before the decision
    existed), from its passed results' costs; models with an errored item are not recommended."""
    comparisons = document.get("summaries", {}).get(task, {}).get("comparisons")
    if not comparisons:
        return None
    full = [e for e in document["results"] if e["task"] == task and "train_rows" not in e]  # not a curve's subsets
    passed = [e for e in full if e["status"] == "passed"]
    costs = _mean_costs((e["model"], e["cost"].get("train_seconds"), e["model_info"].get("params")) for e in passed)
    failed = {e["model"] for e in full if e["status"] == "error"}
    return decide(comparisons, costs, failed)


def costs_of(items: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """What :func:`decide` ranks by, from a task's :class:`harness.task.ScoredItem` objects."""
    return _mean_costs((i.model, i.cost.get("train_seconds"), i.model_info.get("params")) for i in items)


def _mean_costs(rows: Iterable[tuple[str, float | None, int | None]]) -> dict[str, dict[str, Any]]:
    """Per model: its mean training time over its seeds (None if never measured) and its parameters."""
    times: dict[str, list[float]] = {}
    params: dict[str, int | None] = {}
    for model, seconds, count in rows:
        times.setdefault(model, [])
        if seconds is not None:
            times[model].append(seconds)
        params[model] = count
    return {
        model: {"train_seconds": sum(t) / len(t) if t else None, "params": params[model]} for model, t in times.items()
    }
