"""harness.scoring.calibration against independent computations: ECE from scikit-learn's calibration
curve and numpy's histogram, Brier as a plain mean of squares, ROC-AUC by counting pairs,
PR-AUC by hand, and constructed cases with a known answer."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from harness.scoring.calibration import class_calibration

LABELS = tuple(f"c{i}" for i in range(12))


def random_case(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 0/1 truth that is miscalibrated by a seed-dependent amount."""
    rng = np.random.default_rng(seed)
    scores = rng.random((n, len(LABELS))) ** rng.uniform(0.5, 3.0, size=len(LABELS))
    y_true = (rng.random(scores.shape) < scores ** rng.uniform(0.5, 2.0)).astype(int)
    return y_true, scores


def sklearn_ece(y: np.ndarray, s: np.ndarray, bins: int) -> float:
    prob_true, prob_pred = calibration_curve(y, s, n_bins=bins, strategy="uniform")
    counts, _ = np.histogram(s, bins=bins, range=(0.0, 1.0))
    counts = counts[counts > 0]  # calibration_curve returns the non-empty bins only
    assert len(counts) == len(prob_true)
    return float(np.sum(counts / len(s) * np.abs(prob_true - prob_pred)))


def mann_whitney_auc(y: np.ndarray, s: np.ndarray) -> float:
    positives, negatives = s[y == 1], s[y == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


# --------------------------------------------------------------------------- ECE


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bins", [5, 10, 15])
def test_ece_matches_calibration_curve(seed, bins):
    y_true, scores = random_case(seed)
    report = class_calibration(y_true, scores, LABELS, bins=bins)
    assert report["bins"] == bins
    for j, label in enumerate(LABELS):
        assert report["per_class"][label]["ece"] == pytest.approx(
            sklearn_ece(y_true[:, j], scores[:, j], bins), abs=1e-12
        )
    assert report["macro"]["ece"] == pytest.approx(
        np.mean([sklearn_ece(y_true[:, j], scores[:, j], bins) for j in range(12)])
    )


def test_perfectly_calibrated_scores_have_zero_ece():
    # 20 items at each bin centre p, of which exactly 20 * p are positive.
    centres = np.round(np.arange(0.05, 1.0, 0.1), 2)
    scores = np.repeat(centres, 20)
    y = np.concatenate([np.arange(20) < round(20 * p) for p in centres]).astype(int)
    report = class_calibration(y[:, None], scores[:, None], ["a"])
    assert report["per_class"]["a"]["ece"] == pytest.approx(0.0, abs=1e-12)


def test_confidently_wrong_scores_have_ece_one():
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    report = class_calibration(y, 1.0 - y, ["a", "b"])  # 1.0 on every negative, 0.0 on every positive
    for label in ("a", "b"):
        assert report["per_class"][label]["ece"] == pytest.approx(1.0)
        assert report["per_class"][label]["brier"] == pytest.approx(1.0)
        assert report["per_class"][label]["roc_auc"] == pytest.approx(0.0)


def test_a_score_on_an_edge_falls_in_the_bin_starting_there():
    # 0.2 and 0.3 in separate bins: (0.2 + 0.7) / 2; together they would give 0.25.
    report = class_calibration(np.array([[0], [1]]), np.array([[0.2], [0.3]]), ["a"])
    assert report["per_class"]["a"]["ece"] == pytest.approx(0.45)
    # 1.0 shares the last bin with 0.9: |0.5 - 0.95|; a bin of its own would give 0.55.
    report = class_calibration(np.array([[1], [0]]), np.array([[0.9], [1.0]]), ["a"])
    assert report["per_class"]["a"]["ece"] == pytest.approx(0.45)
    # Every edge k / bins, as Python writes it, starts its own bin (bins of one item), but the
    # last bin holds 1.0 too. np.linspace's edges would put e.g. 0.3 and 0.7 a bin lower.
    for bins in (5, 7, 10, 49):
        scores = np.array([k / bins for k in range(bins + 1)])
        y = np.arange(bins + 1) % 2
        expected = (np.abs(y[:-2] - scores[:-2]).sum() + abs(y[-2:].sum() - scores[-2:].sum())) / (bins + 1)
        report = class_calibration(y[:, None], scores[:, None], ["a"], bins=bins)
        assert report["per_class"]["a"]["ece"] == pytest.approx(expected, abs=1e-12)


def test_one_bin_is_the_gap_between_mean_score_and_prevalence():
    y_true, scores = random_case(3)
    report = class_calibration(y_true, scores, LABELS, bins=1)
    for j, label in enumerate(LABELS):
        assert report["per_class"][label]["ece"] == pytest.approx(abs(y_true[:, j].mean() - scores[:, j].mean()))


# --------------------------------------------------------------------------- Brier, AUCs


@pytest.mark.parametrize("seed", range(3))
def test_brier_and_roc_auc_match_plain_computations(seed):
    y_true, scores = random_case(seed, n=60)
    scores = np.round(scores, 1)  # ties between positives and negatives
    report = class_calibration(y_true, scores, LABELS)
    for j, label in enumerate(LABELS):
        per_class = report["per_class"][label]
        assert per_class["brier"] == pytest.approx(np.mean((scores[:, j] - y_true[:, j]) ** 2), abs=1e-12)
        assert per_class["roc_auc"] == pytest.approx(mann_whitney_auc(y_true[:, j], scores[:, j]), abs=1e-12)
        assert per_class["positives"] == int(y_true[:, j].sum())
        assert isinstance(per_class["positives"], int)
    for quantity in ("brier", "roc_auc", "pr_auc"):
        assert report["macro"][quantity] == pytest.approx(np.mean([c[quantity] for c in report["per_class"].values()]))


def test_pr_auc_by_hand():
    # Class a, by decreasing score: hit (P 1, R 1/2), miss, hit (P 2/3, R 1), miss:
    # AP = 1/2 * 1 + 1/2 * 2/3. Class b has a tie at 0.5 between a hit and a miss, taken
    # together: (P 1/3, R 1/2), then (P 1/2, R 1): AP = 1/2 * 1/3 + 1/2 * 1/2.
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    scores = np.array([[0.9, 0.9], [0.8, 0.5], [0.7, 0.5], [0.1, 0.1]])
    report = class_calibration(y, scores, ["a", "b"])
    assert report["per_class"]["a"]["pr_auc"] == pytest.approx(5 / 6)
    assert report["per_class"]["b"]["pr_auc"] == pytest.approx(5 / 12)
    assert report["macro"]["pr_auc"] == pytest.approx((5 / 6 + 5 / 12) / 2)


def test_undefined_areas_are_none_and_macro_skips_them():
    y = np.array([[0, 1, 1], [0, 1, 0], [0, 1, 1], [0, 1, 0]])
    scores = np.array([[0.2, 0.9, 0.8], [0.1, 0.3, 0.4], [0.0, 0.6, 0.6], [0.5, 0.7, 0.1]])
    report = class_calibration(y, scores, ["none", "all", "some"])
    none, every, some = (report["per_class"][k] for k in ("none", "all", "some"))
    assert none["pr_auc"] is None and none["roc_auc"] is None and none["positives"] == 0
    assert every["pr_auc"] == pytest.approx(1.0) and every["roc_auc"] is None and every["positives"] == 4
    assert some["roc_auc"] == pytest.approx(1.0) and some["pr_auc"] == pytest.approx(1.0)
    assert report["macro"]["roc_auc"] == pytest.approx(1.0)  # only "some" has one
    assert report["macro"]["pr_auc"] == pytest.approx(1.0)  # "all" and "some"
    assert none["brier"] == pytest.approx(np.mean(scores[:, 0] ** 2))  # still defined

    only_negatives = class_calibration(np.zeros((3, 2), int), np.full((3, 2), 0.25), ["a", "b"])
    assert only_negatives["macro"]["pr_auc"] is None and only_negatives["macro"]["roc_auc"] is None
    assert only_negatives["macro"]["brier"] == pytest.approx(0.0625)
    assert only_negatives["macro"]["ece"] == pytest.approx(0.25)


def test_returns_plain_python_types():
    y_true, scores = random_case(1)
    assert (y_true.sum(axis=0) > 0).all()
    report = class_calibration(y_true, scores, LABELS)
    assert set(report) == {"bins", "per_class", "macro"}
    assert list(report["per_class"]) == list(LABELS)
    for values in [*report["per_class"].values(), report["macro"]]:
        assert all(type(values[q]) is float for q in ("brier", "ece", "pr_auc", "roc_auc")), values


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("y_true", "scores", "message"),
    [
        (np.zeros((4, 12)), np.zeros((4, 11)), r"\(4, 12\).*\(4, 11\)"),
        (np.zeros((4, 11)), np.zeros((4, 11)), "12 labels"),
        (np.zeros(12), np.zeros(12), r"\(12,\)"),
        (np.zeros((0, 12)), np.zeros((0, 12)), "no items"),
        (np.zeros((4, 12)), np.full((4, 12), 1.5), r"\[0, 1\]"),
        (np.zeros((4, 12)), np.full((4, 12), -0.1), r"\[0, 1\]"),
        (np.zeros((4, 12)), np.full((4, 12), np.nan), "NaN"),
        (np.full((4, 12), 2), np.zeros((4, 12)), "0 and 1"),
    ],
)
def test_bad_input_is_refused(y_true, scores, message):
    with pytest.raises(ValueError, match=message):
        class_calibration(y_true, scores, LABELS)


@pytest.mark.parametrize("bins", [0, -3, 2.5, True])
def test_bad_bins_are_refused(bins):
    with pytest.raises(ValueError, match="bins"):
        class_calibration(np.zeros((4, 12)), np.zeros((4, 12)), LABELS, bins=bins)


def test_importing_the_module_does_not_import_sklearn():
    code = "import sys, harness.scoring.calibration; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
