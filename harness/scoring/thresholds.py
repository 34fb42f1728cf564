"""Per-class decision thresholds, tuned on the eval split.

A model's :class:`~harness.model.DecisionRule` applies one threshold to every class; a rare
class whose scores sit below 0.5 may do better with a lower one. :func:`tune_thresholds` picks,
for each class, the grid value that maximises that class's F1 on the eval split under the rule
(its operator and ``top_k``), and :func:`apply_tuned` turns new scores into predictions with
them. Typical use::

    tuned = tune_thresholds(y_eval, classifier.predict_scores(eval_texts), labels, rule)
    y_pred = apply_tuned(rule, classifier.predict_scores(test_texts), tuned, labels)

Thresholds are chosen on eval only, so the test split stays untouched for reporting.
F1 follows :mod:`harness.scoring.metrics` (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.model import DecisionRule

__all__ = ["DEFAULT_GRID", "TunedThresholds", "apply_tuned", "tune_thresholds"]

DEFAULT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05, 0.10, ..., 0.95

# Distances to the rule's threshold are rounded before comparing, so that float noise
# (0.4 - 0.35 > 0.45 - 0.4 in binary) cannot break a tie that the lower value should win.
_DISTANCE_DECIMALS = 9


@dataclass(frozen=True)
class TunedThresholds:
    """One threshold per class, with the eval F1 it was chosen for.

    ``tuned[label]`` is False where the class was left at the rule's own threshold without a
    search: eval has no positive for it, or the rule's scores are 0/1 (``score="rule"``).
    A searched class can still end at the rule's threshold, with ``tuned`` True.
    ``eval_f1_tuned`` is measured on the items the thresholds were chosen on, so it is
    optimistic; report test-set F1 instead.
    """

    thresholds: dict[str, float]
    tuned: dict[str, bool]
    eval_f1_fixed: dict[str, float]  # at the rule's own threshold
    eval_f1_tuned: dict[str, float]  # at ``thresholds``
    grid: tuple[float, ...]  # the values searched, in increasing order, the rule's threshold included

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, bools, dicts and lists, ready for JSON."""
        return {
            "thresholds": {label: float(t) for label, t in self.thresholds.items()},
            "tuned": {label: bool(t) for label, t in self.tuned.items()},
            "eval_f1_fixed": {label: float(f) for label, f in self.eval_f1_fixed.items()},
            "eval_f1_tuned": {label: float(f) for label, f in self.eval_f1_tuned.items()},
            "grid": [float(t) for t in self.grid],
        }


def _per_class_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(labels,) F1 from boolean arrays of shape (items, labels); 0 where 2tp + fp + fn is 0."""
    tp = (y_true & y_pred).sum(axis=0)
    wrong = (y_true ^ y_pred).sum(axis=0)  # fp + fn
    out = np.zeros(y_true.shape[1])
    np.divide(2 * tp, 2 * tp + wrong, out=out, where=(2 * tp + wrong) > 0)
    return out


def tune_thresholds(
    y_eval: Any,
    scores_eval: Any,
    labels: Sequence[str],
    rule: DecisionRule,
    *,
    grid: Sequence[float] = DEFAULT_GRID,
) -> TunedThresholds:
    """Per-class thresholds maximising each class's F1 on the eval split under ``rule``.

    ``y_eval`` (0/1) and ``scores_eval`` have shape (eval items, labels). This function sees
    the eval split only: it takes eval arrays and nothing else, and the caller must never
    pass test data, or the test scores would no longer be held out.

    For each class, every value of ``grid`` plus ``rule.threshold`` is tried with the rule's
    operator and ``top_k``. The ``top_k`` mask depends only on the scores, so each class's
    predictions depend only on its own threshold, and optimising class by class finds the
    best thresholds jointly. Ties in F1 go to the value closest to ``rule.threshold``, then
    to the lower one, so a flat F1 keeps the rule's threshold. A class with no positive in
    eval, and every class of a rule with ``score="rule"`` (0/1 outputs, which any threshold
    in (0, 1] splits alike), keeps ``rule.threshold`` with ``tuned`` False.

    Raises ``ValueError`` for mismatched shapes, no eval items, or a NaN in ``grid``.
    """
    y = np.asarray(y_eval, dtype=bool)
    scores = np.asarray(scores_eval, dtype=float)
    if y.ndim != 2 or scores.shape != y.shape or y.shape[1] != len(labels):
        raise ValueError(
            f"y_eval of shape {y.shape} and scores of shape {scores.shape} do not match {len(labels)} labels"
        )
    if y.shape[0] == 0:
        raise ValueError("no eval items to tune thresholds on")
    values = np.asarray(list(grid), dtype=float)
    if np.isnan(values).any():
        raise ValueError(f"grid must not contain NaN: {tuple(grid)}")
    candidates = np.unique(np.append(values, rule.threshold))  # sorted, duplicates dropped
    width = len(labels)

    def f1_at(threshold: float) -> np.ndarray:
        return _per_class_f1(y, rule.apply(scores, thresholds=[threshold] * width).astype(bool))

    fixed = f1_at(rule.threshold)
    chosen = np.full(width, float(rule.threshold))
    searched = y.any(axis=0) & (rule.score != "rule")
    if searched.any():
        table = np.vstack([f1_at(t) for t in candidates])  # (candidates, labels)
        distance = np.round(np.abs(candidates - rule.threshold), _DISTANCE_DECIMALS)
        for j in np.flatnonzero(searched):
            # F1 is 2tp / (2tp + fp + fn) from whole numbers, and IEEE division is correctly
            # rounded, so equal F1 values compare exactly equal: no tolerance needed.
            order = np.lexsort((candidates, distance, -table[:, j]))  # last key sorts first
            chosen[j] = candidates[order[0]]
    tuned_f1 = _per_class_f1(y, rule.apply(scores, thresholds=chosen).astype(bool))
    return TunedThresholds(
        thresholds={label: float(chosen[j]) for j, label in enumerate(labels)},
        tuned={label: bool(searched[j]) for j, label in enumerate(labels)},
        eval_f1_fixed={label: float(fixed[j]) for j, label in enumerate(labels)},
        eval_f1_tuned={label: float(tuned_f1[j]) for j, label in enumerate(labels)},
        grid=tuple(float(t) for t in candidates),
    )


def apply_tuned(rule: DecisionRule, scores: Any, tuned: TunedThresholds, labels: Sequence[str]) -> np.ndarray:
    """0/1 predictions (int8, shape of ``scores``) from ``rule`` with the tuned thresholds.

    ``labels`` names the columns of ``scores`` (items, labels), in order; each needs a
    threshold in ``tuned``. Equal to ``rule.apply(scores, thresholds=...)``.
    """
    missing = [label for label in labels if label not in tuned.thresholds]
    if missing:
        raise ValueError(f"no tuned threshold for {missing}")
    return rule.apply(np.asarray(scores, dtype=float), thresholds=[tuned.thresholds[label] for label in labels])
