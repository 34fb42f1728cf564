"""What a tuned run searches: per (model, training task), the space, trial 0's recipe and the budget.

Light on purpose (no Ray, no Optuna): the plan is made and checked before anything runs, so a bad
search config is one line and exit 2, and its basis is the resume key of the search.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import InputError
from harness.model import ModelSpec
from harness.search import Dimension, parse_space, space_as_config

if TYPE_CHECKING:
    from harness.core.reports import Session

FORMAT = 1  # of the search's state in the run directory and of the leaderboard's search section
_TIME = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``20m``, ``1h30m``, ``90s`` or ``90`` (seconds) as seconds; ValueError otherwise."""
    match = _TIME.match(text.strip().lower())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"expected a duration such as 20m, 1h30m or 90s, got {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise ValueError(f"expected a duration above zero, got {text!r}")
    return total


@dataclass(frozen=True)
class Budget:
    """The same for every model: ``trials`` per model and/or ``time_seconds`` of search per model."""

    trials: int | None
    time_seconds: float | None
    max_concurrent: int = 1  # 1: reproducible with a fixed seed (docs/tuning.md)
    seed: int = 0  # the searcher's (Optuna TPE)
    grace_period: int = 1  # ASHA: epochs before a trial can be stopped
    reduction_factor: int = 2  # ASHA: the share of trials kept at each rung is 1 / this

    def startup_trials(self) -> int:
        """Trials TPE draws at random before it models the space (trial 0, the recipe, is one)."""
        return max(2, (self.trials or 12) // 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "time_seconds": self.time_seconds,
            "max_concurrent_trials": self.max_concurrent,
            "searcher": "optuna-tpe",
            "searcher_seed": self.seed,
            "startup_trials": self.startup_trials(),
            "scheduler": "asha",
            "grace_period": self.grace_period,
            "reduction_factor": self.reduction_factor,
        }


@dataclass(frozen=True)
class SearchPlan:
    model: ModelSpec
    task: str  # the training task
    space: Mapping[str, Dimension]  # empty: nothing to search, the recipe runs
    recipe: Mapping[str, Any]  # trial 0: the model's effective recipe
    seed: int  # every trial fits with the run's first seed
    device: str
    budget: Budget
    why_untuned: str | None = None  # with an empty space: why
    data: Mapping[str, str] = field(default_factory=dict)  # train and eval: their SHA-256

    @property
    def name(self) -> str:
        return f"{self.model.name} on {self.task}"

    @property
    def folder_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.model.name}--{self.task}")

    def trial_zero(self) -> dict[str, Any]:
        """The recipe's values of the searched keys: trial 0's configuration."""
        return {key: self.recipe.get(key) for key in self.space}

    def max_epochs(self) -> int:
        """The most epochs a trial can run: ASHA's ``max_t``."""
        dimension = self.space.get("epochs")
        if dimension is None:
            return int(self.recipe.get("epochs") or 1)
        return int(max(dimension.values))

    def basis(self) -> dict[str, Any]:
        """Everything that makes this search what it is: a change in any part starts a new one."""
        from harness import __version__

        return {
            "format": FORMAT,
            "harness": __version__,
            "model": {"name": self.model.name, "family": self.model.family, "regime": self.model.fine_tuning_regime},
            "task": self.task,
            "space": space_as_config(self.space),
            "recipe": _plain(self.recipe),
            "trials": self.budget.trials,
            "time_seconds": self.budget.time_seconds,
            "max_concurrent_trials": self.budget.max_concurrent,
            "searcher_seed": self.budget.seed,
            "seed": self.seed,
            "device": self.device,
            "data": dict(self.data),
        }

    def key(self) -> str:
        encoded = json.dumps(self.basis(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


_PARTS = {
    "space": "the search space changed",
    "recipe": "the model's recipe (trial 0) changed",
    "trials": "the number of trials changed",
    "time_seconds": "the time budget changed",
    "max_concurrent_trials": "the number of concurrent trials changed",
    "searcher_seed": "the searcher's seed changed",
    "seed": "the fits' seed changed",
    "device": "the device changed",
    "data": "the train or eval data changed",
    "harness": "the harness version changed",
    "format": "the search state's format changed",
    "model": "the model changed",
}


def why_new(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Why an earlier search in the run directory cannot be resumed: the parts of its basis that differ."""
    reasons = []
    for part, words in _PARTS.items():
        if old.get(part) != new.get(part):
            if part == "space":
                keys = sorted(set(old.get("space") or {}) ^ set(new.get("space") or {}))
                keys += sorted(
                    k for k in set(old.get("space") or {}) & set(new["space"]) if old["space"][k] != new["space"][k]
                )
                words += f" ({', '.join(keys)})" if keys else ""
            elif part in ("trials", "time_seconds", "max_concurrent_trials", "searcher_seed", "seed", "device"):
                words += f" ({old.get(part)} → {new.get(part)})"
            reasons.append(words)
    return "; ".join(reasons) or "its state could not be read"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, bool | int | float | str) else repr(value)


def effective_space(
    model: ModelSpec, search: Any, recipe: Mapping[str, Any], pinned: set[str], where: str
) -> tuple[dict[str, Dimension], str | None]:
    """The model's space with the config's ``search`` over it, less the keys the profile pins, each
    dimension widened to hold the recipe's value (trial 0). Returns (space, why it is empty)."""
    if search is False:
        return {}, "its search is turned off in the config (search = false)"
    declared = parse_space(model.search_space, model.recipe, f"model {model.name!r}: search_space")
    overrides = parse_space(search or {}, model.recipe, where, removable=True)
    merged = {**declared, **overrides}
    space: dict[str, Dimension] = {}
    for key, dimension in merged.items():
        if dimension is None or key in pinned:
            continue
        try:
            space[key] = dimension.widened(recipe.get(key))
        except ValueError as err:
            raise InputError(f"{where}.{key}", f"{err} (trial 0 runs the recipe)") from None
    if space:
        return space, None
    if not model.search_space and not overrides:
        return {}, "it has no search space"
    return {}, "every key of its search space is fixed (by the profile or the config)"


def make_plans(session: Session, budget: Budget, device_of: Mapping[str, str]) -> list[SearchPlan]:
    """One plan per (model, classification training task) of the session's items that will run,
    in collection order; ``device_of`` gives each model's trial device."""
    seen: dict[tuple[str, str], SearchPlan] = {}
    pinned = set(session.profile.recipe)
    for item in session.items:
        task = item.task.fits_on
        if item.skip_reason or (item.model.name, task) in seen or session.tasks[task].kind != "classification":
            continue
        model, device = item.model, device_of[item.model.name]
        recipe = session.default_recipe(model, task, device)
        where = f"{session.config.path}: models.{model.name}.search"
        search = session.config.search_for(model.name)
        space, why = effective_space(model, search, recipe, pinned, where)
        splits = session.data[task].splits
        seen[model.name, task] = SearchPlan(
            model,
            task,
            space,
            recipe,
            session.seeds[0],
            device,
            budget,
            why,
            {name: splits[name].sha256 for name in ("train", "eval")},
        )
    return list(seen.values())
