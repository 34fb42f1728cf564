"""The decision summary: per test set, which model to start with, and why.

The rule: a model that some model is significantly better than (a Holm-adjusted paired test at
the comparison's alpha) is never recommended. Among the models no model is significantly better
than, which all lie in the top band, the cheapest is where to start, in the spirit of the seed
study's practical suggestion ("start with the small domain encoder; if it works, stop").
"Cheapest" is by a cost that does not depend on how busy the machine was: the estimated training
FLOPs where every model it ranks has one, else the parameters; training time (to 0.1 s) breaks
ties. Where no pair of models is significant, no model is recommended: the evidence does not rank
them; where no pair *could* be (too few permutations for the number of pairs), the statement
says so, once, and how many permutations it would take.

Bands (:func:`harness.scoring.stats.bands`) are what tables and pages draw: models no band
boundary separates. A boundary goes only where every model above is significantly better than
every model below, so a band can hold a significant pair (A ~ B ~ C with only A > C); every
statement lists such pairs.

Pure functions of a task's comparisons (:func:`harness.scoring.evidence.compare_models`) and each
model's cost; the result is ``summaries.<task>.decision`` in the leaderboard.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from harness.scoring.stats import beaten_by, permutations_for, smallest_adjusted_p

__all__ = [
    "BAND_MEANING",
    "CHEAPEST_BY",
    "compared_words",
    "costs_of",
    "decide",
    "decision_from_document",
    "metric_words",
    "pairs_inside_bands",
    "rule_words",
]

# In order of preference: the first cost known for every model ranked ranks them; training
# time, machine-dependent, only breaks ties (then parameters, then the better score).
CHEAPEST_BY = ("train_flops_estimate", "params", "train_seconds")
# Training times closer than this count as a tie: timings on shared machines vary far more
# than a tenth of a second.
TIME_RESOLUTION_SECONDS = 0.1
COST_WORDS = {
    "train_flops_estimate": "estimated training FLOPs",
    "params": "parameters",
    "train_seconds": "training time",
}
BAND_MEANING = (
    "a band holds models no band boundary separates: a boundary is drawn only where every model above "
    "it is significantly better than every model below it (Holm-adjusted paired tests), so two models "
    "in one band can still differ significantly; such pairs are listed"
)
_METRIC_NAMES = {"f1_weighted": "weighted F1", "f1_macro": "macro F1", "f1_micro": "micro F1"}


def decide(
    comparisons: Mapping[str, Mapping[str, Any]],
    costs: Mapping[str, Mapping[str, Any]],
    failed: Collection[str] = (),
    metric_name: str | None = None,
    budget: str | None = None,
) -> dict[str, Any]:
    """The decision for every test set of ``comparisons`` (test set -> comparison).

    ``costs`` maps a model to ``{"train_flops_estimate": ..., "params": ..., "train_seconds":
    ...}`` (any may be None or absent: an unknown cost ranks last); ``failed`` names models with
    an error in the run, which are never recommended. ``metric_name``: the words for the compared
    metric where its key alone would mislead (a binary task's one-column weighted F1 is the F1 of
    the positive label: "F1").
    ``budget``: with ``--tune``, what every model's search got and whether the expected-max curves
    cross (:func:`harness.scoring.budget.budget_statement`); part of the decision as it is shown.
    """
    metric = next((c["metric"] for c in comparisons.values()), "f1_weighted")
    decision: dict[str, Any] = {"metric": metric, "cheapest_by": list(CHEAPEST_BY)}
    if metric_name:
        decision["metric_name"] = metric_name
    if budget:
        decision["budget"] = budget
    words = metric_words(decision)
    decision["test_sets"] = [
        _decide_test_set(name, c, costs, set(failed), words) for name, c in comparisons.items() if c["models"]
    ]
    return decision


def metric_words(decision: Mapping[str, Any]) -> str:
    """What a decision's metric is called: its ``metric_name`` if it has one, else its key's words."""
    return decision.get("metric_name") or _METRIC_NAMES.get(decision["metric"], decision["metric"])


def rule_words(decision: Mapping[str, Any]) -> str:
    """How the decision chose, in a few words (a decision written before issue 22 ranked the
    top band by training time, then parameters)."""
    cheapest_by = list(decision.get("cheapest_by", []))
    if cheapest_by[:1] == ["train_flops_estimate"]:
        return (
            "among the models no model is significantly better than, the cheapest by estimated training FLOPs "
            "where each has an estimate, else by parameters; training time breaks ties"
        )
    return "in the top band, the cheapest by " + ", then ".join(COST_WORDS.get(c, c) for c in cheapest_by)


def pairs_inside_bands(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The significant pairs whose two models share a band, best band first: ``band``, ``better``,
    ``worse`` and ``p_holm`` (the pairs no band boundary shows)."""
    models = {m["model"]: m for m in comparison["models"]}
    inside = []
    for pair in comparison["pairs"]:
        a, b = models[pair["a"]], models[pair["b"]]
        if pair["p_holm"] <= comparison["alpha"] and a["band"] == b["band"]:  # its ``significant``
            better, worse = (a, b) if pair["difference"] > 0 else (b, a)
            inside.append(
                {"band": a["band"], "better": better["model"], "worse": worse["model"], "p_holm": pair["p_holm"]}
            )
    return sorted(inside, key=lambda p: (p["band"], -models[p["better"]]["estimate"], -models[p["worse"]]["estimate"]))


