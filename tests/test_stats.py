"""harness.scoring.stats: bootstrap intervals against slow resampling with scikit-learn, paired tests on
cases with a known answer (and against exact enumeration), Holm by hand, bands by construction."""

from __future__ import annotations

import itertools
import json
import statistics

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness.scoring import stats
from harness.scoring.metrics import multilabel_report
from harness.scoring.stats import (
    MOST_PERMUTATIONS,
    bands,
    beaten_by,
    bootstrap_ci,
    bootstrap_replicates,
    holm,
    mean_sd,
    paired_comparison,
    permutations_for,
    smallest_adjusted_p,
)

LABELS = tuple(f"c{i}" for i in range(12))


def noisy(n: int, flip: float, seed: int, prevalence: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Gold labels and predictions that disagree with them on about ``flip`` of the cells."""
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n, len(LABELS))) < prevalence).astype(int)
    flips = rng.random(y_true.shape) < flip
    return y_true, np.where(flips, 1 - y_true, y_true)


def sklearn_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, object]:
    scores = {
        f"f1_{average}": f1_score(y_true, y_pred, average=average, zero_division=0) for average in ("weighted", "micro")
    }
    # A class with no true and no predicted row has no F1 (nan), and macro F1 leaves it out.
    scores["f1_macro"] = f1_score(y_true, y_pred, average="macro", zero_division=np.nan)
    scores["per_class_f1"] = f1_score(y_true, y_pred, average=None, zero_division=np.nan)
    return scores


# --------------------------------------------------------------------------- bootstrap_ci


def test_estimates_equal_multilabel_report_and_scikit_learn():
    y_true, y_pred = noisy(300, 0.1, seed=1)
    y_true[:, 3] = 0  # a class with no support but some false positives
    y_true[:, 4] = y_pred[:, 4] = 0  # a class nobody has or predicts: no F1, left out of macro F1
    ci = bootstrap_ci(y_true, y_pred, LABELS, resamples=50)
    report, reference = multilabel_report(y_true, y_pred, LABELS), sklearn_scores(y_true, y_pred)
    for average in stats.AVERAGES:
        assert getattr(ci, average).estimate == pytest.approx(report[average], abs=1e-12)
        assert getattr(ci, average).estimate == pytest.approx(reference[average], abs=1e-12)
    for j, label in enumerate(LABELS):
        if label != "c4":
            assert ci.per_class_f1[label].estimate == pytest.approx(reference["per_class_f1"][j], abs=1e-12)
    assert np.isnan(reference["per_class_f1"][4]) and report["per_class"]["c4"]["f1"] is None
    assert ci.per_class_f1["c4"] == stats.Interval(None, None, None)
    assert ci.per_class_f1["c3"].estimate == 0.0  # false positives only: present, F1 0


@pytest.mark.parametrize("chunk_cells", [stats._CHUNK_CELLS, 3 * 120 + 1])
def test_each_replicate_equals_scikit_learn_on_the_resampled_rows(monkeypatch, chunk_cells):
    # The small chunk draws the resamples three at a time: the numbers must not change.
    monkeypatch.setattr(stats, "_CHUNK_CELLS", chunk_cells)
    y_true, y_pred = noisy(120, 0.15, seed=2)
    replicates = bootstrap_replicates(y_true, y_pred, LABELS, resamples=40, seed=5)
    rows = np.random.default_rng(5).integers(0, 120, size=(40, 120))  # the documented draws
    for b in (0, 1, 17, 39):
        reference = sklearn_scores(y_true[rows[b]], y_pred[rows[b]])
        for name in stats.AVERAGES:
            assert replicates[name][b] == pytest.approx(reference[name], abs=1e-12)
        np.testing.assert_allclose(replicates["per_class_f1"][b], reference["per_class_f1"], atol=1e-12)  # nan too


def test_same_seed_same_numbers_bit_for_bit_and_another_seed_differs():
    y_true, y_pred = noisy(400, 0.1, seed=3)
    first = bootstrap_replicates(y_true, y_pred, LABELS, resamples=200, seed=11)
    again = bootstrap_replicates(y_true, y_pred, LABELS, resamples=200, seed=11)
    other = bootstrap_replicates(y_true, y_pred, LABELS, resamples=200, seed=12)
    for name in (*stats.AVERAGES, "per_class_f1"):
        assert first[name].tobytes() == again[name].tobytes()
        assert not np.array_equal(first[name], other[name])
    ci = bootstrap_ci(y_true, y_pred, LABELS, resamples=200, seed=11)
    assert ci == bootstrap_ci(y_true, y_pred, LABELS, resamples=200, seed=11)
    assert ci.f1_weighted.low == float(np.quantile(first["f1_weighted"], 0.025))
    assert ci != bootstrap_ci(y_true, y_pred, LABELS, resamples=200, seed=12)


def test_interval_covers_the_estimate_and_narrows_as_the_test_set_grows():
    widths = []
    for n in (200, 2000):
        ci = bootstrap_ci(*noisy(n, 0.1, seed=4), LABELS)
        for interval in (ci.f1_weighted, ci.f1_macro, ci.f1_micro, *ci.per_class_f1.values()):
            assert interval.low <= interval.estimate <= interval.high
            assert interval.low < interval.high
        widths.append(ci.f1_weighted.high - ci.f1_weighted.low)
    assert widths[1] < widths[0] / 2  # about 1/sqrt(10) in theory


def test_higher_confidence_gives_a_wider_interval():
    data = noisy(500, 0.1, seed=6)
    narrow = bootstrap_ci(*data, LABELS, confidence=0.8).f1_macro
    wide = bootstrap_ci(*data, LABELS, confidence=0.99).f1_macro
    assert wide.low < narrow.low < narrow.high < wide.high


def test_to_dict_is_json():
    ci = bootstrap_ci(*noisy(50, 0.1, seed=8), LABELS, resamples=20)
    document = json.loads(json.dumps(ci.to_dict()))
    assert document["f1_weighted"]["estimate"] == ci.f1_weighted.estimate
    assert set(document["per_class_f1"]) == set(LABELS)
    assert document["resamples"] == 20


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bootstrap_ci(np.zeros((3, 12)), np.zeros((3, 11)), LABELS), r"do not match 12 labels"),
        (lambda: bootstrap_ci(np.zeros((0, 12)), np.zeros((0, 12)), LABELS), "no test items to resample"),
        (
            lambda: bootstrap_ci(np.zeros((3, 12)), np.zeros((3, 12)), LABELS, resamples=0),
            "resamples and permutations must be at least 1, not 0",
        ),
        (
            lambda: bootstrap_ci(np.zeros((3, 12)), np.zeros((3, 12)), LABELS, confidence=95),
            "confidence must be between 0 and 1, not 95",
        ),
        (
            lambda: paired_comparison(*np.zeros((3, 3, 12)), LABELS, metric="accuracy"),
            "metric must be one of f1_weighted, f1_macro, f1_micro, not 'accuracy'",
        ),
    ],
)
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- paired_comparison


def test_identical_predictions_differ_by_zero_with_p_one():
    y_true, y_pred = noisy(500, 0.1, seed=9)
    result = paired_comparison(y_true, y_pred, y_pred.copy(), LABELS)
    assert (result.difference, result.ci_low, result.ci_high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_always_right_beats_wrong_on_thirty_percent_of_500_items():
    y_true, _ = noisy(500, 0.0, seed=10)
    y_true[np.arange(500), np.arange(500) % 12] = 1  # every item has a label
    wrong = y_true.copy()
    wrong[:150, :] = 1 - wrong[:150, :]  # 30% of items: every label wrong
    result = paired_comparison(y_true, y_true, wrong, LABELS)
    assert result.score_a == 1.0
    assert result.difference > 0.2
    assert 0 < result.ci_low <= result.difference <= result.ci_high
    assert result.p_value < 0.001


def test_a_handful_of_differing_items_out_of_2000_is_not_significant():
    y_true, pred_a = noisy(2000, 0.1, seed=11)
    pred_b = pred_a.copy()
    wrong, right = np.argwhere(pred_a != y_true), np.argwhere(pred_a == y_true)
    for row, column in wrong[np.unique(wrong[:, 0], return_index=True)[1][:3]]:
        pred_b[row, column] = y_true[row, column]  # B fixes one of A's errors on 3 items...
    for row, column in right[np.unique(right[:, 0], return_index=True)[1][-4:]]:
        pred_b[row, column] = 1 - y_true[row, column]  # ...and makes a new one on 4 others
    assert (pred_a != pred_b).any(axis=1).sum() == 7
    result = paired_comparison(y_true, pred_a, pred_b, LABELS)
    assert result.difference != 0
    assert result.ci_low < 0 < result.ci_high
    assert result.p_value > 0.2


def test_p_value_is_the_documented_permutation_test_run_slowly():
    y_true, pred_a = noisy(60, 0.1, seed=12)
    _, pred_b = noisy(60, 0.12, seed=13)
    pred_b[:30] = pred_a[:30]  # half the items agree and are never swapped
    result = paired_comparison(y_true, pred_a, pred_b, LABELS, metric="f1_macro", permutations=300, seed=3)

    def macro(pred: np.ndarray) -> float:  # harness.scoring.metrics is itself checked against scikit-learn
        return multilabel_report(y_true, pred, LABELS)["f1_macro"]

    differs = np.flatnonzero((pred_a != pred_b).any(axis=1))
    rng = np.random.default_rng(np.random.SeedSequence(3).spawn(1)[0])
    swaps = rng.random((300, len(differs))) < 0.5
    observed = macro(pred_a) - macro(pred_b)
    exceed = 0
    for swap in swaps:
        a, b = pred_a.copy(), pred_b.copy()
        rows = differs[swap]
        a[rows], b[rows] = pred_b[rows], pred_a[rows]
        exceed += abs(macro(a) - macro(b)) >= abs(observed) - 1e-12
    assert result.difference == pytest.approx(observed, abs=1e-12)
    assert result.p_value == (1 + exceed) / 301


def test_p_value_agrees_with_exact_enumeration_of_all_swaps():
    y_true, pred_a = noisy(200, 0.08, seed=14)
    pred_b = pred_a.copy()
    errors = np.flatnonzero((pred_a != y_true).any(axis=1))
    fixed, broken = errors[:4], np.setdiff1d(np.arange(200), errors)[:6]
    pred_b[fixed] = y_true[fixed]  # B is right where A was wrong on 4 items, wrong on 6 others
    pred_b[broken] = 1 - y_true[broken]
    rows = np.concatenate([fixed, broken])  # 10 differing items, so 2^10 possible swaps

    def micro(pred: np.ndarray) -> float:
        return multilabel_report(y_true, pred, LABELS)["f1_micro"]

    totals = {}
    for swap in itertools.product((False, True), repeat=len(rows)):
        a, b = pred_a.copy(), pred_b.copy()
        chosen = rows[list(swap)]
        a[chosen], b[chosen] = pred_b[chosen], pred_a[chosen]
        totals[swap] = micro(a) - micro(b)
    observed = totals[(False,) * len(rows)]
    exact = np.mean([abs(d) >= abs(observed) - 1e-12 for d in totals.values()])
    result = paired_comparison(y_true, pred_a, pred_b, LABELS, metric="f1_micro")
    assert 0.01 < exact < 0.99  # a case where the test has something to estimate
    assert result.p_value == pytest.approx(exact, abs=0.01)  # 10,000 draws: sd under 0.005


def test_swapping_the_models_negates_the_difference_and_keeps_p():
    y_true, pred_a = noisy(300, 0.1, seed=15)
    _, pred_b = noisy(300, 0.11, seed=16)
    ab = paired_comparison(y_true, pred_a, pred_b, LABELS, permutations=2000)
    ba = paired_comparison(y_true, pred_b, pred_a, LABELS, permutations=2000)
    assert ba.difference == -ab.difference
    assert (ba.ci_low, ba.ci_high) == pytest.approx((-ab.ci_high, -ab.ci_low), abs=1e-12)
    assert ba.p_value == ab.p_value


def test_difference_interval_uses_the_models_own_resamples():
    y_true, pred_a = noisy(250, 0.1, seed=17)
    _, pred_b = noisy(250, 0.1, seed=18)
    result = paired_comparison(y_true, pred_a, pred_b, LABELS, resamples=300, permutations=10, seed=4)
    a = bootstrap_replicates(y_true, pred_a, LABELS, resamples=300, seed=4)["f1_weighted"]
    b = bootstrap_replicates(y_true, pred_b, LABELS, resamples=300, seed=4)["f1_weighted"]
    assert (result.ci_low, result.ci_high) == tuple(np.quantile(a - b, [0.025, 0.975]))


# --------------------------------------------------------------------------- holm


def test_holm_on_a_worked_example():
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max(0.06, 0.04).
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert list(adjusted) == ["a", "b", "c", "d"]
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    assert holm({"x": 0.5, "y": 0.6}) == {"x": 1.0, "y": 1.0}  # capped
    assert holm({}) == {}


def holm_rejections(p_values: dict[int, float], alpha: float) -> set[int]:
    """Holm's step-down procedure as first stated: stop at the first p above alpha / (m - i)."""
    ordered = sorted(p_values, key=p_values.get)
    rejected = set()
    for i, key in enumerate(ordered):
        if p_values[key] > alpha / (len(ordered) - i):
            break
        rejected.add(key)
    return rejected


def test_holm_is_monotone_and_rejects_what_the_step_down_procedure_rejects():
    rng = np.random.default_rng(19)
    for _ in range(30):
        raw = dict(enumerate(rng.random(rng.integers(1, 12)) ** 3))
        adjusted = holm(raw)
        ordered = sorted(raw, key=raw.get)
        assert all(adjusted[a] <= adjusted[b] for a, b in itertools.pairwise(ordered))
        assert all(raw[k] <= adjusted[k] <= 1 for k in raw)
        for alpha in (0.01, 0.05, 0.1, 0.3):
            assert {k for k, p in adjusted.items() if p <= alpha} == holm_rejections(raw, alpha)


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests  # requirements/cpu.txt: installed, never skipped

    raw = np.random.default_rng(20).random(9) ** 2
    adjusted = holm(dict(enumerate(raw)))
    np.testing.assert_allclose(list(adjusted.values()), multipletests(raw, method="holm")[1], atol=1e-12)


def test_holm_refuses_values_that_are_not_p_values():
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]: \{'a': 1.5\}"):
        holm({"a": 1.5})


