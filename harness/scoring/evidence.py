"""Run-level evidence for a multi-label task: model comparisons with bands, site shift, train/test overlap.

Pure functions of 0/1 arrays and texts, built on :mod:`harness.scoring.stats`; a task's ``score``
and ``summarise`` call them. Nothing here returns text: overlap is reported as counts.

Predictions of one model over several seeds come stacked, (seeds, items, labels); every
statistic is then the mean over seeds, on resamples (and swaps) shared by all seeds, as in
:mod:`harness.scoring.stats`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.scoring.stats import (
    bands,
    bootstrap_ci,
    bootstrap_replicates,
    holm,
    paired_comparison,
    permutations_for,
    point_scores,
)

__all__ = ["compare_models", "normalise", "overlap_report", "seen_in", "site_shift"]

# A second stream for the other test set of a site-shift interval: its resamples must not
# mirror the reference set's (both are drawn from generators built from the same seed).
_OTHER_SET_STREAM = 1


# --------------------------------------------------------------------------- comparisons


def compare_models(
    y_true: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    labels: Sequence[str],
    *,
    metric: str = "f1_weighted",
    resamples: int = 1000,
    permutations: int = 10_000,
    confidence: float = 0.95,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """Every model's score with a bootstrap CI, every pair's paired test, Holm, and bands.

    ``predictions`` maps a model to its 0/1 predictions on the same test items, (items,
    labels) or stacked seeds (seeds, items, labels), every model with the same seeds. The
    p-values are Holm-adjusted over all pairs of this test set; bands hold models no band
    boundary separates (:func:`harness.scoring.stats.bands`: a band may hold a significant pair).
    ``permutations`` is raised where the pairs are too many for it
    (:func:`harness.scoring.stats.permutations_for`); ``permutations`` in the result is the
    number used, ``permutations_requested`` the one asked for where they differ. Returns plain
    JSON types.
    """
    models = list(predictions)
    requested = permutations
    permutations = permutations_for(len(models) * (len(models) - 1) // 2, alpha, requested)
    intervals = {
        model: bootstrap_ci(y_true, predictions[model], labels, resamples=resamples, confidence=confidence, seed=seed)
        for model in models
    }
    scores = {model: getattr(intervals[model], metric).estimate for model in models}
    pairs = {
        (a, b): paired_comparison(
            y_true,
            predictions[a],
            predictions[b],
            labels,
            metric=metric,
            resamples=resamples,
            permutations=permutations,
            confidence=confidence,
            seed=seed,
        )
        for a, b in itertools.combinations(sorted(models, key=lambda m: -scores[m]), 2)
    }
    adjusted = holm({pair: result.p_value for pair, result in pairs.items()})
    grouped = bands(scores, adjusted, alpha=alpha) if models else []
    band_of = {model: number for number, band in enumerate(grouped, start=1) for model in band}
    seeds = {model: 1 if np.ndim(predictions[model]) == 2 else len(predictions[model]) for model in models}
    return {
        "metric": metric,
        "items": int(len(y_true)),
        "confidence": confidence,
        "alpha": alpha,
        "resamples": resamples,
        "permutations": permutations,
        **({"permutations_requested": requested} if permutations != requested else {}),
        "bootstrap_seed": seed,
        "models": [
            {
                "model": model,
                "seeds": seeds[model],
                "estimate": scores[model],
                "low": getattr(intervals[model], metric).low,
                "high": getattr(intervals[model], metric).high,
                "band": band_of[model],
            }
            for model in sorted(models, key=lambda m: (band_of[m], -scores[m]))
        ],
        "pairs": [
            {
                "a": a,
                "b": b,
                "difference": result.difference,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "p_value": result.p_value,
                "p_holm": adjusted[a, b],
                "significant": adjusted[a, b] <= alpha,
            }
            for (a, b), result in pairs.items()
        ],
        "bands": grouped,
    }


# --------------------------------------------------------------------------- site shift


def site_shift(
    y_reference: np.ndarray,
    pred_reference: np.ndarray,
    y_other: np.ndarray,
    pred_other: np.ndarray,
    labels: Sequence[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-class and weighted F1 on another test set minus on the reference set, with CIs.

    The two sets hold different items, so each is resampled on its own and the interval is
    the percentile interval of the differences of their replicates (of a class: over the
    resamples where both sets have it). A class with no true and no predicted row in either
    set has no F1 there: its ``reference`` or ``other`` is None, and so are its difference and
    interval. Predictions are (items, labels) or stacked seeds, as in :func:`compare_models`.
    """
    reference = bootstrap_replicates(y_reference, pred_reference, labels, resamples=resamples, seed=seed)
    other_seed = np.random.SeedSequence([seed, _OTHER_SET_STREAM])
    other = bootstrap_replicates(y_other, pred_other, labels, resamples=resamples, seed=other_seed)  # type: ignore[arg-type]
    point_reference = point_scores(y_reference, pred_reference, labels)
    point_other = point_scores(y_other, pred_other, labels)
    tail = (1 - confidence) / 2

    def interval(difference: np.ndarray) -> tuple[float | None, float | None]:
        defined = difference[~np.isnan(difference)]  # a class absent from a resample has no F1 there
        if not len(defined):
            return None, None
        low, high = np.quantile(defined, [tail, 1 - tail])
        return float(low), float(high)

    def number(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    per_class = {}
    for j, label in enumerate(labels):
        low, high = interval(other["per_class_f1"][:, j] - reference["per_class_f1"][:, j])
        ref_f1, other_f1 = number(point_reference["per_class_f1"][j]), number(point_other["per_class_f1"][j])
        difference = other_f1 - ref_f1 if other_f1 is not None and ref_f1 is not None else None
        per_class[label] = {
            "reference": ref_f1,
            "other": other_f1,
            "difference": difference,
            "low": low if difference is not None else None,
            "high": high if difference is not None else None,
        }
    low, high = interval(other["f1_weighted"] - reference["f1_weighted"])
    weighted = {
        "reference": point_reference["f1_weighted"],
        "other": point_other["f1_weighted"],
        "difference": point_other["f1_weighted"] - point_reference["f1_weighted"],
        "low": low,
        "high": high,
    }
    return {"f1_weighted": weighted, "per_class_f1": per_class, "resamples": resamples, "confidence": confidence}


# --------------------------------------------------------------------------- overlap


_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case-folded, whitespace collapsed and trimmed: the same entry typed twice."""
    return _SPACE.sub(" ", text).strip().casefold()


def seen_in(train_texts: Iterable[str], texts: Sequence[str], normalised: bool = False) -> np.ndarray:
    """Boolean mask: which ``texts`` occur among ``train_texts``: as the exact string, or with
    ``normalised`` after :func:`normalise` on both sides (the overlap report's
    ``rows_in_train_normalised``: the same entry typed with other case or spacing)."""
    same = normalise if normalised else _as_written
    train = {same(text) for text in train_texts}
    return np.fromiter((same(text) in train for text in texts), dtype=bool, count=len(texts))


def _as_written(text: str) -> str:
    return text


def overlap_report(train_texts: Sequence[str], test_texts: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Per test set: how many rows (and distinct strings) also occur in the training split.

    ``exact`` is string equality; ``normalised`` ignores case and runs of whitespace. Counts
    only: no text is returned.
    """
    exact_train = set(train_texts)
    out = {}
    for name, texts in test_texts.items():
        distinct = set(texts)
        in_train = sum(text in exact_train for text in texts)
        out[name] = {
            "rows": len(texts),
            "rows_in_train": in_train,
            "rows_in_train_share": in_train / len(texts) if texts else 0.0,
            "rows_in_train_normalised": int(seen_in(train_texts, texts, normalised=True).sum()),
            "distinct": len(distinct),
            "distinct_in_train": len(distinct & exact_train),
            "rows_unseen": len(texts) - in_train,
        }
    return out
