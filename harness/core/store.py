"""Finished items kept in the run directory, so that a run killed at hour seven resumes there.

Each passed item is stored under ``RUN_DIR/items/`` as ``<key>.json`` (its report, as the
leaderboard holds it) and ``<key>.npz`` (what its task retained for the run's summary, e.g.
test-set predictions: never part of a leaderboard) and, for an item whose task keeps them,
``<key>.rows.parquet`` (its per-row predictions, :mod:`harness.predictions`: row numbers, ids,
gold and predicted labels, scores; no text). The key is a SHA-256 of everything that
determines the item's result: the model's spec and effective recipe and its weights' location,
the task's data (provenance hashes, its config table but for the keys that change only the run's
summary, and the task options), the seed, a learning curve subset's size, the device and
profile, and the harness's version and commit. Change any of them and the item runs
again; change nothing and it is read back.

Files are written under temporary names and renamed, the ``.json`` last (it names the per-row
file it needs: an item whose per-row file is missing runs again): a run killed at any
point leaves either a whole item or no item, never half of one. Only passed items are stored:
an item that errored or was skipped runs (or is skipped) again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.atomic import write_atomically
from harness.task import SUMMARY_ONLY_KEYS

if TYPE_CHECKING:
    from harness.core.collect import Item
    from harness.core.reports import ItemReport, Session

ITEMS = "items"
FORMAT = 2  # of the stored item files; a change makes old ones unreadable, so they run again
# (2: the per-row predictions file; an item stored without one would resume without it)
ROWS_SUFFIX = ".rows.parquet"
# For benchmarks/per_row_overhead.py only: "1" keeps no per-row files (the cost they add).
NO_ROWS_ENV = "HARNESS_NO_ROW_PREDICTIONS"
# Options that choose which items run or where results go, not what an item computes.
_NOT_PART_OF_AN_ITEM = frozenset(
    {
        "command",
        "models",
        "tasks",
        "seeds",
        "keyword",
        "markers",
        "collect_only",
        "out",
        "resume",
        "config",
        "device",
        "executor",  # a run started with one executor resumes with the other
        "ray_address",
        # a search's budget chooses the recipe; the recipe (tuned or not) is in the key itself
        "tune",
        "tune_time",
        "tune_concurrency",
        "tune_seed",
        "train_sizes",  # which subset items a curve adds; each subset item's own size is in its key
        "curve_followers",
    }
)


def _canonical(value: Any) -> Any:
    """JSON-ready and order-independent (sets and tuples become sorted or plain lists)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def item_key(item: Item, session: Session, device: str | None = None) -> str:
    """What determines the item's result, hashed; ``device`` is where it runs if not the session's
    (the Ray executor chooses per fit group)."""
    from harness import __version__
    from harness.core.document import git_commit

    model, task = item.model, item.task
    tasks = [task.name] if task.fits_on == task.name else [task.fits_on, task.name]
    basis = {
        "format": FORMAT,
        "harness": [__version__, git_commit()],
        "model": {
            "name": model.name,
            "family": model.family,
            "regime": model.fine_tuning_regime,
            "hub_id": model.hub_id,
            "recipe": session.recipe(model, task.fits_on, device),
            "weights": session.config.weight_options(model.name),
        },
        "tasks": {
            name: {
                "provenance": session.data[name].provenance,
                "table": {k: v for k, v in session.task_tables[name].items() if k not in SUMMARY_ONLY_KEYS},
            }
            for name in tasks
        },
        "options": {k: v for k, v in vars(session.options).items() if k not in _NOT_PART_OF_AN_ITEM},
        "seed": item.seed,
        "device": device or session.device,
        "profile": session.profile.name,
    }
    table = session.config.models.get(model.name, {})
    if "plugin" in table:  # a model the config declares (a served LLM): its server and settings
        basis["model"]["declared"] = table
    if item.train_rows is not None:  # a learning curve's subset fit (a full fit's key has neither)
        from harness.core.train_sizes import SUBSET_METHOD

        basis["train_subset"] = {"rows": item.train_rows, "method": SUBSET_METHOD}
    encoded = json.dumps(_canonical(basis), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _flatten(retained: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """``{"test_predictions": {"internal": array}}`` -> ``{"test_predictions/internal": array}``."""
    flat: dict[str, np.ndarray] = {}
    for key, value in retained.items():
        if "/" in key:
            raise ValueError(f"retained key {key!r} must not contain '/'")
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = np.asarray(value)
    return flat


def _unflatten(flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split("/")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out


class ItemStore:
    """The finished items of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / ITEMS

    def exists(self) -> bool:
        return self.folder.is_dir()

    def row_files(self) -> list[Path]:
        """The per-row prediction files of the finished items (``harness errors`` reads them)."""
        files = []
        for report in sorted(self.folder.glob("*.json")) if self.exists() else []:
            try:
                stored = json.loads(report.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if stored.get("format") == FORMAT and stored.get("rows"):
                files.append(self.folder / stored["rows"])
        return files

    def count(self) -> int:
        return len(list(self.folder.glob("*.json"))) if self.exists() else 0

    def load(self, item: Item, key: str) -> ItemReport | None:
        """The stored report of ``item``, or None if it has not finished (or cannot be read)."""
        from harness.core.reports import ItemReport

        path = self.folder / f"{key}.json"
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            with np.load(self.folder / f"{key}.npz", allow_pickle=False) as arrays:
                retained = _unflatten({name: arrays[name] for name in arrays.files})
        except (OSError, ValueError, KeyError):  # not there, or damaged: run the item again
            return None
        if stored.get("format") != FORMAT or stored.get("name") != item.name:
            return None
        if stored.get("rows") and not (self.folder / stored["rows"]).is_file():
            return None  # its per-row file is gone: run it again rather than resume without it
        return ItemReport(
            item,
            "passed",
            None,
            stored["seconds"],
            stored["fields"],
            stored["model_info"],
            stored["cost"],
            stored["fit_details"],
            retained=retained,
            resumed=True,
            placement=stored.get("placement"),
        )

    def save(self, key: str, report: ItemReport) -> None:
        """Store a passed item: its arrays first, then the report that marks it finished."""
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = _flatten(report.retained)
        write_atomically(self.folder / f"{key}.npz", lambda stream: np.savez(stream, **arrays))
        stored = {
            "format": FORMAT,
            "name": report.item.name,
            "seconds": report.seconds,
            "fields": report.fields,
            "model_info": report.model_info,
            "cost": report.cost,
            "fit_details": report.fit_details,
        }
        if report.placement:  # where a Ray worker ran it; optional
            stored["placement"] = report.placement
        if report.rows is not None and os.environ.get(NO_ROWS_ENV) != "1":
            from harness.predictions import write_parquet

            name = f"{key}{ROWS_SUFFIX}"
            write_atomically(self.folder / name, lambda stream: write_parquet(report.rows, stream))
            stored["rows"] = name
        text = json.dumps(stored, ensure_ascii=False, default=_plain)
        write_atomically(self.folder / f"{key}.json", lambda stream: stream.write(text.encode("utf-8")))


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in a task's fields, as JSON would have them in the leaderboard."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