# --------------------------------------------------------------------------- bands


def all_pairs(models, significant: set[frozenset]) -> dict[tuple, float]:
    return {(a, b): 0.001 if {a, b} in significant else 0.5 for a, b in itertools.combinations(models, 2)}


def test_bands_split_where_every_model_above_beats_every_model_below():
    scores = {"D": 0.79, "A": 0.90, "E": 0.60, "B": 0.88, "C": 0.80}
    # A ~ B and C ~ D; every other pair differs.
    tied = [{"A", "B"}, {"C", "D"}]
    significant = {frozenset(p) for p in itertools.combinations("ABCDE", 2) if set(p) not in tied}
    assert bands(scores, all_pairs("ABCDE", significant)) == [["A", "B"], ["C", "D"], ["E"]]
    assert bands(scores, all_pairs("ABCDE", significant), alpha=0.0001) == [["A", "B", "C", "D", "E"]]


def test_a_chain_of_ties_stays_one_band():
    scores = {"A": 0.9, "B": 0.85, "C": 0.8, "D": 0.5}
    # A > C is significant, but A ~ B ~ C: no boundary can claim all of its pairs.
    significant = {frozenset("AC"), frozenset("AD"), frozenset("BD"), frozenset("CD")}
    assert bands(scores, all_pairs("ABCD", significant)) == [["A", "B", "C"], ["D"]]


