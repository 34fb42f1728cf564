"""Expected maximum eval score against the budget (harness/scoring/budget.py), checked against
brute force: every subset of n trials (without replacement, Tang et al.) and every sequence of n
draws (with replacement, Dodge et al.)."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from harness.scoring.budget import (
    budget_statement,
    expected_max,
    expected_max_curve,
    expected_max_with_replacement,
    leaders,
)


@pytest.mark.parametrize("seed", range(5))
def test_the_unbiased_estimator_is_the_mean_best_of_every_subset_of_n_trials(seed):
    rng = random.Random(seed)
    scores = [round(rng.random(), 3) for _ in range(rng.randint(1, 7))]
    scores += scores[:2]  # ties
    for n in range(1, len(scores) + 1):
        brute = statistics.fmean(max(subset) for subset in itertools.combinations(scores, n))
        assert expected_max(scores, n) == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_dodges_estimator_is_the_mean_best_of_every_sequence_of_n_draws(seed):
    rng = random.Random(seed)
    scores = [rng.random() for _ in range(4)]
    for n in range(1, 5):
        brute = statistics.fmean(max(draws) for draws in itertools.product(scores, repeat=n))
        assert expected_max_with_replacement(scores, n) == pytest.approx(brute, abs=1e-12)


def test_ends_of_the_curve_are_the_mean_and_the_best_and_dodge_is_low_near_n():
    scores = [0.5, 0.7, 0.9, 0.6]
    assert expected_max(scores, 1) == pytest.approx(statistics.fmean(scores))
    assert expected_max(scores, 4) == 0.9
    assert expected_max_with_replacement(scores, 4) < 0.9  # the bias Tang et al. correct
    with pytest.raises(ValueError):
        expected_max(scores, 5)


def test_the_curve_puts_n_trials_at_n_times_the_mean_trial_time():
    curve = expected_max_curve([0.5, 0.7, 0.9], [10.0, 20.0, 30.0, 40.0])  # a failed trial's time counts
    assert [p["trials"] for p in curve] == [1, 2, 3]
    assert [p["seconds"] for p in curve] == [25.0, 50.0, 75.0]
    assert curve[-1]["expected_max"] == 0.9


def _curve(values, seconds_per_trial):
    return [{"trials": n, "expected_max": v, "seconds": n * seconds_per_trial} for n, v in enumerate(values, 1)]


def test_leaders_say_where_the_curves_cross_by_trials_and_by_time():
    cheap = _curve([0.80, 0.82, 0.83, 0.84], 1.0)  # good at once, little to gain
    costly = _curve([0.60, 0.79, 0.85, 0.90], 100.0)  # poor at first, best with a budget
    assert leaders({"cheap": cheap, "costly": costly}, "trials") == [(1, ("cheap",)), (3, ("costly",))]
    # By time, they share 100 s .. 4 s (cheap's last point): no common range, no claim.
    assert leaders({"cheap": cheap, "costly": costly}, "seconds") == []
    statement = budget_statement(
        {
            "budget": {"trials": 4},
            "models": {m: {"status": "tuned", "curve": c} for m, c in [("cheap", cheap), ("costly", costly)]},
        }
    )
    assert statement.startswith("Each model was tuned with 4 trials on eval")
    assert "curves cross" in statement and "by trials, cheap leads at 1 trial, costly leads from 3 trials" in statement


def test_a_statement_without_a_crossing_and_with_an_untuned_model():
    one = _curve([0.9, 0.95], 1.0)
    two = _curve([0.5, 0.6], 1.0)
    models = {
        "a": {"status": "tuned", "curve": one},
        "b": {"status": "tuned", "curve": two},
        "rules": {"status": "untuned"},
    }
    statement = budget_statement({"budget": {"trials": 2}, "models": models})
    assert "Each model with a search space was tuned with 2 trials" in statement
    assert "rules ran its own recipe" in statement
    assert "do not cross: a leads at every budget" in statement
