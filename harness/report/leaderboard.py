"""The built-in leaderboard writer: ``<out>/leaderboard.json``, validated, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import hookimpl
from harness.leaderboard import write_atomic

FILENAME = "leaderboard.json"


@hookimpl(trylast=True)
def harness_write_leaderboard(document: dict[str, Any], out_dir: Path) -> Path:
    return write_atomic(document, out_dir / FILENAME)