def test_the_top_band_keeps_a_lower_model_the_best_cannot_beat():
    scores = {"A": 0.9, "B": 0.85, "C": 0.8}
    significant = {frozenset("AB"), frozenset("BC")}  # A ~ C despite the gap
    assert bands(scores, all_pairs("ABC", significant)) == [["A", "B", "C"]]


def test_band_guarantees_hold_on_random_cases():
    rng = np.random.default_rng(21)
    for _ in range(50):
        models = [f"m{i}" for i in range(rng.integers(1, 8))]
        scores = dict(zip(models, rng.random(len(models)), strict=True))
        p = {pair: float(rng.random() ** 4) for pair in itertools.combinations(models, 2)}
        found = bands(scores, p)
        flat = [m for band in found for m in band]
        assert flat == sorted(models, key=lambda m: -scores[m])
        pvalue = {**p, **{(b, a): v for (a, b), v in p.items()}}
        for i, upper in enumerate(found):
            for lower in found[i + 1 :]:
                assert all(pvalue[a, b] <= 0.05 for a in upper for b in lower)
        best = flat[0]
        assert {m for m in models if m == best or pvalue[best, m] > 0.05} <= set(found[0])


def test_bands_accept_either_key_order_and_name_a_missing_pair():
    assert bands({"A": 0.9, "B": 0.1}, {("B", "A"): 0.01}) == [["A"], ["B"]]
    assert bands({"A": 0.9}, {}) == [["A"]]
    assert bands({}, {}) == []
    with pytest.raises(KeyError, match="'A', 'C'"):
        bands({"A": 0.9, "B": 0.5, "C": 0.1}, {("A", "B"): 0.01, ("B", "C"): 0.01})


