"""Error-analysis tables of a classification task, from counts only (never text): every model's
confusion matrix (multi-class), per-label TP/FP/FN/TN (multi-label), the label pairs confused
most, and how often each pair of models disagrees and who is right then.

A count the page or ``publish`` blanked (``[privacy] min_cell_count``, :mod:`harness.privacy`)
is null in the document and shows as ``<k``.
"""

from __future__ import annotations

import statistics
from typing import Any

from harness.privacy import min_cell_count, suppressed
from harness.tables import Table, grouped_by_model, passed_entries, test_splits
from harness.tasks.classification.evidence_tables import ShownTask


def shown_min(document: dict[str, Any]) -> int:
    """The min_cell_count the document's counts were blanked with; 0 for a run's own (private)
    leaderboard, which keeps every count."""
    return min_cell_count(document) if suppressed(document) else 0


def count_cell(values: list[int | None], k: int) -> str:
    """A count (the mean over seeds), or ``<k`` where one seed's was suppressed."""
    if any(v is None for v in values):
        return f"<{k}"
    mean = statistics.fmean(values)
    return f"{mean:.0f}" if len(values) == 1 else f"{mean:.1f}"


def _seeds_note(group: list[dict[str, Any]]) -> str:
    return f"; mean counts over {len(group)} seeds" if len(group) > 1 else ""


def _suppressed_note(k: int) -> str:
    return f"; counts of 1 to {k - 1} rows shown as <{k} (privacy.min_cell_count)" if k > 1 else ""


def model_confusion_tables(document: dict[str, Any], shown: ShownTask, top: dict[str, str]) -> list[Table]:
    """Multi-class: every model's confusion matrix per test set but the top model's (the task's
    own confusion table shows that one); ``top`` maps a test set to its top model."""
    k = shown_min(document)
    entries = passed_entries(document["results"], shown.task)
    tables = []
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if "confusion_matrix" in e["metrics"].get(split, {})])
        for model, group in grouped.items():
            if model == top.get(split):
                continue
            matrices = [e["metrics"][split]["confusion_matrix"] for e in group]
            labels = matrices[0]["labels"]
            rows = tuple(
                (label, *(count_cell([m["matrix"][i][j] for m in matrices], k) for j in range(len(labels))))
                for i, label in enumerate(labels)
            )
            caption = "rows: true label, columns: predicted label (at the model's own decision rule)"
            tables.append(
                Table(
                    f"Confusion matrix ({split} test set, {model})",
                    ("True label", *labels),
                    rows,
                    caption + _seeds_note(group) + _suppressed_note(k),
                )
            )
    return tables


def label_count_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    """Multi-label: per test set, each model's TP / FP / FN / TN of every label."""
    k = shown_min(document)
    entries = [e for e in passed_entries(document["results"], shown.task) if "error_analysis" in e]
    tables = []
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if split in e["error_analysis"]])
        if not grouped:
            continue
        rows = []
        for model, group in grouped.items():
            counts = [e["error_analysis"][split]["label_counts"] for e in group]
            for label in counts[0]:
                rows.append(
                    (
                        model,
                        label,
                        *(count_cell([c[label][key] for c in counts], k) for key in ("tp", "fp", "fn", "tn")),
                    )
                )
        tables.append(
            Table(
                f"Per-label counts ({split} test set)",
                ("Model", "Label", "TP", "FP", "FN", "TN"),
                tuple(rows),
                "one label against the rest, at each model's own decision rule" + _suppressed_note(k),
            )
        )
    return tables


def confused_pair_tables(document: dict[str, Any], shown: ShownTask, top_n: int = 3) -> list[Table]:
    """Per test set, each model's most confused label pairs (the true label missed, the other
    predicted instead), from the first seed; pairs under min_cell_count rows are left out."""
    entries = [e for e in passed_entries(document["results"], shown.task) if "error_analysis" in e]
    tables = []
    for split in test_splits(entries):
        rows = []
        for model, group in grouped_by_model([e for e in entries if split in e["error_analysis"]]).items():
            for pair in group[0]["error_analysis"][split]["confused_pairs"][:top_n]:
                rows.append((model, pair["true"], pair["predicted"], str(pair["rows"])))
        if rows:
            seed = f"seed {entries[0]['seed']}"
            tables.append(
                Table(
                    f"Most confused label pairs ({split} test set)",
                    ("Model", "True label", "Predicted instead", "Rows"),
                    tuple(rows),
                    f"at most {top_n} pairs per model, most rows first; {seed}; every pair's count is in the leaderboard",
                )
            )
    return tables


def disagreement_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    """Per test set, each pair of models: the share of rows on which they differ and, on those
    rows, how often each was right (rows pooled over seeds)."""
    k = shown_min(document)
    summary = document.get("summaries", {}).get(shown.task, {})
    tables = []
    for split, pairs in summary.get("disagreement", {}).items() if isinstance(summary, dict) else ():
        if not pairs:
            continue
        rows = tuple(
            (
                p["models"][0],
                p["models"][1],
                "–" if p["share"] is None else f"{100 * p['share']:.1f}%",
                count_cell([p["differ"]], k),
                count_cell([p["first_right"]], k),
                count_cell([p["second_right"]], k),
                count_cell([p["neither_right"]], k),
            )
            for p in pairs
        )
        tables.append(
            Table(
                f"Model disagreement ({split} test set)",
                ("Model A", "Model B", "Share differing", "Rows differing", "A right", "B right", "Neither"),
                rows,
                "rows on which the two models' predicted labels differ (pooled over seeds), and on those rows "
                "which model's labels were exactly right" + _suppressed_note(k),
            )
        )
    return tables
