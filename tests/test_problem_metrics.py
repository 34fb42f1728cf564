"""Multi-class and binary reports (harness.scoring.metrics) against scikit-learn.

Every task holds its labels as a 0/1 indicator matrix: multi-class as one-hot rows, binary as
one column (the positive label). These tests check each number against scikit-learn on the
class indices / the column, and that the bootstrap (which only sees indicator matrices) gives
the same point estimates.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from harness.scoring.metrics import binary_report, multiclass_report, multilabel_report, problem_report
from harness.scoring.stats import Interval, bootstrap_ci, bootstrap_replicates

CLASSES = ("stable", "improved", "worsened", "died")
TIGHT = 1e-12


K = len(CLASSES)


def one_hot(indices, k=K):
    return np.eye(k, dtype=int)[np.asarray(indices)]


def case_name(value):
    return value if isinstance(value, str) else None  # the case's name names the test


def assert_plain_json(value):
    """Plain Python types only: numpy's float64 would pass json.dumps, its int64 would not."""
    if isinstance(value, dict):
        assert all(type(key) is str for key in value)
        for item in value.values():
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert value is None or type(value) in (float, int, str, bool), f"{value!r} is {type(value)}"


# --------------------------------------------------------------------------- multi-class


def multiclass_cases():
    rng = np.random.default_rng(11)
    k = len(CLASSES)
    for n in (7, 40, 200):
        yield f"random-{n}", rng.integers(0, k, n), rng.integers(0, k, n)
    true = rng.integers(0, k, 60)
    yield "skewed", np.where(rng.random(60) < 0.8, 0, true), np.where(rng.random(60) < 0.6, 0, true)
    yield "never predicted", np.array([0, 1, 2, 3, 3, 1]), np.array([0, 1, 2, 1, 1, 1])  # 3 never predicted
    yield "never true", np.array([0, 1, 1, 0, 2]), np.array([0, 3, 1, 0, 2])  # 3 never true
    yield "absent", np.array([0, 1, 0, 1]), np.array([1, 1, 0, 0])  # 2, 3 neither true nor predicted
    yield "all one class", np.zeros(9, int), np.zeros(9, int)
    yield "perfect", np.arange(12) % k, np.arange(12) % k
    yield "all wrong", np.arange(12) % k, (np.arange(12) + 1) % k


@pytest.mark.parametrize(("name", "true", "pred"), list(multiclass_cases()), ids=case_name)
def test_multiclass_matches_scikit_learn(name, true, pred):
    report = multiclass_report(one_hot(true), one_hot(pred), CLASSES)
    every = list(range(len(CLASSES)))
    assert report["accuracy"] == pytest.approx(accuracy_score(true, pred), abs=TIGHT)
    # macro over the classes present in the true or predicted ids: scikit-learn's default labels
    assert report["f1_macro"] == pytest.approx(f1_score(true, pred, average="macro", zero_division=0), abs=TIGHT)
    for average in ("weighted", "micro"):
        expected = f1_score(true, pred, labels=every, average=average, zero_division=0)
        assert report[f"f1_{average}"] == pytest.approx(expected, abs=TIGHT), average
    assert report["f1_micro"] == pytest.approx(report["accuracy"], abs=TIGHT)
    assert report["examples"] == len(true)
    precision, recall, _, support = precision_recall_fscore_support(true, pred, labels=every, zero_division=0)
    f1 = f1_score(true, pred, labels=every, average=None, zero_division=np.nan)  # nan: no true, none predicted
    for j, label in enumerate(CLASSES):
        per_class = report["per_class"][label]
        if np.isnan(f1[j]):
            assert per_class["f1"] is None
        else:
            assert per_class["f1"] == pytest.approx(f1[j], abs=TIGHT)
        assert per_class["precision"] == pytest.approx(precision[j], abs=TIGHT)
        assert per_class["recall"] == pytest.approx(recall[j], abs=TIGHT)
        assert per_class["support"] == support[j]
    assert report["confusion_matrix"] == {
        "labels": list(CLASSES),
        "matrix": confusion_matrix(true, pred, labels=every).tolist(),
    }
    assert_plain_json(report)


def test_multiclass_keeps_the_multilabel_keys():
    """Tables written for multi-label reports read a multi-class report unchanged."""
    y_true, y_pred = one_hot([0, 1, 2, 3, 1]), one_hot([0, 2, 2, 3, 1])
    multilabel = multilabel_report(y_true, y_pred, CLASSES)
    report = multiclass_report(y_true, y_pred, CLASSES)
    assert {key: report[key] for key in multilabel} == multilabel


