"""Multi-label classification metrics from per-class counts.

Written with numpy so that scoring needs no heavy import; the tests check every number
against scikit-learn. Conventions follow scikit-learn's ``zero_division=0``: a class with
no predicted and no true positives gets precision, recall and F1 of 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=float)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Weighted, macro and micro F1 and per-class F1/precision/recall/support.

    ``y_true`` and ``y_pred`` are 0/1 arrays of shape (examples, labels).
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or y_true.shape[1] != len(labels):
        raise ValueError(f"shapes {y_true.shape} and {y_pred.shape} do not match {len(labels)} labels")
    tp = (y_true & y_pred).sum(axis=0).astype(float)
    fp = (~y_true & y_pred).sum(axis=0).astype(float)
    fn = (y_true & ~y_pred).sum(axis=0).astype(float)
    support = tp + fn
    precision = _safe_divide(tp, tp + fp)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, 2 * tp + fp + fn)
    total_support = support.sum()
    micro = _safe_divide(np.array([2 * tp.sum()]), np.array([2 * tp.sum() + fp.sum() + fn.sum()]))[0]
    return {
        "f1_weighted": float((f1 * support).sum() / total_support) if total_support else 0.0,
        "f1_macro": float(f1.mean()),
        "f1_micro": float(micro),
        "examples": int(y_true.shape[0]),
        "per_class": {
            label: {
                "f1": float(f1[j]),
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "support": int(support[j]),
            }
            for j, label in enumerate(labels)
        },
    }
