"""harness.scoring.evidence: model comparisons and bands on cases with a known answer, site shift against
scikit-learn, train/test overlap counted by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness.scoring.evidence import compare_models, normalise, overlap_report, seen_in, site_shift
from harness.scoring.stats import holm

LABELS = tuple(f"c{i}" for i in range(6))


def gold(n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, len(LABELS))) < 0.25).astype(int)


def flipped(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """``y`` with about ``share`` of its cells flipped."""
    flips = np.random.default_rng(seed).random(y.shape) < share
    return np.where(flips, 1 - y, y)


def test_clearly_different_models_fall_in_separate_bands_and_twins_share_one():
    y = gold(600, 0)
    noisy = flipped(y, 0.10, 2)
    predictions = {"noisy": noisy, "perfect": y.copy(), "noisy twin": noisy.copy(), "bad": flipped(y, 0.35, 3)}
    result = compare_models(y, predictions, LABELS, resamples=200, permutations=999, seed=0)
    assert result["bands"] == [["perfect"], ["noisy", "noisy twin"], ["bad"]]
    by_model = {m["model"]: m for m in result["models"]}
    assert [m["model"] for m in result["models"]][0] == "perfect" and by_model["bad"]["band"] == 3
    for model, predicted in predictions.items():
        expected = f1_score(y, predicted, average="weighted", zero_division=0)
        assert by_model[model]["estimate"] == pytest.approx(expected, abs=1e-12)
        assert by_model[model]["low"] <= by_model[model]["estimate"] <= by_model[model]["high"]
        assert by_model[model]["seeds"] == 1
    pairs = {(p["a"], p["b"]): p for p in result["pairs"]}
    assert len(pairs) == 6
    twins = pairs.get(("noisy", "noisy twin")) or pairs[("noisy twin", "noisy")]
    assert twins["difference"] == 0 and twins["p_value"] == 1.0 and not twins["significant"]
    adjusted = holm({key: p["p_value"] for key, p in pairs.items()})
    assert all(pairs[key]["p_holm"] == pytest.approx(adjusted[key]) for key in pairs)
    # Pairs are written best first: a positive difference means a beats b.
    assert all(p["difference"] >= 0 for p in result["pairs"])


def test_a_small_difference_on_few_items_is_not_claimed():
    y = gold(40, 4)
    a, b = flipped(y, 0.05, 5), flipped(y, 0.07, 6)
    result = compare_models(y, {"a": a, "b": b}, LABELS, resamples=200, permutations=999)
    assert result["bands"] == [["a", "b"]] or result["bands"] == [["b", "a"]]
    assert not result["pairs"][0]["significant"]


def test_seeds_are_compared_as_seed_means():
    y = gold(300, 7)
    good = np.stack([flipped(y, 0.03, s) for s in (8, 9)])
    bad = np.stack([flipped(y, 0.3, s) for s in (10, 11)])
    result = compare_models(y, {"good": good, "bad": bad}, LABELS, resamples=100, permutations=499)
    by_model = {m["model"]: m for m in result["models"]}
    mean_good = np.mean([f1_score(y, p, average="weighted", zero_division=0) for p in good])
    assert by_model["good"]["estimate"] == pytest.approx(mean_good, abs=1e-12)
    assert by_model["good"]["seeds"] == 2 and result["bands"] == [["good"], ["bad"]]


def test_comparisons_are_reproducible_bit_for_bit():
    y = gold(200, 12)
    predictions = {"a": flipped(y, 0.1, 13), "b": flipped(y, 0.12, 14), "c": flipped(y, 0.2, 15)}
    first = compare_models(y, predictions, LABELS, resamples=300, permutations=999, seed=3)
    assert compare_models(y, predictions, LABELS, resamples=300, permutations=999, seed=3) == first
    other = compare_models(y, predictions, LABELS, resamples=300, permutations=999, seed=4)
    assert other["models"] != first["models"]


def test_site_shift_differences_match_scikit_learn_and_their_intervals_cover_them():
    y_ref, y_other = gold(500, 20), gold(400, 21)
    pred_ref, pred_other = flipped(y_ref, 0.05, 22), flipped(y_other, 0.15, 23)
    shift = site_shift(y_ref, pred_ref, y_other, pred_other, LABELS, resamples=300, seed=1)
    ref = f1_score(y_ref, pred_ref, average=None, zero_division=0)
    other = f1_score(y_other, pred_other, average=None, zero_division=0)
    for j, label in enumerate(LABELS):
        found = shift["per_class_f1"][label]
        assert found["reference"] == pytest.approx(ref[j]) and found["other"] == pytest.approx(other[j])
        assert found["difference"] == pytest.approx(other[j] - ref[j])
        assert found["low"] <= found["difference"] <= found["high"]
    weighted = shift["f1_weighted"]
    expected = f1_score(y_other, pred_other, average="weighted") - f1_score(y_ref, pred_ref, average="weighted")
    assert weighted["difference"] == pytest.approx(expected)
    assert weighted["high"] < 0  # three times the noise on the other site: a real drop


def test_the_same_site_twice_shows_no_shift_but_an_honest_interval():
    y = gold(300, 30)
    predicted = flipped(y, 0.1, 31)
    shift = site_shift(y, predicted, y, predicted, LABELS, resamples=300, seed=2)
    weighted = shift["f1_weighted"]
    # Resampled independently: the interval has width, and it straddles 0.
    assert weighted["difference"] == 0 and weighted["low"] < 0 < weighted["high"]


def test_overlap_counts_rows_and_distinct_strings_by_exact_match():
    train = ["uti", "CAP", "cellulitis", "uti"]
    tests = {"a": ["uti", "uti", "cap", "new text", " Cellulitis "], "b": ["sepsis"]}
    report = overlap_report(train, tests)
    assert report["a"] == {
        "rows": 5,
        "rows_in_train": 2,
        "rows_in_train_share": 0.4,
        "rows_in_train_normalised": 4,
        "distinct": 4,
        "distinct_in_train": 1,
        "rows_unseen": 3,
    }
    assert report["b"]["rows_in_train"] == 0 and report["b"]["rows_unseen"] == 1
    assert seen_in(train, tests["a"]).tolist() == [True, True, False, False, False]
    # "unseen" ignoring case and spacing is the overlap's normalised match: one normalisation
    normalised = seen_in(train, tests["a"], normalised=True)
    assert normalised.tolist() == [True, True, True, False, True]
    assert normalised.sum() == report["a"]["rows_in_train_normalised"]
    assert normalise("  Peri-prosthetic \t INFECTION ") == "peri-prosthetic infection"
