"""The self-contained HTML report of a leaderboard: ``harness show FILE --format html --output PAGE``
and ``harness publish ... --html PAGE``.

One file that opens offline from ``file://``: the template (``templates/report.html.j2``) gets its
CSS and JavaScript inlined, and the data the scripts draw from inline as JSON. Nothing is fetched.

The page is built from the leaderboard document alone, which holds no text of a private split
(``harness run`` and ``harness publish`` see to that), so the page holds none either. The numbers
in its tables are the console's: the generic sections render the same :class:`~harness.tables.Table`
objects as ``harness show``.
"""

from __future__ import annotations

import copy
import json
import statistics
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.core.hardware import hardware_text
from harness.errors import InputError
from harness.privacy import PRIVATE_PAGE_MARKER, min_cell_count, shown_count, suppress_small
from harness.scoring.decision import BAND_MEANING, metric_words, pairs_inside_bands, rule_words
from harness.tables import (
    CLASSIFICATION_FIELD,
    FAIL,
    METRICS,
    PASS,
    TAGGING_FIELD,
    Table,
    decision_rule_text,
    grouped_by_model,
    human_count,
    human_seconds,
    passed_entries,
    primary_metric_of,
    tasks_with,
    test_splits,
)

# Tables the page draws in its own way (heatmaps, model cards; a task's headline overall table
# is the overall table with whiskers).
DRAWN_ELSEWHERE = ("Models", "Per-class F1 (", "Confusion matrix (")
# Generic tables by section, in page order: the first prefix that matches a title wins.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Comparisons and site shift",
        ("Model comparison", "Site shift", "Prevalence", "Weighted F1 on strings", "Overall results"),
    ),
    ("Tuning budget", ("Search budget", "Search trials", "Expected maximum")),
    ("Decision rule and calibration", ("Decision thresholds", "Calibration")),
    ("Error analysis", ("Per-label counts", "Most confused label pairs", "Model disagreement")),
    ("Probe", ("Probe",)),
    ("Robustness", ("Robustness",)),
    ("Tokenisation", ("Tokenisation",)),
    ("Named entity recognition", ("NER",)),
    ("Learning curves", ("Learning curve",)),
    ("Cost and data", ("Cost", "Rows of each test set", "Overlap", "")),
)
CURVES = "Learning curves"  # its section also holds the curves' figures


