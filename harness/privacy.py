"""``[privacy] min_cell_count = k``: error-analysis counts below ``k`` are blanked where a
leaderboard leaves the private run directory (the page, ``harness publish``).

A count of 1 or 2 rows in a confusion matrix of a small clinical test set can point at a patient;
statistical offices suppress such cells. The run's own leaderboard keeps every count (it stays
with the data); :func:`suppress_small` is applied to what is shown or published. The default, 0,
suppresses nothing (docs/error-analysis.md says which value to use on real data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# In the head of every page ``harness show --private`` writes: ``harness publish`` refuses a file
# that holds it, whatever its name.
PRIVATE_PAGE_MARKER = '<meta name="harness-private"'


def min_cell_count(document: Mapping[str, Any]) -> int:
    """The run's ``[privacy] min_cell_count`` as its leaderboard records it (0 if none)."""
    return int(document.get("run", {}).get("privacy", {}).get("min_cell_count", 0))


def suppressed(document: Mapping[str, Any]) -> bool:
    """Whether :func:`suppress_small` has blanked this document's small counts."""
    return bool(document.get("run", {}).get("privacy", {}).get("suppressed"))


def shown_count(value: int | None, document: Mapping[str, Any]) -> str:
    """A count as a table shows it: ``<k`` where :func:`suppress_small` blanked it."""
    return f"<{min_cell_count(document)}" if value is None else str(value)


def small(value: Any, k: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < k


def suppress_small(document: dict[str, Any], k: int) -> dict[str, Any]:
    """``document`` with every error-analysis count between 1 and ``k - 1`` set to null, in place:
    confusion matrices, binary confusion counts, per-label counts, confused pairs (dropped),
    disagreements (the share goes with a suppressed count), each class's support per split and
    the data's label counts per split. Rates (F1, precision, recall) stay. ``k`` of 0 or 1
    changes nothing."""
    if k <= 1:
        return document
    document["run"]["privacy"] = {"min_cell_count": k, "suppressed": True}
    for item in document.get("results", []):
        for split_metrics in _metric_blocks(item):
            matrix = split_metrics.get("confusion_matrix")
            if matrix:
                matrix["matrix"] = [[None if small(c, k) else c for c in row] for row in matrix["matrix"]]
                if "no_answer" in matrix:  # a prompted model's unparseable answers, per true label
                    matrix["no_answer"] = [None if small(c, k) else c for c in matrix["no_answer"]]
            confusion = split_metrics.get("confusion")
            if confusion:
                split_metrics["confusion"] = {key: None if small(c, k) else c for key, c in confusion.items()}
            for figures in split_metrics.get("per_class", {}).values():
                if small(figures.get("support"), k):
                    figures["support"] = None
        for analysis in item.get("error_analysis", {}).values():
            analysis["label_counts"] = {
                label: {key: None if small(c, k) else c for key, c in counts.items()}
                for label, counts in analysis["label_counts"].items()
            }
            analysis["confused_pairs"] = [p for p in analysis["confused_pairs"] if not small(p["rows"], k)]
    for splits in document["run"].get("data", {}).values():  # the label counts of each split
        for split in splits:
            if "support" in split:
                split["support"] = {label: None if small(c, k) else c for label, c in split["support"].items()}
    summaries = [document.get("summaries", {})]
    summaries += [entry.get("summaries", {}) for entry in document.get("run", {}).get("merged_from", [])]
    for summary in (s for by_task in summaries for s in by_task.values()):
        for pairs in summary.get("disagreement", {}).values() if isinstance(summary, dict) else ():
            for pair in pairs:
                for key in ("differ", "first_right", "second_right", "neither_right"):
                    if small(pair[key], k):
                        pair[key] = None
                if pair["differ"] is None:
                    pair["share"] = None
    return document


def _metric_blocks(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = []
    for field in ("metrics", "metrics_tuned", "metrics_unseen", "metrics_unseen_exact"):
        blocks += [m for m in item.get(field, {}).values() if isinstance(m, dict)]
    return blocks
