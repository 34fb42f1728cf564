"""Counts for error analysis that hold no text: per-label TP/FP/FN/TN, the label pairs a model
confuses most, and how often two models disagree and who is right when they do.

Counts of rows only: safe for a leaderboard, apart from small cells on small data sets, which
:func:`harness.privacy.suppress_small` (``[privacy] min_cell_count``) blanks on the page and in
``publish``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

TOP_PAIRS = 10  # confused label pairs kept per test set


def label_counts(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per label (one-vs-rest): true and false positives, false and true negatives."""
    truth, predicted = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    return {
        label: {
            "tp": int((truth[:, j] & predicted[:, j]).sum()),
            "fp": int((~truth[:, j] & predicted[:, j]).sum()),
            "fn": int((truth[:, j] & ~predicted[:, j]).sum()),
            "tn": int((~truth[:, j] & ~predicted[:, j]).sum()),
        }
        for j, label in enumerate(labels)
    }


def confused_pairs(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> list[dict[str, Any]]:
    """The label pairs (true label missed, other label predicted instead) most often found in one
    row: the off-diagonal cells of a multi-class confusion matrix; for multi-label, rows where
    ``true`` was missed and ``predicted`` was wrongly given. Most rows first, at most TOP_PAIRS."""
    truth, predicted = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    missed = (truth & ~predicted).astype(np.int64)
    added = (~truth & predicted).astype(np.int64)
    together = missed.T @ added  # [a, b]: rows missing a and wrongly given b
    found = [
        {"true": labels[a], "predicted": labels[b], "rows": int(together[a, b])}
        for a in range(len(labels))
        for b in range(len(labels))
        if a != b and together[a, b] > 0
    ]
    found.sort(key=lambda pair: (-pair["rows"], pair["true"], pair["predicted"]))
    return found[:TOP_PAIRS]


def error_analysis(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """One test set's counts: per label and the most confused pairs."""
    return {
        "label_counts": label_counts(y_true, y_pred, labels),
        "confused_pairs": confused_pairs(y_true, y_pred, labels),
    }


def disagreement(y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """For each pair of models (their predictions stacked over seeds: seeds x rows x labels), the
    rows (pooled over seeds) on which they differ, and on those rows how often each was right."""
    truth = np.asarray(y_true, dtype=bool)
    out = []
    for first, second in combinations(predictions, 2):
        a, b = np.asarray(predictions[first], dtype=bool), np.asarray(predictions[second], dtype=bool)
        differ = (a != b).any(axis=-1)  # seeds x rows
        right_a = (a == truth).all(axis=-1) & differ
        right_b = (b == truth).all(axis=-1) & differ
        rows, n_differ = int(differ.size), int(differ.sum())
        out.append(
            {
                "models": [first, second],
                "rows": rows,
                "differ": n_differ,
                "share": n_differ / rows if rows else 0.0,
                "first_right": int(right_a.sum()),
                "second_right": int(right_b.sum()),
                "neither_right": int(n_differ - right_a.sum() - right_b.sum()),
            }
        )
    return out
