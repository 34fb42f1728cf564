"""Run profiles: the same grid at a different size (``--profile smoke`` is a quick check of everything)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.data import LabelledSplit
from harness.errors import UsageError
from harness.model import ModelSpec
from harness.task import TaskData, TaskSpec


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    recipe: Mapping[str, Any] = field(default_factory=dict)  # applied where a model has the key
    max_rows: Mapping[str, int] = field(default_factory=dict)  # "train", "eval", "test"
    cpu_recipes: bool = True  # apply each model's ``cpu_recipe`` when the run is on a CPU

    def task_table(self, task: TaskSpec, table: Mapping[str, Any]) -> dict[str, Any]:
        """``[tasks.NAME]`` under this profile: the task's own defaults for it
        (``TaskSpec.profile_defaults``), then the config's keys, which win."""
        return {**task.profile_defaults.get(self.name, {}), **table}

    def recipe_for(self, model: ModelSpec, device: str = "cpu", tagging: bool = False) -> dict[str, Any]:
        """The model's recipe as this profile runs it on ``device`` (config overrides come later).

        In order, later keys winning: ``recipe``; on a CPU, unless the profile runs recipes as
        written, ``cpu_recipe``; for a tagging task, ``tag_recipe``; then the profile's changes.
        A tagging fit's own keys win over ``cpu_recipe`` because a CPU recipe is tuned for
        classifying short texts (SmolLM2's ``max_length`` of 32 would cut NER sentences) while a
        tag recipe says what tagging sentences needs; the rest of the CPU recipe still applies.
        """
        recipe = dict(model.recipe)
        if self.cpu_recipes and device == "cpu":
            recipe.update(model.cpu_recipe)
        if tagging:
            recipe.update(model.tag_recipe)
        recipe.update({key: value for key, value in self.recipe.items() if key in recipe})
        return recipe

    def shrink(self, data: TaskData) -> TaskData:
        """A fixed random subset of each split (seed 0: the same rows for every model)."""
        if not self.max_rows or not data.splits:
            return data
        splits = {name: self._subset(split) for name, split in data.splits.items()}
        provenance = tuple(split.provenance(data.labels) for split in splits.values())
        return dataclasses.replace(data, splits=splits, provenance=provenance)

    def _subset(self, split: LabelledSplit) -> LabelledSplit:
        return split.sample(self.max_rows.get(split.name if split.name in {"train", "eval"} else "test"), seed=0)


PROFILES = {
    "default": Profile(
        "default", "every row of every split; each model's recipe, lightened on a CPU where the model says how"
    ),
    "full": Profile("full", "every row of every split; each model's own recipe, on any device", cpu_recipes=False),
    # The smoke check says that every family's code path runs, not how well: few rows, short
    # sequences, one epoch of a few batches (issue 17: under 90 s for indications and the probe
    # on 2 cores). The LLMs' 64 train rows are 4 batches of their CPU recipe's 16.
    "smoke": Profile(
        "smoke",
        "a quick check that everything runs, not how well: 128 train, 48 eval, 64 per test set, 1 epoch "
        "(LLMs: 64 train rows), inputs cut to 32 tokens, 200 variants",
        recipe={"epochs": 1, "max_train_rows": 64, "max_length": 32},
        max_rows={"train": 128, "eval": 48, "test": 64},
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]
