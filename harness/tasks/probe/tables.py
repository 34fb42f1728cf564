"""The probe task's tables: the ✓/✗ matrix and the pass rate per model and per kind."""

from __future__ import annotations

from typing import Any

from harness.tables import FAIL, PASS, Table, fixed2, passed_entries, row_label


def probe_tables(document: dict[str, Any]) -> list[Table]:
    entries = passed_entries(document["results"], "probe")
    if not entries:
        return []
    many = len(document["run"]["seeds"]) > 1
    models = [row_label(e, many) for e in entries]
    outcome = [{case["id"]: case for case in e["cases"]} for e in entries]
    rows = []
    for case in entries[0]["cases"]:
        marks = [PASS if o[case["id"]]["passed"] else FAIL for o in outcome]
        rows.append((case["input"], case["kind"], ", ".join(case["expected"]) or "(none)", *marks))
    matrix = Table(
        "Probe: variant inputs",
        ("Input", "Kind", "Expected", *models),
        tuple(rows),
        f"{PASS} = predicted label set equals the expected set",
    )
    kinds = sorted({kind for e in entries for kind in e["by_kind"]})
    rate_rows = []
    for label, entry in zip(models, entries):
        by_kind = entry["by_kind"]
        cells = [f"{by_kind[k]['passed']}/{by_kind[k]['total']}" if k in by_kind else "–" for k in kinds]
        passed = sum(c["passed"] for c in entry["cases"])
        rate_rows.append((label, f"{passed}/{len(entry['cases'])}", fixed2(entry["pass_rate"]), *cells))
    rates = Table("Probe pass rate", ("Model", "Passed", "Rate", *kinds), tuple(rate_rows))
    return [matrix, rates]
