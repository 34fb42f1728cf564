"""The run's TOML config: ``[tasks.NAME]`` tables for data, ``[models.NAME]`` for weights and recipes.

Every key is checked before anything runs; a typo names the file and the key.
A ``[models.NAME]`` table with ``plugin = "KIND"`` declares a model of a plugin's kind (a served
LLM: ``plugin = "openai-compatible"``, docs/served-llms.md), with that plugin's keys besides these.
``[models.NAME]`` keys: ``weights`` (a folder), ``recipe`` (overrides), ``resources`` (CPUs and GPUs
one fit, or one search trial, takes on Ray), ``search`` (what ``--tune`` searches: docs/tuning.md,
or ``false`` for none), and two opt-ins that are
off unless the user turns them on for that model: ``allow_pickle`` (load pickled ``.bin``
weights) and ``trust_remote_code`` (run the model's own modelling code).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.weights import WeightOptions
from harness.errors import InputError
from harness.registry import ModelRegistry, TaskRegistry

MODEL_OPT_INS = ("allow_pickle", "trust_remote_code")
MODEL_KEYS = frozenset({"weights", "recipe", "resources", "search", *MODEL_OPT_INS})
# ``resources = { gpus = 2, cpus = 4 }``: what one fit of the model takes on a cluster (--executor ray)
RESOURCE_KEYS = ("cpus", "gpus")


@dataclass(frozen=True)
class RunConfig:
    path: Path | None = None
    tasks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sha256: str | None = None
    min_cell_count: int = 0  # [privacy]: error-analysis counts below it are blanked on pages and when published

    def task_table(self, name: str) -> Mapping[str, Any]:
        return self.tasks.get(name, {})

    def weights_for(self, model: str) -> str | None:
        weights = self.models.get(model, {}).get("weights")
        if weights is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        return str(base / Path(weights).expanduser())

    def weight_options(self, model: str) -> WeightOptions:
        table = self.models.get(model, {})
        return WeightOptions(
            path=self.weights_for(model),
            allow_pickle=table.get("allow_pickle", False),
            trust_remote_code=table.get("trust_remote_code", False),
        )

    def recipe_for(self, model: str) -> Mapping[str, Any]:
        return self.models.get(model, {}).get("recipe", {})

    def search_for(self, model: str) -> Mapping[str, Any] | bool | None:
        """``[models.NAME] search``: entries over the model's own search space, ``false`` for no
        search, None where the config says nothing (checked on load)."""
        return self.models.get(model, {}).get("search")

    def resources_for(self, model: str) -> Mapping[str, float]:
        """``[models.NAME] resources``: the CPUs and GPUs one fit asks of a cluster (checked on load)."""
        return self.models.get(model, {}).get("resources", {})


def _table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(where, f"expected a table, got {type(value).__name__}")
    return value


def _check_class_weighting(where: str, recipe: Mapping[str, Any]) -> None:
    """Class weighting is off by default (TOML has no null): "balanced", or for the torch
    loss's ``pos_weight`` a positive number."""
    weight = recipe.get("pos_weight", "balanced")
    number = isinstance(weight, int | float) and not isinstance(weight, bool) and weight > 0
    if weight != "balanced" and not number:
        raise InputError(f"{where}.pos_weight", f'expected "balanced" or a positive number, got {weight!r}')
    if recipe.get("class_weight", "balanced") != "balanced":
        raise InputError(f"{where}.class_weight", f'expected "balanced", got {recipe["class_weight"]!r}')


def _check_search(where: str, search: Any, recipe: Mapping[str, Any]) -> None:
    """A search table in the syntax of :mod:`harness.search` over the model's recipe keys, or
    ``false``; class weighting's choices must be values the recipe itself would accept."""
    from harness.search import parse_space

    if search is False:
        return
    for key, dimension in parse_space(search, recipe, where, removable=True).items():
        if dimension is not None and key in ("pos_weight", "class_weight"):
            if dimension.is_range and key == "class_weight":
                raise InputError(f"{where}.{key}", 'expected a list of choices among "none" and "balanced"')
            for value in () if dimension.is_range else dimension.values:
                if value is not None:
                    _check_class_weighting(where, {key: value})


