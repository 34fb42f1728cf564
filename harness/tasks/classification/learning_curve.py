"""A classification task's learning curve (``harness run --train-sizes``, docs/learning-curves.md):
the leaderboard's ``summaries.TASK.learning_curve`` section.

Per test set, model and training size: the task's primary metric, seed-mean, with a percentile
bootstrap interval over the test items (every seed scored on the same resamples, as the model
comparisons are) and each seed's own score; the answers of :mod:`harness.scoring.curves` against
the model's own full-data score and the best model's; an inverse power law fitted to the
estimates, extrapolated to twice the training rows. Counts and scores only: no text of any split.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.scoring.curves import CurvePoint, fit_power_law, reach, reach_statement
from harness.scoring.stats import bootstrap_ci, point_scores
from harness.tables import METRICS
from harness.task import ScoredItem, SummaryRequest

CONFIDENCE = 0.95
EXTRAPOLATE_TO = 2  # times the full training rows


def learning_curve(request: SummaryRequest) -> dict[str, Any]:
    """The section for ``request.curve`` (which must be set)."""
    curve, data = request.curve, request.data
    assert curve is not None
    settings = data.extra["evidence"]
    primary = data.extra.get("primary_metric", "f1_weighted")
    tolerance = data.extra.get("learning_curve_tolerance", 0.01)
    full_rows = curve.subsets[-1].rows
    by_model: dict[str, dict[int, dict[int, ScoredItem]]] = {}
    for item in (*curve.items, *request.items):
        rows = full_rows if item.train_rows is None else item.train_rows
        by_model.setdefault(item.model, {}).setdefault(rows, {})[item.seed] = item
    models, excluded = [], []
    for model, by_rows in by_model.items():
        trains = curve.trains.get(model, True)
        points = []
        for subset in curve.subsets if trains else curve.subsets[-1:]:
            found = by_rows.get(subset.rows, {})
            missing = [str(seed) for seed in request.seeds if seed not in found]
            if missing:
                reason = f"no result for seed(s) {', '.join(missing)}"
                excluded.append({"model": model, "rows": subset.rows, "reason": reason})
                continue
            points.append(_point(subset.rows, [found[s] for s in request.seeds], data, settings))
        if points:
            models.append(_model_entry(model, trains, curve.recipe_sources.get(model, "default recipe"), points))
    for entry in models:
        entry["extrapolation"] = _extrapolation(entry, full_rows) if entry["trains"] else {}
    words = METRICS[primary][2]
    return {
        "metric": primary,
        "compared": settings.metric,
        "metric_name": words,
        "tolerance": tolerance,
        "confidence": CONFIDENCE,
        "resamples": settings.resamples,
        "bootstrap_seed": settings.bootstrap_seed,
        "seeds": list(request.seeds),
        "train_rows": full_rows,
        "subsets": [
            {
                "size": s.size,
                "rows": s.rows,
                "label_rows": {str(seed): dict(counts) for seed, counts in s.label_rows.items()},
            }
            for s in curve.subsets
        ],
        "models": models,
        "excluded": excluded,
        "answers": _answers(models, list(data.test_splits), full_rows, tolerance, words),
    }


def _point(rows: int, items: Sequence[ScoredItem], data: Any, settings: Any) -> dict[str, Any]:
    """One size of one model: its score per test set over its seeds, what it trained on, its cost."""
    labels, metric = data.labels, settings.metric
    used = [int(item.fit_details.get("train_rows_used", rows)) for item in items]  # a row-sampled recipe: fewer
    point: dict[str, Any] = {
        "rows": rows,
        "trained_rows": max(used),
        "train_seconds": statistics.fmean(float(item.cost.get("train_seconds", 0.0)) for item in items),
        "test_sets": {},
    }
    for name, split in data.test_splits.items():
        stacked = np.stack([np.asarray(item.retained["test_predictions"][name]) for item in items])
        interval = getattr(
            bootstrap_ci(
                split.y,
                stacked,
                labels,
                resamples=settings.resamples,
                confidence=CONFIDENCE,
                seed=settings.bootstrap_seed,
            ),
            metric,
        )
        per_seed = [float(point_scores(split.y, predictions, labels)[metric]) for predictions in stacked]
        point["test_sets"][name] = {
            "estimate": interval.estimate,
            "low": interval.low,
            "high": interval.high,
            "per_seed": per_seed,
        }
    return point


def _model_entry(model: str, trains: bool, recipe: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    sampled = [p["trained_rows"] for p in points if p["trained_rows"] < p["rows"]]
    return {
        "model": model,
        "trains": trains,
        "recipe": recipe,
        # A row-sampled recipe (max_train_rows) trains on at most this many rows of any subset.
        "max_trained_rows": max(sampled) if sampled else None,
        "points": points,
    }


def _extrapolation(entry: Mapping[str, Any], full_rows: int) -> dict[str, Any]:
    """Per test set, the power law through the model's estimates (each weighted by its interval)
    and its value at twice the rows; withheld, with the reason, where there are fewer than four
    sizes, the fit does not converge, or the law misses the full-data point's interval (a curve
    that does not pass through the last thing measured has nothing to say beyond it)."""
    out: dict[str, Any] = {}
    points = entry["points"]
    for name in points[-1]["test_sets"]:
        scored = [p["test_sets"][name] for p in points if name in p["test_sets"]]
        rows = [p["rows"] for p in points if name in p["test_sets"]]
        law = fit_power_law(
            rows,
            [s["estimate"] for s in scored],
            scale=full_rows,
            sigma=[(s["high"] - s["low"]) / 2 for s in scored],
        )
        last = scored[-1]
        if law is None:
            reason = "fewer than four sizes" if len(set(rows)) < 4 else "the fit did not converge"
            out[name] = {"withheld": reason}
        elif rows[-1] != full_rows or not last["low"] <= law.predict(full_rows) <= last["high"]:
            out[name] = {
                "withheld": f"the law misses the full-data interval: {law.predict(full_rows):.3f} at "
                f"{full_rows:,} rows, measured {last['estimate']:.3f} [{last['low']:.3f}, {last['high']:.3f}]"
            }
        else:
            at = EXTRAPOLATE_TO * full_rows
            out[name] = {"rows": at, "predicted": min(1.0, max(0.0, law.predict(at))), "law": law.to_dict()}
    return out


def _answers(
    models: list[dict[str, Any]], tests: list[str], full_rows: int, tolerance: float, words: str
) -> dict[str, list[dict[str, Any]]]:
    """Per test set and model with a full-data score: where its curve comes within ``tolerance`` of
    that score, and of the best model's."""
    answers: dict[str, list[dict[str, Any]]] = {}
    for name in tests:
        curves = {
            entry["model"]: (entry, [_curve_point(p, name) for p in entry["points"] if name in p["test_sets"]])
            for entry in models
        }
        full = {model: pts[-1].estimate for model, (_, pts) in curves.items() if pts and pts[-1].rows == full_rows}
        if not full:
            continue
        best = max(full, key=lambda model: full[model])  # ties: the first model of the run
        rows = []
        for model, (entry, points) in curves.items():
            if model not in full:
                continue
            own = reach(points, full[model], tolerance)
            to_best = reach(points, full[best], tolerance)
            common = {
                "metric": words,
                "tolerance": tolerance,
                "full": full[model],
                "full_rows": full_rows,
                "trains": entry["trains"],
            }
            rows.append(
                {
                    "model": model,
                    "own": {**own.to_dict(), "statement": reach_statement(model, own, **common)},
                    "best": {
                        **to_best.to_dict(),
                        "model": best,
                        "statement": reach_statement(model, to_best, best=best, **common),
                    },
                }
            )
        answers[name] = rows
    return answers


def _curve_point(point: Mapping[str, Any], name: str) -> CurvePoint:
    scored = point["test_sets"][name]
    return CurvePoint(point["rows"], scored["estimate"], scored["low"], scored["high"])
