"""--train-sizes: parsing the sizes, and the nested, stratified subsets drawn for them
(harness/core/train_sizes.py). The subsets are checked by counting rows, independently of how
the order is built."""

from __future__ import annotations

import numpy as np
import pytest

from harness.core.train_sizes import nested_order, parse_train_sizes, plan_curve, subset_rows
from harness.data import LabelledSplit
from harness.errors import UsageError


def split(y: np.ndarray) -> LabelledSplit:
    return LabelledSplit(
        "train", tuple(f"row {i}" for i in range(len(y))), y.astype(np.int8), "x.csv", "0" * 64, False, False
    )


def multi_label(rows: int = 400, seed: int = 0, rare: int = 5) -> np.ndarray:
    """Four labels of decreasing frequency plus one with exactly ``rare`` rows; some rows have none."""
    rng = np.random.default_rng(seed)
    y = (rng.random((rows, 5)) < [0.5, 0.3, 0.15, 0.08, 0.0]).astype(np.int8)
    y[rng.choice(rows, size=rare, replace=False), 4] = 1
    return y


def one_hot(counts: list[int], seed: int = 0) -> np.ndarray:
    classes = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(classes)
    return np.eye(len(counts), dtype=np.int8)[classes]


# ------------------------------------------------------------------------------ parsing


def test_counts_fractions_and_all():
    sizes = parse_train_sizes("400, 100,200,all")
    assert (sizes.kind, sizes.values, sizes.includes_all) == ("count", (400.0, 100.0, 200.0), True)
    sizes = parse_train_sizes("0.25,.1")
    assert (sizes.kind, sizes.values, sizes.includes_all) == ("fraction", (0.25, 0.1), False)
    assert parse_train_sizes("ALL").values == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("100,lots", "'lots' is neither a count"),
        ("0,100", "0 is not a size"),
        ("-50,100", "-50 is not a size"),
        ("0.5,1.5", "1.5 is not a size: a fraction of train is between 0 and 1"),
        ("0.0", "0.0 is not a size"),
        ("100,200,100", "100 is given twice"),
        ("all,100,all", "all is given twice"),
        ("0.1,200", "mixes a fraction (0.1) and a count (200)"),
        ("100,,200", "an empty size"),
        ("", "give sizes"),
    ],
)
def test_bad_sizes_are_one_usage_error(text, words):
    with pytest.raises(UsageError, match=None) as raised:
        parse_train_sizes(text)
    assert words in str(raised.value) and f"--train-sizes {text!r}" in str(raised.value)


# ------------------------------------------------------------------------------ planning


def test_a_plan_sorts_the_sizes_and_ends_with_all_of_train():
    train = split(multi_label())
    plan = plan_curve("t", parse_train_sizes("200,50"), train, list("abcde"), [1, 2], binary=False)
    assert (plan.sizes, plan.rows, plan.subset_rows) == (("50", "200", "all"), (50, 200, 400), (50, 200))
    fractions = plan_curve("t", parse_train_sizes("0.5,0.125"), train, list("abcde"), [1], binary=False)
    assert fractions.rows == (50, 200, 400)


def test_all_of_train_written_as_a_count_is_the_full_fit_and_once_only():
    train = split(multi_label())
    plan = plan_curve("t", parse_train_sizes("100,400"), train, list("abcde"), [1], binary=False)
    assert (plan.sizes, plan.rows) == (("100", "400"), (100, 400))
    with pytest.raises(UsageError, match="all and 400 are both 400 rows"):
        plan_curve("t", parse_train_sizes("100,400,all"), train, list("abcde"), [1], binary=False)
    with pytest.raises(UsageError, match="0.1 and 0.101 are both 40 rows"):
        plan_curve("t", parse_train_sizes("0.1,0.101"), split(multi_label(rows=400)), list("abcde"), [1], False)