def _check_resources(where: str, resources: Mapping[str, Any]) -> None:
    """Numbers Ray can schedule: ``cpus`` >= 0; ``gpus`` a fraction below 1 (several fits share a
    GPU) or a whole number (one fit takes several)."""
    for key, value in resources.items():
        if key not in RESOURCE_KEYS:
            raise InputError(f"{where}.{key}", f"unknown resource; allowed: {', '.join(RESOURCE_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"{where}.{key}", f"expected a number >= 0, got {value!r}")
        if key == "gpus" and value > 1 and value != int(value):
            raise InputError(f"{where}.{key}", f"expected a fraction below 1 or a whole number of GPUs, got {value!r}")


def load_config(path: Path | None, models: ModelRegistry, tasks: TaskRegistry) -> RunConfig:
    if path is None:
        return RunConfig()
    if not path.is_file():
        raise InputError(str(path), "config file not found")
    raw = path.read_bytes()
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(str(path), "not valid UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(str(path), f"malformed TOML: {err}") from None
    for key in document:
        if key not in {"tasks", "models", "privacy"}:
            raise InputError(
                f"{path}: {key}", "unknown key; the config has [tasks.NAME], [models.NAME] and [privacy] tables"
            )
    min_cells = _min_cell_count(f"{path}: privacy", document.get("privacy", {}))
    task_tables = _table(f"{path}: tasks", document.get("tasks", {}))
    for name, table in task_tables.items():
        where = f"{path}: tasks.{name}"
        if name not in tasks and isinstance(table, Mapping) and "kind" in table:
            if table["kind"] not in tasks.kinds():
                raise InputError(
                    f"{where}.kind", f"unknown task kind {table['kind']!r}; known: {', '.join(tasks.kinds())}"
                )
            tasks.add_from_config(name, table, where)
        if name not in tasks:
            kinds = " or ".join(f'kind = "{k}"' for k in tasks.kinds())
            hint = f"; or define a task of your own with {kinds}" if kinds else ""
            raise InputError(where, f"unknown task; known: {', '.join(tasks.names())}{hint}")
        for key in _table(where, table):
            if key not in tasks[name].config_keys:
                allowed = ", ".join(sorted(tasks[name].config_keys)) or "none"
                raise InputError(f"{where}.{key}", f"unknown key; allowed: {allowed}")
    model_tables = _table(f"{path}: models", document.get("models", {}))
    for name, table in model_tables.items():
        where = f"{path}: models.{name}"
        allowed_keys = MODEL_KEYS
        if name not in models and isinstance(table, Mapping) and "plugin" in table:
            if table["plugin"] not in models.kinds():
                known_kinds = ", ".join(models.kinds()) or "none"
                raise InputError(f"{where}.plugin", f"unknown model plugin {table['plugin']!r}; known: {known_kinds}")
            allowed_keys = MODEL_KEYS | {"plugin"} | models.kind_keys(table["plugin"])
            for key in table:
                if key not in allowed_keys:
                    raise InputError(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(allowed_keys))}")
            models.add_from_config(name, table, where)
        if name not in models:
            plugins = " or ".join(f'plugin = "{k}"' for k in models.kinds())
            hint = f"; or declare a served model with {plugins}" if plugins else ""
            raise InputError(where, f"unknown model; known: {', '.join(models.names())}{hint}")
        for key in _table(where, table):
            if key not in allowed_keys:
                raise InputError(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(allowed_keys))}")
        if "weights" in table and not isinstance(table["weights"], str):
            raise InputError(f"{where}.weights", f"expected a folder path (a string), got {table['weights']!r}")
        for key in MODEL_OPT_INS:
            if key in table and not isinstance(table[key], bool):
                raise InputError(f"{where}.{key}", f"expected true or false, got {table[key]!r}")
        recipe = _table(f"{where}.recipe", table.get("recipe", {}))
        allowed = {*models[name].recipe, *models[name].tag_recipe}
        for key in recipe:
            if key not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise InputError(f"{where}.recipe.{key}", f"unknown recipe key; this model's: {known}")
        _check_class_weighting(f"{where}.recipe", recipe)
        if "search" in table:
            _check_search(f"{where}.search", table["search"], models[name].recipe)
        _check_resources(f"{where}.resources", _table(f"{where}.resources", table.get("resources", {})))
        subword = recipe.get("label_subword", "first")  # the tagger's (harness.training.tagging)
        if subword not in ("first", "last"):
            raise InputError(f"{where}.recipe.label_subword", f"expected 'first' or 'last', got {subword!r}")
    return RunConfig(
        path=path,
        tasks=task_tables,
        models=model_tables,
        sha256=hashlib.sha256(raw).hexdigest(),
        min_cell_count=min_cells,
    )


def _min_cell_count(where: str, privacy: Any) -> int:
    """``[privacy] min_cell_count = k``: a whole number >= 0 (docs/error-analysis.md)."""
    for key in _table(where, privacy):
        if key != "min_cell_count":
            raise InputError(f"{where}.{key}", "unknown key; allowed: min_cell_count")
    value = privacy.get("min_cell_count", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}.min_cell_count", f"expected a whole number >= 0, got {value!r}")
    return value
