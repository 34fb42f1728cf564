"""The tables of a classification task's learning curve, from the leaderboard's
``summaries.TASK.learning_curve`` section alone: per test set, the score at each training size and
the plain answers (the headline: ``--report summary`` prints it); the rows of each label in each
subset; the training time of each fit.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from harness.tables import Table, human_seconds

FLAT = "does not train"


def curve_of(document: Mapping[str, Any], task: str) -> Mapping[str, Any] | None:
    """The task's learning-curve section, if the run drew one."""
    summary = document.get("summaries", {}).get(task, {})
    return summary.get("learning_curve") if isinstance(summary, Mapping) else None


def curve_tables(document: Mapping[str, Any], task: str) -> list[Table]:
    curve = curve_of(document, task)
    if not curve:
        return []
    tests = list(dict.fromkeys(name for m in curve["models"] for p in m["points"] for name in p["test_sets"]))
    tables = []
    for name in tests:
        tables.append(score_table(curve, name))
        tables.append(answer_table(curve, name))
    return [*tables, subsets_table(curve), cost_table(curve)]


def size_header(subset: Mapping[str, Any]) -> str:
    rows = f"{subset['rows']:,}"
    return rows if subset["size"] == rows.replace(",", "") else f"{subset['size']} ({rows})"


def _cell(scored: Mapping[str, Any], seeds: int) -> str:
    """``0.912 [0.890, 0.931]``, or with several seeds ``0.912 ± 0.004 [0.890, 0.931]``."""
    spread = f" ± {statistics.stdev(scored['per_seed']):.3f}" if seeds > 1 else ""
    return f"{scored['estimate']:.3f}{spread} [{scored['low']:.3f}, {scored['high']:.3f}]"


def best_at(curve: Mapping[str, Any], test: str, rows: int) -> str | None:
    """The model with the highest estimate at ``rows`` (a model that does not train counts at
    every size: its one score); ties: the first of the run. Where it changes from size to size,
    the number of labelled rows changes which model to choose."""
    scores = {}
    for model in curve["models"]:
        points = [p for p in model["points"] if test in p["test_sets"] and (p["rows"] == rows or not model["trains"])]
        if points:
            scores[model["model"]] = points[-1]["test_sets"][test]["estimate"]
    return max(scores, key=lambda m: scores[m]) if scores else None


def score_table(curve: Mapping[str, Any], test: str) -> Table:
    seeds = len(curve["seeds"])
    subsets = curve["subsets"]
    projected = {
        m["model"]: m["extrapolation"][test] for m in curve["models"] if "law" in m["extrapolation"].get(test, {})
    }
    withheld = {
        m["model"]: m["extrapolation"][test]["withheld"]
        for m in curve["models"]
        if "withheld" in m["extrapolation"].get(test, {})
    }
    extrapolated = bool(projected)
    twice = next((found["rows"] for found in projected.values()), None)
    rows, sampled = [], set()
    for model in curve["models"]:
        points = {p["rows"]: p for p in model["points"] if test in p["test_sets"]}
        flat = next(iter(points.values()), None) if not model["trains"] else None
        cells = []
        for subset in subsets:
            point = points.get(subset["rows"])
            if point is None:
                cells.append(f"({flat['test_sets'][test]['estimate']:.3f})" if flat else "–")
                continue
            mark = "†" if point["trained_rows"] < point["rows"] else ""
            if mark:
                sampled.add(model["model"])
            cells.append(_cell(point["test_sets"][test], seeds) + mark)
        if extrapolated:
            found = projected.get(model["model"])
            cells.append("–" if found is None else f"~{found['predicted']:.3f}")
        label = model["model"] if model["trains"] else f"{model['model']} ({FLAT})"
        rows.append((label, model["recipe"], *cells))
    best = [best_at(curve, test, s["rows"]) or "–" for s in subsets]
    rows.append(("best at this size", "", *best, *(["–"] if extrapolated else [])))
    headers = ("Model", "Recipe", *(size_header(s) for s in subsets))
    if extrapolated:
        headers += (f"{twice:,} (extrapolated)",)
    caption = (
        f"{curve['metric_name']} on {test} by training rows: estimate [{curve['confidence']:.0%} percentile bootstrap "
        f"interval over the test rows, {curve['resamples']} resamples]"
    )
    if seeds > 1:
        caption += f"; seed mean ± sd over seeds {', '.join(map(str, curve['seeds']))} (the interval: of the seed mean)"
    caption += (
        "; the subsets of a seed are nested and stratified, eval and the test sets fixed; a model that "
        f"{FLAT} has one score, on all rows, repeated (in parentheses) at every size"
    )
    if sampled:
        caption += "; † its recipe trained on a row sample (max_train_rows) of at most " + ", ".join(
            f"{m['max_trained_rows']:,} rows ({m['model']})" for m in curve["models"] if m["model"] in sampled
        )
    if extrapolated:
        caption += (
            "; ~ an inverse power law fitted to the estimates, extrapolated to twice the training rows: "
            "a projection, not a measurement"
        )
    caption += (
        "; best at this size: the highest estimate, not a test (the intervals and the full fits' "
        "comparisons say whether it is told apart)"
    )
    if withheld:
        caption += "; no power-law extrapolation for " + "; ".join(f"{m} ({why})" for m, why in withheld.items())
    return Table(f"Learning curve ({test} test set)", headers, tuple(rows), caption)