def _ranking_cost(models: list[str], costs: Mapping[str, Mapping[str, Any]]) -> str:
    """The first load-independent cost every one of ``models`` has; else training time."""
    for cost in CHEAPEST_BY[:-1]:
        if all(costs.get(m, {}).get(cost) is not None for m in models):
            return cost
    return "train_seconds"


def _cost_key(
    model: Mapping[str, Any], costs: Mapping[str, Mapping[str, Any]], ranked_by: str
) -> tuple[float, float, float, float]:
    cost = costs.get(model["model"], {})
    first, seconds, params = cost.get(ranked_by), cost.get("train_seconds"), cost.get("params")
    ticks = math.inf if seconds is None else round(seconds / TIME_RESOLUTION_SECONDS)
    first_key = ticks if ranked_by == "train_seconds" else (math.inf if first is None else first)
    return first_key, ticks, math.inf if params is None else params, -model["estimate"]


def _decide_test_set(
    name: str, comparison: Mapping[str, Any], costs: Mapping[str, Mapping[str, Any]], failed: set[str], words: str
) -> dict[str, Any]:
    by_name = {m["model"]: m for m in comparison["models"]}
    adjusted = {(p["a"], p["b"]): p["p_holm"] for p in comparison["pairs"]}
    beaten = beaten_by({m: e["estimate"] for m, e in by_name.items()}, adjusted, comparison["alpha"])
    top = [by_name[model] for model in comparison["bands"][0]]
    told_apart = any(beaten.values())
    ranked = [m for m in top if m["model"] not in failed]
    ranked_by = _ranking_cost([m["model"] for m in ranked], costs)

    def cheapest(models: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        return min(models, key=lambda m: _cost_key(m, costs, ranked_by)) if models else None

    unbeaten = [m for m in top if not beaten[m["model"]]]
    chosen = cheapest([m for m in ranked if not beaten[m["model"]]]) if told_apart else None
    band_cheapest = cheapest(ranked)
    best = max(top, key=lambda m: m["estimate"])
    row = {
        "test_set": name,
        "top_band": [m["model"] for m in top],
        "unbeaten": [m["model"] for m in unbeaten],
        "recommended": chosen["model"] if chosen else None,
        # the recommended model's estimate; with none recommended, the best in the top band
        "estimate": (chosen or best)["estimate"],
        "ci": [chosen["low"], chosen["high"]] if chosen else None,
        "band_interval": [min(m["low"] for m in top), max(m["high"] for m in top)],
        "told_apart": told_apart,
        "ranked_by": ranked_by,
        "cheapest_in_band": band_cheapest["model"] if band_cheapest else None,
        "pairs_inside_bands": pairs_inside_bands(comparison),
        "smallest_p_holm": smallest_adjusted_p(len(comparison["pairs"]), comparison["permutations"]),
    }
    row["statement"] = _statement(row, comparison, costs, len(by_name), words)
    return row


def _statement(row: dict[str, Any], comparison: Mapping[str, Any], costs: Mapping, models: int, metric: str) -> str:
    level = f"{100 * comparison.get('confidence', 0.95):.0f}% CI"
    where, top = f"On {row['test_set']}", row["top_band"]
    lo, hi = row["band_interval"]
    if models == 1:
        return f"{where}, only {top[0]} was compared: there is nothing to choose between."
    alpha = comparison["alpha"]
    if row["smallest_p_holm"] > alpha:
        pairs, permutations = len(comparison["pairs"]), comparison["permutations"]
        return (
            f"{where}, no pair of the {models} models could be significant: with {pairs} pairs and "
            f"{permutations:,} permutations per pair the smallest Holm-adjusted p-value possible is "
            f"{row['smallest_p_holm']:.3g}, above alpha {alpha:g}. No model is recommended on this evidence; "
            f"set the task's permutations to at least {permutations_for(pairs, alpha, 1):,} and run again."
        )
    if not row["told_apart"]:
        return (
            f"{where}, the paired tests cannot tell any of the {models} models apart ({metric} {lo:.3f}–{hi:.3f}): "
            "no model is recommended on this evidence."
        )
    inside = [p for p in row["pairs_inside_bands"] if not (p["band"] == 1 and p["worse"] == row["cheapest_in_band"])]
    also = _inside_text(inside, comparison)
    if row["recommended"] is None:
        return (
            f"{where}, every model no model is significantly better than ({', '.join(row['unbeaten'])}) "
            f"had an error in this run: none is recommended.{also}"
        )
    chosen = row["recommended"]
    ci_lo, ci_hi = row["ci"]
    score = f"{metric} {row['estimate']:.3f} ({level} {ci_lo:.3f}–{ci_hi:.3f})"
    if len(top) == 1:
        return f"{where}, {chosen} is better than every other model on the paired tests: {score}.{also}"
    by = COST_WORDS[row["ranked_by"]]
    opening = (
        f"{where}, {len(top)} models share the top band (no band boundary separates them: {', '.join(top)}; "
        f"{metric} {lo:.3f}–{hi:.3f})"
    )
    passed_over = row["cheapest_in_band"]
    if passed_over != chosen and passed_over in _worse_models(row):
        beaters = [p for p in row["pairs_inside_bands"] if p["band"] == 1 and p["worse"] == passed_over]
        named = " and ".join(f"{p['better']} (Holm p = {p['p_holm']:.3g})" for p in beaters)
        opening += f", but the cheapest of them by {by}, {passed_over}, is significantly worse than {named}"
    cost = _cost_text(costs.get(chosen, {}), row["ranked_by"])
    if row["unbeaten"] == top:
        return f"{opening}; start with the cheapest by {by}, {chosen} ({cost}): {score}.{also}"
    unbeaten = row["unbeaten"]
    if len(unbeaten) == 1:
        start = f"The one model no model is significantly better than is {chosen}: start with it ({cost})"
    else:
        start = (
            f"Of the models no model is significantly better than ({', '.join(unbeaten)}), start with the "
            f"cheapest by {by}, {chosen} ({cost})"
        )
    return f"{opening}. {start}: {score}.{also}"


def _worse_models(row: Mapping[str, Any]) -> set[str]:
    return {p["worse"] for p in row["pairs_inside_bands"] if p["band"] == 1}


def _inside_text(pairs: list[Mapping[str, Any]], comparison: Mapping[str, Any]) -> str:
    """`` Inside band 2, char-gbt is significantly better than smollm2-135m-lora (Holm p = 0.012).``"""
    if not pairs:
        return ""
    bands = comparison["bands"]
    parts = []
    for band in dict.fromkeys(p["band"] for p in pairs):
        found = "; ".join(
            f"{p['better']} is significantly better than {p['worse']} (Holm p = {p['p_holm']:.3g})"
            for p in pairs
            if p["band"] == band
        )
        parts.append(f"inside band {band} ({', '.join(bands[band - 1])}), {found}")
    return " Though no band boundary separates them, " + "; ".join(parts) + "."


def _cost_text(cost: Mapping[str, Any], ranked_by: str) -> str:
    from harness.tables import human_count, human_seconds

    flops = cost.get("train_flops_estimate")
    parts = {
        "train_flops_estimate": f"{flops:.1e} training FLOPs (est.)" if flops is not None else None,
        "params": f"{human_count(cost.get('params'))} parameters",
        "train_seconds": f"{human_seconds(cost.get('train_seconds'))} to train",
    }
    order = [ranked_by, *(c for c in ("params", "train_seconds") if c != ranked_by)]
    return ", ".join(parts[c] for c in order if parts[c] is not None)


def decision_from_document(document: Mapping[str, Any], task: str) -> dict[str, Any] | None:
    """The decision for a leaderboard that has comparisons (e.g. one written before the decision
    existed), from its passed results' costs and their task's metric words; models with an
    errored item are not recommended."""
    comparisons = document.get("summaries", {}).get(task, {}).get("comparisons")
    if not comparisons:
        return None
    full = [e for e in document["results"] if e["task"] == task and "train_rows" not in e]  # not a curve's subsets
    passed = [e for e in full if e["status"] == "passed"]
    costs = _mean_costs((e["model"], e["cost"], e["model_info"].get("params")) for e in passed)
    failed = {e["model"] for e in full if e["status"] == "error"}
    compared = next(iter(comparisons.values()))["metric"]
    primary = next((e["primary_metric"] for e in passed if e.get("primary_metric")), None)
    problem = next((e["problem"] for e in passed if e.get("problem")), None)
    return decide(
        comparisons,
        costs,
        failed,
        metric_name=compared_words(compared, primary, problem),
        budget=budget_of_document(document, task),
    )


def compared_words(compared: str, primary_metric: str | None = None, problem: str | None = None) -> str | None:
    """The words for a comparison's metric (``compared``, a stats key) where its key's own would
    mislead, else None: a binary task compares the one column's weighted F1 (its positive
    label's F1, "F1"), accuracy is micro F1 on one-hot rows. From the task's primary metric, or
    for a leaderboard written before items named one, from their ``problem``."""
    from harness.tables import METRICS

    if primary_metric is not None:
        words = METRICS[primary_metric][2]
        return None if words == METRICS[compared][2] else words
    if problem == "binary" and compared == "f1_weighted":
        return "F1"
    if problem == "multi-class" and compared == "f1_micro":
        return "accuracy"
    return None


def budget_of_document(document: Mapping[str, Any], task: str) -> str | None:
    """The budget sentence for ``task`` from a leaderboard's ``search`` section, if it has one."""
    from harness.scoring.budget import budget_statement

    search = document.get("search")
    if not search or task not in search.get("tasks", {}):
        return None
    return budget_statement({"budget": search["budget"], "models": search["tasks"][task]["models"]})


def costs_of(items: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """What :func:`decide` ranks by, from a task's :class:`harness.task.ScoredItem` objects."""
    return _mean_costs((i.model, i.cost, i.model_info.get("params")) for i in items)


def _mean_costs(rows: Iterable[tuple[str, Mapping[str, Any], int | None]]) -> dict[str, dict[str, Any]]:
    """Per model: its mean training time and estimated training FLOPs over its seeds (None if
    never measured) and its parameters."""
    seen: dict[str, dict[str, list[float]]] = {}
    params: dict[str, int | None] = {}
    for model, cost, count in rows:
        values = seen.setdefault(model, {"train_seconds": [], "train_flops_estimate": []})
        for key, found in values.items():
            if cost.get(key) is not None:
                found.append(cost[key])
        params[model] = count
    return {
        model: {**{key: sum(v) / len(v) if v else None for key, v in values.items()}, "params": params[model]}
        for model, values in seen.items()
    }