def _mean(values: Iterable[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def data_kind(document: dict[str, Any]) -> str:
    """``synthetic``, ``silver`` or ``user``: what the data note warns of, for its colour."""
    note = document["run"]["data_note"]
    if document["run"].get("synthetic_data") or "SYNTHETIC" in note:
        return "synthetic"
    return "silver" if "SILVER" in note else "user"


# --------------------------------------------------------------------------- the overall table


def _comparisons(document: dict[str, Any], task: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Test set -> model -> its entry in the run's comparison (band, seed-mean CI). A merged
    leaderboard has none at the top: its runs' bands cannot be joined, so none are drawn."""
    comparisons = document.get("summaries", {}).get(task, {}).get("comparisons", {})
    return {split: {m["model"]: m for m in c["models"]} for split, c in comparisons.items()}


def _classification_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for task in tasks_with(document, CLASSIFICATION_FIELD) for row in _task_rows(document, task)]


def _task_rows(document: dict[str, Any], task: str) -> list[dict[str, Any]]:
    entries = passed_entries(document["results"], task)
    # The task's own primary metric: its bands and intervals are of that metric, so the point is too.
    key, interval_key, label = METRICS[primary_metric_of(entries)]
    compared = _comparisons(document, task)
    rows = []
    for split in test_splits(entries):
        for model, group in grouped_by_model([e for e in entries if split in e["metrics"]]).items():
            estimate = _mean(e["metrics"][split][key] for e in group)
            low = high = band = None
            if model in compared.get(split, {}):
                entry = compared[split][model]
                low, high, band = entry["low"], entry["high"], entry["band"]
            elif len(group) == 1 and split in group[0].get("confidence_intervals", {}):
                interval = group[0]["confidence_intervals"][split][interval_key]
                low, high = interval["low"], interval["high"]
            rows.append(_row(task, split, model, group, label, estimate, low, high, band))
    return rows


def _ner_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for task in tasks_with(document, TAGGING_FIELD) for row in _tagging_rows(document, task)]


def _tagging_rows(document: dict[str, Any], task: str) -> list[dict[str, Any]]:
    entries = passed_entries(document["results"], task)
    splits = list(dict.fromkeys(s for e in entries for s in e[TAGGING_FIELD] if s not in ("train", "eval")))
    rows = []
    for split in splits:
        for model, group in grouped_by_model([e for e in entries if split in e[TAGGING_FIELD]]).items():
            estimate = _mean(e[TAGGING_FIELD][split]["strict"]["micro"]["f1"] for e in group)
            rows.append(_row(task, split, model, group, "strict F1", estimate, None, None, None))
    return rows


def _row(task, split, model, group, metric, estimate, low, high, band) -> dict[str, Any]:
    info, costs = group[0]["model_info"], [e["cost"] for e in group]
    return {
        "task": task,
        "test_set": split,
        "model": model,
        "family": info["family"],
        "regime": info["fine_tuning_regime"],
        "seeds": len(group),
        "metric": metric,
        "estimate": estimate,
        "low": low,
        "high": high,
        "band": band,
        "params": info["params"],
        "params_text": human_count(info["params"]),
        "train_seconds": _mean(c["train_seconds"] for c in costs),
        "train_text": human_seconds(_mean(c["train_seconds"] for c in costs)),
        "predict_seconds": _mean(c["predict_seconds"] for c in costs),
        "predict_text": human_seconds(_mean(c["predict_seconds"] for c in costs)),
        "peak_rss_mb": _mean(c.get("peak_rss_mb") for c in costs),
    }


def overall_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per task, test set and model: the seed-mean F1, its CI and band where the run has them, cost."""
    return _classification_rows(document) + _ner_rows(document)


# --------------------------------------------------------------------------- decisions, heatmaps, cards


def _bands_of(comparisons: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"test_set": split, "bands": c["bands"], "metric": c["metric"], "inner_pairs": pairs_inside_bands(c)}
        for split, c in comparisons.items()
    ]


def _shown_decision(decision: dict[str, Any], comparisons: dict[str, Any]) -> dict[str, Any]:
    """A stored decision with each test set's significant pairs inside a band (read from the
    comparisons where a decision written before issue 22 did not store them)."""
    test_sets = []
    for row in decision["test_sets"]:
        inner = row.get("pairs_inside_bands")
        if inner is None and row["test_set"] in comparisons:
            inner = pairs_inside_bands(comparisons[row["test_set"]])
        test_sets.append({**row, "inner_pairs": inner or []})
    return {**decision, "test_sets": test_sets}


def decisions(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per run (one, or each run a published leaderboard merges) and task: its decision summary when
    it has one (``summaries.<task>.decision``), else its comparisons' bands; with the significant
    pairs inside a band either way."""
    runs = document["run"].get("merged_from") or [{"summaries": document.get("summaries", {})}]
    out = []
    for run in runs:
        for task, summary in run.get("summaries", {}).items():
            if not summary.get("decision") and not summary.get("comparisons"):
                continue
            label = run.get("file", "") + (f" ({run['timestamp_utc']})" if "timestamp_utc" in run else "")
            decision = summary.get("decision")
            comparisons = summary.get("comparisons", {})
            out.append(
                {
                    "run": label if "merged_from" in document["run"] else "",
                    "task": task,
                    "decision": _shown_decision(decision, comparisons) if decision else None,
                    "metric": metric_words(decision) if decision else "",
                    "rule": rule_words(decision) if decision else "",
                    "bands": _bands_of(comparisons),
                }
            )
    return out


