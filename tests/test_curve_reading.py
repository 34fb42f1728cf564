"""Reading a learning curve (harness/scoring/curves.py): where a model comes within a tolerance,
three ways, and the power-law extrapolation."""

from __future__ import annotations

import numpy as np
import pytest

from harness.scoring.curves import CurvePoint, PowerLaw, fit_power_law, reach, reach_statement


def points(*rows_estimate_low_high):
    return [CurvePoint(*p) for p in rows_estimate_low_high]


CURVE = points(
    (50, 0.70, 0.60, 0.80),
    (100, 0.84, 0.78, 0.90),
    (200, 0.895, 0.86, 0.93),
    (400, 0.905, 0.89, 0.92),
    (800, 0.91, 0.90, 0.92),
)


def test_three_readings_against_one_mark():
    found = reach(CURVE, target=0.91, tolerance=0.01)
    assert found.mark == pytest.approx(0.90)
    assert found.rows == 400  # 0.905 >= 0.90; 200's 0.895 is short
    assert found.possible_from == 100  # 0.90 <= 100's upper bound 0.90; 50's 0.80 falls short
    assert found.certain_from == 800  # only 800's lower bound clears 0.90


def test_a_size_counts_only_if_every_larger_size_also_reaches_the_mark():
    dip = points((50, 0.92, 0.9, 0.95), (100, 0.85, 0.8, 0.88), (200, 0.93, 0.91, 0.95))
    found = reach(list(reversed(dip)), target=0.93, tolerance=0.01)  # any order in
    assert found.rows == 200  # 50 reached 0.92 but 100 fell back below
    assert found.possible_from == 200 and found.certain_from is None


def test_not_reached_within_the_sizes_run():
    found = reach(CURVE, target=0.95, tolerance=0.01)
    assert found.rows is None and found.certain_from is None and found.possible_from is None
    text = reach_statement("tfidf-lr", found, metric="weighted F1", tolerance=0.01, full=0.91, best="minilm-l6")
    assert "not reached within the sizes run" in text and "minilm-l6: 0.950" in text


def test_statements_say_what_the_intervals_do():
    own = reach(CURVE, target=0.91, tolerance=0.01)
    text = reach_statement("tfidf-lr", own, metric="weighted F1", tolerance=0.01, full=0.91)
    assert text.startswith("tfidf-lr: within 0.01 of its full-data weighted F1 (0.910) from 400 rows")
    assert "possibly from 100 rows" in text and "the intervals clear the mark from 800 rows" in text
    only_all = reach(CURVE, target=0.95, tolerance=0.04)  # the mark, 0.91, is reached at 800 rows only
    text = reach_statement("tfidf-lr", only_all, metric="weighted F1", tolerance=0.04, full=0.91, full_rows=800)
    assert "only with all 800 rows (no smaller size run reaches it)" in text and "possibly from 200 rows" in text
    wide = reach(CURVE, target=0.91, tolerance=0.005)
    text = reach_statement("tfidf-lr", wide, metric="weighted F1", tolerance=0.005, full=0.91, full_rows=800)
    assert text.endswith("the intervals clear the mark at no size run (they are wider than the tolerance)")
    flat = reach([CurvePoint(800, 0.5, 0.4, 0.6)], target=0.91, tolerance=0.01)
    text = reach_statement("regex", flat, metric="weighted F1", tolerance=0.01, full=0.5, best="x", trains=False)
    assert text.startswith("regex does not train: never within 0.01")


def test_a_power_law_is_recovered_from_its_own_points():
    truth = PowerLaw(a=0.93, b=0.12, c=0.6, scale=1000)
    rows = [50, 100, 200, 400, 800, 1000]
    law = fit_power_law(rows, [truth.predict(r) for r in rows], scale=1000)
    assert law is not None
    assert (law.a, law.b, law.c) == pytest.approx((0.93, 0.12, 0.6), abs=1e-4)
    assert law.predict(2000) == pytest.approx(truth.predict(2000), abs=1e-5)


def test_no_law_from_fewer_than_four_sizes():
    assert fit_power_law([100, 200, 400], [0.8, 0.85, 0.87], scale=400) is None
    assert fit_power_law([100, 100, 200, 400], [0.8, 0.8, 0.85, 0.87], scale=400) is None


def test_a_noisy_curve_gives_a_law_that_levels_off_at_most_one():
    rng = np.random.default_rng(0)
    rows = [25, 50, 100, 200, 400, 800, 1600]
    scores = [min(1.0, 0.95 - 0.5 * (r / 1600) ** -0.5 + rng.normal(0, 0.01)) for r in rows]
    law = fit_power_law(rows, scores, scale=1600)
    assert law is not None and 0 <= law.a <= 1 and law.b >= 0 and law.c >= 0
    assert law.predict(3200) >= law.predict(1600)  # more rows never project a lower score


def entry(scores_by_rows: dict[int, tuple[float, float, float]]) -> dict:
    points = [
        {"rows": rows, "test_sets": {"internal": {"estimate": e, "low": lo, "high": hi}}}
        for rows, (e, lo, hi) in scores_by_rows.items()
    ]
    return {"points": points}


def test_an_extrapolation_is_drawn_only_through_the_full_data_interval():
    from harness.tasks.classification.learning_curve import _extrapolation

    truth = PowerLaw(a=0.95, b=0.1, c=0.5, scale=3200)
    smooth = {r: (truth.predict(r), truth.predict(r) - 0.01, truth.predict(r) + 0.01) for r in (50, 200, 800, 3200)}
    (found,) = _extrapolation(entry(smooth), 3200).values()
    assert found["rows"] == 6400 and found["predicted"] == pytest.approx(truth.predict(6400), abs=1e-3)
    # the measured curve keeps climbing steeply to its last point: no law with a ceiling of 1 passes through it
    steep = {50: (0.52, 0.50, 0.54), 200: (0.685, 0.67, 0.70), 800: (0.873, 0.86, 0.88), 3200: (0.995, 0.993, 0.997)}
    (withheld,) = _extrapolation(entry(steep), 3200).values()
    assert withheld["withheld"].startswith("the law misses the full-data interval")
    few = {200: (0.6, 0.5, 0.7), 800: (0.7, 0.6, 0.8), 3200: (0.8, 0.7, 0.9)}
    assert _extrapolation(entry(few), 3200) == {"internal": {"withheld": "fewer than four sizes"}}
