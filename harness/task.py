"""What a task plugin declares (:class:`TaskSpec`) and what it is given to score a model."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import InputError

if TYPE_CHECKING:
    from harness.data import LabelledSplit
    from harness.model import ClassificationSetup, FittedClassifier, ModelSpec
    from harness.predictions import RowPredictions
    from harness.progress import ProgressFactory


@dataclass(frozen=True)
class TaskData:
    """A task's data, loaded and validated before anything runs.

    A task that trains classifiers (``fits_on`` is itself) has ``train`` and ``eval`` among
    its ``splits``; every other split is a test set.
    """

    labels: tuple[str, ...]
    splits: Mapping[str, LabelledSplit] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    provenance: tuple[Mapping[str, Any], ...] = ()
    note: str = ""  # what a reader of the results must know about this data (e.g. that it is synthetic)
    setup: ClassificationSetup | None = None  # a classification task's problem, pairs, long-text rule...

    @property
    def test_splits(self) -> dict[str, LabelledSplit]:
        return {name: s for name, s in self.splits.items() if name not in {"train", "eval"}}


@dataclass(frozen=True)
class LoadRequest:
    """Given to :attr:`TaskSpec.load`: the task's ``[tasks.NAME]`` table and the CLI options."""

    table: Mapping[str, Any]
    options: argparse.Namespace
    config_path: Path | None  # relative paths in the table are relative to this file's folder
    upstream: TaskData | None  # the data of the task this one's classifiers were fitted on
    upstream_name: str | None = None  # that task's name

    def resolve(self, path: str) -> Path:
        base = self.config_path.parent if self.config_path else Path.cwd()
        return (base / path).expanduser()

    def key(self, name: str) -> str:
        """Where a key sits, for error messages: ``config.toml: tasks.indications.train``."""
        return f"{self.config_path or '<defaults>'}: {name}"


def gather_splits(
    request: LoadRequest,
    task: str,
    read_user: Callable[[str, Mapping[str, Any], str], Any],
    read_embedded: Callable[[str], Any],
    embedded_tests: tuple[str, ...],
    split_keys: frozenset[str],
) -> dict[str, Any]:
    """A task's splits from its ``[tasks.TASK]`` table, the same way for every task.

    ``train`` and ``eval`` are the user's (a path, or a table with ``path``) or embedded; the
    embedded test sets stay unless ``keep_embedded_tests = false``; each
    ``[tasks.TASK.tests.NAME]`` adds a test set. ``read_user(name, table, where)`` gets a table
    whose keys are checked against ``split_keys`` and which has a string ``path``.
    """

    def user(name: str, value: Any, where: str) -> Any:
        table: Mapping[str, Any] = {"path": value} if isinstance(value, str) else value
        if not isinstance(table, Mapping):
            raise InputError(where, "expected a path or a table with 'path'")
        for key in table:
            if key not in split_keys:
                raise InputError(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(split_keys))}")
        if not isinstance(table.get("path"), str):
            raise InputError(where, "missing 'path'")
        return read_user(name, table, where)

    table = request.table
    splits: dict[str, Any] = {}
    for name in ("train", "eval"):
        where = request.key(f"tasks.{task}.{name}")
        splits[name] = user(name, table[name], where) if name in table else read_embedded(name)
    if table.get("keep_embedded_tests", True):
        for name in embedded_tests:
            splits[name] = read_embedded(name)
    tests = table.get("tests", {})
    if not isinstance(tests, Mapping):
        raise InputError(request.key(f"tasks.{task}.tests"), f"expected tables [tasks.{task}.tests.NAME]")
    for name, value in tests.items():
        where = request.key(f"tasks.{task}.tests.{name}")
        if name in {"train", "eval"}:
            raise InputError(where, "a test set cannot be named train or eval")
        splits[name] = user(name, value, where)
    if not any(name not in {"train", "eval"} for name in splits):
        raise InputError(request.key(f"tasks.{task}"), f"no test set left: add [tasks.{task}.tests.NAME]")
    return splits


@dataclass(frozen=True)
class Fit:
    """A fitted classifier (or, for a tagging task, tagger) plus what it cost; shared by every
    task that scores it."""

    classifier: FittedClassifier  # a FittedTagger for tagging tasks
    train_seconds: float
    peak_rss_mb: float | None
    peak_cuda_mb: float | None


