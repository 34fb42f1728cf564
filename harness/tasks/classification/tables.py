"""The tables of a classification task (multi-label, multi-class or binary), from a leaderboard
document alone: overall results by the task's primary metric, per-class F1, the confusion
matrix (multi-class) or the positive label's scores (binary), tokenisation, truncation, then
the evidence tables of :mod:`harness.tasks.classification.evidence_tables` and, for a run with
``--train-sizes``, the learning curve's (:mod:`harness.tasks.classification.curve_tables`).

With one classification task in the document the titles are the indications task's as they
always were; with several, each title starts with the task's name.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from harness.privacy import shown_count
from harness.tables import (
    CLASSIFICATION_FIELD,
    METRICS,
    Table,
    decision_rule_text,
    grouped_by_model,
    human_count,
    human_seconds,
    mean_sd_cell,
    metric_values,
    passed_entries,
    split_names,
    tasks_with,
    test_splits,
)
from harness.tasks.classification.curve_tables import curve_tables
from harness.tasks.classification.error_tables import (
    confused_pair_tables,
    count_cell,
    disagreement_tables,
    label_count_tables,
    model_confusion_tables,
    shown_min,
)
from harness.tasks.classification.evidence_tables import ShownTask, evidence_tables, shown_task


def classification_tasks(document: dict[str, Any]) -> list[str]:
    """The tasks whose passed results carry per-split classification metrics, in result order."""
    return tasks_with(document, CLASSIFICATION_FIELD)


def classification_tables(document: dict[str, Any], task: str) -> list[Table]:
    """Every table of ``task``: overall, per class, the problem's own, tokenisation, truncation,
    then the evidence; ``[]`` when the document holds no passed result of it."""
    if not passed_entries(document["results"], task):
        return []
    shown = shown_task(document, task)
    tables = [
        overall_table(document, shown.primary_metric, task, headline=True),
        overall_table(document, second_metric(shown), task) if shown.problem != "binary" else None,
        *per_class_tables(document, task),
        *(confusion_tables(document, shown) if shown.problem == "multi-class" else []),
        *(binary_tables(document, shown) if shown.problem == "binary" else []),
        *error_tables(document, shown),
        *tokenisation_tables(document, task),
        truncation_table(document, task),
        prompting_table(document, task),
        *evidence_tables(document, shown),
        *curve_tables(document, task),
    ]
    found = [t for t in tables if t is not None]
    if len(classification_tasks(document)) < 2:
        return found
    return [dataclasses.replace(t, title=f"{task}: {t.title}") for t in found]


def second_metric(shown: ShownTask) -> str:
    """The second overall table's metric: macro F1, or where that is the primary one, accuracy
    (multi-class) or weighted F1 (multi-label)."""
    if shown.primary_metric != "f1_macro":
        return "f1_macro"
    return "accuracy" if shown.problem == "multi-class" else "f1_weighted"


def overall_table(document: dict[str, Any], metric: str, task: str, headline: bool | None = None) -> Table | None:
    """One row per model, ranked by ``metric`` (a ``primary_metric`` name) on the last test set;
    with several seeds, mean ± sd over its seeds."""
    entries = passed_entries(document["results"], task)
    if not entries:
        return None
    key, _, label = METRICS[metric]
    seeds = document["run"]["seeds"]
    digits = 3 if len(seeds) > 1 else 2
    splits = split_names(entries)
    grouped = grouped_by_model(entries)

    def rank(model: str) -> float:
        values = metric_values(grouped[model], splits[-1], key)
        return -sum(values) / len(values) if values else 0.0

    rows = []
    for model in sorted(grouped, key=rank):
        group = grouped[model]
        train = [e["cost"]["train_seconds"] for e in group]
        rows.append(
            (
                model,
                human_count(group[0]["model_info"]["params"]),
                human_seconds(sum(train) / len(train)),
                decision_rule_text(group[0].get("decision_rule", {})),
                *(mean_sd_cell(metric_values(group, s, key), digits) for s in splits),
            )
        )
    caption = f"{label} at each model's own decision rule"
    if "eval" in splits:
        tuned = "" if "metrics_tuned" not in entries[0] else ", and the tuned thresholds are chosen on the same scores"
        caption += (
            "; eval (selection) is not held out: for a model trained in epochs its best epoch chose the "
            f"checkpoint{tuned}; the test sets are held out"
        )
    if len(seeds) > 1:
        caption += f"; mean ± sd over seeds {', '.join(map(str, seeds))} (training time: mean)"
    names = {"eval": "Eval (selection)"}
    column = "accuracy" if key == "accuracy" else "F1"
    headers = (
        "Model",
        "Params",
        "Training time",
        "Decision rule",
        *(f"{names.get(s, s.capitalize())} {column}" for s in splits),
    )
    headline = metric == "f1_weighted" if headline is None else headline
    return Table(f"Overall results ({label})", headers, tuple(rows), caption, headline=headline)


def per_class_tables(document: dict[str, Any], task: str) -> list[Table]:
    """Per test set, each category's F1 per model (multi-label and multi-class; a binary task's
    one label is in its own table)."""
    entries = passed_entries(document["results"], task)
    if not entries or shown_task(document, task).problem == "binary":
        return []
    seeds = document["run"]["seeds"]
    tables = []
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if split in e["metrics"]])
        first = next(iter(grouped.values()))[0]["metrics"][split]["per_class"]
        rows = []
        for category in first:
            cells = [mean_sd_cell(_class_f1s(group, split, category)) for group in grouped.values()]
            rows.append((category, shown_count(first[category]["support"], document), *cells))
        notes = [f"mean ± sd over seeds {', '.join(map(str, seeds))}"] if len(seeds) > 1 else []
        if any("–" in row[2:] for row in rows):
            notes.append(
                "–: the test set has no row of the category and the model predicts none (no F1; macro F1 leaves it out)"
            )
        caption = "; ".join(notes)
        tables.append(
            Table(f"Per-class F1 ({split} test set)", ("Category", "Support", *grouped), tuple(rows), caption)
        )
    return tables


def _class_f1s(group: list[dict[str, Any]], split: str, category: str) -> list[float]:
    """A category's F1 on ``split`` per seed, leaving out seeds where it has none (null: no row of
    it and none predicted)."""
    values = [e["metrics"][split]["per_class"][category]["f1"] for e in group]
    return [value for value in values if value is not None]


def _top_model(grouped: dict[str, list[dict[str, Any]]], split: str, shown: ShownTask) -> str:
    """The model with the highest mean primary metric on ``split`` (the first in run order on a tie)."""
    return max(grouped, key=lambda m: statistics.fmean(shown.value(e["metrics"][split]) for e in grouped[m]))


def error_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    """Error analysis from counts: the other models' confusion matrices (multi-class), per-label
    counts (multi-label), the most confused label pairs, the models' disagreements."""
    tables = []
    if shown.problem == "multi-class":
        tables += model_confusion_tables(document, shown, top_models(document, shown))
    if shown.problem == "multi-label":
        tables += label_count_tables(document, shown)
    if shown.problem != "binary":
        tables += confused_pair_tables(document, shown)
    return tables + disagreement_tables(document, shown)


