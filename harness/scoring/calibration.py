"""Per-class probabilistic quality of a multi-label classifier's scores.

F1 (:mod:`harness.scoring.metrics`) judges the 0/1 decisions; these numbers judge the scores behind
them, before any threshold: the Brier score and expected calibration error (ECE) ask whether a
score of 0.8 means "right 80% of the time", and the areas under the precision-recall and ROC
curves ask how well the scores rank positives above negatives.

scikit-learn is imported inside :func:`class_calibration`, so importing this module stays
cheap. Nothing is rounded; the caller rounds for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["QUANTITIES", "class_calibration", "expected_calibration_error"]

QUANTITIES = ("brier", "ece", "pr_auc", "roc_auc")


def _checked(y_true: Any, scores: Any, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 2 or s.shape != y.shape or y.shape[1] != len(labels):
        raise ValueError(f"y_true of shape {y.shape} and scores of shape {s.shape} do not match {len(labels)} labels")
    if y.size == 0:
        raise ValueError(f"no items to score: y_true has shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if np.isnan(s).any() or (s < 0).any() or (s > 1).any():
        raise ValueError("scores must lie in [0, 1] and not be NaN")
    return y.astype(np.int8), s


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, bins: int = 10) -> np.ndarray:
    """ECE of each column: (labels,) floats from 0/1 ``y_true`` and ``scores`` of shape (items, labels).

    ``bins`` equal-width bins on [0, 1], each ``[k / bins, (k + 1) / bins)`` except the last,
    which includes 1.0; the ECE is the sum over non-empty bins of
    ``(n_bin / n) * |mean(truth in bin) - mean(score in bin)|``. A score written as an edge
    (0.3 with 10 bins) falls in the bin starting there. Inputs are not validated here;
    :func:`class_calibration` does that.
    """
    n, width = scores.shape
    # Edges k / bins, each the float nearest its fraction, i.e. 0.3 itself. np.linspace (as in
    # np.histogram and scikit-learn's calibration_curve) gives 3 * 0.1 = 0.30000000000000004,
    # which would put a score of 0.3 in the bin below; floor(score * bins) errs the same way
    # where the product rounds down, e.g. (1 / 49) * 49 < 1.
    edges = np.arange(bins + 1) / bins
    index = np.minimum(np.searchsorted(edges, scores, side="right") - 1, bins - 1)
    flat = (index + bins * np.arange(width)).ravel()  # one block of bins per column
    score_sums = np.bincount(flat, weights=scores.ravel(), minlength=width * bins).reshape(width, bins)
    true_sums = np.bincount(flat, weights=y_true.ravel(), minlength=width * bins).reshape(width, bins)
    # (n_bin / n) * |true_sum / n_bin - score_sum / n_bin| is |true_sum - score_sum| / n, and an
    # empty bin adds 0, so no division by n_bin is needed.
    return np.abs(true_sums - score_sums).sum(axis=1) / n


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def class_calibration(y_true: Any, scores: Any, labels: Sequence[str], *, bins: int = 10) -> dict[str, Any]:
    """Brier score, ECE, PR-AUC and ROC-AUC of each class, and their macro means.

    ``y_true`` is a 0/1 array and ``scores`` a float array in [0, 1], both of shape (items,
    labels). Returns::

        {"bins": bins,
         "per_class": {label: {"brier", "ece", "pr_auc", "roc_auc", "positives"}},
         "macro": {"brier", "ece", "pr_auc", "roc_auc"}}

    * ``brier``: mean of ``(score - truth) ** 2``; 0 is perfect.
    * ``ece``: expected calibration error over ``bins`` equal-width bins (see
      :func:`expected_calibration_error`); 0 is perfect.
    * ``pr_auc``: average precision (scikit-learn's step-wise area, not the trapezoidal one);
      ``None`` for a class with no positive item, where precision is undefined.
    * ``roc_auc``: ``None`` for a class whose items are all positive or all negative.
    * ``positives``: the class's number of positive items.
    * ``macro``: the mean over classes of each quantity, skipping ``None``; ``None`` if every
      class has ``None``.

    Raises ``ValueError`` for mismatched shapes, no items, a ``y_true`` that is not 0/1 and
    scores outside [0, 1] or NaN. Classes with few items give noisy numbers, ECE especially
    (a bin holding one item contributes its whole error): read them with ``positives``.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive whole number, not {bins!r}")
    y, s = _checked(y_true, scores, labels)
    ece = expected_calibration_error(y, s, bins)
    per_class: dict[str, dict[str, Any]] = {}
    for j, label in enumerate(labels):
        positives = int(y[:, j].sum())
        two_values = 0 < positives < len(y)
        per_class[label] = {
            "brier": float(brier_score_loss(y[:, j], s[:, j], pos_label=1)),
            "ece": float(ece[j]),
            "pr_auc": float(average_precision_score(y[:, j], s[:, j])) if positives else None,
            "roc_auc": float(roc_auc_score(y[:, j], s[:, j])) if two_values else None,
            "positives": positives,
        }
    macro = {q: _mean([c[q] for c in per_class.values()]) for q in QUANTITIES}
    return {"bins": int(bins), "per_class": per_class, "macro": macro}
