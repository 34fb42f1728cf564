"""Reading a learning curve: from how many training rows a model comes within a tolerance of a
full-data score, and a power-law extrapolation beyond the rows measured.

Pure functions of numbers (a curve's points: rows, the score and its interval). A size "reaches"
a mark when it and every larger size measured are at or above it, so one lucky point below a dip
is not the answer. Three readings of each curve, all against the same mark (target minus the
tolerance, the target taken as exact):

* ``rows``: from the point estimates, the plain answer;
* ``possible_from``: from the intervals' upper bounds: below it, even the interval's top is short
  of the mark, so fewer rows are ruled out (at the interval's confidence, test-set noise only);
* ``certain_from``: from the intervals' lower bounds: from it on, the whole interval clears the
  mark. Often never: an interval is usually wider than a tolerance of 0.01.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CurvePoint", "PowerLaw", "Reach", "fit_power_law", "reach", "reach_statement"]

_SLACK = 1e-12  # float noise: a score equal to the mark reaches it


@dataclass(frozen=True)
class CurvePoint:
    rows: int
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Reach:
    """Where a curve reaches ``mark`` (= ``target`` - tolerance); None: not within the sizes run."""

    target: float
    mark: float
    rows: int | None
    possible_from: int | None
    certain_from: int | None

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "target": self.target,
            "mark": self.mark,
            "rows": self.rows,
            "possible_from": self.possible_from,
            "certain_from": self.certain_from,
        }


def _first_from(points: Sequence[CurvePoint], ok: Sequence[bool]) -> int | None:
    """The rows of the smallest point from which every point is ``ok``."""
    found = None
    for point, good in zip(reversed(points), reversed(ok)):
        if not good:
            break
        found = point.rows
    return found


def reach(points: Sequence[CurvePoint], target: float, tolerance: float) -> Reach:
    """Where ``points`` (any order) come within ``tolerance`` of ``target``, three ways (see the module)."""
    ordered = sorted(points, key=lambda p: p.rows)
    mark = target - tolerance
    return Reach(
        target=target,
        mark=mark,
        rows=_first_from(ordered, [p.estimate >= mark - _SLACK for p in ordered]),
        possible_from=_first_from(ordered, [p.high >= mark - _SLACK for p in ordered]),
        certain_from=_first_from(ordered, [p.low >= mark - _SLACK for p in ordered]),
    )


def reach_statement(
    model: str,
    found: Reach,
    *,
    metric: str,
    tolerance: float,
    full: float,
    full_rows: int | None = None,
    best: str | None = None,
    trains: bool = True,
) -> str:
    """One sentence for people: where ``model`` comes within ``tolerance`` of its own full-data
    score ``full`` (``best`` None) or of the best model's (``best`` names it); ``full_rows``, all
    of train, is named as such."""
    if best is None:
        aim = f"within {tolerance:g} of its full-data {metric} ({found.target:.3f})"
    else:
        aim = f"within {tolerance:g} of the best full-data {metric} ({best}: {found.target:.3f})"
    if not trains:
        if found.rows is not None:
            return f"{model} does not train: {aim} at every size, as on all rows"
        return f"{model} does not train: never {aim}; its {metric} is {full:.3f} at every size"
    if found.rows is None:
        text = f"{model}: {aim}: not reached within the sizes run (its full-data {metric}: {full:.3f})"
        if found.possible_from is not None:
            text += (
                f"; its interval reaches the mark from {found.possible_from:,} rows, so the data do not "
                "rule out that it is within the tolerance there"
            )
        return text
    if found.rows == full_rows:
        text = f"{model}: {aim} only with all {found.rows:,} rows (no smaller size run reaches it)"
    else:
        text = f"{model}: {aim} from {found.rows:,} rows"
    if found.possible_from is not None and found.possible_from < found.rows:
        text += f"; by the intervals, possibly from {found.possible_from:,} rows"
    elif found.rows != full_rows:
        text += "; by the intervals, not with fewer rows"
    if found.certain_from is None:
        text += "; the intervals clear the mark at no size run (they are wider than the tolerance)"
    elif found.certain_from != found.rows:
        text += f"; the intervals clear the mark from {found.certain_from:,} rows"
    return text


@dataclass(frozen=True)
class PowerLaw:
    """``score = a - b * (rows / scale) ** -c``: an inverse power law (as Figueroa et al. 2012 fit
    to clinical-text learning curves); ``a`` is the score it levels off at."""

    a: float
    b: float
    c: float
    scale: int

    def predict(self, rows: float) -> float:
        return float(self.a - self.b * (rows / self.scale) ** -self.c)

    def to_dict(self) -> dict[str, float | int | str]:
        return {"form": "a - b * (rows / scale) ** -c", "a": self.a, "b": self.b, "c": self.c, "scale": self.scale}


def fit_power_law(
    rows: Sequence[int], scores: Sequence[float], scale: int, sigma: Sequence[float] | None = None
) -> PowerLaw | None:
    """The least-squares inverse power law through ``(rows, scores)`` (each weighted by 1 /
    ``sigma``, e.g. its interval's half-width), or None where it cannot be fitted honestly: fewer
    than four distinct sizes (three parameters), or no convergence."""
    x = np.asarray(rows, dtype=float) / scale
    y = np.asarray(scores, dtype=float)
    weights = None if sigma is None else np.maximum(np.asarray(sigma, dtype=float), 1e-3)
    if len(set(x.tolist())) < 4 or not np.all(np.isfinite(y)):
        return None
    from scipy.optimize import OptimizeWarning, curve_fit

    def law(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return a - b * x**-c

    start = (float(min(1.0, y.max())), float(max(y.max() - y.min(), 1e-3)), 0.5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            params, _ = curve_fit(
                law, x, y, p0=start, sigma=weights, bounds=([0.0, 0.0, 0.0], [1.0, np.inf, 5.0]), maxfev=20_000
            )
    except (RuntimeError, ValueError):
        return None
    a, b, c = (float(p) for p in params)
    if not all(math.isfinite(v) for v in (a, b, c)):
        return None
    return PowerLaw(a, b, c, scale)