def top_models(document: dict[str, Any], shown: ShownTask) -> dict[str, str]:
    """Per test set, the model whose confusion matrix the task's confusion table shows."""
    entries = passed_entries(document["results"], shown.task)
    top = {}
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if "confusion_matrix" in e["metrics"].get(split, {})])
        if grouped:
            top[split] = _top_model(grouped, split, shown)
    return top


def confusion_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    """Per test set, the confusion matrix of the top model by the primary metric: one model's
    matrix stays readable; every model's is in the leaderboard."""
    entries = passed_entries(document["results"], shown.task)
    seeds = document["run"]["seeds"]
    tables = []
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if "confusion_matrix" in e["metrics"].get(split, {})])
        if not grouped:
            continue
        model = _top_model(grouped, split, shown)
        matrices = [e["metrics"][split]["confusion_matrix"] for e in grouped[model]]
        labels = matrices[0]["labels"]
        rows = []
        for i, label in enumerate(labels):
            k = shown_min(document)
            rows.append((label, *(count_cell([m["matrix"][i][j] for m in matrices], k) for j in range(len(labels)))))
        caption = (
            f"{model}, the top model by {shown.label} on {split}; rows: true label, columns: predicted label "
            f"(at the model's own decision rule); every model's matrix is in the leaderboard"
        )
        if len(matrices) > 1:
            caption += f"; mean counts over seeds {', '.join(map(str, seeds))}"
        tables.append(Table(f"Confusion matrix ({split} test set)", ("True label", *labels), tuple(rows), caption))
    return tables