@pytest.mark.parametrize(
    "which, bad_row",
    [("true", [0, 0, 0, 0]), ("true", [1, 0, 1, 0]), ("predicted", [1, 0, 1, 0])],
    ids=["true no class", "true two classes", "predicted two classes"],
)
def test_multiclass_refuses_rows_without_exactly_one_class(which, bad_row):
    good = one_hot([0, 1, 2, 3, 0])
    bad = good.copy()
    bad[[1, 3]] = bad_row
    y_true, y_pred = (bad, good) if which == "true" else (good, bad)
    with pytest.raises(ValueError, match=rf"2 of 5 {which} rows"):
        multiclass_report(y_true, y_pred, CLASSES)


def test_multiclass_refuses_a_shape_mismatch():
    with pytest.raises(ValueError, match="labels"):
        multiclass_report(one_hot([0, 1]), one_hot([0, 1], k=3), CLASSES)


# --------------------------------------------------------------------------- binary


def binary_cases():
    rng = np.random.default_rng(5)
    for n, prevalence in ((30, 0.5), (200, 0.1), (11, 0.7)):
        true = (rng.random(n) < prevalence).astype(int)
        scores = rng.random(n) + 0.4 * true  # informative but imperfect
        yield f"random-{n}", true, (scores > 0.7).astype(int), scores
    true = rng.integers(0, 2, 80)
    coarse = np.round(rng.random(80) + 0.3 * true, 1)  # many tied scores, across both classes
    yield "tied scores", true, (coarse >= 0.7).astype(int), coarse
    yield "all tied", np.array([0, 1, 1, 0, 1]), np.ones(5, int), np.full(5, 0.5)
    yield "never predicted", np.array([0, 1, 0, 1, 0]), np.zeros(5, int), np.array([0.1, 0.4, 0.2, 0.3, 0.0])
    yield "perfect", np.array([0, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9, 0.7])
    yield "all wrong", np.array([0, 0, 1, 1, 1]), np.array([1, 1, 0, 0, 0]), np.array([0.9, 0.8, 0.1, 0.2, 0.3])
    yield "no negatives", np.ones(4, int), np.array([1, 0, 1, 1]), np.array([0.9, 0.2, 0.6, 0.7])


@pytest.mark.parametrize(("name", "true", "pred", "scores"), list(binary_cases()), ids=case_name)
def test_binary_matches_scikit_learn(name, true, pred, scores):
    report = binary_report(true[:, None], pred[:, None], scores[:, None], "readmitted")
    f1 = f1_score(true, pred, zero_division=0)
    assert report["f1"] == pytest.approx(f1, abs=TIGHT)
    assert report["precision"] == pytest.approx(precision_score(true, pred, zero_division=0), abs=TIGHT)
    assert report["recall"] == pytest.approx(recall_score(true, pred, zero_division=0), abs=TIGHT)
    assert report["sensitivity"] == report["recall"]
    specificity = recall_score(true, pred, pos_label=0, zero_division=0)
    assert report["specificity"] == pytest.approx(specificity, abs=TIGHT)
    assert report["pr_auc"] == pytest.approx(average_precision_score(true, scores), abs=TIGHT)
    if len(set(true)) == 2:
        assert report["roc_auc"] == pytest.approx(roc_auc_score(true, scores), abs=TIGHT)
    else:
        assert report["roc_auc"] is None
    assert report["prevalence"] == pytest.approx(true.mean(), abs=TIGHT)
    assert report["examples"] == len(true)
    tn, fp, fn, tp = confusion_matrix(true, pred, labels=[0, 1]).ravel().tolist()
    assert report["confusion"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    for average in ("f1_weighted", "f1_macro", "f1_micro"):
        assert report[average] == pytest.approx(f1, abs=TIGHT), average
    column = multilabel_report(true[:, None], pred[:, None], ["readmitted"])
    assert report["per_class"] == column["per_class"]
    assert {key: report[key] for key in column} == column
    assert_plain_json(report)


def test_binary_average_precision_is_step_wise_not_trapezoid():
    """The case where the two rules differ: a trapezoid would interpolate between points."""
    true, scores = np.array([1, 0, 1, 0, 0, 1]), np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    report = binary_report(true[:, None], true[:, None], scores[:, None], "positive")
    assert report["pr_auc"] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3, abs=TIGHT)
    assert report["pr_auc"] == pytest.approx(average_precision_score(true, scores), abs=TIGHT)


