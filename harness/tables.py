"""The tables a paper would print, built from a leaderboard document.

The console reporter and ``harness show`` both render these, so a published leaderboard
re-renders exactly as the run printed it. Cells are plain strings; renderers add style.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PASS, FAIL = "✓", "✗"


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""


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


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _signed(x: float) -> str:
    """``+0.012`` / ``−0.012`` (a true minus sign), to 3 places."""
    return f"{x:+.3f}".replace("-", "−")


def _row_label(entry: dict[str, Any], many_seeds: bool) -> str:
    return f"{entry['model']} (seed {entry['seed']})" if many_seeds else entry["model"]


def _passed(results: Iterable[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return [r for r in results if r["task"] == task and r["status"] == "passed"]


def model_table(document: dict[str, Any]) -> Table:
    seen: dict[str, dict[str, Any]] = {}
    for entry in document["results"]:
        known = seen.get(entry["model"])
        if known is None or (known["status"] != "passed" and entry["status"] == "passed"):
            seen[entry["model"]] = entry
    hardware = document["run"]["device"]
    rows = []
    for entry in seen.values():
        info = entry["model_info"]
        status = "ran" if entry["status"] == "passed" else f"{entry['status']}: {entry['reason']}"
        rows.append(
            (
                entry["model"],
                human_count(info["params"]),
                human_count(info["trainable_params"]),
                info["pretraining_domain"],
                info["tokenization"],
                info["family"],
                info["fine_tuning_regime"],
                hardware if entry["status"] == "passed" else "–",
                status,
            )
        )
    headers = ("Model", "Params", "Trainable", "Pretraining domain", "Tokenization", "Family", "Fine-tuning",
               "Hardware", "Status")
    return Table("Models", headers, tuple(rows))


def _split_names(entries: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for entry in entries:
        names.update(dict.fromkeys(entry["metrics"]))
    ordered = [n for n in names if n == "eval"] + [n for n in names if n not in {"train", "eval"}]
    return ordered


def _test_splits(entries: list[dict[str, Any]]) -> list[str]:
    """Every test split (not train, not eval), in the order the results first name them."""
    return [n for n in _split_names(entries) if n != "eval"]


def _grouped(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Entries per model (one per seed), in run order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        grouped.setdefault(entry["model"], []).append(entry)
    return grouped


def _mean_sd_cell(values: list[float], digits: int = 2) -> str:
    """``0.95`` for one seed, ``0.95 ± 0.01`` (sample sd) for several."""
    from harness.stats import mean_sd

    if not values:
        return "–"
    mean, sd = mean_sd(values)
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _values(entries: list[dict[str, Any]], split: str, average: str) -> list[float]:
    return [e["metrics"][split][average] for e in entries if split in e["metrics"]]


def decision_rule_text(rule: dict[str, Any]) -> str:
    """A model's decision rule in a few words: ``score ≥ 0.5``, ``top-1`` (the categories it
    names), ``rules`` (a rule table's own 0/1 output)."""
    if rule.get("score") == "rule":
        return "rules"
    operator = {">=": "≥", ">": ">"}[rule.get("operator", ">=")]
    cut = f"score {operator} {rule.get('threshold', 0.5):g}"
    top_k = rule.get("top_k")
    if top_k is None:
        return cut
    return f"top-{top_k}" if rule.get("threshold", 0.0) <= 0 and operator == "≥" else f"top-{top_k}, {cut}"


def overall_table(document: dict[str, Any], average: str = "f1_weighted") -> Table | None:
    """One row per model; with several seeds, mean ± sd over its seeds."""
    entries = _passed(document["results"], "indications")
    if not entries:
        return None
    seeds = document["run"]["seeds"]
    digits = 3 if len(seeds) > 1 else 2
    splits = _split_names(entries)
    grouped = _grouped(entries)

    def rank(model: str) -> float:
        values = _values(grouped[model], splits[-1], average)
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
                *(_mean_sd_cell(_values(group, s, average), digits) for s in splits),
            )
        )
    label = {"f1_weighted": "weighted F1", "f1_macro": "macro F1", "f1_micro": "micro F1"}[average]
    caption = f"{label} at each model's own decision rule"
    if "eval" in splits:
        caption += ("; eval (selection) is not held out: for a model trained in epochs its best epoch chose the "
                    "checkpoint, and the tuned thresholds are chosen on the same scores; the test sets are held out")
    if len(seeds) > 1:
        caption += f"; mean ± sd over seeds {', '.join(map(str, seeds))} (training time: mean)"
    names = {"eval": "Eval (selection)"}
    headers = ("Model", "Params", "Training time", "Decision rule",
               *(f"{names.get(s, s.capitalize())} F1" for s in splits))
    return Table(f"Overall results ({label})", headers, tuple(rows), caption)


def per_class_tables(document: dict[str, Any]) -> list[Table]:
    entries = _passed(document["results"], "indications")
    if not entries:
        return []
    seeds = document["run"]["seeds"]
    tables = []
    for split in _test_splits(entries):
        grouped = _grouped([e for e in entries if split in e["metrics"]])
        first = next(iter(grouped.values()))[0]["metrics"][split]["per_class"]
        rows = []
        for category in first:
            cells = [_mean_sd_cell([e["metrics"][split]["per_class"][category]["f1"] for e in group])
                     for group in grouped.values()]
            rows.append((category, str(first[category]["support"]), *cells))
        caption = f"mean ± sd over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else ""
        tables.append(Table(f"Per-class F1 ({split} test set)", ("Category", "Support", *grouped), tuple(rows), caption))
    return tables


