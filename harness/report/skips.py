"""Skipped models grouped by why: one line per kind of reason, with the command that fixes it.

A skip reason names its model's hub id and the folders searched; the console needs only the
kind of reason and the models it applies to. The full reasons stay in the leaderboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SkipGroup", "group_skips", "reason_kind"]


@dataclass(frozen=True)
class SkipGroup:
    reason: str  # the kind of reason, with nothing model-specific in it
    short: str  # a few words, for a table cell
    fix: str  # what to do about it ("" when nothing can be done)
    models: tuple[str, ...]


# (pattern on the full reason, kind, short, fix); the first that matches wins.
_KINDS = (
    (
        re.compile(r"^weights for \S+ not found locally"),
        "weights not found locally",
        "no local weights",
        "harness fetch NAME... --to DIR",
    ),
    (
        re.compile(r"^only pickled pytorch_model\.bin found"),
        "only pickled weights found",
        "pickled weights only",
        "set allow_pickle = true for the model in the config",
    ),
    (
        re.compile(r"^needs a CUDA GPU"),
        "needs a CUDA GPU; none found",
        "needs CUDA",
        "run on a machine with a CUDA GPU",
    ),
    (
        re.compile(r"^does not classify whole texts"),
        "does not classify whole texts (it tags tokens)",
        "tags tokens",
        "none: it runs in the ner task",
    ),
    (
        re.compile(r"^its rules know only"),
        "its rules know only the indications task's 12 categories",
        "indications only",
        "none: a rule table knows only its own labels",
    ),
    (
        re.compile(r"^a zero-shot answer names one label"),
        "a zero-shot answer names one label; a multi-label task needs a question per label (not built)",
        "one answer only",
        "none: zero-shot runs multi-class and binary tasks",
    ),
    (
        re.compile(r"^does not tag tokens"),
        "does not tag tokens (it classifies whole texts)",
        "classifies texts",
        "none: it runs in the classification tasks",
    ),
)
_MISSING = re.compile(r"^missing optional dependency (?P<names>[^(]+?) \((?P<fix>pip install [^)]+)\)$")


def reason_kind(reason: str) -> tuple[str, str, str]:
    """(kind, short, fix) of a skip reason; an unknown reason is its own kind, with no fix."""
    for pattern, kind, short, fix in _KINDS:
        if pattern.search(reason):
            return kind, short, fix
    missing = _MISSING.match(reason)
    if missing:
        names = missing["names"]
        return f"missing optional dependency {names}", f"needs {names}", missing["fix"]
    return reason, "skipped", ""


def group_skips(skipped: Iterable[tuple[str, str]]) -> list[SkipGroup]:
    """``(model, reason)`` pairs (a model may come once per task and seed) -> one group per kind,
    in the order each kind first appears, each model once."""
    groups: dict[str, tuple[str, str, dict[str, None]]] = {}
    for model, reason in skipped:
        kind, short, fix = reason_kind(reason)
        groups.setdefault(kind, (short, fix, {}))[2][model] = None
    return [SkipGroup(kind, short, fix, tuple(models)) for kind, (short, fix, models) in groups.items()]
