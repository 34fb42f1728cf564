"""The robustness task's tables, built from a leaderboard document (see :mod:`harness.tables`).

``robustness_tables(document)`` gives a ranking (per test set, models by weighted F1 on the
variants) and the invariance failure rate per perturbation kind; ``[]`` without a passed
robustness item.
"""

from __future__ import annotations

from typing import Any

from harness.scoring.stats import mean_sd
from harness.tables import Table, mean_sd_cell, passed_entries, signed

TASK = "robustness"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _rows(document: dict[str, Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(item, test set, split fields) for every passed item and every split that had variants."""
    return [
        (entry, split, fields)
        for entry in passed_entries(document["results"], TASK)
        for split, fields in entry["robustness"]["splits"].items()
        if fields["variants"]
    ]


def _caption(document: dict[str, Any], rows: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> str:
    seeds = sorted({entry["robustness"]["seed"] for entry, _, _ in rows})
    splits = list(dict.fromkeys(split for _, split, _ in rows))
    caption = (
        f"label-preserving variants of the test inputs (typos, hyphenation, abbreviations, case, punctuation), "
        f"generated with seed {', '.join(map(str, seeds))}; each expects its source input's labels"
    )
    provenance = document["run"]["data"].get("indications", [])
    synthetic = [p["split"] for p in provenance if p.get("synthetic") and p.get("split") in splits]
    if synthetic:
        caption += f". SYNTHETIC test sets (not patient records): {', '.join(synthetic)}"
    return caption


# Short column names for the per-kind table (the caption names the kinds in full).
KIND_HEADERS = {
    "keyboard_typo": "key typo",
    "transposition": "transposed",
    "deletion": "deleted",
    "doubled_letter": "doubled",
    "hyphen_space": "hyphen/space",
    "abbreviation_to_expansion": "abbr→exp",
    "expansion_to_abbreviation": "exp→abbr",
    "case": "case",
    "punctuation": "punct.",
}

Group = tuple[str, str, list[dict[str, Any]]]  # model, test set, that split's fields for each seed


def _groups(rows: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> list[Group]:
    """Rows per (model, test set): one entry per seed, in run order."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry, split, fields in rows:
        grouped.setdefault((entry["model"], split), []).append(fields)
    return [(model, split, fields) for (model, split), fields in grouped.items()]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _f1_cell(values: list[float]) -> str:
    """One seed: the F1 to 2 places; several: mean ± sample sd to 3 places."""
    return mean_sd_cell(values, 3 if len(values) > 1 else 2)


def _cell(values: list[float], form) -> str:
    """One seed: the value; several: mean ± sample sd, both in the same form."""
    mean, sd = mean_sd(values)
    if sd is None:
        return form(mean)
    return f"{form(mean)} ± {form(sd).lstrip('+')}"


def _ranking(document: dict[str, Any], rows: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> Table:
    out = []
    groups = _groups(rows)
    for split in dict.fromkeys(split for _, split, _ in groups):
        # Best variant F1 first; between equals, the classifier whose predictions change less.
        ranked = sorted(
            (g for g in groups if g[1] == split),
            key=lambda g: (
                -_mean([f["f1_weighted"]["variant"] for f in g[2]]),
                _mean([f["invariance_failure_rate"] for f in g[2]]),
            ),
        )
        for rank, (model, _, seeds) in enumerate(ranked, start=1):
            differences = [f["difference"]["original_minus_variant"] for f in seeds]
            if len(seeds) == 1:
                d = seeds[0]["difference"]
                difference = f"{signed(d['original_minus_variant'])} [{signed(d['ci_low'])}, {signed(d['ci_high'])}]"
            else:
                difference = _cell(differences, signed)
            out.append(
                (
                    str(rank),
                    model,
                    split,
                    str(seeds[0]["variants"]),
                    _f1_cell([f["f1_weighted"]["original"] for f in seeds]),
                    _f1_cell([f["f1_weighted"]["variant"] for f in seeds]),
                    difference,
                    _cell([f["invariance_failure_rate"] for f in seeds], _pct),
                    _f1_cell([f["worst_case_f1_weighted"] for f in seeds]),
                    _cell([f["inputs_flipped_share"] for f in seeds], _pct),
                )
            )
    confidence = rows[0][2]["difference"]["confidence"]
    seeds = document["run"]["seeds"]
    spread = (
        f"mean ± sd over seeds {', '.join(map(str, seeds))} (each seed's paired CI is in the leaderboard)"
        if len(seeds) > 1
        else f"difference with a paired bootstrap {confidence:.0%} CI that resamples source inputs, "
        f"all of an input's variants at once"
    )
    caption = (
        f"{_caption(document, rows)}. Ranked per test set by weighted F1 on the variants. F1 original = the "
        f"sources' predictions, once per variant; difference = original − variant; {spread}; invariance "
        f"failure = the predicted label set changed; worst case = each input's variant with the most label "
        f"errors; inputs flipped = inputs with a changed prediction"
    )
    headers = (
        "Rank",
        "Model",
        "Test set",
        "Variants",
        "F1 original",
        "F1 variant",
        "Difference" if len(seeds) > 1 else f"Difference ({confidence:.0%} CI)",
        "Invariance failure",
        "Worst-case F1",
        "Inputs flipped",
    )
    return Table("Robustness to label-preserving variants", headers, tuple(out), caption)


def _per_kind(document: dict[str, Any], rows: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> Table:
    kinds = list(dict.fromkeys(kind for _, _, fields in rows for kind in fields["by_kind"]))
    out = []
    for model, split, seeds in _groups(rows):
        cells = []
        for kind in kinds:
            rates = [f["by_kind"][kind]["invariance_failure_rate"] for f in seeds if kind in f["by_kind"]]
            cells.append(_pct(_mean(rates)) if rates else "–")
        out.append((model, split, *cells))
    names = "; ".join(f"{KIND_HEADERS.get(k, k)} = {k}" for k in kinds)
    many = len(document["run"]["seeds"]) > 1
    caption = (
        f"{_caption(document, rows)}. Share of each kind's variants whose predicted label set differs from the "
        f"source's{', mean over seeds' if many else ''} ({names})"
    )
    headers = ("Model", "Test set", *(KIND_HEADERS.get(k, k) for k in kinds))
    return Table("Robustness: invariance failure rate per kind", headers, tuple(out), caption)


def robustness_tables(document: dict[str, Any]) -> list[Table]:
    """The ranking and the per-kind failure rates; one row per model and test set (seeds: mean ± sd)."""
    rows = _rows(document)
    if not rows:
        return []
    return [_ranking(document, rows), _per_kind(document, rows)]
