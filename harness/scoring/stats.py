"""Uncertainty for test-set scores: bootstrap intervals, paired model comparisons, bands.

Pure numpy, like :mod:`harness.scoring.metrics`, whose conventions it follows: a class with no
true and no predicted positives has no F1 (NaN in the arrays here, ``None`` in dictionaries), and
macro F1 averages over the classes present, in the point estimate and in every resample. A
per-class interval is taken over the resamples where the class is present.

Every resampling draws from a numpy generator seeded by the caller's ``seed``, so the same
seed gives the same numbers bit for bit. Resampled scores are computed from per-class tp/fp/fn counts: each item's
counts form one row of a matrix, and a matrix product with the resampling weights gives the
counts of every resample at once. The counts are whole numbers held exactly in float64, so the
result does not depend on how BLAS orders its sums.

Several seeds of one model: pass its predictions stacked, shape (seeds, items, labels). Each
resample (or permutation) then takes the same items for every seed, scores each seed on them
and averages: the statistic is the seed-mean score, and the interval covers both the test
items and (through the mean) the seeds' spread. One seed's (items, labels) array is the case
of one seed.

Items that are not independent (the robustness task's variants, many from one source row): pass
``clusters``, one id per item, to :func:`paired_comparison`. A resample then draws whole clusters
and a swap exchanges whole clusters, so copies of one source count as one piece of evidence.

Typical use, for models scored on the same test items::

    comparisons = {(a, b): paired_comparison(y, preds[a], preds[b], labels) for a, b in pairs}
    adjusted = holm({pair: c.p_value for pair, c in comparisons.items()})
    bands(scores, adjusted)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "AVERAGES",
    "BootstrapCI",
    "Interval",
    "PairedComparison",
    "bands",
    "beaten_by",
    "bootstrap_ci",
    "bootstrap_replicates",
    "holm",
    "mean_sd",
    "paired_comparison",
    "permutations_for",
    "point_scores",
    "smallest_adjusted_p",
]

AVERAGES = ("f1_weighted", "f1_macro", "f1_micro")

# permutations_for raises a paired test's permutations until the smallest Holm-adjusted p-value
# possible is alpha / PERMUTATION_MARGIN (a handful of permuted differences as large as the
# observed one still leave a pair significant), but never past MOST_PERMUTATIONS per pair.
PERMUTATION_MARGIN = 5
MOST_PERMUTATIONS = 100_000

# Resamples x items drawn at once. Bounds peak memory near 64 MB; it does not change the
# numbers, because chunks take consecutive draws from one generator.
_CHUNK_CELLS = 1 << 21

Model = TypeVar("Model", bound=Hashable)
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Interval:
    """An estimate and its bounds; all None for a class with no true and no predicted row."""

    estimate: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class BootstrapCI:
    """Point estimates on the full test set with percentile bootstrap intervals."""

    f1_weighted: Interval
    f1_macro: Interval
    f1_micro: Interval
    per_class_f1: dict[str, Interval]
    resamples: int
    confidence: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """Plain floats and dicts, ready for JSON."""

        def plain(interval: Interval) -> dict[str, float | None]:
            return {"estimate": interval.estimate, "low": interval.low, "high": interval.high}

        return {
            **{average: plain(getattr(self, average)) for average in AVERAGES},
            "per_class_f1": {label: plain(i) for label, i in self.per_class_f1.items()},
            "resamples": self.resamples,
            "confidence": self.confidence,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class PairedComparison:
    """Model A minus model B on one metric, over the same test items."""

    metric: str
    score_a: float
    score_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    resamples: int = field(repr=False)
    permutations: int = field(repr=False)
    seed: int = field(repr=False)


# --------------------------------------------------------------------------- counts and scores


def _indicators(y_true: Any, *predictions: Any, labels: Sequence[str]) -> tuple[np.ndarray, ...]:
    """``y_true`` as (items, labels) and each prediction as (seeds, items, labels), all bool.

    A prediction may be one seed's (items, labels) or several seeds' stacked (seeds, items,
    labels); every prediction must have the same number of seeds.
    """
    y = np.asarray(y_true, dtype=bool)
    stacked = tuple(np.asarray(p, dtype=bool) for p in predictions)
    stacked = tuple(p[None] if p.ndim == 2 else p for p in stacked)
    if y.ndim != 2 or y.shape[1] != len(labels) or any(p.ndim != 3 or p.shape[1:] != y.shape for p in stacked):
        raise ValueError(f"shapes {[y.shape, *(p.shape for p in stacked)]} do not match {len(labels)} labels")
    if len({p.shape[0] for p in stacked}) > 1:
        raise ValueError(f"predictions have different numbers of seeds: {[p.shape[0] for p in stacked]}")
    if y.shape[0] == 0:
        raise ValueError("no test items to resample")
    return (y, *stacked)


def _item_counts(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(items, seeds * 3 * labels) float64: per seed, each item's tp, then fp, then fn per class."""
    return np.hstack([np.hstack([y_true & seed, ~y_true & seed, y_true & ~seed]) for seed in y_pred]).astype(np.float64)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _scores(counts: np.ndarray, seeds: int = 1) -> dict[str, np.ndarray]:
    """F1 scores from summed counts of shape (..., seeds * 3 * labels); same formulas as
    metrics.py. With several seeds, each seed is scored on its own and the scores averaged."""
    if seeds > 1:
        per_seed = _scores(counts.reshape(*counts.shape[:-1], seeds, -1))
        per_class = per_seed.pop("per_class_f1")
        return {
            **{name: values.mean(axis=-1) for name, values in per_seed.items()},
            "per_class_f1": _nan_mean(per_class, axis=-2),  # over the seeds where the class is present
        }
    tp, fp, fn = np.split(counts, 3, axis=-1)
    support = tp + fn
    f1 = _divide(2 * tp, 2 * tp + fp + fn)  # 0 where the class is absent: left out of the macro sum
    present = (tp + fp + fn) > 0
    tp_all, fp_all, fn_all = tp.sum(axis=-1), fp.sum(axis=-1), fn.sum(axis=-1)
    return {
        "f1_weighted": _divide((f1 * support).sum(axis=-1), support.sum(axis=-1)),
        "f1_macro": _divide(f1.sum(axis=-1), present.sum(axis=-1)),
        "f1_micro": _divide(2 * tp_all, 2 * tp_all + fp_all + fn_all),
        "per_class_f1": np.where(present, f1, np.nan),
    }