def test_beaten_by_names_the_better_models_a_band_hides():
    scores = {"A": 0.9, "B": 0.85, "C": 0.8, "D": 0.5}
    significant = {frozenset("AC"), frozenset("AD"), frozenset("BD"), frozenset("CD")}
    p = all_pairs("ABCD", significant)
    assert bands(scores, p) == [["A", "B", "C"], ["D"]]
    assert beaten_by(scores, p) == {"A": [], "B": [], "C": ["A"], "D": ["A", "B", "C"]}
    assert beaten_by(scores, {("C", "A"): 0.01}) == {"A": [], "B": [], "C": ["A"], "D": []}  # either order; missing: no
    assert beaten_by(scores, p, alpha=0.0001) == {m: [] for m in scores}


def test_unbeaten_models_lie_in_the_top_band_on_random_cases():
    rng = np.random.default_rng(22)
    for _ in range(50):
        models = [f"m{i}" for i in range(rng.integers(1, 8))]
        scores = dict(zip(models, rng.random(len(models)), strict=True))
        p = {pair: float(rng.random() ** 4) for pair in itertools.combinations(models, 2)}
        beaten = beaten_by(scores, p)
        unbeaten = {m for m, better in beaten.items() if not better}
        assert max(scores, key=scores.get) in unbeaten and unbeaten <= set(bands(scores, p)[0])
        for model, better in beaten.items():
            pvalue = {**p, **{(b, a): v for (a, b), v in p.items()}}
            assert all(scores[b] > scores[model] and pvalue[b, model] <= 0.05 for b in better)