def probe_tables(document: dict[str, Any]) -> list[Table]:
    entries = _passed(document["results"], "probe")
    if not entries:
        return []
    many = len(document["run"]["seeds"]) > 1
    models = [_row_label(e, many) for e in entries]
    outcome = [{case["id"]: case for case in e["cases"]} for e in entries]
    rows = []
    for case in entries[0]["cases"]:
        marks = [PASS if o[case["id"]]["passed"] else FAIL for o in outcome]
        rows.append((case["input"], case["kind"], ", ".join(case["expected"]) or "(none)", *marks))
    matrix = Table("Probe: variant inputs", ("Input", "Kind", "Expected", *models), tuple(rows),
                   f"{PASS} = predicted label set equals the expected set")
    kinds = sorted({kind for e in entries for kind in e["by_kind"]})
    rate_rows = []
    for label, entry in zip(models, entries):
        by_kind = entry["by_kind"]
        cells = [f"{by_kind[k]['passed']}/{by_kind[k]['total']}" if k in by_kind else "–" for k in kinds]
        passed = sum(c["passed"] for c in entry["cases"])
        rate_rows.append((label, f"{passed}/{len(entry['cases'])}", _f(entry["pass_rate"]), *cells))
    rates = Table("Probe pass rate", ("Model", "Passed", "Rate", *kinds), tuple(rate_rows))
    return [matrix, rates]


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


def _with_tokenisation(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model, its first passed indications item with an analysis (the tokenizer is the same for every seed)."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in _passed(document["results"], "indications"):
        if "tokenisation" in entry:
            entries.setdefault(entry["model"], entry)
    return entries


def _tokenisation_overview(document: dict[str, Any], entries: dict[str, dict[str, Any]], worst: int) -> Table:
    rows = []
    for model, entry in entries.items():
        for split, found in entry["tokenisation"]["splits"].items():
            lengths = found["tokens_per_input"]
            worst_terms = ", ".join(_split_as(t["written"], t["pieces"]) for t in found["worst_terms"][:worst])
            rows.append((model, split, _tokens(lengths["mean"]), _tokens(lengths["p95"]), _pct(found["abbreviations"]),
                         _pct(found["misspellings"]), worst_terms or "–"))
    provenance = document["run"]["data"].get("indications", [])
    synthetic = [p["split"] for p in provenance if p.get("synthetic") and p["split"] not in {"train", "eval"}]
    caption = ("split = more pieces than words; terms from the harness's abbreviation and misspelling lists; "
               "tokens without special tokens")
    if synthetic:
        caption += f". SYNTHETIC test sets (not patient records): {', '.join(synthetic)}"
    headers = ("Model", "Test set", "Tokens/input", "p95", "Abbreviations split", "Misspellings split",
               "Worst-fragmented terms")
    return Table("Tokenisation of the test sets", headers, tuple(rows), caption)


def _named_terms_table(entries: dict[str, dict[str, Any]]) -> Table:
    named_terms = [t["term"] for t in next(iter(entries.values()))["tokenisation"]["named_terms"]]
    rows = []
    for model, entry in entries.items():
        split_as = {t["term"]: PIECE.join(t["pieces"]) for t in entry["tokenisation"]["named_terms"]}
        rows.append((model, *(split_as.get(term, "–") for term in named_terms)))
    caption = ("pieces of each term written in lower case, on its own, as the tokenizer names them "
               "(## continues a word; Ġ and ▁ mark a leading space)")
    return Table("Tokenisation of the seed study's named terms", ("Model", *named_terms), tuple(rows), caption)


def tokenisation_tables(document: dict[str, Any], worst: int = 3) -> list[Table]:
    """Per model with a tokenizer: each test set's tokenisation, then the seed study's named terms."""
    entries = _with_tokenisation(document)
    if not entries:
        return []
    return [_tokenisation_overview(document, entries, worst), _named_terms_table(entries)]


def all_tables(document: dict[str, Any]) -> list[Table]:
    tables: list[Table | None] = [model_table(document), overall_table(document)]
    tables.append(overall_table(document, "f1_macro"))
    tables.extend(per_class_tables(document))
    tables.extend(probe_tables(document))
    tables.extend(tokenisation_tables(document))
    # Imported here: those modules import this one.
    from harness.tables_evidence import evidence_tables
    from harness.tables_ner import ner_tables
    from harness.tables_robustness import robustness_tables

    tables.extend(robustness_tables(document))
    tables.extend(evidence_tables(document))
    tables.extend(ner_tables(document))
    return [t for t in tables if t is not None]


def summary_line(counts: dict[str, int], seconds: float) -> str:
    parts = [f"{counts[k]} {k if k != 'error' else 'error' + ('s' if counts[k] != 1 else '')}"
             for k in ("passed", "skipped", "error") if counts.get(k)]
    minutes, secs = divmod(int(round(seconds)), 60)
    duration = f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"
    return f"{', '.join(parts) or 'no items'} in {duration}"
