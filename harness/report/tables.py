"""The report's own tables: the models every task ran, and the run's last line."""

from __future__ import annotations

from typing import Any

from harness.tables import Table, human_count


def task_tables(document: dict[str, Any]) -> list[Table]:
    """Every installed plugin's ``harness_tables`` for ``document`` (for callers without a
    plugin manager of their own, such as ``write_html`` called from Python)."""
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager

    return Hooks(make_plugin_manager()).tables(document)


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
    headers = (
        "Model",
        "Params",
        "Trainable",
        "Pretraining domain",
        "Tokenization",
        "Family",
        "Fine-tuning",
        "Hardware",
        "Status",
    )
    return Table("Models", headers, tuple(rows))


def summary_line(counts: dict[str, int], seconds: float) -> str:
    parts = [
        f"{counts[k]} {k if k != 'error' else 'error' + ('s' if counts[k] != 1 else '')}"
        for k in ("passed", "skipped", "error")
        if counts.get(k)
    ]
    minutes, secs = divmod(int(round(seconds)), 60)
    duration = f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"
    return f"{', '.join(parts) or 'no items'} in {duration}"
