"""harness.scoring.metrics against scikit-learn, the independent implementation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from harness.scoring.metrics import multilabel_report

LABELS = tuple(f"c{i}" for i in range(6))


def cases():
    rng = np.random.default_rng(7)
    for _ in range(20):
        y_true = (rng.random((50, 6)) < rng.uniform(0.05, 0.6)).astype(int)
        y_pred = (rng.random((50, 6)) < rng.uniform(0.05, 0.6)).astype(int)
        yield y_true, y_pred
    y_true = np.zeros((10, 6), int)
    y_true[:, 0] = 1  # classes 1..5 have no support
    y_pred = np.zeros((10, 6), int)
    y_pred[:3, 1] = 1  # false positives on a class with no support
    yield y_true, y_pred
    yield y_true, np.zeros_like(y_true)  # predicts nothing at all


@pytest.mark.parametrize(("y_true", "y_pred"), list(cases()))
def test_matches_scikit_learn(y_true, y_pred):
    report = multilabel_report(y_true, y_pred, LABELS)
    for average in ("weighted", "micro"):
        assert report[f"f1_{average}"] == pytest.approx(
            f1_score(y_true, y_pred, average=average, zero_division=0), abs=1e-12
        )
    # macro F1 leaves out a label with no true and no predicted row: scikit-learn's zero_division=nan
    expected_macro = f1_score(y_true, y_pred, average="macro", zero_division=np.nan)
    assert report["f1_macro"] == pytest.approx(0.0 if np.isnan(expected_macro) else expected_macro, abs=1e-12)
    precision, recall, _, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    f1 = f1_score(y_true, y_pred, average=None, zero_division=np.nan)
    for j, label in enumerate(LABELS):
        per_class = report["per_class"][label]
        assert per_class["f1"] == (None if np.isnan(f1[j]) else pytest.approx(f1[j]))
        assert per_class["precision"] == pytest.approx(precision[j])
        assert per_class["recall"] == pytest.approx(recall[j])
        assert per_class["support"] == support[j]


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"shapes \(3, 6\) and \(3, 5\) do not match 6 labels"):
        multilabel_report(np.zeros((3, 6)), np.zeros((3, 5)), LABELS)