def test_permutations_are_raised_until_a_pair_can_be_significant_but_not_past_the_cap():
    assert smallest_adjusted_p(105, 2000) == pytest.approx(105 / 2001)
    assert smallest_adjusted_p(0, 10) == 1.0 and smallest_adjusted_p(5000, 10) == 1.0
    assert permutations_for(105, 0.05, 2000) == 10_499
    assert smallest_adjusted_p(105, permutations_for(105, 0.05, 2000)) == pytest.approx(0.01)
    assert permutations_for(21, 0.05, 10_000) == 10_000  # already enough: never lowered
    assert permutations_for(10_000, 0.05, 1000) == MOST_PERMUTATIONS
    assert permutations_for(0, 0.05, 7) == 7


# --------------------------------------------------------------------------- mean_sd


def test_mean_sd_across_seeds():
    values = [0.81, 0.79, 0.84]
    mean, sd = mean_sd(values)
    assert mean == pytest.approx(statistics.mean(values))
    assert sd == pytest.approx(statistics.stdev(values))  # sample sd, ddof=1
    assert mean_sd([0.8]) == (0.8, None)
    with pytest.raises(ValueError, match=r"need a non-empty list of numbers, not \[\]"):
        mean_sd([])


# --------------------------------------------------------------------------- several seeds


def test_stacked_seeds_replicate_the_seed_mean_on_the_same_rows():
    y_true, pred_1 = noisy(150, 0.1, seed=20)
    _, pred_2 = noisy(150, 0.2, seed=21)
    stacked = bootstrap_replicates(y_true, np.stack([pred_1, pred_2]), LABELS, resamples=40, seed=5)
    one = bootstrap_replicates(y_true, pred_1, LABELS, resamples=40, seed=5)
    two = bootstrap_replicates(y_true, pred_2, LABELS, resamples=40, seed=5)
    for name in ("f1_weighted", "f1_macro", "f1_micro", "per_class_f1"):
        np.testing.assert_allclose(stacked[name], (one[name] + two[name]) / 2, rtol=0, atol=1e-12)
    rows = np.random.default_rng(5).integers(0, 150, size=(40, 150))[7]
    by_hand = np.mean([f1_score(y_true[rows], p[rows], average="weighted", zero_division=0) for p in (pred_1, pred_2)])
    assert stacked["f1_weighted"][7] == pytest.approx(by_hand, abs=1e-12)


