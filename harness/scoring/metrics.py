"""Classification metrics for the three problems, from 0/1 indicator matrices.

Every task holds its labels as (examples, labels) 0/1 arrays: multi-label as they are,
multi-class as one-hot rows, binary as one column (the positive label). Written with numpy
so that scoring needs no heavy import; the tests check every number against scikit-learn.
Conventions follow scikit-learn's ``zero_division=0`` for precision and recall (0 where the
denominator is 0). A label with no true and no predicted row in the scored rows has no F1 at all
(``None``): macro F1 averages over the labels present in the true or predicted rows, as
scikit-learn's ``f1_score(average="macro")`` does on class ids (on an indicator matrix: with
``zero_division=np.nan``), so a perfect model scores 1.0 on a test set that lacks a label.
With no label present at all (no rows, or no positive anywhere) macro F1 is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PROBLEMS = ("multi-label", "multi-class", "binary")


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=float)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Weighted, macro and micro F1 and per-class F1/precision/recall/support.

    ``y_true`` and ``y_pred`` are 0/1 arrays of shape (examples, labels). A label with no true
    and no predicted row has F1 ``None`` and is left out of the macro average.
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
    present = (tp + fp + fn) > 0  # in the true or the predicted rows
    total_support = support.sum()
    micro = _safe_divide(np.array([2 * tp.sum()]), np.array([2 * tp.sum() + fp.sum() + fn.sum()]))[0]
    return {
        "f1_weighted": float((f1 * support).sum() / total_support) if total_support else 0.0,
        "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
        "f1_micro": float(micro),
        "examples": int(y_true.shape[0]),
        "per_class": {
            label: {
                "f1": float(f1[j]) if present[j] else None,
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "support": int(support[j]),
            }
            for j, label in enumerate(labels)
        },
    }


def _zero_one(name: str, array: Any) -> np.ndarray:
    values = np.asarray(array)
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0/1 indicators")
    return values.astype(bool)


def multiclass_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """:func:`multilabel_report`'s keys plus ``accuracy`` and ``confusion_matrix``.

    ``y_true`` and ``y_pred`` are one-hot 0/1 arrays of shape (examples, labels). On one-hot
    rows every error is one false positive and one false negative, so ``f1_micro`` equals
    ``accuracy``. The confusion matrix has a row per true label and a column per predicted one.

    A predicted row with no label is a prompted model's answer that named none (unparseable):
    it is wrong (a false negative of its true label), and the matrix counts it per true label
    under ``no_answer``. Predicted rows with several labels, and true rows with other than one,
    are refused.
    """
    truth, predicted = _zero_one("y_true", y_true), _zero_one("y_pred", y_pred)
    report = multilabel_report(truth, predicted, labels)
    indices = []
    for which, rows in (("true", truth), ("predicted", predicted)):
        counts = rows.sum(axis=1)
        wrong = int((counts > 1).sum() if which == "predicted" else (counts != 1).sum())
        if wrong:
            raise ValueError(f"{wrong} of {len(rows)} {which} rows do not have exactly one label (multi-class)")
        indices.append(np.where(counts == 1, rows.argmax(axis=1), -1))
    if report["examples"] == 0:
        raise ValueError("no examples to score")
    true, pred = indices
    k = len(labels)
    answered = pred >= 0
    matrix = np.bincount(true[answered] * k + pred[answered], minlength=k * k).reshape(k, k)
    confusion: dict[str, Any] = {"labels": list(labels), "matrix": matrix.tolist()}
    if not answered.all():
        confusion["no_answer"] = np.bincount(true[~answered], minlength=k).tolist()
    return {"accuracy": float((true == pred).mean()), **report, "confusion_matrix": confusion}


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks (the Mann-Whitney convention)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]  # each tie group is sorted positions [start, end)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


def _roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Probability that a random positive outscores a random negative, ties counting half."""
    n_positive, n_negative = int(positive.sum()), int((~positive).sum())
    if n_positive == 0 or n_negative == 0:
        return None
    rank_sum = _average_ranks(scores)[positive].sum()
    return float((rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def _average_precision(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Sum over score thresholds of (recall gained) x precision: step-wise, no interpolation."""
    n_positive = int(positive.sum())
    if n_positive == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    hits = positive[order]
    last_of_tie = np.r_[scores[order][1:] != scores[order][:-1], True]  # a tie is one threshold
    tp = np.cumsum(hits)[last_of_tie]
    flagged = (np.arange(len(scores)) + 1)[last_of_tie]
    recall_gained = np.diff(np.r_[0, tp]) / n_positive
    return float((recall_gained * tp / flagged).sum())


def binary_report(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None, label: str) -> dict[str, Any]:
    """Positive-class F1, precision, recall (= sensitivity), specificity, PR and ROC AUC.

    ``y_true`` and ``y_pred`` are 0/1 arrays of shape (examples, 1), the column being the
    positive ``label``; ``scores`` (examples, 1) rank examples (higher = more positive) or are
    None. ``pr_auc`` is average precision; both AUCs are None without scores, and when
    undefined: ``roc_auc`` without both classes in ``y_true``, ``pr_auc`` without positives.
    Also :func:`multilabel_report`'s keys for the one column, so tables keyed on them work.
    """
    truth, predicted = _zero_one("y_true", y_true), _zero_one("y_pred", y_pred)
    if truth.ndim != 2 or truth.shape[1] != 1 or truth.shape != predicted.shape:
        raise ValueError(
            f"binary needs one column of labels and of predictions, not {truth.shape} and {predicted.shape}"
        )
    if truth.shape[0] == 0:
        raise ValueError("no examples to score")
    report = multilabel_report(truth, predicted, [label])
    positive, flagged = truth[:, 0], predicted[:, 0]
    tp, fp = int((positive & flagged).sum()), int((~positive & flagged).sum())
    fn, tn = int((positive & ~flagged).sum()), int((~positive & ~flagged).sum())
    pr_auc = roc_auc = None
    if scores is not None:
        ranking = np.asarray(scores, dtype=float)
        if ranking.shape != truth.shape:
            raise ValueError(f"scores of shape {ranking.shape} for labels of shape {truth.shape}")
        if not np.isfinite(ranking).all():
            raise ValueError("scores must be finite numbers")
        pr_auc, roc_auc = _average_precision(positive, ranking[:, 0]), _roc_auc(positive, ranking[:, 0])
    column = report["per_class"][label]
    return {
        "f1": column["f1"] or 0.0,  # no positive row and none predicted: scikit-learn's zero_division=0
        "precision": column["precision"],
        "recall": column["recall"],
        "sensitivity": column["recall"],
        "specificity": tn / (tn + fp) if tn + fp else 0.0,
        "pr_auc": pr_auc,
        "roc_auc": roc_auc,
        "prevalence": float(positive.mean()),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        **report,
    }


def problem_report(
    problem: str, y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None, labels: Sequence[str]
) -> dict[str, Any]:
    """The report for a task's ``problem``: multi-label, multi-class or binary (``labels[0]``
    is the positive label). ``scores`` are used by binary only."""
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be multi-label, multi-class or binary, not {problem!r}")
    if problem == "multi-label":
        return multilabel_report(y_true, y_pred, labels)
    if problem == "multi-class":
        return multiclass_report(y_true, y_pred, labels)
    if len(labels) != 1:
        raise ValueError(f"binary needs exactly one (positive) label, not {list(labels)}")
    return binary_report(y_true, y_pred, scores, labels[0])
