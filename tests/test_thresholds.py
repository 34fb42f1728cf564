"""harness.scoring.thresholds and DecisionRule.apply(thresholds=...): constructed cases with a known
optimum, the tie-break rule, the classes left alone, and brute-force searches with
scikit-learn's F1 (per class, and jointly over all classes under top_k)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness.model import DecisionRule
from harness.scoring.thresholds import DEFAULT_GRID, TunedThresholds, apply_tuned, tune_thresholds

LABELS = tuple(f"c{i}" for i in range(12))
SIGMOID = DecisionRule("sigmoid")


def random_case(seed: int, n: int = 80, width: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Scores that rank positives higher, more or less, with rare and common classes."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, width)) < rng.uniform(0.03, 0.5, size=width)).astype(int)
    scores = np.clip(0.3 * y + rng.normal(0.3, 0.2, size=y.shape), 0, 1)
    return y, scores


def sklearn_f1(y: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    return f1_score(y, predictions, average=None, zero_division=0)


# --------------------------------------------------------------------------- DecisionRule.apply


@pytest.mark.parametrize(
    "rule", [SIGMOID, DecisionRule("probability", 0.3, ">"), DecisionRule("label_distribution", 0.1, top_k=2)]
)
def test_apply_without_thresholds_is_unchanged(rule):
    scores = np.round(np.random.default_rng(0).random((30, 5)), 1)  # ties, and scores on the threshold
    expected = scores >= rule.threshold if rule.operator == ">=" else scores > rule.threshold
    if rule.top_k is not None:
        expected &= scores >= np.sort(scores, axis=1)[:, [-rule.top_k]]
    np.testing.assert_array_equal(rule.apply(scores), expected.astype("int8"))
    assert rule.apply(scores).dtype == np.int8
    np.testing.assert_array_equal(rule.apply(scores, thresholds=[rule.threshold] * 5), rule.apply(scores))


@pytest.mark.parametrize("operator", [">=", ">"])
def test_apply_honours_one_threshold_per_column(operator):
    scores = np.array([[0.2, 0.5, 0.8], [0.1, 0.6, 0.9], [0.3, 0.4, 0.7]])
    cut = [0.2, 0.5, 0.8]
    predicted = DecisionRule("sigmoid", operator=operator).apply(scores, thresholds=cut)
    if operator == ">=":
        np.testing.assert_array_equal(predicted, [[1, 1, 1], [0, 1, 1], [1, 0, 0]])
    else:
        np.testing.assert_array_equal(predicted, [[0, 0, 0], [0, 1, 1], [1, 0, 0]])


def test_top_k_mask_does_not_depend_on_the_thresholds():
    rule = DecisionRule("label_distribution", threshold=0.9, top_k=1)
    scores = np.array([[0.1, 0.6, 0.3], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    assert rule.apply(scores).sum() == 0  # nothing reaches 0.9
    np.testing.assert_array_equal(rule.apply(scores, thresholds=[0.0] * 3), [[0, 1, 0], [1, 1, 0], [0, 0, 1]])
    # A low threshold for the third class cannot lift it past the row's top score.
    np.testing.assert_array_equal(rule.apply(scores, thresholds=[0.9, 0.9, 0.05]), [[0, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_apply_refuses_the_wrong_number_of_thresholds():
    with pytest.raises(ValueError, match="one per column"):
        SIGMOID.apply(np.zeros((2, 3)), thresholds=[0.5, 0.5])


# --------------------------------------------------------------------------- constructed optima


def separable(operator: str = ">=") -> tuple[np.ndarray, np.ndarray]:
    """Class a: positives all score 0.3, negatives 0.1. Class b: positives 0.7, negatives 0.2."""
    y = np.array([[1, 1], [1, 0], [0, 1], [0, 0], [0, 0]])
    scores = np.where(y == 1, [0.3, 0.7], [0.1, 0.2])
    return y, scores


def test_a_known_optimum_is_found():
    y, scores = separable()
    tuned = tune_thresholds(y, scores, ["a", "b"], SIGMOID)
    assert 0.1 < tuned.thresholds["a"] <= 0.3
    assert tuned.thresholds["a"] == 0.3  # of the perfect ones, the closest to 0.5
    assert tuned.thresholds["b"] == 0.5  # already perfect at the rule's threshold: kept
    assert tuned.tuned == {"a": True, "b": True}
    assert tuned.eval_f1_fixed == {"a": 0.0, "b": 1.0}
    assert tuned.eval_f1_tuned == {"a": 1.0, "b": 1.0}


def test_strict_operator_moves_the_threshold_below_the_positives():
    y, scores = separable()
    tuned = tune_thresholds(y, scores, ["a", "b"], DecisionRule("sigmoid", operator=">"))
    assert tuned.thresholds["a"] == 0.25  # 0.3 > 0.3 is false
    assert tuned.eval_f1_tuned["a"] == 1.0
    tuned = tune_thresholds(y, scores, ["a", "b"], DecisionRule("sigmoid", threshold=0.1, operator=">"))
    assert tuned.thresholds["a"] == 0.1  # the rule's threshold, and perfect under ">"
    tuned = tune_thresholds(y, scores, ["a", "b"], DecisionRule("sigmoid", threshold=0.1))
    assert tuned.thresholds["a"] == 0.15  # under ">=", 0.1 would take the negatives too


def test_ties_go_to_the_closest_then_the_lower_threshold():
    # F1 of class a is 0.5 for every grid value up to 0.35 and from 0.45 up, and 0.4 at 0.4
    # (a negative at 0.42 gets in). 0.35 and 0.45 are both 0.05 from 0.4, though in binary
    # 0.4 - 0.35 > 0.45 - 0.4: the lower one must still win.
    scores = np.array([0.36, 0.37, 0.38, 0.42, 0.9, 0.0])
    y = np.array([0, 1, 0, 0, 1, 1])
    rule = DecisionRule("sigmoid", threshold=0.4)
    tuned = tune_thresholds(y[:, None], scores[:, None], ["a"], rule)
    by_value = {t: f1_score(y, scores >= t, zero_division=0) for t in tuned.grid}
    assert by_value[0.35] == by_value[0.45] == max(by_value.values()) == 0.5 > by_value[0.4]
    assert tuned.thresholds["a"] == 0.35
    # Shift the rule's threshold up a little and 0.45 is the closer one.
    tuned = tune_thresholds(y[:, None], scores[:, None], ["a"], DecisionRule("sigmoid", threshold=0.41))
    assert tuned.thresholds["a"] == 0.45


def test_flat_f1_keeps_the_rules_threshold():
    y = np.array([[1], [0], [1], [0]])
    scores = np.array([[0.97], [0.01], [0.98], [0.02]])  # perfect at every grid value
    tuned = tune_thresholds(y, scores, ["a"], DecisionRule("sigmoid", threshold=0.62))
    assert tuned.thresholds["a"] == 0.62 and tuned.tuned["a"] is True
    assert 0.62 in tuned.grid


# --------------------------------------------------------------------------- classes left alone


def test_a_class_without_eval_positives_keeps_the_rules_threshold():
    y, scores = separable()
    y[:, 1] = 0  # b has no positive; its scores would favour a very high threshold
    tuned = tune_thresholds(y, scores, ["a", "b"], SIGMOID)
    assert tuned.thresholds["b"] == 0.5 and tuned.tuned["b"] is False
    assert tuned.eval_f1_fixed["b"] == tuned.eval_f1_tuned["b"] == 0.0
    assert tuned.tuned["a"] is True


def test_rule_outputs_are_never_tuned():
    y, scores = separable()
    outputs = (scores > 0.25).astype(float)  # a 0/1 rule: perfect on b, misses a
    outputs[:, 0] = 0.0
    tuned = tune_thresholds(y, outputs, ["a", "b"], DecisionRule("rule"))
    assert tuned.thresholds == {"a": 0.5, "b": 0.5}
    assert tuned.tuned == {"a": False, "b": False}
    assert tuned.eval_f1_fixed == tuned.eval_f1_tuned == {"a": 0.0, "b": 1.0}


# --------------------------------------------------------------------------- against brute force


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rule", [SIGMOID, DecisionRule("probability", 0.35, ">"), DecisionRule("sigmoid", top_k=2)])
def test_each_class_gets_a_best_grid_value_and_never_loses(seed, rule):
    y, scores = random_case(seed)
    scores = np.round(scores, 2)  # many scores exactly on grid values
    tuned = tune_thresholds(y, scores, LABELS, rule)
    assert tuned.grid == tuple(sorted({*DEFAULT_GRID, rule.threshold}))
    predictions = apply_tuned(rule, scores, tuned, LABELS)
    np.testing.assert_allclose(list(tuned.eval_f1_tuned.values()), sklearn_f1(y, predictions), atol=1e-12)
    np.testing.assert_allclose(list(tuned.eval_f1_fixed.values()), sklearn_f1(y, rule.apply(scores)), atol=1e-12)
    best = np.max([sklearn_f1(y, rule.apply(scores, thresholds=[t] * 12)) for t in tuned.grid], axis=0)
    for j, label in enumerate(LABELS):
        assert tuned.eval_f1_tuned[label] >= tuned.eval_f1_fixed[label]
        assert tuned.eval_f1_tuned[label] == pytest.approx(best[j], abs=1e-12)
        assert tuned.tuned[label] is bool(y[:, j].any())


@pytest.mark.parametrize("seed", range(3))
def test_per_class_search_is_the_joint_optimum_under_top_k(seed):
    rule = DecisionRule("label_distribution", threshold=0.3, top_k=1)
    y, scores = random_case(seed, n=40, width=3)
    grid = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    tuned = tune_thresholds(y, scores, ["a", "b", "c"], rule, grid=grid)

    def f1_sum(predictions: np.ndarray) -> float:  # plain formula: sklearn per call would take seconds
        tp, wrong = (y & predictions).sum(axis=0), (y != predictions).sum(axis=0)
        return float(sum(2 * a / (2 * a + b) for a, b in zip(tp, wrong, strict=True) if 2 * a + b))

    joint = max(f1_sum(rule.apply(scores, thresholds=cut)) for cut in itertools.product(grid, repeat=3))
    assert sum(tuned.eval_f1_tuned.values()) == pytest.approx(joint, abs=1e-12)
    assert (apply_tuned(rule, scores, tuned, ["a", "b", "c"]).sum(axis=1) <= 1).all()


# --------------------------------------------------------------------------- shapes and types


def test_default_grid():
    assert len(DEFAULT_GRID) == 19
    assert DEFAULT_GRID[0] == 0.05 and DEFAULT_GRID[-1] == 0.95
    assert DEFAULT_GRID == tuple(round(v, 2) for v in np.arange(0.05, 0.951, 0.05))


def test_to_dict_is_plain_json():
    y, scores = random_case(0)
    tuned = tune_thresholds(y, scores, LABELS, SIGMOID, grid=np.array([0.2, 0.4]))
    assert isinstance(tuned, TunedThresholds)
    assert tuned.grid == (0.2, 0.4, 0.5)
    plain = tuned.to_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert set(plain) == {"thresholds", "tuned", "eval_f1_fixed", "eval_f1_tuned", "grid"}
    assert list(plain["thresholds"]) == list(LABELS)
    assert all(type(t) is float for t in plain["thresholds"].values())
    assert all(type(t) is bool for t in plain["tuned"].values())
    with pytest.raises(AttributeError):
        tuned.grid = ()  # frozen


def test_apply_tuned_orders_by_label_and_needs_every_label():
    y, scores = separable()
    tuned = tune_thresholds(y, scores, ["a", "b"], SIGMOID)
    swapped = apply_tuned(SIGMOID, scores[:, ::-1], tuned, ["b", "a"])
    np.testing.assert_array_equal(swapped[:, ::-1], apply_tuned(SIGMOID, scores, tuned, ["a", "b"]))
    np.testing.assert_array_equal(swapped[:, ::-1], y)
    with pytest.raises(ValueError, match="'c'"):
        apply_tuned(SIGMOID, np.zeros((2, 3)), tuned, ["a", "b", "c"])


@pytest.mark.parametrize(
    ("y", "scores", "message"),
    [
        (np.zeros((4, 12)), np.zeros((4, 11)), r"\(4, 12\).*\(4, 11\)"),
        (np.zeros((4, 11)), np.zeros((4, 11)), "12 labels"),
        (np.zeros((0, 12)), np.zeros((0, 12)), "no eval items"),
    ],
)
def test_bad_input_is_refused(y, scores, message):
    with pytest.raises(ValueError, match=message):
        tune_thresholds(y, scores, LABELS, SIGMOID)


def test_nan_in_the_grid_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        tune_thresholds(np.ones((2, 12)), np.ones((2, 12)), LABELS, SIGMOID, grid=(0.2, float("nan")))