def heatmaps(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per classification task and test set: categories (with support) × models, the seed-mean
    per-class F1."""
    from harness.report.plots import classified, classified_tasks, heatmap

    out = []
    for task in classified_tasks(document):
        entries = classified(document, task)
        for split in test_splits(entries):
            data = heatmap(document, split, task)
            per_class = next(e for e in entries if split in e["metrics"])["metrics"][split]["per_class"]
            rows = [
                {
                    "category": c,
                    "support": per_class[c]["support"],
                    "support_shown": shown_count(per_class[c]["support"], document),  # <k where blanked
                    "f1": [None if value != value else value for value in column],
                }  # NaN: not scored
                for c, column in zip(data.categories, zip(*data.values))
            ]
            out.append({"task": task, "test_set": split, "models": list(data.models), "rows": rows})
    return out


def scatters(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per classification task: its primary metric's words and, per test set, a point per model."""
    from harness.report.plots import TIME_FLOOR_SECONDS, classified_tasks, scatter_metric, scatter_points

    return [
        {
            "task": task,
            "metric": scatter_metric(document, task),
            "points": {
                split: [
                    {
                        "model": p.model,
                        "f1": p.f1,
                        "seconds": p.seconds,
                        "seeds": p.seeds,
                        "x": max(p.seconds, TIME_FLOOR_SECONDS),
                    }
                    for p in points
                ]
                for split, points in scatter_points(document, task).items()
            },
        }
        for task in classified_tasks(document)
    ]


def model_cards(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One card per model: what it is, and per item its outcome (with a skip or error reason)."""
    cards: dict[str, dict[str, Any]] = {}
    for item in document["results"]:
        card = cards.setdefault(
            item["model"],
            {
                "model": item["model"],
                "info": item["model_info"],
                "recipe": item["model_info"].get("recipe"),
                "outcomes": [],
                "fit_details": None,
                "decision_rule": None,
            },
        )
        card["outcomes"].append({"name": item["name"], "status": item["status"], "reason": item["reason"]})
        if item["status"] == "passed" and card["fit_details"] is None and item.get("fit_details"):
            card["fit_details"] = {
                k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in item["fit_details"].items()
            }
        if item.get("decision_rule") and card["decision_rule"] is None:
            card["decision_rule"] = decision_rule_text(item["decision_rule"])  # the overall table's words
    return list(cards.values())


def sections(tables: Iterable[Table]) -> list[dict[str, Any]]:
    grouped: dict[str, list[Table]] = {name: [] for name, _ in SECTIONS}
    for table in tables:
        if table.title.startswith(DRAWN_ELSEWHERE) or (table.headline and "Overall results (" in table.title):
            continue
        if "Learning curve" in table.title:  # also with a task's name before it (several tasks)
            name = CURVES
        else:
            name = next(name for name, prefixes in SECTIONS if table.title.startswith(prefixes))
        grouped[name].append(table)
    return [{"name": name, "tables": found} for name, found in grouped.items() if found]


def curve_svgs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each learning curve's figure as inline SVG (its glyphs drawn as paths: nothing to fetch)."""
    from markupsafe import Markup

    from harness.report.curve_plots import curve_figures, svg_text

    return [{"stem": stem, "svg": Markup(svg_text(figure))} for stem, figure in curve_figures(document)]


# --------------------------------------------------------------------------- rendering


def page_data(document: dict[str, Any]) -> dict[str, Any]:
    """What the page's scripts draw from (inline as JSON): the overall rows and, per
    classification task, the scatter's points and metric."""
    return {"overall": overall_rows(document), "scatters": scatters(document)}


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    templates = files("harness.report") / "templates"
    environment = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=select_autoescape(["j2", "html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["f3"] = lambda x: "–" if x is None else f"{x:.3f}"
    environment.filters["heat"] = heat_colour
    environment.filters["hardware_text"] = hardware_text
    environment.globals.update(PASS=PASS, FAIL=FAIL)
    return environment, templates


def confusion_heatmaps(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every model's confusion matrix per task and test set (multi-class), mean counts over seeds,
    each cell shaded by its share of the true label's rows; a blanked cell (``[privacy]
    min_cell_count``) is null, shown as ``<k``."""
    from harness.privacy import min_cell_count

    k = min_cell_count(document)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for task in tasks_with(document, CLASSIFICATION_FIELD):
        for entry in passed_entries(document["results"], task):
            for split, metrics in entry["metrics"].items():
                if split not in ("train", "eval") and "confusion_matrix" in metrics:
                    groups.setdefault((task, split, entry["model"]), []).append(metrics["confusion_matrix"])
    maps = []
    for (task, split, model), matrices in groups.items():
        labels = matrices[0]["labels"]
        rows = []
        for i, label in enumerate(labels):
            cells = [[m["matrix"][i][j] for m in matrices] for j in range(len(labels))]
            means = [None if None in values else statistics.fmean(values) for values in cells]
            total = sum(v for v in means if v is not None) or 1.0
            rows.append(
                {
                    "label": label,
                    "cells": [
                        {
                            "text": f"<{k}" if v is None else (f"{v:.0f}" if len(matrices) == 1 else f"{v:.1f}"),
                            "colour": "#eee" if v is None else share_colour(v / total),
                        }
                        for v in means
                    ],
                }
            )
        maps.append(
            {"task": task, "test_set": split, "model": model, "labels": labels, "rows": rows, "seeds": len(matrices)}
        )
    return maps


def share_colour(share: float) -> str:
    """A confusion cell's background: white at no rows, deepening orange towards all of the row."""
    lightness = 100 - 45 * max(0.0, min(1.0, share))
    return f"hsl(30, 80%, {lightness:.0f}%)"


def heat_colour(f1: float | None) -> str:
    """A cell's background: white at F1 0.5 or below, deepening blue towards 1 (grey: not scored)."""
    if f1 is None:
        return "#eee"
    lightness = 100 - 40 * max(0.0, min(1.0, (f1 - 0.5) / 0.5))  # 60% at F1 1: black text stays legible
    return f"hsl(210, 70%, {lightness:.0f}%)"


def inline_json(value: Any) -> str:
    """JSON safe inside ``<script>``: no ``</script>`` or ``<!--`` can close or comment it."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def search_plots(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each tuned task's expected-max plot as inline SVG (``--tune`` runs; none otherwise)."""
    from markupsafe import Markup

    from harness.report.search import search_figures, svg_text

    return [
        {"task": stem.removeprefix("expected_max_"), "svg": Markup(svg_text(figure))}
        for stem, figure in search_figures(document)
    ]


def page_title(document: dict[str, Any]) -> str:
    """What the page is about, for its title and a printed copy's header: the run's tasks and date
    ("smoking: leaderboard of 2026-12-07"), never the output file's name."""
    tasks = list(dict.fromkeys(result["task"] for result in document.get("results", [])))
    day = document["run"].get("timestamp_utc", "")[:10]
    what = ", ".join(tasks) if tasks else "leaderboard"
    return f"{what}: leaderboard of {day}" if day else what


def render_html(
    document: dict[str, Any],
    title: str = "",
    tables: list[Table] | None = None,
    private_errors: list[dict[str, Any]] | None = None,
) -> str:
    """The page of a validated leaderboard document, as one string; ``tables``: what the tasks'
    ``harness_tables`` hooks return for it (by default, the installed plugins'). ``private_errors``
    (``harness show --private`` only: groups of a model's most confident mistakes, with their
    text) makes it a private page, marked as such for ``harness publish`` to refuse."""
    from markupsafe import Markup

    from harness.report.tables import model_table, task_tables

    if private_errors is None:  # a page may leave the run directory: small counts blanked ([privacy])
        document = suppress_small(copy.deepcopy(document), min_cell_count(document))
    tables = [model_table(document), *(task_tables(document) if tables is None else tables)]
    data = page_data(document)
    environment, templates = _environment()
    run = document["run"]
    return environment.get_template("report.html.j2").render(
        title=title or page_title(document),
        run=run,
        data_kind=data_kind(document),
        merged=run.get("merged_from", []),
        decisions=decisions(document),
        band_meaning=BAND_MEANING,
        overall=overall_rows(document),
        heatmaps=heatmaps(document),
        confusions=confusion_heatmaps(document),
        scatters=data["scatters"],
        sections=sections(tables),
        curves=curve_svgs(document),
        curves_section=CURVES,
        cards=model_cards(document),
        search_plots=search_plots(document),
        css=Markup((templates / "report.css").read_text(encoding="utf-8")),
        js=Markup((templates / "report.js").read_text(encoding="utf-8")),
        data=Markup(inline_json(data)),
        private_errors=private_errors,
        private_marker=Markup(PRIVATE_PAGE_MARKER),
    )


def write_html(
    document: dict[str, Any],
    path: Path,
    tables: list[Table] | None = None,
    title: str = "",
    private_errors: list[dict[str, Any]] | None = None,
) -> Path:
    """Write the page atomically (never a half-written file); exit 2 naming ``path`` if it cannot be.
    A private page (``private_errors``) is written readable by its owner only."""
    from harness.atomic import write_atomically

    text = render_html(document, title, tables, private_errors)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        shared = private_errors is None
        return write_atomically(path, lambda stream: stream.write(text.encode("utf-8")), shared=shared)
    except OSError as err:
        raise InputError(str(path), f"cannot write the HTML report: {err.strerror or err}") from None
