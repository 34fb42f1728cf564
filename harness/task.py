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
    """Given to :attr:`TaskSpec.score` for one item (model x task x seed)."""

    model: ModelSpec
    seed: int
    data: TaskData
    fitted: Callable[[], Fit]  # fits on first call, then returns the shared fit
    progress: ProgressFactory


@dataclass(frozen=True)
class TaskSpec:
    """One registered task.

    ``load`` reads and validates the data (raising ``InputError``); ``score`` returns the
    item's task-specific leaderboard fields (e.g. ``metrics``, or ``cases`` and ``pass_rate``).
    ``fits_on`` names the task whose train/eval splits fit the classifier (itself, or
    another: the probe scores classifiers fitted for ``indications``).
    """

    name: str
    description: str
    fits_on: str
    load: Callable[[LoadRequest], TaskData]
    score: Callable[[ScoreRequest], Mapping[str, Any]]
    markers: tuple[str, ...] = ()
    config_keys: frozenset[str] = frozenset()  # keys allowed in [tasks.NAME]