def _nan_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """The mean over ``axis`` of the values that are not NaN; NaN where all are (no numpy warning)."""
    defined = ~np.isnan(values)
    sums, counts = np.where(defined, values, 0.0).sum(axis=axis), defined.sum(axis=axis)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _number(value: float) -> float | None:
    """A plain float, or None for NaN (a class with no F1)."""
    return None if np.isnan(value) else float(value)


def _chunk_sizes(total: int, width: int) -> Iterator[int]:
    step = max(1, _CHUNK_CELLS // max(width, 1))
    for start in range(0, total, step):
        yield min(step, total - start)


def _resampled_counts(item_counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Summed counts of each bootstrap resample: (resamples, columns).

    Resample ``b`` takes the items ``rng.integers(0, n, size=(resamples, n))[b]``; the weight
    of an item is how often it was drawn, so the counts are ``weights @ item_counts``.
    """
    n = item_counts.shape[0]
    out = np.empty((resamples, item_counts.shape[1]))
    start = 0
    for size in _chunk_sizes(resamples, n):
        rows = rng.integers(0, n, size=(size, n))
        flat = (rows + n * np.arange(size)[:, None]).ravel()
        weights = np.bincount(flat, minlength=size * n).reshape(size, n).astype(np.float64)
        out[start : start + size] = weights @ item_counts
        start += size
    return out


def _cluster_sums(clusters: Any, *item_columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each of ``item_columns`` (items, columns) summed per cluster: (clusters, columns), the
    clusters in order of their first item (so singleton clusters leave every array as it was)."""
    ids = np.asarray(clusters)
    items = item_columns[0].shape[0]
    if ids.shape != (items,):
        raise ValueError(f"clusters of shape {ids.shape} for {items} items: need one cluster per item")
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.empty(len(first), dtype=np.intp)
    order[np.argsort(first, kind="stable")] = np.arange(len(first))
    cluster_of = order[inverse.ravel()]
    sums = []
    for columns in item_columns:
        summed = np.zeros((len(first), columns.shape[1]))
        np.add.at(summed, cluster_of, columns)  # whole numbers: exact in float64
        sums.append(summed)
    return tuple(sums)


def _check_resampling(count: int, confidence: float = 0.5) -> None:
    if count < 1:
        raise ValueError(f"resamples and permutations must be at least 1, not {count}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")


def _percentiles(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The interval's bounds over axis 0, leaving out NaN (a class absent from a resample); NaN
    where every replicate is NaN."""
    tail = (1 - confidence) / 2
    if not np.isnan(replicates).any():
        low, high = np.quantile(replicates, [tail, 1 - tail], axis=0)
        return low, high
    columns = replicates.reshape(len(replicates), -1)
    bounds = np.full((2, columns.shape[1]), np.nan)
    for j in range(columns.shape[1]):
        defined = columns[:, j][~np.isnan(columns[:, j])]
        if len(defined):
            bounds[:, j] = np.quantile(defined, [tail, 1 - tail])
    low, high = bounds.reshape(2, *replicates.shape[1:])
    return low, high


# --------------------------------------------------------------------------- one model


def point_scores(y_true: Any, y_pred: Any, labels: Sequence[str]) -> dict[str, Any]:
    """Weighted, macro and micro F1 (floats) and ``per_class_f1`` (an array, NaN for a class
    with no true and no predicted row) on all items; the seed mean for stacked predictions
    (seeds, items, labels)."""
    y_true, y_pred = _indicators(y_true, y_pred, labels=labels)
    scores = _scores(_item_counts(y_true, y_pred).sum(axis=0), len(y_pred))
    return {name: (values if name == "per_class_f1" else float(values)) for name, values in scores.items()}


def bootstrap_replicates(
    y_true: Any, y_pred: Any, labels: Sequence[str], *, resamples: int = 1000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Scores on ``resamples`` bootstrap resamples of the test items (rows).

    Returns ``f1_weighted``, ``f1_macro`` and ``f1_micro`` of shape (resamples,) and
    ``per_class_f1`` of shape (resamples, labels), NaN where a resample has no true and no
    predicted row of the class (macro F1 averages over the others). Resample ``b`` scores the rows
    ``default_rng(seed).integers(0, n, size=(resamples, n))[b]``: the draws depend only on
    the number of items, so models scored on the same test set with the same seed are
    scored on the same resamples (their replicates are paired). With stacked seeds
    (seeds, items, labels) each replicate is the mean over seeds on the same rows.
    """
    _check_resampling(resamples)
    y_true, y_pred = _indicators(y_true, y_pred, labels=labels)
    counts = _resampled_counts(_item_counts(y_true, y_pred), resamples, np.random.default_rng(seed))
    return _scores(counts, len(y_pred))


def bootstrap_ci(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Weighted, macro, micro and per-class F1 with percentile bootstrap intervals.

    ``y_true`` and ``y_pred`` are 0/1 arrays of shape (items, labels), or ``y_pred`` of
    shape (seeds, items, labels) for the seed-mean score. The estimate is the score on the
    full test set (equal to :func:`harness.scoring.metrics.multilabel_report`); the
    interval runs between the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
    (numpy's default linear interpolation) of :func:`bootstrap_replicates`.
    """
    _check_resampling(resamples, confidence)
    y_true, y_pred = _indicators(y_true, y_pred, labels=labels)
    counts = _item_counts(y_true, y_pred)
    point = _scores(counts.sum(axis=0), len(y_pred))
    replicates = _scores(_resampled_counts(counts, resamples, np.random.default_rng(seed)), len(y_pred))
    bounds = {name: _percentiles(values, confidence) for name, values in replicates.items()}
    f1, (f1_low, f1_high) = point["per_class_f1"], bounds["per_class_f1"]
    return BootstrapCI(
        **{average: Interval(float(point[average]), *map(float, bounds[average])) for average in AVERAGES},
        per_class_f1={
            label: Interval(_number(f1[j]), _number(f1_low[j]), _number(f1_high[j])) for j, label in enumerate(labels)
        },
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


# --------------------------------------------------------------------------- two models


def paired_comparison(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    labels: Sequence[str],
    *,
    metric: str = "f1_weighted",
    resamples: int = 1000,
    permutations: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    clusters: Any = None,
) -> PairedComparison:
    """Is model A's ``metric`` different from model B's on the same test items?

    ``pred_a`` and ``pred_b`` are (items, labels), or (seeds, items, labels) with the same
    number of seeds: the scores are then seed means, and a swap exchanges an item's
    predictions for every seed at once. ``difference`` is A minus B on the full test set; ``ci_low``/``ci_high`` are a paired
    percentile bootstrap interval for it (both models scored on the same ``resamples``
    resamples, namely those of :func:`bootstrap_replicates` with this seed, the ones behind
    the models' own intervals). ``p_value`` is two-sided, from a paired approximate
    randomisation (permutation) test: under the null hypothesis that the two models are
    interchangeable, swapping their predictions for any item is as likely as not, so each
    of ``permutations`` swaps every item with probability 1/2, and the p-value is
    ``(1 + #{|permuted difference| >= |observed|}) / (permutations + 1)``.

    Why permutation for the p-value: corpus-level F1 is not a mean over items, and the
    randomisation test is valid at any test-set size without the bootstrap's large-sample
    approximations (Yeh 2000, "More accurate tests for the statistical significance of
    result differences"; Riezler & Maxwell 2005). Identical predictions give exactly p = 1.
    Only items where the predictions differ can change the difference, so only those are
    swapped: swaps are ``default_rng(SeedSequence(seed).spawn(1)[0]).random((permutations,
    k)) < 0.5`` over the k differing items, in order.

    ``clusters`` (one hashable id per item, e.g. the source row of each variant) makes both the
    bootstrap and the permutations work on whole clusters: the draws and swaps above are then
    over the k clusters, numbered in order of their first item, and a cluster is swapped if
    any of its items differ. Without it every item is its own cluster (the same numbers, bit
    for bit). Items that share a source are not independent evidence: treated as independent,
    duplicating every item would narrow the interval by about 1/sqrt(2); clustered, it does not.

    The smallest possible p-value is ``1 / (permutations + 1)``; after Holm correction over
    m comparisons it is ``m / (permutations + 1)``, hence the default of 10,000. Near the 0.05
    boundary the interval and the p-value can disagree; the p-value is the test.
    """
    if metric not in AVERAGES:
        raise ValueError(f"metric must be one of {', '.join(AVERAGES)}, not {metric!r}")
    _check_resampling(resamples, confidence)
    _check_resampling(permutations)
    y_true, pred_a, pred_b = _indicators(y_true, pred_a, pred_b, labels=labels)
    seeds = len(pred_a)
    counts_a, counts_b = _item_counts(y_true, pred_a), _item_counts(y_true, pred_b)
    differs = (pred_a != pred_b).any(axis=(0, 2))
    if clusters is not None:  # from here on a row of counts is one cluster's
        counts_a, counts_b, differing = _cluster_sums(clusters, counts_a, counts_b, differs[:, None])
        differs = differing[:, 0] > 0
    total_a, total_b = counts_a.sum(axis=0), counts_b.sum(axis=0)
    score_a, score_b = float(_scores(total_a, seeds)[metric]), float(_scores(total_b, seeds)[metric])
    observed = score_a - score_b

    columns = counts_a.shape[1]
    both = _resampled_counts(np.hstack([counts_a, counts_b]), resamples, np.random.default_rng(seed))
    resampled = _scores(both[:, :columns], seeds)[metric] - _scores(both[:, columns:], seeds)[metric]
    ci_low, ci_high = _percentiles(resampled, confidence)

    # Swapping item (or cluster) i moves (counts_b[i] - counts_a[i]) from B's totals to A's.
    delta = (counts_b - counts_a)[differs]
    exceed = permutations if len(delta) == 0 else 0
    if len(delta):
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        for size in _chunk_sizes(permutations, len(delta)):
            moved = (rng.random((size, len(delta))) < 0.5).astype(np.float64) @ delta
            permuted = _scores(total_a + moved, seeds)[metric] - _scores(total_b - moved, seeds)[metric]
            # The tolerance keeps rounding from splitting ties with the observed value.
            exceed += int((np.abs(permuted) >= abs(observed) - 1e-12).sum())
    return PairedComparison(
        metric=metric,
        score_a=score_a,
        score_b=score_b,
        difference=observed,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        p_value=(1 + exceed) / (permutations + 1),
        resamples=resamples,
        permutations=permutations,
        seed=seed,
    )


def holm(p_values: Mapping[Key, float]) -> dict[Key, float]:
    """Holm-Bonferroni adjusted p-values, in the order of ``p_values``.

    The i-th smallest of m p-values becomes the running maximum of ``(m - i + 1) * p``,
    capped at 1; rejecting every hypothesis whose adjusted p-value is at most alpha
    controls the family-wise error rate at alpha.
    """
    keys = list(p_values)
    raw = np.array([p_values[k] for k in keys], dtype=float)
    if np.isnan(raw).any() or (raw < 0).any() or (raw > 1).any():
        raise ValueError(f"p-values must lie in [0, 1]: {dict(p_values)}")
    order = np.argsort(raw, kind="stable")
    m = len(raw)
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * raw[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return {k: float(a) for k, a in zip(keys, adjusted, strict=True)}


def bands(
    scores: Mapping[Model, float],
    pairwise_adjusted_p: Mapping[tuple[Model, Model], float],
    alpha: float = 0.05,
) -> list[list[Model]]:
    """Split models, best score first, into bands: models no band boundary separates.

    Rule: a boundary goes between two neighbours in score order only if every model above
    it is significantly better (adjusted p <= alpha) than every model below it. So:

    * bands are contiguous in score order, and each lists its models best first;
    * every model in a band is significantly better than every model in each lower band;
    * the top band holds every model not significantly worse than the best one (and maybe more).

    A band is *not* a set of models the tests cannot tell apart: a chain of small steps
    (A ~ B ~ C with only A > C significant) stays one band, because no boundary can go between
    A and B (A is not better than B) nor between B and C (B is not better than C). What the
    tests say about each pair is in :func:`beaten_by`; a choice of model should read that, not
    the bands. ``pairwise_adjusted_p`` needs every pair, keyed ``(a, b)`` or ``(b, a)``; adjust
    over all pairs (e.g. with :func:`holm`) since the rule may consult any of them. Equal
    scores keep mapping order.
    """
    ranked = sorted(scores, key=lambda model: -scores[model])
    significant: dict[tuple[Model, Model], bool] = {}
    for i, a in enumerate(ranked):
        for b in ranked[i + 1 :]:
            p = pairwise_adjusted_p.get((a, b), pairwise_adjusted_p.get((b, a)))
            if p is None:
                raise KeyError(f"no adjusted p-value for the pair {a!r}, {b!r}")
            significant[a, b] = p <= alpha

    out: list[list[Model]] = []
    band: list[Model] = []
    for i, model in enumerate(ranked):
        band.append(model)
        below = ranked[i + 1 :]
        if not below or all(significant[a, b] for a in ranked[: i + 1] for b in below):
            out.append(band)
            band = []
    return out


def beaten_by(
    scores: Mapping[Model, float],
    pairwise_adjusted_p: Mapping[tuple[Model, Model], float],
    alpha: float = 0.05,
) -> dict[Model, list[Model]]:
    """Model -> the models significantly better than it (a higher score and adjusted p <= alpha),
    best first; an empty list for a model no model is significantly better than.

    Pairs missing from ``pairwise_adjusted_p`` (keyed ``(a, b)`` or ``(b, a)``) count as not
    significant. The models with an empty list are the ones a choice may fall on: each of the
    others is worse than some model on the tests. They all lie in the top band of :func:`bands`.
    """
    ranked = sorted(scores, key=lambda model: -scores[model])
    out: dict[Model, list[Model]] = {model: [] for model in scores}
    for i, better in enumerate(ranked):
        for worse in ranked[i + 1 :]:
            p = pairwise_adjusted_p.get((better, worse), pairwise_adjusted_p.get((worse, better)))
            if p is not None and p <= alpha and scores[better] > scores[worse]:
                out[worse].append(better)
    return out


def smallest_adjusted_p(pairs: int, permutations: int) -> float:
    """The smallest Holm-adjusted p-value ``pairs`` permutation tests of ``permutations`` swaps
    each can give: the smallest p-value is 1 / (permutations + 1), and Holm multiplies the
    smallest by the number of pairs. Above alpha, no pair can be significant."""
    return min(1.0, pairs / (permutations + 1)) if pairs else 1.0


def permutations_for(pairs: int, alpha: float, requested: int) -> int:
    """``requested``, raised where ``pairs`` Holm-adjusted tests need more permutations for the
    smallest possible adjusted p-value to be alpha / PERMUTATION_MARGIN (105 pairs at alpha 0.05:
    10,499), but never past MOST_PERMUTATIONS (nor ever lowered)."""
    needed = math.ceil(PERMUTATION_MARGIN * pairs / alpha - 1e-9) - 1 if pairs else 0  # 1e-9: float noise
    return max(requested, min(needed, MOST_PERMUTATIONS))


# --------------------------------------------------------------------------- across seeds


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof=1) across seeds; sd is None for one seed."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"need a non-empty list of numbers, not {values!r}")
    sd = float(array.std(ddof=1)) if array.size > 1 else None
    return float(array.mean()), sd