BINARY_SCORES = (
    ("F1", "f1"),
    ("Precision", "precision"),
    ("Recall (sensitivity)", "recall"),
    ("Specificity", "specificity"),
    ("PR-AUC", "pr_auc"),
    ("ROC-AUC", "roc_auc"),
)


def binary_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    """Per test set, the positive label's scores per model; AUCs are "–" where undefined (no
    scores, or one class only in the test set)."""
    entries = passed_entries(document["results"], shown.task)
    seeds = document["run"]["seeds"]
    tables = []
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if split in e["metrics"]])
        rows = []
        for model, group in grouped.items():
            reports = [e["metrics"][split] for e in group]
            cells = [mean_sd_cell([r[key] for r in reports if r.get(key) is not None], 3) for _, key in BINARY_SCORES]
            rows.append((model, *cells))
        first = next(iter(grouped.values()))[0]["metrics"][split]
        positive = next(iter(first["per_class"]))
        caption = (
            f"positive label {positive}; prevalence {100 * first['prevalence']:.1f}% of {first['examples']} rows; "
            "F1, precision, recall and specificity at each model's own decision rule, PR-AUC (average precision) "
            "and ROC-AUC from its scores"
        )
        if len(seeds) > 1:
            caption += f"; mean ± sd over seeds {', '.join(map(str, seeds))}"
        headers = ("Model", *(name for name, _ in BINARY_SCORES))
        tables.append(Table(f"Positive label ({split} test set)", headers, tuple(rows), caption))
    return tables


def truncation_table(document: dict[str, Any], task: str) -> Table | None:
    """Per test set and model with a maximum input length: how many inputs were longer, and
    what was done with them; ``None`` when no item reports lengths (tf-idf and rules have no limit)."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in passed_entries(document["results"], task):
        if entry.get("length"):
            entries.setdefault(entry["model"], entry)  # the same tokenizer and data for every seed
    if not entries:
        return None
    splits = list(dict.fromkeys(s for e in entries.values() for s in e["length"]))
    rows = []
    for split in splits:
        for model, entry in entries.items():
            found = entry["length"].get(split)
            if found is None:
                continue
            share = f"{100 * found['truncated'] / found['inputs']:.1f}%" if found["inputs"] else "–"
            chunked = found["long_text"] == "chunk"
            rows.append(
                (
                    split,
                    model,
                    str(found["max_tokens"]),
                    f"{found['truncated']} ({share})",
                    "none" if chunked else f"{found['tokens_cut']:,}",
                    f"chunk ({found['windows']:,} windows)" if chunked else "truncate",
                )
            )
    caption = (
        "inputs longer than the model's maximum, in tokens with the special tokens it adds; truncate keeps "
        "each input's start and drops the tokens cut; chunk reads every token in overlapping windows"
    )
    headers = ("Test set", "Model", "Max tokens", "Inputs truncated", "Tokens cut", "Long text")
    return Table("Inputs longer than the maximum length", headers, tuple(rows), caption)


def prompting_table(document: dict[str, Any], task: str) -> Table | None:
    """Per split (eval and the test sets) and prompted model (a served LLM): how its answers were scored, how many
    named no label, and what they cost; ``None`` when no item reports prompting."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in passed_entries(document["results"], task):
        if entry.get("prompting"):
            entries.setdefault(entry["model"], entry)  # the first seed's: latency is the server's
    if not entries:
        return None
    rows = []
    for model, entry in entries.items():
        for split, found in entry["prompting"].items():
            if split == "train":  # a scored sample, not a test set
                continue
            n = found["inputs"] or 1
            speed = found["inputs_per_second"]
            rows.append(
                (
                    split,
                    model,
                    found["scoring"].replace("_", " "),
                    f"{found['unparseable']} of {found['inputs']}",
                    f"{found['shots']} ({found['demonstrations_dropped']} dropped)",
                    f"{found['tokens_in'] / n:.0f} / {found['tokens_out'] / n:.1f}",
                    f"{found['latency_p50_seconds']:.2f} / {found['latency_p95_seconds']:.2f} s",
                    "–" if speed is None else f"{speed:.2f}",
                    f"{found['requests']} ({found['cached']} cached)",
                )
            )
    caption = (
        "answers naming no label are scored wrong, never dropped; demonstrations past the context are dropped "
        "from the end; tokens and latency per input; inputs/s only where no answer came from the cache"
    )
    headers = ("Split", "Model", "Scoring", "Unparseable", "Shots", "Tokens in / out", "Latency p50 / p95",
               "Inputs/s", "Requests")  # fmt: skip
    return Table("Prompted models: answers and cost", headers, tuple(rows), caption)