def test_stacked_seed_ci_estimates_the_mean_over_seeds():
    y_true, pred_1 = noisy(200, 0.1, seed=22)
    _, pred_2 = noisy(200, 0.3, seed=23)
    ci = bootstrap_ci(y_true, np.stack([pred_1, pred_2]), LABELS, resamples=100, seed=1)
    expected = np.mean([f1_score(y_true, p, average="weighted", zero_division=0) for p in (pred_1, pred_2)])
    assert ci.f1_weighted.estimate == pytest.approx(expected, abs=1e-12)
    assert ci.f1_weighted.low < expected < ci.f1_weighted.high


def test_a_class_absent_for_one_seed_is_averaged_over_the_seeds_that_have_it():
    """No true row of c11: one seed predicts it once (F1 0), the other never (no F1). The class's
    seed-mean F1 is the first seed's; macro F1 is the mean of each seed's macro over its own
    classes present."""
    y_true, pred_1 = noisy(100, 0.0, seed=31)
    y_true[:, 11] = pred_1[:, 11] = 0
    pred_2 = pred_1.copy()
    pred_2[0, 11] = 1
    point = stats.point_scores(y_true, np.stack([pred_1, pred_2]), LABELS)
    assert point["per_class_f1"][11] == 0.0
    by_seed = [f1_score(y_true, p, average="macro", zero_division=np.nan) for p in (pred_1, pred_2)]
    assert point["f1_macro"] == pytest.approx(np.mean(by_seed), abs=1e-12)
    assert by_seed == [1.0, pytest.approx(11 / 12)]


def test_one_stacked_seed_is_the_same_as_no_stacking():
    y_true, pred_a = noisy(200, 0.1, seed=24)
    _, pred_b = noisy(200, 0.12, seed=25)
    flat = paired_comparison(y_true, pred_a, pred_b, LABELS, resamples=100, permutations=500, seed=3)
    stacked = paired_comparison(y_true, pred_a[None], pred_b[None], LABELS, resamples=100, permutations=500, seed=3)
    assert flat == stacked


def test_paired_test_over_seeds_finds_a_model_better_on_every_seed():
    y_true, good_1 = noisy(400, 0.02, seed=26)
    _, good_2 = noisy(400, 0.03, seed=27)
    bad = [np.where(np.random.default_rng(s).random(y_true.shape) < 0.25, 1 - y_true, y_true) for s in (28, 29)]
    result = paired_comparison(
        y_true, np.stack([good_1, good_2]), np.stack(bad), LABELS, resamples=200, permutations=999, seed=0
    )
    expected = np.mean([f1_score(y_true, p, average="weighted", zero_division=0) for p in (good_1, good_2)]) - np.mean(
        [f1_score(y_true, p, average="weighted", zero_division=0) for p in bad]
    )
    assert result.difference == pytest.approx(expected, abs=1e-12)
    assert result.p_value == pytest.approx(1 / 1000)
    assert result.ci_low > 0
    same = paired_comparison(y_true, np.stack(bad), np.stack(bad), LABELS, resamples=10, permutations=99)
    assert same.p_value == 1.0 and same.difference == 0.0


def test_stacked_predictions_must_agree_on_the_number_of_seeds():
    y_true, pred = noisy(50, 0.1, seed=30)
    with pytest.raises(ValueError, match="numbers of seeds"):
        paired_comparison(y_true, np.stack([pred, pred]), pred, LABELS)


# --------------------------------------------------------------------------- clustered items


def test_singleton_clusters_give_the_unclustered_comparison():
    y_true, pred_a = noisy(300, 0.1, seed=40)
    _, pred_b = noisy(300, 0.12, seed=41)
    plain = paired_comparison(y_true, pred_a, pred_b, LABELS, permutations=2000, seed=5)
    clustered = paired_comparison(y_true, pred_a, pred_b, LABELS, permutations=2000, seed=5, clusters=np.arange(300))
    assert clustered == plain  # bit for bit: same draws, same swaps


