"""``--train-sizes``: the sizes of a learning curve, and the training subsets drawn for them.

``harness run --train-sizes 100,200,400,all`` (counts) or ``0.1,0.25,all`` (fractions of train)
fits every model that trains on a subset of each size, as items of their own; eval and the test
sets stay as they are. The full training split is always one of the sizes (``all``), whether
written or not: it is the run's ordinary fit, so a curve adds items to a run and changes none.

The subsets of one seed are **nested** and **stratified**. For each seed the training rows are
put in one order, and the subset of ``n`` rows is the first ``n`` rows of that order (kept in the
file's order): each larger subset holds every smaller one, so a curve shows what adding rows does,
not a new draw. The order starts with a *cover*: labels from the rarest to the commonest, each
taking its first row in a seeded shuffle unless a row already taken holds it (a binary task's
cover is one positive row and one negative row). So every label is in every subset at least as
large as the cover, the rarest included. The other rows follow interleaved by stratum (a row's
rarest label; the class, for multi-class; positive or negative, for binary): the ``j``-th of
``m`` rows of a stratum goes at ``(j + 1/2) / m``, so any first ``n`` rows hold each stratum
within one row of its share. The order depends on the data and the seed only, never on the
other sizes asked for: the subset of 200 rows is the same whether the curve runs to 400 or 4,000.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from harness.data import LabelledSplit
from harness.errors import UsageError
from harness.registry import TaskRegistry
from harness.task import CurveSubset

if TYPE_CHECKING:
    from harness.core.reports import Session

# Part of a subset item's store key: a change to how subsets are drawn runs those items again.
SUBSET_METHOD = "nested-stratified-1"
ALL = "all"
_COUNT = re.compile(r"[+-]?\d+")
_FRACTION = re.compile(r"[+-]?(\d+\.\d*|\.\d+)")


@dataclass(frozen=True)
class RequestedSizes:
    """``--train-sizes`` as written: counts or fractions (never both), and whether ``all`` was given."""

    text: str
    kind: Literal["count", "fraction"]
    values: tuple[float, ...]  # the sizes other than ``all``, as written (counts are whole numbers)
    written: tuple[str, ...]  # each value as the user wrote it, for messages and labels
    includes_all: bool


def parse_train_sizes(text: str) -> RequestedSizes:
    """``"100,200,all"`` -> the sizes; a one-line usage error for anything else."""
    option = f"--train-sizes {text!r}"
    tokens = [token.strip() for token in text.split(",")]
    if not any(tokens):
        raise UsageError(f"{option}: give sizes separated by commas, e.g. 100,200,400,all or 0.1,0.25,all")
    seen: set[str] = set()
    counts: list[tuple[str, int]] = []
    fractions: list[tuple[str, float]] = []
    includes_all = False
    for token in tokens:
        if not token:
            raise UsageError(f"{option}: an empty size between commas")
        if token.lower() == ALL:
            key = ALL
            includes_all = True
        elif _COUNT.fullmatch(token):
            value = int(token)
            if value <= 0:
                raise UsageError(f"{option}: {token} is not a size: a count is a whole number of rows, 1 or more")
            key = str(value)
            counts.append((token, value))
        elif _FRACTION.fullmatch(token):
            fraction = float(token)
            if not 0 < fraction < 1:
                raise UsageError(
                    f"{option}: {token} is not a size: a fraction of train is between 0 and 1 (all takes every row)"
                )
            key = repr(fraction)
            fractions.append((token, fraction))
        else:
            raise UsageError(f"{option}: {token!r} is neither a count of rows, a fraction of train nor all")
        if key in seen:
            raise UsageError(f"{option}: {token} is given twice")
        seen.add(key)
    if counts and fractions:
        raise UsageError(
            f"{option}: mixes a fraction ({fractions[0][0]}) and a count ({counts[0][0]}); "
            "give counts or fractions (all goes with either)"
        )
    chosen = counts or fractions
    return RequestedSizes(
        text=text,
        kind="fraction" if fractions else "count",
        values=tuple(float(value) for _, value in chosen),
        written=tuple(token for token, _ in chosen),
        includes_all=includes_all,
    )


@dataclass(frozen=True)
class CurvePlan:
    """One task's learning curve: its sizes as written and in rows, smallest first. The last size is
    all of train (the run's ordinary fit); the others are subsets, fitted as items of their own."""

    task: str
    sizes: tuple[str, ...]
    rows: tuple[int, ...]

    @property
    def subset_rows(self) -> tuple[int, ...]:
        """The sizes that are subsets (every size but all of train), in rows."""
        return self.rows[:-1]


def plan_curve(
    task: str,
    requested: RequestedSizes,
    train: LabelledSplit,
    labels: Sequence[str],
    seeds: Sequence[int],
    binary: bool,
) -> CurvePlan:
    """``requested`` for ``task``'s training split: each size in rows, checked against the split
    (no larger than it, no two the same, every label in the smallest subset of every seed)."""
    option = f"--train-sizes {requested.text!r}"
    total = len(train)
    resolved: dict[int, str] = {}
    for written, value in zip(requested.written, requested.values):
        rows = int(value) if requested.kind == "count" else int(value * total + 0.5)  # a fraction: rounded
        if rows > total:
            raise UsageError(
                f"{option}: {written} is more rows than the train split of task {task!r} has ({total:,}); "
                "all takes every row"
            )
        if rows < 1:
            raise UsageError(
                f"{option}: {written} of the {total:,} rows of the train split of task {task!r} is no row at all"
            )
        if rows in resolved or (rows == total and requested.includes_all):
            other = resolved.get(rows, ALL)
            raise UsageError(
                f"{option}: {other} and {written} are both {rows:,} rows of the train split of task {task!r} "
                f"({total:,} rows); give each size once"
            )
        resolved[rows] = written
    resolved.setdefault(total, ALL)
    ordered = sorted(resolved)
    plan = CurvePlan(task, tuple(resolved[rows] for rows in ordered), tuple(ordered))
    if len(plan.rows) > 1:
        for seed in seeds:
            _check_labels(option, task, train, labels, seed, plan, binary)
    return plan


def _check_labels(
    option: str, task: str, train: LabelledSplit, labels: Sequence[str], seed: int, plan: CurvePlan, binary: bool
) -> None:
    """Every label of train in the smallest subset of ``seed``, or an error naming one that is not."""
    order, needed = _draw(train.y, seed, binary)
    missing = missing_labels(train.y, order[: plan.rows[0]], labels, binary)
    if missing:
        raise UsageError(
            f"{option}: {plan.sizes[0]} rows of task {task!r} cannot hold every label (seed {seed}): "
            f"{missing[0]} is in none of them; the smallest size needs at least {needed} rows"
        )


def missing_labels(y: np.ndarray, rows: np.ndarray, labels: Sequence[str], binary: bool) -> list[str]:
    """What the training split has and ``rows`` of it lack, in words: a label, or a binary task's
    rows without its label."""
    have_all, have_rows = y.sum(axis=0) > 0, y[rows].sum(axis=0) > 0
    missing = [f"label {label!r}" for label, full, part in zip(labels, have_all, have_rows) if full and not part]
    if binary and (y[:, 0] == 0).any() and not (y[rows, 0] == 0).any():
        missing.append(f"a row without label {labels[0]!r}")
    return missing


def strata(y: np.ndarray, binary: bool) -> np.ndarray:
    """Each row's stratum: its rarest label (the class, for one-hot rows), -1 for a row with none;
    for a binary task, 0 for a positive row and -1 for a negative one."""
    if binary:
        return np.where(y[:, 0] > 0, 0, -1)
    counts = y.sum(axis=0).astype(float)
    rarity = np.where(y > 0, counts[None, :], np.inf)  # a row's labels by their train counts
    rarest = np.argmin(rarity, axis=1)  # ties: the first label
    return np.where(y.any(axis=1), rarest, -1)


def cover(y: np.ndarray, shuffled: np.ndarray, binary: bool) -> list[int]:
    """Rows (in ``shuffled``'s terms: row indices) that hold every label of ``y``: from the rarest
    label up, its first row in ``shuffled`` unless a row taken already holds it. A binary task's
    cover is its first positive and its first negative row."""
    ranks = np.empty(len(shuffled), dtype=np.intp)
    ranks[shuffled] = np.arange(len(shuffled))
    if binary:
        groups = [np.flatnonzero(y[:, 0] > 0), np.flatnonzero(y[:, 0] == 0)]
        return [int(g[np.argmin(ranks[g])]) for g in groups if len(g)]
    taken: list[int] = []
    held = np.zeros(y.shape[1], dtype=bool)
    counts = y.sum(axis=0)
    for label in np.argsort(counts, kind="stable"):
        if counts[label] == 0 or held[label]:
            continue
        holders = np.flatnonzero(y[:, label] > 0)
        row = int(holders[np.argmin(ranks[holders])])
        taken.append(row)
        held |= y[row] > 0
    return taken


def nested_order(y: np.ndarray, seed: int, binary: bool = False) -> np.ndarray:
    """Every row of a training split in the order subsets take them (see the module's doc):
    the subset of ``n`` rows is ``np.sort(nested_order(y, seed)[:n])``."""
    return _draw(y, seed, binary)[0]


def _draw(y: np.ndarray, seed: int, binary: bool) -> tuple[np.ndarray, int]:
    """The order of :func:`nested_order`, and how many rows its cover takes."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(y))
    first = cover(y, shuffled, binary)
    rest = shuffled[~np.isin(shuffled, first)]
    stratum = strata(y, binary)[rest]
    position = np.empty(len(rest))
    for value in np.unique(stratum):
        members = np.flatnonzero(stratum == value)  # in shuffled order
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
    tie_break = rng.random(len(rest))
    interleaved = rest[np.lexsort((tie_break, position))]
    return np.concatenate([np.asarray(first, dtype=np.intp), interleaved]).astype(np.intp), len(first)


def subset_rows(y: np.ndarray, seed: int, rows: int, binary: bool = False) -> np.ndarray:
    """The training rows of the ``rows``-row subset for ``seed``, in the file's order."""
    return np.sort(nested_order(y, seed, binary)[:rows])


# --------------------------------------------------------------------------- a run's curves


def refuse_tasks(option: str, tasks: TaskRegistry, task_names: Sequence[str]) -> list[str]:
    """The selected tasks a curve is drawn for (classification tasks that train a classifier of their
    own); a usage error for a tagging task, or for a selection with no such task."""
    for name in task_names:
        if tasks[name].kind == "tagging":
            raise UsageError(
                f"--train-sizes {option!r}: task {name!r} tags tokens; learning curves are drawn for "
                f"classification tasks only (drop {name} from --tasks)"
            )
    trained = [name for name in task_names if tasks[name].kind == "classification" and tasks[name].fits_on == name]
    if not trained:
        follower = tasks[task_names[0]]
        raise UsageError(
            f"--train-sizes {option!r}: no selected task trains a classifier of its own ({follower.name} scores "
            f"the fits of {follower.fits_on}); add a classification task to --tasks"
        )
    return trained


def plan_curves(session: Session, requested: RequestedSizes, task_names: Sequence[str]) -> dict[str, CurvePlan]:
    """Each curved task's plan, checked against its (loaded) training split."""
    plans = {}
    for name in task_names:
        data = session.data[name]
        binary = data.setup is not None and data.setup.problem == "binary"
        plans[name] = plan_curve(name, requested, data.splits["train"], data.labels, session.seeds, binary)
    return plans


def curve_subsets(session: Session, task: str) -> tuple[CurveSubset, ...]:
    """``task``'s sizes with, per seed, the rows of each label in the subset drawn (counts only)."""
    plan, data = session.curves[task], session.data[task]
    train = data.splits["train"]

    def per_label(rows: np.ndarray | slice) -> dict[str, int]:
        return {label: int(n) for label, n in zip(data.labels, train.y[rows].sum(axis=0))}

    subsets = []
    for size, rows in zip(plan.sizes, plan.rows):
        if rows == len(train):
            label_rows = {seed: per_label(slice(None)) for seed in session.seeds}
        else:
            label_rows = {seed: per_label(session.subset_rows(task, seed, rows)) for seed in session.seeds}
        subsets.append(CurveSubset(size, rows, label_rows))
    return tuple(subsets)