def test_sizes_larger_than_train_or_of_no_row_are_refused():
    train = split(multi_label())
    with pytest.raises(UsageError, match="500 is more rows than the train split of task 't' has \\(400\\)"):
        plan_curve("t", parse_train_sizes("100,500"), train, list("abcde"), [1], binary=False)
    with pytest.raises(UsageError, match="0.001 of the 400 rows .* is no row at all"):
        plan_curve("t", parse_train_sizes("0.001"), train, list("abcde"), [1], binary=False)


def test_a_size_too_small_for_every_label_names_the_label_the_seed_and_the_size_needed():
    y = one_hot([300, 80, 15, 5])
    with pytest.raises(UsageError) as raised:
        plan_curve("t", parse_train_sizes("3,100"), split(y), ["w", "x", "y", "rare"], [7], binary=False)
    message = str(raised.value)
    assert "3 rows of task 't' cannot hold every label (seed 7)" in message
    assert "label 'w' is in none of them" in message  # the commonest comes last in the cover
    assert "needs at least 4 rows" in message
    plan_curve("t", parse_train_sizes("4,100"), split(y), ["w", "x", "y", "rare"], [7, 8, 9], binary=False)


# ------------------------------------------------------------------------------ the subsets


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_subsets_are_nested_and_deterministic(seed):
    y = multi_label()
    sizes = [10, 25, 50, 100, 200, 400]
    subsets = [set(subset_rows(y, seed, n).tolist()) for n in sizes]
    assert [len(s) for s in subsets] == sizes
    assert all(small <= large for small, large in zip(subsets, subsets[1:]))
    assert np.array_equal(nested_order(y, seed), nested_order(y, seed))
    assert sorted(nested_order(y, seed).tolist()) == list(range(len(y)))  # every row, once


def test_seeds_draw_different_subsets():
    y = multi_label()
    assert set(subset_rows(y, 1, 50).tolist()) != set(subset_rows(y, 2, 50).tolist())


@pytest.mark.parametrize("seed", range(5))
def test_a_rare_label_is_in_every_subset_from_the_smallest(seed):
    y = multi_label(rare=5)
    for n in (5, 10, 40):
        assert y[subset_rows(y, seed, n)].sum(axis=0).min() >= 1  # every label, the 5-row one included


def test_multi_class_strata_stay_within_a_row_of_their_share():
    counts = [600, 250, 100, 45, 5]
    y = one_hot(counts)
    for seed in range(3):
        for n in (20, 50, 100, 333, 700):
            held = y[subset_rows(y, seed, n)].sum(axis=0)
            assert held.min() >= 1
            # after the cover (one row per class), the rest is each class's share of the rest, within one row
            rest = n - len(counts)
            share = (np.asarray(counts) - 1) / (sum(counts) - len(counts)) * rest
            assert np.all(np.abs((held - 1) - share) <= 1.0 + 1e-9), (seed, n, held, share)


def test_a_binary_subset_holds_a_positive_and_a_negative_row():
    y = np.zeros((300, 1), dtype=np.int8)
    y[[17, 230]] = 1  # two positives among 300
    for seed in range(5):
        rows = subset_rows(y, seed, 2, binary=True)
        assert sorted(y[rows, 0].tolist()) == [0, 1]
    with pytest.raises(UsageError, match="a row without label 'ade'"):
        all_positive = np.ones((10, 1), dtype=np.int8)
        all_positive[3] = 0
        plan_curve("t", parse_train_sizes("1,5"), split(all_positive), ["ade"], [0], binary=True)


def test_the_order_does_not_depend_on_the_other_sizes():
    y = multi_label()
    train = split(y)
    a = plan_curve("t", parse_train_sizes("50,100"), train, list("abcde"), [3], binary=False)
    b = plan_curve("t", parse_train_sizes("25,100,200"), train, list("abcde"), [3], binary=False)
    assert 100 in a.rows and 100 in b.rows  # the same subset either way: it depends on the seed alone
    assert np.array_equal(subset_rows(y, 3, 100), np.sort(nested_order(y, 3)[:100]))