def test_duplicating_every_item_does_not_narrow_the_clustered_interval():
    """The robustness task's case: many variants per source row. Counting a source twice is no new
    evidence, so an interval that treats the copies as independent items is too narrow."""
    y_true, pred_a = noisy(200, 0.1, seed=42)
    _, pred_b = noisy(200, 0.14, seed=43)
    sources = np.arange(200)
    once = paired_comparison(y_true, pred_a, pred_b, LABELS, permutations=2000, clusters=sources)
    y2, a2, b2, sources2 = (np.repeat(x, 2, axis=0) for x in (y_true, pred_a, pred_b, sources))
    twice = paired_comparison(y2, a2, b2, LABELS, permutations=2000, clusters=sources2)
    assert twice.difference == pytest.approx(once.difference, abs=1e-12)
    assert twice.ci_high - twice.ci_low >= once.ci_high - once.ci_low - 1e-12
    assert (twice.ci_low, twice.ci_high) == pytest.approx((once.ci_low, once.ci_high), abs=1e-12)
    assert twice.p_value == once.p_value
    # Without the clusters the copies look like 400 independent items and the interval shrinks.
    naive = paired_comparison(y2, a2, b2, LABELS, permutations=2000)
    assert naive.ci_high - naive.ci_low < 0.85 * (once.ci_high - once.ci_low)


def test_cluster_bootstrap_is_the_documented_resampling_of_whole_clusters():
    """Slowly, with scikit-learn: resample b draws clusters default_rng(seed).integers(0, k, (resamples, k))[b],
    clusters numbered by first appearance, and scores every item of each drawn cluster."""
    rng = np.random.default_rng(44)
    clusters = np.array([7, 7, 3, 9, 9, 9, 3, 1, 4, 4, 2, 2, 2, 8, 5, 5, 6, 0, 0, 0] * 3)
    n = len(clusters)
    y_true, pred_a = noisy(n, 0.1, seed=45, prevalence=0.4)
    _, pred_b = noisy(n, 0.2, seed=46, prevalence=0.4)
    pred_b = np.where(rng.random(pred_b.shape) < 0.5, pred_b, y_true)
    result = paired_comparison(
        y_true, pred_a, pred_b, LABELS, resamples=200, permutations=10, seed=6, clusters=clusters
    )
    order = list(dict.fromkeys(clusters.tolist()))
    members = [np.flatnonzero(clusters == c) for c in order]
    draws = np.random.default_rng(6).integers(0, len(order), size=(200, len(order)))
    differences = []
    for draw in draws:
        rows = np.concatenate([members[c] for c in draw])
        differences.append(
            f1_score(y_true[rows], pred_a[rows], average="weighted", zero_division=0)
            - f1_score(y_true[rows], pred_b[rows], average="weighted", zero_division=0)
        )
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(np.quantile(differences, [0.025, 0.975])), abs=1e-12)


def test_cluster_permutation_agrees_with_exact_enumeration_of_all_cluster_swaps():
    y_true, pred_a = noisy(120, 0.1, seed=50)
    pred_b = np.where(np.random.default_rng(150).random(y_true.shape) < 0.1, 1 - y_true, y_true)
    clusters = np.arange(120) % 9  # nine clusters, interleaved
    pred_b[clusters == 0] = pred_a[clusters == 0]  # one cluster agrees: never swapped, changes nothing

    def weighted(pred: np.ndarray) -> float:
        return multilabel_report(y_true, pred, LABELS)["f1_weighted"]

    totals = []
    for swap in itertools.product((False, True), repeat=9):
        rows = np.isin(clusters, np.flatnonzero(swap))
        a, b = np.where(rows[:, None], pred_b, pred_a), np.where(rows[:, None], pred_a, pred_b)
        totals.append(weighted(a) - weighted(b))
    observed = totals[0]
    exact = np.mean([abs(d) >= abs(observed) - 1e-12 for d in totals])
    result = paired_comparison(y_true, pred_a, pred_b, LABELS, clusters=clusters)
    unclustered = paired_comparison(y_true, pred_a, pred_b, LABELS)
    assert 0.01 < exact < 0.99
    assert result.p_value == pytest.approx(exact, abs=0.01)
    assert abs(unclustered.p_value - exact) > 0.05  # item swaps answer another question here


def test_clusters_must_name_one_cluster_per_item():
    y_true, pred_a = noisy(10, 0.1, seed=49)
    with pytest.raises(ValueError, match="one cluster per item"):
        paired_comparison(y_true, pred_a, pred_a, LABELS, clusters=np.arange(9))