def test_binary_without_positives_has_no_auc():
    """scikit-learn calls both undefined here (and returns 0.0 or nan); the report says None."""
    true, pred, scores = np.zeros(4, int), np.array([0, 1, 0, 0]), np.array([0.1, 0.9, 0.3, 0.2])
    with pytest.warns((UserWarning, UndefinedMetricWarning)):
        average_precision_score(true, scores)
    report = binary_report(true[:, None], pred[:, None], scores[:, None], "positive")
    assert report["pr_auc"] is None and report["roc_auc"] is None
    assert report["specificity"] == pytest.approx(recall_score(true, pred, pos_label=0), abs=TIGHT)
    assert report["prevalence"] == 0.0
    assert_plain_json(report)


def test_binary_without_scores_has_no_auc():
    true, pred = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    report = binary_report(true[:, None], pred[:, None], None, "positive")
    assert report["pr_auc"] is None and report["roc_auc"] is None
    assert report["f1"] == pytest.approx(f1_score(true, pred), abs=TIGHT)
    assert_plain_json(report)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "scores", "message"),
    [
        (np.zeros((4, 2)), np.zeros((4, 2)), None, "one column"),
        (np.zeros((4, 1)), np.zeros((3, 1)), None, "one column"),
        (np.zeros((4, 1)), np.zeros((4, 1)), np.zeros((3, 1)), "scores"),
        (np.zeros((2, 1)), np.zeros((2, 1)), np.array([[0.1], [np.nan]]), "finite"),
        (np.array([[0], [2]]), np.zeros((2, 1)), None, "0/1"),
        (np.zeros((0, 1)), np.zeros((0, 1)), None, "no examples"),
    ],
)
def test_binary_refuses_bad_input(y_true, y_pred, scores, message):
    with pytest.raises(ValueError, match=message):
        binary_report(y_true, y_pred, scores, "positive")


# --------------------------------------------------------------------------- dispatch


def test_problem_report_dispatches_on_the_problem():
    y_true, y_pred = one_hot([0, 1, 2, 3, 1]), one_hot([0, 2, 2, 3, 1])
    assert problem_report("multi-class", y_true, y_pred, None, CLASSES) == multiclass_report(y_true, y_pred, CLASSES)
    assert problem_report("multi-label", y_true, y_pred, None, CLASSES) == multilabel_report(y_true, y_pred, CLASSES)
    column, predicted, scores = y_true[:, :1], y_pred[:, :1], np.linspace(0, 1, 5)[:, None]
    assert problem_report("binary", column, predicted, scores, ["stable"]) == binary_report(
        column, predicted, scores, "stable"
    )
    with pytest.raises(ValueError, match="multi-label, multi-class or binary"):
        problem_report("multiclass", y_true, y_pred, None, CLASSES)
    with pytest.raises(ValueError, match="exactly one"):
        problem_report("binary", column, predicted, scores, ["stable", "improved"])


# --------------------------------------------------------------------------- the bootstrap's point estimates


@pytest.mark.parametrize(("name", "true", "pred"), list(multiclass_cases()), ids=case_name)
def test_bootstrap_estimates_on_one_hot_rows_are_multiclass_scores(name, true, pred):
    ci = bootstrap_ci(one_hot(true), one_hot(pred), CLASSES, resamples=20)
    every = list(range(len(CLASSES)))
    assert ci.f1_macro.estimate == pytest.approx(f1_score(true, pred, average="macro", zero_division=0), abs=TIGHT)
    assert ci.f1_weighted.estimate == pytest.approx(
        f1_score(true, pred, labels=every, average="weighted", zero_division=0), abs=TIGHT
    )
    assert ci.f1_micro.estimate == pytest.approx(accuracy_score(true, pred), abs=TIGHT)


@pytest.mark.parametrize(("name", "true", "pred", "scores"), list(binary_cases()), ids=case_name)
def test_bootstrap_estimates_on_one_column_are_the_positive_f1(name, true, pred, scores):
    ci = bootstrap_ci(true[:, None], pred[:, None], ["readmitted"], resamples=20)
    f1 = f1_score(true, pred, zero_division=0)
    for average in ("f1_weighted", "f1_macro", "f1_micro"):
        assert getattr(ci, average).estimate == pytest.approx(f1, abs=TIGHT), average


# --------------------------------------------------------------------------- labels absent from a test set (issue 22)


def test_a_perfect_model_scores_macro_f1_one_on_a_test_set_lacking_a_label():
    """4 declared labels, the test set has 3: scikit-learn on the class ids says 1.0 (it was 0.75)."""
    true = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    report = multiclass_report(one_hot(true), one_hot(true), CLASSES)
    assert f1_score(true, true, average="macro") == 1.0
    assert report["f1_macro"] == 1.0
    assert report["per_class"]["died"] == {"f1": None, "precision": 0.0, "recall": 0.0, "support": 0}
    ci = bootstrap_ci(one_hot(true), one_hot(true), CLASSES, resamples=200)
    assert (ci.f1_macro.estimate, ci.f1_macro.low, ci.f1_macro.high) == (1.0, 1.0, 1.0)
    assert ci.per_class_f1["died"] == Interval(None, None, None)


