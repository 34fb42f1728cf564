"""Learning-curve plots (``harness run --train-sizes``): per task and test set, the primary metric
against the training rows (log scale), one line per model with its bootstrap interval as a band,
each seed's score as a dot; a model that does not train as one flat dotted line; the power-law
extrapolation dashed, to twice the rows, marked as such. Drawn from the leaderboard's
``summaries.TASK.learning_curve`` alone (``harness show --plots`` redraws a stored run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.report.figures import new_figure, safe_name, title, user_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STEM = "learning_curve_"


def curves(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Task -> its learning-curve section, for every task whose summary has one."""
    return {
        task: summary["learning_curve"]
        for task, summary in document.get("summaries", {}).items()
        if isinstance(summary, Mapping) and isinstance(summary.get("learning_curve"), Mapping)
    }


def projection(model: Mapping[str, Any], test: str) -> Mapping[str, Any] | None:
    """The model's power-law extrapolation on ``test``, unless none was fitted or it was withheld."""
    found = model["extrapolation"].get(test)
    return found if found and "law" in found else None


def test_sets(curve: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(name for m in curve["models"] for p in m["points"] for name in p["test_sets"]))


def curve_figure(document: Mapping[str, Any], task: str, test: str) -> Figure:
    """One test set of ``task``'s curve (see the module)."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, NullFormatter

    curve = curves(document)[task]
    figure = new_figure(8.5, 5.2)
    axes = figure.add_subplot()
    axes.set_xscale("log")
    full = curve["train_rows"]
    ends = sorted({found["rows"] for found in (projection(m, test) for m in curve["models"]) if found})
    extrapolated = bool(ends)
    sizes = [s["rows"] for s in curve["subsets"]]
    right = max([full, *ends]) * (1.2 if extrapolated else 1.3)
    left = min(sizes) / 1.3
    axes.set_xlim(left, right)
    colours = iter(f"C{i % 10}" for i in range(1000))
    sampled = False
    for model in curve["models"]:
        points = [p for p in model["points"] if test in p["test_sets"]]
        if not points:
            continue
        colour = next(colours)
        scored = [p["test_sets"][test] for p in points]
        if not model["trains"]:  # one score, whatever the rows: a flat line across the plot
            only = scored[-1]
            axes.hlines(
                only["estimate"],
                left,
                right,
                colors=colour,
                linestyles=":",
                linewidth=1.6,
                label=f"{user_text(model['model'])} (does not train)",
            )
            axes.fill_between([left, right], only["low"], only["high"], color=colour, alpha=0.08, linewidth=0)
            continue
        rows = [p["rows"] for p in points]
        axes.fill_between(
            rows, [s["low"] for s in scored], [s["high"] for s in scored], color=colour, alpha=0.15, linewidth=0
        )
        axes.plot(
            rows, [s["estimate"] for s in scored], "-o", color=colour, markersize=5, label=user_text(model["model"])
        )
        if len(curve["seeds"]) > 1:
            for x, s in zip(rows, scored):
                axes.plot([x] * len(s["per_seed"]), s["per_seed"], ".", color=colour, alpha=0.5, markersize=3)
        hollow = [(p["rows"], s["estimate"]) for p, s in zip(points, scored) if p["trained_rows"] < p["rows"]]
        if hollow:
            sampled = True
            axes.plot(*zip(*hollow), "o", color="white", markeredgecolor=colour, markersize=5)
        found = projection(model, test)
        if found:
            law = found["law"]
            xs = np.geomspace(full, found["rows"], 30)
            ys = np.clip(law["a"] - law["b"] * (xs / law["scale"]) ** -law["c"], 0, 1)
            axes.plot(xs, ys, "--", color=colour, linewidth=1.2)
            axes.plot([found["rows"]], [found["predicted"]], "o", color="white", markeredgecolor=colour, markersize=5)
    answers = curve["answers"].get(test, [])
    if answers:
        best = answers[0]["best"]
        axes.axhline(
            best["mark"],
            color="grey",
            linewidth=0.8,
            alpha=0.7,
            label=f"best full-data ({user_text(best['model'])}) − {curve['tolerance']:g}",
        )
    if extrapolated:
        axes.plot([], [], "--", color="grey", label="power law, extrapolated (not measured)")
        axes.axvspan(full, right, color="grey", alpha=0.06, linewidth=0)
    axes.set_xticks(sizes + ends)  # the measured sizes, and where a projection ends
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    metric = curve["metric_name"][0].upper() + curve["metric_name"][1:]
    axes.set_xlabel("Training rows (log scale; the right-most measured point is all of train)")
    axes.set_ylabel(metric)
    axes.set_title(title(dict(document), f"{metric} vs training rows\n{user_text(task)}, {user_text(test)} test set"))
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    notes = [f"bands: {curve['confidence']:.0%} bootstrap intervals over the test rows"]
    if len(curve["seeds"]) > 1:
        notes.append("dots: each seed's score; line: the seed mean")
    if sampled:
        notes.append("hollow: trained on a row sample of the subset (max_train_rows)")
    if any("withheld" in m["extrapolation"].get(test, {}) for m in curve["models"]):
        notes.append("no power law drawn where it misses the full-data interval (see the table)")
    figure.supxlabel("; ".join(notes), fontsize=8)
    return figure


def svg_text(figure: Figure) -> str:
    """``figure`` as one ``<svg>`` element for inlining in a page: no XML prolog, no metadata, no
    random ids, and no address but the SVG namespace (``href`` for ``xlink:href``, as SVG 2 has it)."""
    import io

    import matplotlib

    stream = io.StringIO()
    unset = dict.fromkeys(("Date", "Creator", "Format", "Type"))
    with matplotlib.rc_context({"svg.hashsalt": "harness", "svg.fonttype": "path"}):
        figure.savefig(stream, format="svg", metadata=unset)
    text = stream.getvalue()
    text = text[text.index("<svg") :].replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    return text.replace("xlink:href=", "href=")


def curve_figures(document: Mapping[str, Any]) -> list[tuple[str, Figure]]:
    """(file stem, figure) per task and test set with a learning curve."""
    return [
        (f"{STEM}{safe_name(task)}_{safe_name(test)}", curve_figure(document, task, test))
        for task, curve in curves(document).items()
        for test in test_sets(curve)
    ]
