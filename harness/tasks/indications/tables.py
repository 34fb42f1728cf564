"""The indications task's main tables: overall results, per-class F1 and tokenisation.

Each takes ``task``: any task whose results have the indications shape (``metrics`` per split
with weighted, macro and per-class F1) gets the same tables.
"""

from __future__ import annotations

from typing import Any

from harness.tables import (
    Table,
    decision_rule_text,
    grouped_by_model,
    human_count,
    human_seconds,
    mean_sd_cell,
    metric_values,
    passed_entries,
    split_names,
    test_splits,
)

TASK = "indications"


def overall_table(document: dict[str, Any], average: str = "f1_weighted", task: str = TASK) -> Table | None:
    """One row per model; with several seeds, mean ± sd over its seeds."""
    entries = passed_entries(document["results"], task)
    if not entries:
        return None
    seeds = document["run"]["seeds"]
    digits = 3 if len(seeds) > 1 else 2
    splits = split_names(entries)
    grouped = grouped_by_model(entries)

    def rank(model: str) -> float:
        values = metric_values(grouped[model], splits[-1], average)
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
                *(mean_sd_cell(metric_values(group, s, average), digits) for s in splits),
            )
        )
    label = {"f1_weighted": "weighted F1", "f1_macro": "macro F1", "f1_micro": "micro F1"}[average]
    caption = f"{label} at each model's own decision rule"
    if "eval" in splits:
        caption += (
            "; eval (selection) is not held out: for a model trained in epochs its best epoch chose the "
            "checkpoint, and the tuned thresholds are chosen on the same scores; the test sets are held out"
        )
    if len(seeds) > 1:
        caption += f"; mean ± sd over seeds {', '.join(map(str, seeds))} (training time: mean)"
    names = {"eval": "Eval (selection)"}
    headers = (
        "Model",
        "Params",
        "Training time",
        "Decision rule",
        *(f"{names.get(s, s.capitalize())} F1" for s in splits),
    )
    return Table(f"Overall results ({label})", headers, tuple(rows), caption, headline=average == "f1_weighted")


def per_class_tables(document: dict[str, Any], task: str = TASK) -> list[Table]:
    entries = passed_entries(document["results"], task)
    if not entries:
        return []
    seeds = document["run"]["seeds"]
    tables = []
    for split in test_splits(entries):
        grouped = grouped_by_model([e for e in entries if split in e["metrics"]])
        first = next(iter(grouped.values()))[0]["metrics"][split]["per_class"]
        rows = []
        for category in first:
            cells = [
                mean_sd_cell([e["metrics"][split]["per_class"][category]["f1"] for e in group])
                for group in grouped.values()
            ]
            rows.append((category, str(first[category]["support"]), *cells))
        caption = f"mean ± sd over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else ""
        tables.append(
            Table(f"Per-class F1 ({split} test set)", ("Category", "Support", *grouped), tuple(rows), caption)
        )
    return tables


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
    """Per model, its first passed indications item with an analysis (the tokenizer is the same for every seed)."""
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


def tokenisation_tables(document: dict[str, Any], worst: int = 3, task: str = TASK) -> list[Table]:
    """Per model with a tokenizer: each test set's tokenisation, then the seed study's named terms."""
    entries = _with_tokenisation(document, task)
    if not entries:
        return []
    return [_tokenisation_overview(document, entries, worst, task), _named_terms_table(entries)]
