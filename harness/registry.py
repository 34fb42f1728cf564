"""Registries handed to ``harness_add_models`` / ``harness_add_tasks``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from harness.errors import PluginError
from harness.model import ModelSpec
from harness.task import TaskSpec

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
Spec = TypeVar("Spec", ModelSpec, TaskSpec)


class _Registry(Generic[Spec]):
    kind = "entry"
    spec_type: type

    def __init__(self) -> None:
        self._specs: dict[str, Spec] = {}
        self._owner: dict[str, str] = {}
        self._plugin = "<unknown>"

    def _bind(self, plugin: str) -> None:
        """Set the plugin whose hook is calling ``add`` (done by the facade)."""
        self._plugin = plugin

    def add(self, spec: Spec) -> None:
        if not isinstance(spec, self.spec_type):
            raise PluginError(self._plugin, f"register.add() expects a {self.spec_type.__name__}, got {spec!r}")
        if not _NAME.match(spec.name):
            raise PluginError(
                self._plugin, f"{self.kind} name {spec.name!r} must be lower-case letters, digits, '.', '_' or '-'"
            )
        if spec.name in self._specs:
            raise PluginError(
                self._plugin,
                f"{self.kind} {spec.name!r} is already registered by plugin {self._owner[spec.name]!r}",
            )
        self._specs[spec.name] = spec
        self._owner[spec.name] = self._plugin

    def replace(self, spec: Spec) -> None:
        """Put ``spec`` in place of the registered spec of its name (same owner)."""
        if spec.name not in self._specs:
            raise KeyError(spec.name)
        self._specs[spec.name] = spec

    def owner(self, name: str) -> str:
        return self._owner[name]

    def __getitem__(self, name: str) -> Spec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return list(self._specs)

    def values(self) -> list[Spec]:
        return list(self._specs.values())


class ModelRegistry(_Registry[ModelSpec]):
    """Models, and the model plugins a config can declare models of (``[models.NAME] plugin = ...``)."""

    kind = "model"
    spec_type = ModelSpec

    def __init__(self) -> None:
        super().__init__()
        self._kinds: dict[str, tuple[Callable[[str, Mapping[str, Any], str], ModelSpec], frozenset[str]]] = {}
        self._kind_owner: dict[str, str] = {}

    def add_kind(
        self, kind: str, factory: Callable[[str, Mapping[str, Any], str], ModelSpec], keys: frozenset[str]
    ) -> None:
        """Let a config declare models of ``kind`` with no code: ``factory(name, table, where)``
        returns the model (raising ``InputError`` for a bad table); ``keys`` are the table keys it
        reads, beside the keys every ``[models.NAME]`` table may have."""
        if kind in self._kinds:
            raise PluginError(
                self._plugin, f"model plugin {kind!r} is already registered by plugin {self._kind_owner[kind]!r}"
            )
        self._kinds[kind] = (factory, frozenset(keys))
        self._kind_owner[kind] = self._plugin

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def kind_keys(self, kind: str) -> frozenset[str]:
        return self._kinds[kind][1]

    def add_from_config(self, name: str, table: Mapping[str, Any], where: str) -> None:
        """Register the model a config table of a known ``plugin`` declares."""
        from harness.errors import InputError

        if not _NAME.match(name):
            raise InputError(where, "a model name must be lower-case letters, digits, '.', '_' or '-'")
        spec = self._kinds[table["plugin"]][0](name, table, where)
        self._plugin = f"config ({where})"
        self.add(spec)


class TaskRegistry(_Registry[TaskSpec]):
    """Tasks, and the task kinds a config can define tasks of (``[tasks.NAME] kind = ...``)."""

    kind = "task"
    spec_type = TaskSpec

    def __init__(self) -> None:
        super().__init__()
        self._kinds: dict[str, Callable[[str, Mapping[str, Any], str], TaskSpec]] = {}
        self._kind_owner: dict[str, str] = {}

    def add_kind(self, kind: str, factory: Callable[[str, Mapping[str, Any], str], TaskSpec]) -> None:
        """Let a config define tasks of ``kind``: ``factory(name, table, where)`` returns the task
        (raising ``InputError`` for a bad table; ``where`` names the table in messages)."""
        if kind in self._kinds:
            raise PluginError(
                self._plugin, f"task kind {kind!r} is already registered by plugin {self._kind_owner[kind]!r}"
            )
        self._kinds[kind] = factory
        self._kind_owner[kind] = self._plugin

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def add_from_config(self, name: str, table: Mapping[str, Any], where: str) -> None:
        """Register the task a config table of a known ``kind`` defines."""
        from harness.errors import InputError

        if not _NAME.match(name):
            raise InputError(where, "a task name must be lower-case letters, digits, '.', '_' or '-'")
        spec = self._kinds[table["kind"]](name, table, where)
        self._plugin = f"config ({where})"
        self.add(spec)