def test_a_rare_class_dropped_by_a_resample_does_not_pull_macro_f1_down():
    """A perfect model, one row of a class: every resample scores 1.0 (the CI was 0.75-1.0), and each
    resample's macro F1 is scikit-learn's on the class ids of its rows."""
    true = np.r_[np.arange(30) % 3, 3]
    ci = bootstrap_ci(one_hot(true), one_hot(true), CLASSES, resamples=300)
    assert (ci.f1_macro.low, ci.f1_macro.high) == (1.0, 1.0)
    pred = np.where(np.random.default_rng(4).random(len(true)) < 0.3, (true + 1) % K, true)
    replicates = bootstrap_replicates(one_hot(true), one_hot(pred), CLASSES, resamples=100, seed=9)
    rows = np.random.default_rng(9).integers(0, len(true), size=(100, len(true)))  # the documented draws
    dropped = 0
    for b in range(100):
        expected = f1_score(true[rows[b]], pred[rows[b]], average="macro", zero_division=0)
        assert replicates["f1_macro"][b] == pytest.approx(expected, abs=TIGHT)
        present = set(true[rows[b]]) | set(pred[rows[b]])
        for j in range(K):
            assert np.isnan(replicates["per_class_f1"][b, j]) == (j not in present)
        dropped += 3 not in true[rows[b]]
    assert dropped > 10  # the case under test happened


def test_multilabel_macro_f1_leaves_out_columns_with_no_true_and_no_predicted_row():
    """On indicator matrices scikit-learn leaves such a column out with zero_division=nan."""
    y_true = one_hot([0, 1, 2, 0, 1, 2])
    y_pred = one_hot([0, 1, 1, 0, 2, 2])
    report = multilabel_report(y_true, y_pred, CLASSES)
    assert report["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=np.nan))
    assert report["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro", labels=[0, 1, 2]))
    assert report["per_class"]["died"]["f1"] is None
    nothing = np.zeros((3, K), int)
    assert multilabel_report(nothing, nothing, CLASSES)["f1_macro"] == 0.0  # no label present at all


def test_binary_without_a_positive_row_or_prediction_scores_f1_zero():
    report = binary_report(np.zeros((4, 1)), np.zeros((4, 1)), None, "readmitted")
    assert report["f1"] == report["f1_macro"] == report["f1_weighted"] == 0.0
    assert report["per_class"]["readmitted"]["f1"] is None
    assert f1_score(np.zeros(4), np.zeros(4), zero_division=0) == 0.0


def test_undefined_cases_raise_no_numpy_warnings():
    """The reports handle 0/0 themselves, so numpy must not warn, and no nan reaches the JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        binary_report(np.zeros((3, 1)), np.zeros((3, 1)), np.zeros((3, 1)), "positive")
        multiclass_report(one_hot([0, 0]), one_hot([0, 0]), CLASSES)
        bootstrap_ci(one_hot([0, 0, 1]), one_hot([0, 0, 0]), CLASSES, resamples=50)
        bootstrap_ci(one_hot([0, 0, 1]), np.stack([one_hot([0, 0, 0]), one_hot([1, 0, 0])]), CLASSES, resamples=50)
    json.dumps(binary_report(np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)), "positive"), allow_nan=False)


def test_a_predicted_row_without_a_class_is_wrong_as_scikit_learn_counts_a_label_of_no_class():
    """A prompted model's unparseable answer predicts nothing: scikit-learn, given it as a class
    of its own (-1), agrees on accuracy and on the confusion matrix of the answered rows."""
    from sklearn.metrics import accuracy_score, confusion_matrix

    true = [0, 1, 2, 3, 0, 1]
    pred = [0, -1, 2, -1, 1, 1]
    y_pred = one_hot([max(p, 0) for p in pred])
    y_pred[[1, 3]] = 0
    report = multiclass_report(one_hot(true), y_pred, CLASSES)
    assert report["accuracy"] == pytest.approx(accuracy_score(true, pred))
    full = confusion_matrix(true, pred, labels=[-1, 0, 1, 2, 3])
    assert report["confusion_matrix"]["matrix"] == full[1:, 1:].tolist()
    assert report["confusion_matrix"]["no_answer"] == full[1:, 0].tolist()
    assert "no_answer" not in multiclass_report(one_hot(true), one_hot([0, 1, 2, 3, 0, 1]), CLASSES)["confusion_matrix"]