def _tokens(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _pct(share: dict[str, Any]) -> str:
    if not share["occurrences"]:
        return "–"
    return f"{100 * share['fragmented_share']:.0f}% of {share['occurrences']}"


# Between tokenizer pieces: not "|", which would break a markdown table.
PIECE = "·"


def _split_as(written: str, pieces: list[str]) -> str:
    return f"{written}→{PIECE.join(pieces)}"


def _with_tokenisation(document: dict[str, Any], task: str) -> dict[str, dict[str, Any]]:
    """Per model, its first passed item with an analysis (the tokenizer is the same for every seed)."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in passed_entries(document["results"], task):
        if "tokenisation" in entry:
            entries.setdefault(entry["model"], entry)
    return entries


def _tokenisation_overview(
    document: dict[str, Any], entries: dict[str, dict[str, Any]], worst: int, task: str
) -> Table:
    rows = []
    for model, entry in entries.items():
        for split, found in entry["tokenisation"]["splits"].items():
            lengths = found["tokens_per_input"]
            worst_terms = ", ".join(_split_as(t["written"], t["pieces"]) for t in found["worst_terms"][:worst])
            rows.append(
                (
                    model,
                    split,
                    _tokens(lengths["mean"]),
                    _tokens(lengths["p95"]),
                    _pct(found["abbreviations"]),
                    _pct(found["misspellings"]),
                    worst_terms or "–",
                )
            )
    provenance = document["run"]["data"].get(task, [])
    synthetic = [p["split"] for p in provenance if p.get("synthetic") and p["split"] not in {"train", "eval"}]
    caption = (
        "split = more pieces than words; terms from the harness's abbreviation and misspelling lists; "
        "tokens without special tokens"
    )
    if synthetic:
        caption += f". SYNTHETIC test sets (not patient records): {', '.join(synthetic)}"
    headers = (
        "Model",
        "Test set",
        "Tokens/input",
        "p95",
        "Abbreviations split",
        "Misspellings split",
        "Worst-fragmented terms",
    )
    return Table("Tokenisation of the test sets", headers, tuple(rows), caption)


def _named_terms_table(entries: dict[str, dict[str, Any]]) -> Table:
    named_terms = [t["term"] for t in next(iter(entries.values()))["tokenisation"]["named_terms"]]
    rows = []
    for model, entry in entries.items():
        split_as = {t["term"]: PIECE.join(t["pieces"]) for t in entry["tokenisation"]["named_terms"]}
        rows.append((model, *(split_as.get(term, "–") for term in named_terms)))
    caption = (
        "pieces of each term written in lower case, on its own, as the tokenizer names them "
        "(## continues a word; Ġ and ▁ mark a leading space)"
    )
    return Table("Tokenisation of the seed study's named terms", ("Model", *named_terms), tuple(rows), caption)


def tokenisation_tables(document: dict[str, Any], task: str, worst: int = 3) -> list[Table]:
    """Per model with a tokenizer: each test set's tokenisation, then the seed study's named terms."""
    entries = _with_tokenisation(document, task)
    if not entries:
        return []
    return [_tokenisation_overview(document, entries, worst, task), _named_terms_table(entries)]
