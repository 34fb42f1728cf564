"""The robustness task's tables, built from a leaderboard document (see :mod:`harness.tables`).

``robustness_tables(document)`` gives a ranking (per test set, models by weighted F1 on the
variants) and the invariance failure rate per perturbation kind; ``[]`` without a passed
robustness item.
"""

from __future__ import annotations

from typing import Any

from harness.tables import Table, _f, _passed, _row_label

TASK = "robustness"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def _rows(document: dict[str, Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(item, test set, split fields) for every passed item and every split that had variants."""
    return [
        (entry, split, fields)
        for entry in _passed(document["results"], TASK)
        for split, fields in entry["robustness"]["splits"].items()
        if fields["variants"]
    ]


def _caption(document: dict[str, Any], rows: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> str:
    seeds = sorted({entry["robustness"]["seed"] for entry, _, _ in rows})
    splits = list(dict.fromkeys(split for _, split, _ in rows))
    caption = (f"label-preserving variants of the test inputs (typos, hyphenation, abbreviations, case, punctuation), "
               f"generated with seed {', '.join(map(str, seeds))}; each expects its source input's labels")
    provenance = document["run"]["data"].get("indications", [])
    synthetic = [p["split"] for p in provenance if p.get("synthetic") and p.get("split") in splits]
    if synthetic:
        caption += f". SYNTHETIC test sets (not patient records): {', '.join(synthetic)}"
    return caption


def _ranking(document: dict[str, Any], rows: list[tuple[dict[str, Any], str, dict[str, Any]]], many: bool) -> Table:
    out = []
    for split in dict.fromkeys(split for _, split, _ in rows):
        # Best variant F1 first; between equals, the classifier whose predictions change less.
        ranked = sorted((r for r in rows if r[1] == split),
                        key=lambda r: (-r[2]["f1_weighted"]["variant"], r[2]["invariance_failure_rate"]))
        for rank, (entry, _, fields) in enumerate(ranked, start=1):
            d = fields["difference"]
            out.append((
                str(rank), _row_label(entry, many), split, str(fields["variants"]),
                _f(fields["f1_weighted"]["original"]), _f(fields["f1_weighted"]["variant"]),
                f"{_signed(d['original_minus_variant'])} [{_signed(d['ci_low'])}, {_signed(d['ci_high'])}]",
                _pct(fields["invariance_failure_rate"]), _f(fields["worst_case_f1_weighted"]),
                _pct(fields["inputs_flipped_share"]),
            ))
    confidence = rows[0][2]["difference"]["confidence"]
    caption = (f"{_caption(document, rows)}. Ranked per test set by weighted F1 on the variants. F1 original = the "
               f"sources' predictions, once per variant; difference = original - variant with a paired bootstrap "
               f"{confidence:.0%} CI; invariance failure = the predicted label set changed; worst case = each "
               f"input's variant with the most label errors; inputs flipped = inputs with a changed prediction")
    headers = ("Rank", "Model", "Test set", "Variants", "F1 original", "F1 variant",
               f"Difference ({confidence:.0%} CI)", "Invariance failure", "Worst-case F1", "Inputs flipped")
    return Table("Robustness to label-preserving variants", headers, tuple(out), caption)


def _per_kind(document: dict[str, Any], rows: list[tuple[dict[str, Any], str, dict[str, Any]]], many: bool) -> Table:
    kinds = list(dict.fromkeys(kind for _, _, fields in rows for kind in fields["by_kind"]))
    out = []
    for entry, split, fields in rows:
        by_kind = fields["by_kind"]
        cells = [_pct(by_kind[k]["invariance_failure_rate"]) if k in by_kind else "–" for k in kinds]
        out.append((_row_label(entry, many), split, *cells))
    caption = f"{_caption(document, rows)}. Share of each kind's variants whose predicted label set differs from the source's"
    return Table("Robustness: invariance failure rate per kind", ("Model", "Test set", *kinds), tuple(out), caption)


def robustness_tables(document: dict[str, Any]) -> list[Table]:
    """The ranking and the per-kind failure rates; one row per model (and seed, if several) and test set."""
    rows = _rows(document)
    if not rows:
        return []
    many = len(document["run"]["seeds"]) > 1
    return [_ranking(document, rows, many), _per_kind(document, rows, many)]
