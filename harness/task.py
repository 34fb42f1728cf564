"""What a task plugin declares (:class:`TaskSpec`) and what it is given to score a model."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.data import LabelledSplit
    from harness.model import FittedClassifier, ModelSpec
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

    def resolve(self, path: str) -> Path:
        base = self.config_path.parent if self.config_path else Path.cwd()
        return (base / path).expanduser()

    def key(self, name: str) -> str:
        """Where a key sits, for error messages: ``config.toml: tasks.indications.train``."""
        return f"{self.config_path or '<defaults>'}: {name}"


@dataclass(frozen=True)
class Fit:
    """A fitted classifier plus what it cost; shared by every task that scores it."""

    classifier: FittedClassifier
    train_seconds: float
    peak_rss_mb: float | None
    peak_cuda_mb: float | None


@dataclass(frozen=True)
class ScoreRequest:
    """Given to :attr:`TaskSpec.score` for one item (model x task x seed).

    ``retain(key, value)`` keeps a value (e.g. the test sets' predictions) in memory for the
    task's :attr:`TaskSpec.summarise` at the end of the run. Retained values are never
    written anywhere: they may be as private as the data.
    """

    model: ModelSpec
    seed: int
    data: TaskData
    fitted: Callable[[], Fit]  # fits on first call, then returns the shared fit
    progress: ProgressFactory
    retain: Callable[[str, Any], None] = lambda key, value: None


@dataclass(frozen=True)
class ScoredItem:
    """One passed item, as its task's ``summarise`` sees it."""

    model: str
    seed: int
    fields: Mapping[str, Any]  # what ``score`` returned (as written to the leaderboard)
    retained: Mapping[str, Any]  # what ``score`` retained (never written)
    model_info: Mapping[str, Any]


@dataclass(frozen=True)
class SummaryRequest:
    """Given to :attr:`TaskSpec.summarise` once, after every item of the run has finished."""

    data: TaskData
    items: tuple[ScoredItem, ...]  # the task's passed items, in run order
    seeds: tuple[int, ...]  # the run's seeds


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
