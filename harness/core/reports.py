"""What a run produces: one report per item, and the session that holds them (pytest's
``reports.py``: the runner imports these; these never import the runner)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from harness.core.collect import Item
from harness.core.config import RunConfig
from harness.core.profiles import Profile
from harness.core.train_sizes import CurvePlan, nested_order
from harness.model import ModelSpec
from harness.registry import ModelRegistry, TaskRegistry
from harness.task import TaskData

if TYPE_CHECKING:
    from harness.core.store import ItemStore

Outcome = Literal["passed", "skipped", "error"]


@dataclass(frozen=True)
class ItemReport:
    item: Item
    outcome: Outcome
    reason: str | None = None
    seconds: float = 0.0
    fields: Mapping[str, Any] = field(default_factory=dict)  # the task's result fields
    model_info: Mapping[str, Any] = field(default_factory=dict)
    cost: Mapping[str, Any] = field(default_factory=dict)
    fit_details: Mapping[str, Any] = field(default_factory=dict)
    traceback: str | None = None
    retained: Mapping[str, Any] = field(default_factory=dict, repr=False)  # for summarise; never written
    resumed: bool = False  # read back from the run directory, finished by an earlier run
    # Where it ran, when an executor spreads items over processes or machines (the Ray executor):
    # {"node": ..., "node_id": ..., "gpu_ids": [...], "device": ..., "attempt": ...}. None here.
    placement: Mapping[str, Any] | None = None
    # The item's per-row predictions (harness.predictions.RowPredictions; no text), for the run
    # directory's per-row file. None: the task keeps none, or it was read back from the store.
    rows: Any = field(default=None, repr=False)


@dataclass
class Session:
    options: argparse.Namespace
    config: RunConfig
    profile: Profile
    models: ModelRegistry
    tasks: TaskRegistry
    seeds: tuple[int, ...]
    data: dict[str, TaskData] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    deselected: int = 0
    reports: list[ItemReport] = field(default_factory=list)
    summaries: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # task -> run-level section
    summary_errors: dict[str, str] = field(default_factory=dict)  # task -> traceback
    device: str = "cpu"
    # Each task's effective config table and each fit's effective recipe, computed once: the
    # load and the fit use them, and the resume key hashes these same objects.
    task_tables: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    recipes: dict[tuple[str, str, str], Mapping[str, Any]] = field(default_factory=dict)
    store: ItemStore | None = None  # finished items of the run directory (resume)
    # Per training task, its learning curve (--train-sizes): the sizes and their rows.
    curves: dict[str, CurvePlan] = field(default_factory=dict)
    _orders: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    # ``--tune``: (model, training task) -> the configuration its search chose on eval, applied
    # last by :meth:`recipe`; empty without --tune. ``searches`` holds each search's record (the
    # leaderboard's ``search`` section is built from it), ``search_budget`` what every model got.
    tuned: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    searches: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    search_budget: Mapping[str, Any] | None = None

    @property
    def collect_only(self) -> bool:
        return bool(getattr(self.options, "collect_only", False))

    def default_recipe(self, model: ModelSpec, task: str, device: str | None = None) -> Mapping[str, Any]:
        """``model``'s recipe for a fit on ``task`` on ``device`` (default: this session's) before any
        tuning: the profile's (with any CPU and tagging recipe), then the config's overrides."""
        device = device or self.device
        key = (model.name, task, device)
        if key not in self.recipes:
            tagging = self.tasks[task].kind == "tagging"
            self.recipes[key] = {
                **self.profile.recipe_for(model, device, tagging=tagging),
                **self.config.recipe_for(model.name),
            }
        return self.recipes[key]

    def recipe(self, model: ModelSpec, task: str, device: str | None = None) -> Mapping[str, Any]:
        """``model``'s effective recipe for a fit on ``task``: :meth:`default_recipe`, then the
        configuration a ``--tune`` search chose for (model, task), if any."""
        base = self.default_recipe(model, task, device)
        chosen = self.tuned.get((model.name, task))
        return {**base, **chosen} if chosen else base

    def recipe_source(self, model_name: str, task: str) -> str:
        """Where the recipe of (model, training task) comes from: "default recipe", or
        "tuned recipe (8 trials on eval)" when a search chose it."""
        if (model_name, task) not in self.tuned:
            return "default recipe"
        trials = (self.searches.get((model_name, task)) or {}).get("trials") or []
        return f"tuned recipe ({len(trials)} trial{'s' if len(trials) != 1 else ''} on eval)"

    def subset_rows(self, task: str, seed: int, rows: int) -> np.ndarray:
        """The rows of ``task``'s training split in its ``rows``-row learning-curve subset for
        ``seed`` (:mod:`harness.core.train_sizes`: nested, stratified, the same on every node)."""
        data = self.data[task]
        if (task, seed) not in self._orders:
            binary = data.setup is not None and data.setup.problem == "binary"
            self._orders[task, seed] = nested_order(data.splits["train"].y, seed, binary)
        return np.sort(self._orders[task, seed][:rows])

    def item_data(self, item: Item) -> TaskData:
        """The data ``item`` is scored with: its task's, with a learning-curve item's training split
        cut to its subset (what its fit trained on, so "unseen in train" means unseen by this fit)."""
        data = self.data[item.task.name]
        if item.train_rows is None or "train" not in data.splits:
            return data
        train = data.splits["train"].take(self.subset_rows(item.task.name, item.seed, item.train_rows))
        return dataclasses.replace(data, splits={**data.splits, "train": train})

    def counts(self) -> dict[str, int]:
        counts = {"passed": 0, "skipped": 0, "error": 0}
        for report in self.reports:
            counts[report.outcome] += 1
        return counts
