"""The prompted models' cost plot: latency per input (median and 95th percentile) and tokens per
input, per model and split, from the leaderboard's ``prompting`` reports (served LLMs,
docs/served-llms.md). Drawn only for a run that has them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.report.figures import new_figure, title, user_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STEM = "prompted_cost"


@dataclass(frozen=True)
class PromptCost:
    """One prompted model on one split (the first seed's item: latency is the server's, not a seed's)."""

    model: str
    split: str
    p50: float
    p95: float
    tokens_in_per_input: float
    tokens_out_per_input: float
    unparseable: int
    inputs: int


def prompt_costs(document: Mapping[str, Any]) -> list[PromptCost]:
    """Every passed item's prompting reports but train's (a scored sample), one per model and split."""
    seen: set[tuple[str, str]] = set()
    costs = []
    for item in document.get("results", []):
        if item.get("status") != "passed":
            continue
        for split, report in (item.get("prompting") or {}).items():
            key = (item["model"], f"{item['task']}: {split}")
            if split == "train" or key in seen or not report["inputs"]:
                continue
            seen.add(key)
            costs.append(
                PromptCost(
                    item["model"],
                    key[1],
                    report["latency_p50_seconds"],
                    report["latency_p95_seconds"],
                    report["tokens_in"] / report["inputs"],
                    report["tokens_out"] / report["inputs"],
                    report["unparseable"],
                    report["inputs"],
                )
            )
    return costs


def prompt_cost_figure(document: Mapping[str, Any], costs: list[PromptCost]) -> Figure:
    figure = new_figure(9.0, 1.5 + 0.45 * len(costs))
    axes = figure.add_subplot()
    rows = list(range(len(costs)))
    axes.barh(rows, [c.p50 for c in costs], color="#4c72b0", alpha=0.85)
    axes.errorbar(
        [c.p50 for c in costs],
        rows,
        xerr=[[0.0] * len(costs), [max(c.p95 - c.p50, 0.0) for c in costs]],
        fmt="none",
        ecolor="black",
        capsize=3,
    )
    axes.set_yticks(rows, [user_text(f"{c.model} ({c.split})") for c in costs], fontsize=8)
    for row, cost in zip(rows, costs):
        note = f" {cost.tokens_in_per_input:.0f} in / {cost.tokens_out_per_input:.1f} out tokens per input"
        if cost.unparseable:
            note += f"; {cost.unparseable} of {cost.inputs} unparseable"
        axes.annotate(note, (cost.p95, row), va="center", fontsize=7)
    axes.set_xlabel("Latency per input (s): the bar is the median, the whisker reaches the 95th percentile")
    axes.set_title(title(dict(document), "Prompted models: latency and tokens per input"))
    axes.set_xlim(0, max(c.p95 for c in costs) * 2.2 or 1.0)  # room for the notes right of the bars
    return figure


def prompt_figures(document: Mapping[str, Any]) -> list[tuple[str, Figure]]:
    costs = prompt_costs(document)
    return [(STEM, prompt_cost_figure(document, costs))] if costs else []
