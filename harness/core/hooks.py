"""The one typed door from the core to the hooks (the core never calls ``pm.hook`` itself)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.manager import HarnessPluginManager
from harness.errors import HarnessError, PluginError
from harness.registry import ModelRegistry, TaskRegistry, _Registry

if TYPE_CHECKING:
    from harness.core.collect import Item
    from harness.core.reports import ItemReport, Session
    from harness.tables import Table


class Hooks:
    def __init__(self, pm: HarnessPluginManager) -> None:
        self.pm = pm

    # -- registration -------------------------------------------------------
    def add_options(self, parser: argparse.ArgumentParser) -> None:
        self.pm.hook.harness_addoption(parser=parser)

    def _fill(self, hook_name: str, registry: _Registry) -> None:
        # Each implementation is called on its own so that the registry can name the
        # plugin responsible for a duplicate or malformed spec.
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            registry._bind(impl.plugin_name)
            try:
                impl.function(*[{"register": registry}[arg] for arg in impl.argnames])
            except HarnessError:
                raise
            except Exception as err:
                raise PluginError(impl.plugin_name, f"{hook_name} raised {type(err).__name__}: {err}") from err

    def models(self) -> ModelRegistry:
        registry = ModelRegistry()
        self._fill("harness_add_models", registry)
        return registry

    def tasks(self) -> TaskRegistry:
        registry = TaskRegistry()
        self._fill("harness_add_tasks", registry)
        return registry

    def origins(self) -> dict[str, str]:
        return {
            name: self.pm.origins.get(name, "?") if plugin is not None else "blocked (HARNESS_DISABLE_PLUGINS)"
            for name, plugin in self.pm.list_name_plugin()
        }

    # -- running ------------------------------------------------------------
    def collection_finished(self, session: Session, items: list[Item]) -> None:
        self.pm.hook.harness_collection_finished(session=session, items=items)

    def item_started(self, item: Item) -> None:
        self.pm.hook.harness_item_started(item=item)

    def item_finished(self, report: ItemReport) -> None:
        self.pm.hook.harness_item_finished(report=report)

    def search_started(self, model: str, task: str, what: str) -> None:
        self.pm.hook.harness_search_started(model=model, task=task, what=what)

    def search_trial_finished(self, model: str, task: str, trial: dict[str, Any]) -> None:
        self.pm.hook.harness_search_trial_finished(model=model, task=task, trial=trial)

    def search_finished(self, model: str, task: str, record: dict[str, Any]) -> None:
        self.pm.hook.harness_search_finished(model=model, task=task, record=record)

    # -- reporting ----------------------------------------------------------
    def write_leaderboard(self, document: dict[str, Any], out_dir: Path) -> Path | None:
        return self.pm.hook.harness_write_leaderboard(document=document, out_dir=out_dir)

    def tables(self, document: dict[str, Any]) -> list[Table]:
        returned = self.pm.hook.harness_tables(document=document)
        return [table for tables in reversed(returned) for table in (tables or [])]  # registration order

    def write_artifacts(self, document: dict[str, Any], out_dir: Path) -> list[Path]:
        written = self.pm.hook.harness_write_artifacts(document=document, out_dir=out_dir)
        return [path for paths in reversed(written) for path in (paths or [])]  # registration order

    def run_finished(
        self,
        session: Session,
        document: dict[str, Any],
        leaderboard_path: Path | None,
        exit_code: int,
        artifacts: list[Path] | None = None,
        tables: list[Table] | None = None,
    ) -> None:
        self.pm.hook.harness_run_finished(
            session=session,
            document=document,
            leaderboard_path=leaderboard_path,
            exit_code=exit_code,
            artifacts=list(artifacts or []),
            tables=list(tables if tables is not None else self.tables(document)),
        )