def _reach_cell(found: Mapping[str, Any], trains: bool, full_rows: int) -> str:
    """``400 rows (possible from 200; sure from 800)``; ``all 3,400 rows (sure)``; not reached."""
    rows, possible, certain = found["rows"], found["possible_from"], found["certain_from"]
    if not trains:
        return "every size" if rows is not None else "never"
    if rows is None:
        return "not reached within the sizes run" + (f" (possible from {possible:,})" if possible else "")
    notes = [f"possible from {possible:,}"] if possible is not None and possible < rows else []
    notes.append("sure at no size run" if certain is None else "sure" if certain == rows else f"sure from {certain:,}")
    main = f"all {rows:,} rows" if rows == full_rows else f"{rows:,} rows"
    return f"{main} ({'; '.join(notes)})"


def answer_table(curve: Mapping[str, Any], test: str) -> Table:
    """The plain answers on ``test``: from how many rows each model comes within the tolerance."""
    tolerance = curve["tolerance"]
    answers = curve["answers"].get(test, [])
    trains = {m["model"]: m["trains"] for m in curve["models"]}
    recipes = {m["model"]: m["recipe"] for m in curve["models"]}
    best = answers[0]["best"] if answers else None
    best_words = f"{best['model']}, {best['target']:.3f}" if best else "–"
    rows = tuple(
        (
            a["model"] if trains.get(a["model"], True) else f"{a['model']} ({FLAT})",
            recipes.get(a["model"], "–"),
            _reach_cell(a["own"], trains.get(a["model"], True), curve["train_rows"]),
            _reach_cell(a["best"], trains.get(a["model"], True), curve["train_rows"]),
        )
        for a in answers
    )
    headers = (
        "Model",
        "Recipe",
        f"Within {tolerance:g} of its own full-data {curve['metric_name']}",
        f"Within {tolerance:g} of the best full-data ({best_words})",
    )
    caption = (
        f"the smallest training size from which the {curve['metric_name']} on {test}, and at every larger size, "
        f"is at least the target minus {tolerance:g}: by the estimate; 'possible from': by the intervals' upper "
        "bounds (fewer rows fall short even at the top of their interval); 'sure from': by their lower bounds. "
        "The intervals are of test-set noise with the fit held fixed (seeds show the fits' spread): they are "
        "not a paired test of one size against another"
    )
    return Table(f"Learning curve answers ({test} test set)", headers, rows, caption, headline=True)


def subsets_table(curve: Mapping[str, Any]) -> Table:
    """Rows of each label in each subset (several seeds: the lowest and highest count)."""
    subsets = curve["subsets"]
    labels = list(next(iter(subsets[-1]["label_rows"].values())))

    def cell(subset: Mapping[str, Any], label: str) -> str:
        counts = [by_label[label] for by_label in subset["label_rows"].values()]
        low, high = min(counts), max(counts)
        return f"{low:,}" if low == high else f"{low:,}–{high:,}"

    rows = [("Rows", *(f"{s['rows']:,}" for s in subsets))]
    rows += [(label, *(cell(s, label) for s in subsets)) for label in labels]
    caption = (
        "training rows holding each label in each subset; every label of train is in the smallest subset "
        "(a rare label's first rows come first, so at small sizes it is over-represented)"
    )
    if len(curve["seeds"]) > 1:
        caption += "; lowest–highest over the seeds' draws"
    headers = ("Label", *(size_header(s) for s in subsets))
    return Table("Learning curve subsets (rows per label)", headers, tuple(rows), caption)


def cost_table(curve: Mapping[str, Any]) -> Table:
    subsets = curve["subsets"]
    rows = []
    for model in curve["models"]:
        points = {p["rows"]: p for p in model["points"]}
        rows.append(
            (
                model["model"],
                *(human_seconds(points[s["rows"]]["train_seconds"]) if s["rows"] in points else "–" for s in subsets),
            )
        )
    caption = "training time of each fit (mean over seeds), measured as the run's other fits are"
    return Table(
        "Learning curve cost (training time)", ("Model", *(size_header(s) for s in subsets)), tuple(rows), caption
    )
