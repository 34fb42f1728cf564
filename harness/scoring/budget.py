"""Expected maximum validation score as a function of the tuning budget (Dodge et al. 2019,
"Show Your Work"), with the unbiased estimator of Tang et al. 2020.

Given the eval scores of N trials, what is the best score a search of only n of them would
have found, on average? Dodge et al. estimate it by drawing n trials *with* replacement from
the N (the empirical distribution's ``n``-th order statistic); Tang et al. ("Showing Your Work
Doesn't Always Work", 2020) show that estimator is biased for n close to N and give the unbiased
one, drawing *without* replacement: with scores sorted ``v_1 <= ... <= v_N``,

    E[max of n] = sum_{i=n}^{N} C(i-1, n-1) / C(N, n) * v_i

which at n = N is the best score found, and at n = 1 the mean. Against training time, a budget of
n trials is n times a trial's mean time (Dodge et al.'s second axis). The curves of two models
*cross* where the one that leads with few trials (or little time) stops leading.

Pure functions of numbers; the leaderboard's ``search`` section holds their output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "budget_statement",
    "expected_max",
    "expected_max_curve",
    "expected_max_with_replacement",
    "leaders",
]


def expected_max(scores: Sequence[float], n: int) -> float:
    """The expected best of ``n`` trials drawn without replacement from ``scores`` (unbiased, Tang et al.)."""
    ordered, total = sorted(scores), len(scores)
    if not 1 <= n <= total:
        raise ValueError(f"n must be between 1 and the {total} trials, got {n}")
    ways = math.comb(total, n)
    return sum(math.comb(i - 1, n - 1) * ordered[i - 1] for i in range(n, total + 1)) / ways


def expected_max_with_replacement(scores: Sequence[float], n: int) -> float:
    """Dodge et al.'s estimate: the expected best of ``n`` draws *with* replacement (biased low near N)."""
    ordered, total = sorted(scores), len(scores)
    if not total or n < 1:
        raise ValueError("need at least one score and n >= 1")
    return sum(v * ((i / total) ** n - ((i - 1) / total) ** n) for i, v in enumerate(ordered, start=1))


def expected_max_curve(scores: Sequence[float], seconds: Sequence[float]) -> list[dict[str, float]]:
    """For n = 1..N: the expected best eval score of n trials, and n trials' expected time
    (n x the mean trial time; ``seconds`` of every trial that cost time, failed ones included)."""
    mean_seconds = sum(seconds) / len(seconds) if seconds else 0.0
    return [
        {"trials": n, "expected_max": round(expected_max(scores, n), 6), "seconds": round(n * mean_seconds, 3)}
        for n in range(1, len(scores) + 1)
    ]


def _value_at(curve: Sequence[Mapping[str, float]], x: float, axis: str) -> float | None:
    """A curve as a step function of ``axis``: the expected best of the most trials that fit in ``x``."""
    reached = [point["expected_max"] for point in curve if point[axis] <= x + 1e-9]
    return reached[-1] if reached else None


def leaders(
    curves: Mapping[str, Sequence[Mapping[str, float]]], axis: str = "trials"
) -> list[tuple[float, tuple[str, ...]]]:
    """Where the lead changes: ``(x, the models with the highest expected maximum from x on)``,
    over the budgets every model's curve reaches (from the largest first point to the smallest last)."""
    usable = {model: curve for model, curve in curves.items() if curve}
    if len(usable) < 2:
        return []
    start = max(curve[0][axis] for curve in usable.values())
    end = min(curve[-1][axis] for curve in usable.values())
    steps = sorted({p[axis] for curve in usable.values() for p in curve if start <= p[axis] <= end})
    changes: list[tuple[float, tuple[str, ...]]] = []
    for x in steps:
        values = {model: _value_at(curve, x, axis) for model, curve in usable.items()}
        best = max(v for v in values.values() if v is not None)
        top = tuple(model for model, v in values.items() if v is not None and abs(v - best) < 5e-7)
        if not changes or changes[-1][1] != top:
            changes.append((x, top))
    return changes


def _budget_words(x: float, axis: str) -> str:
    if axis == "trials":
        return f"{x:g} trial{'s' if x != 1 else ''}"
    from harness.tables import human_seconds

    return human_seconds(x)


def _lead_text(changes: Sequence[tuple[float, tuple[str, ...]]], axis: str) -> str:
    parts = []
    for index, (x, top) in enumerate(changes):
        who = " and ".join(top) + (" lead" if len(top) > 1 else " leads")
        if index == 0:
            parts.append(f"{who} at {_budget_words(x, axis)}")
        else:
            parts.append(f"{who} from {_budget_words(x, axis)}")
    return ", ".join(parts)


def budget_statement(section: Mapping[str, Any]) -> str | None:
    """One or two sentences for the decision: the budget every model got on eval, and whether the
    expected-max curves cross (the verdict then depends on the budget); None without a search."""
    models = section.get("models", {})
    tuned = {name: m for name, m in models.items() if m.get("status") == "tuned"}
    if not models:
        return None
    budget = section.get("budget", {})
    if budget.get("trials"):
        amount = f"{budget['trials']} trial{'s' if budget['trials'] != 1 else ''}"
    else:
        amount = f"{_budget_words(budget.get('time_seconds') or 0.0, 'seconds')} of trials"
    untuned = [name for name in models if name not in tuned]
    who = "Each model" if not untuned else "Each model with a search space"
    text = f"{who} was tuned with {amount} on eval (the same budget; no trial read a test set)"
    text += f"; {', '.join(untuned)} ran {'its' if len(untuned) == 1 else 'their'} own recipe." if untuned else "."
    curves = {name: m.get("curve") or [] for name, m in tuned.items()}
    by_trials, by_time = leaders(curves, "trials"), leaders(curves, "seconds")
    crossed = [(axis, changes) for axis, changes in (("trials", by_trials), ("seconds", by_time)) if len(changes) > 1]
    if len(curves) < 2:
        return text
    if not crossed:
        lead = (by_trials or by_time or [(0, ())])[0][1]
        return text + (
            f" The expected-max curves do not cross: {' and '.join(lead)} leads at every budget." if lead else ""
        )
    said = "; ".join(
        f"by {'trials' if axis == 'trials' else 'training time'}, {_lead_text(changes, axis)}"
        for axis, changes in crossed
    )
    return text + f" The expected-max curves cross, so the verdict depends on the budget: {said}."
