"""The table type every task's output is made of, and the cell helpers tasks share.

Tables are built from a leaderboard document alone, so a published leaderboard re-renders
exactly as the run printed it. Each task returns its own tables (the ``harness_tables`` hook);
renderers (console, ``harness show``, the page) style the cells and never name a task.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PASS, FAIL = "✓", "✗"
# Where the leaderboard format puts an item's scores: per-split classification metrics, or a
# tagging task's entity scores (renderers find results by these shapes, never by task name).
CLASSIFICATION_FIELD, TAGGING_FIELD = "metrics", "ner"
# A task's primary metric (an item's ``primary_metric``) -> its key in ``metrics``, its key in
# ``confidence_intervals`` and comparisons (accuracy is micro F1 on one-hot rows; binary F1 is
# weighted F1 over the one column), and the words a table uses.
METRICS = {
    "f1_weighted": ("f1_weighted", "f1_weighted", "weighted F1"),
    "f1_macro": ("f1_macro", "f1_macro", "macro F1"),
    "f1_micro": ("f1_micro", "f1_micro", "micro F1"),
    "accuracy": ("accuracy", "f1_micro", "accuracy"),
    "f1": ("f1", "f1_weighted", "F1"),
}


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    headline: bool = False  # printed by ``--report summary`` too (a task's main result table)


def human_count(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0", "")
    return str(n)


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} hr"


def fixed2(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def signed(x: float) -> str:
    """``+0.012`` / ``−0.012`` (a true minus sign), to 3 places."""
    return f"{x:+.3f}".replace("-", "−")


def row_label(entry: dict[str, Any], many_seeds: bool) -> str:
    return f"{entry['model']} (seed {entry['seed']})" if many_seeds else entry["model"]


def passed_entries(results: Iterable[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    """The task's passed items fitted on all of train: a learning curve's subset fits (their
    ``train_rows``) are drawn by the curve's own tables, from the task's summary."""
    return [r for r in results if r["task"] == task and r["status"] == "passed" and "train_rows" not in r]


def split_names(entries: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for entry in entries:
        names.update(dict.fromkeys(entry["metrics"]))
    ordered = [n for n in names if n == "eval"] + [n for n in names if n not in {"train", "eval"}]
    return ordered


def test_splits(entries: list[dict[str, Any]]) -> list[str]:
    """Every test split (not train, not eval), in the order the results first name them."""
    return [n for n in split_names(entries) if n != "eval"]


def grouped_by_model(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Entries per model (one per seed), in run order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        grouped.setdefault(entry["model"], []).append(entry)
    return grouped


def mean_sd_cell(values: list[float], digits: int = 2) -> str:
    """``0.95`` for one seed, ``0.95 ± 0.01`` (sample sd) for several."""
    if not values:
        return "–"
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def metric_values(entries: list[dict[str, Any]], split: str, average: str) -> list[float]:
    return [e["metrics"][split][average] for e in entries if split in e["metrics"]]


def decision_rule_text(rule: dict[str, Any]) -> str:
    """A model's decision rule in a few words, as every table and page prints it: ``score ≥ 0.5``,
    ``top-1`` (the categories it names), ``argmax`` (multi-class: the highest-scoring label),
    ``rules`` (a rule table's own 0/1 output)."""
    if rule.get("argmax"):
        return "argmax"
    if rule.get("score") == "rule":
        return "rules"
    operator = {">=": "≥", ">": ">"}[rule.get("operator", ">=")]
    cut = f"score {operator} {rule.get('threshold', 0.5):g}"
    top_k = rule.get("top_k")
    if top_k is None:
        return cut
    return f"top-{top_k}" if rule.get("threshold", 0.0) <= 0 and operator == "≥" else f"top-{top_k}, {cut}"


def tasks_with(document: dict[str, Any], field: str) -> list[str]:
    """The tasks whose passed results carry ``field`` (``"metrics"``: per-split classification
    metrics; ``"ner"``: tagging), in result order: renderers find results by shape, not by name."""
    return list(dict.fromkeys(r["task"] for r in document["results"] if r["status"] == "passed" and field in r))


def primary_metric_of(entries: Iterable[dict[str, Any]]) -> str:
    """The primary metric (a key of :data:`METRICS`) that a task's items are judged by, read from
    the first of them; an older leaderboard's items have none: weighted F1, the indications task's."""
    return next((e["primary_metric"] for e in entries if e.get("primary_metric")), "f1_weighted")