@dataclass(frozen=True)
class ScoreRequest:
    """Given to :attr:`TaskSpec.score` for one item (model x task x seed).

    ``retain(key, value)`` keeps a value (e.g. the test sets' predictions) in memory for the
    task's :attr:`TaskSpec.summarise` at the end of the run. Retained values are never
    written anywhere: they may be as private as the data. ``keep_rows(predictions)`` hands the
    item's per-row predictions (:class:`harness.predictions.RowPredictions`, no text) to the
    run directory's store, the private per-row file that ``harness errors`` reads.
    """

    model: ModelSpec
    seed: int
    data: TaskData
    fitted: Callable[[], Fit]  # fits on first call, then returns the shared fit
    progress: ProgressFactory
    retain: Callable[[str, Any], None] = lambda key, value: None
    keep_rows: Callable[[RowPredictions], None] = lambda predictions: None


@dataclass(frozen=True)
class ScoredItem:
    """One passed item, as its task's ``summarise`` sees it."""

    model: str
    seed: int
    fields: Mapping[str, Any]  # what ``score`` returned (as written to the leaderboard)
    retained: Mapping[str, Any]  # what ``score`` retained (never written)
    model_info: Mapping[str, Any]
    cost: Mapping[str, Any] = field(default_factory=dict)  # as written to the leaderboard (train_seconds, ...)
    fit_details: Mapping[str, Any] = field(default_factory=dict)  # as written (e.g. train_rows_used)
    train_rows: int | None = None  # a learning curve's subset fit: its training rows; None: all of train


@dataclass(frozen=True)
class CurveSubset:
    """One size of a learning curve: as requested (``"200"``, ``"0.25"``, ``"all"``), in rows, and
    per seed the rows of each label in the subset drawn (counts only)."""

    size: str
    rows: int
    label_rows: Mapping[int, Mapping[str, int]]


@dataclass(frozen=True)
class LearningCurveRequest:
    """A task's learning curve (``harness run --train-sizes``), for its ``summarise``."""

    subsets: tuple[CurveSubset, ...]  # smallest first; the last is all of train (the run's own fits)
    items: tuple[ScoredItem, ...]  # the subset fits' passed items (``train_rows`` set), in run order
    trains: Mapping[str, bool]  # model -> whether it reads training rows (False: drawn flat)
    recipe_sources: Mapping[str, str]  # model -> where its recipe came from ("default recipe", ...)


@dataclass(frozen=True)
class SummaryRequest:
    """Given to :attr:`TaskSpec.summarise` once, after every item of the run has finished."""

    data: TaskData
    items: tuple[ScoredItem, ...]  # the task's passed items on all of train, in run order
    seeds: tuple[int, ...]  # the run's seeds
    # With --tune: what the models fitted on this task were searched with, as the leaderboard's
    # ``search`` section holds it for the task ({"budget": ..., "models": {name: record}}); else None.
    search: Mapping[str, Any] | None = None
    curve: LearningCurveRequest | None = None  # with --train-sizes, for a task that trains


# Keys of a task's config table that change only its run-level summary, never an item's result:
# the item store leaves them out of its keys, so changing one re-summarises without refitting.
SUMMARY_ONLY_KEYS = frozenset({"learning_curve_tolerance"})


@dataclass(frozen=True)
class TaskSpec:
    """One registered task.

    ``load`` reads and validates the data (raising ``InputError``); ``score`` returns the
    item's task-specific leaderboard fields (e.g. ``metrics``, or ``cases`` and ``pass_rate``).
    ``fits_on`` names the task whose train/eval splits fit the classifier (itself, or
    another: the probe scores classifiers fitted for ``indications``). ``summarise``, if
    given, looks across the task's items once at the end of the run (comparing models, say)
    and returns the task's run-level leaderboard section, ``summaries.NAME``.
    """

    name: str
    description: str
    fits_on: str
    load: Callable[[LoadRequest], TaskData]
    score: Callable[[ScoreRequest], Mapping[str, Any]]
    markers: tuple[str, ...] = ()
    config_keys: frozenset[str] = frozenset()  # keys allowed in [tasks.NAME]
    summarise: Callable[[SummaryRequest], Mapping[str, Any]] | None = None
    # What the task fits: "classification" (ModelSpec.fit, FitRequest; splits are LabelledSplit)
    # or "tagging" (ModelSpec.tag, TagRequest; splits are harness.tagged.TaggedSplit and
    # ``TaskData.labels`` are the entity types). Models without that ability are skipped.
    kind: Literal["classification", "tagging"] = "classification"
    # Defaults under ``[tasks.NAME]`` per profile (the config's own keys win), e.g. a smaller
    # ``{"smoke": {"variants": 200}}`` for a quick check.
    profile_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # A task that scores another task's classifiers (the probe, robustness) and can follow any
    # classification task: ``[tasks.NAME] task = "smoking"`` picks it, else the first classification
    # task of ``--tasks``; ``fits_on`` is the default when the run selects none.
    follows: bool = False
    # Part of ``--tasks all``; the embedded examples are not (they run when named).
    in_all: bool = True
