"""The built-in plot writer: the cost-performance scatter, per-class F1 heatmaps and, for a run with
``--train-sizes``, the learning curves (:mod:`harness.report.curve_plots`) and, for a run with
prompted models, their latency and tokens (:mod:`harness.report.prompt_plots`), as PNG and SVG.

``write_plots(document, out_dir)`` works on any (validated) leaderboard document, so
``harness show FILE --plots DIR`` redraws a stored run; the ``harness_write_artifacts`` hook
calls it after a run. Each classification task's passed items are plotted, a scatter and its
heatmaps per task. With several seeds a
model's point or cell is the mean over its seeds (error bars: the sample sd).

matplotlib is imported only when a plot is drawn: ``harness list`` must stay fast.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import hookimpl
from harness.atomic import temporary_beside
from harness.report.curve_plots import curve_figures
from harness.report.figures import new_figure, plain_log_formatter, safe_name, title, user_text
from harness.report.prompt_plots import prompt_figures
from harness.tables import (
    CLASSIFICATION_FIELD,
    METRICS,
    grouped_by_model,
    passed_entries,
    primary_metric_of,
    tasks_with,
    test_splits,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg")
SCATTER_STEM = "f1_vs_training_time"
HEATMAP_PREFIX = "per_class_f1_"
# Rule baselines train in 0 s, which a log axis cannot show: such times are drawn here.
TIME_FLOOR_SECONDS = 0.01
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class Point:
    """One model on one test split: means over its seeds, sample sd (0 with one seed)."""

    model: str
    f1: float
    f1_sd: float
    seconds: float
    seconds_sd: float
    seeds: int


@dataclass(frozen=True)
class Heatmap:
    """Per-class F1 of one test split: ``values[i][j]`` is model ``i``, category ``j`` (NaN: not scored)."""

    split: str
    models: tuple[str, ...]
    categories: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    task: str = ""


def classified_tasks(document: dict[str, Any]) -> list[str]:
    """The tasks with classification metrics, in result order: each gets its own plots."""
    return tasks_with(document, CLASSIFICATION_FIELD)


def classified(document: dict[str, Any], task: str | None = None) -> list[dict[str, Any]]:
    """The passed results of ``task`` (by default the first task with classification metrics)."""
    tasks = classified_tasks(document)
    task = task if task is not None else (tasks[0] if tasks else None)
    return passed_entries(document["results"], task) if task in tasks else []


def _by_model(entries: Iterable[dict[str, Any]], split: str) -> dict[str, list[dict[str, Any]]]:
    """Model -> its entries (one per seed) that scored ``split``, models in first-seen order."""
    return grouped_by_model([e for e in entries if split in e["metrics"]])


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def scatter_metric(document: dict[str, Any], task: str | None = None) -> str:
    """The words for the scatter's y axis: the task's primary metric ("Weighted F1", "Macro F1")."""
    label = METRICS[primary_metric_of(classified(document, task))][2]
    return label[0].upper() + label[1:]


def scatter_points(document: dict[str, Any], task: str | None = None) -> dict[str, list[Point]]:
    """Test split -> one point per model: the task's primary metric against training time."""
    entries = classified(document, task)
    key = METRICS[primary_metric_of(entries)][0]
    points: dict[str, list[Point]] = {}
    for split in test_splits(entries):
        points[split] = []
        for model, runs in _by_model(entries, split).items():
            f1, f1_sd = _mean_sd([r["metrics"][split][key] for r in runs])
            seconds, seconds_sd = _mean_sd([float(r["cost"]["train_seconds"]) for r in runs])
            points[split].append(Point(model, f1, f1_sd, seconds, seconds_sd, len(runs)))
    return points


def heatmap(document: dict[str, Any], split: str, task: str | None = None) -> Heatmap:
    """Per-class F1 of ``task``'s ``split``: models sorted by that split's mean primary metric, best
    first; categories in the order of the first result's ``per_class``."""
    entries = classified(document, task)
    key = METRICS[primary_metric_of(entries)][0]
    grouped = _by_model(entries, split)
    if not grouped:
        raise ValueError(f"no passed classification result scored split {split!r}")
    categories = tuple(next(iter(grouped.values()))[0]["metrics"][split]["per_class"])
    # sorted() is stable: models tied on F1 keep the leaderboard's order
    ranked = sorted(grouped.items(), key=lambda kv: -statistics.fmean(r["metrics"][split][key] for r in kv[1]))
    rows = []
    for _, runs in ranked:
        cells = []
        for category in categories:
            scores = [
                r["metrics"][split]["per_class"][category]["f1"]
                for r in runs
                if r["metrics"][split]["per_class"].get(category, {}).get("f1") is not None  # None: no F1
            ]
            cells.append(statistics.fmean(scores) if scores else float("nan"))
        rows.append(tuple(cells))
    task = task if task is not None else entries[0]["task"]
    return Heatmap(split, tuple(model for model, _ in ranked), categories, tuple(rows), task)


def _seed_note(points: Iterable[Point]) -> str:
    seeds = max((p.seeds for p in points), default=1)
    return f"mean ± sample sd over up to {seeds} seeds" if seeds > 1 else ""


# Where a model's label may go, tried in turn: offset (points) from its marker, and alignment.
_LABEL_SPOTS = (
    (6, 4, "left", "bottom"),
    (6, -4, "left", "top"),
    (-6, 4, "right", "bottom"),
    (-6, -4, "right", "top"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
)
_MARKER_SIZE = 7.0  # points


def _place_labels(
    figure: Figure, axes, anchors: dict[str, tuple[float, float]], markers: list[tuple[float, float]]
) -> None:
    """Label each model beside its marker, on the first side where the label overlaps no earlier
    label, no marker and stays inside the axes (greedy; the first side when none is free).

    Models cluster (many reach F1 0.95 within a minute): one fixed offset would print names over
    each other. Geometry is measured at the figure's dpi; saving at another dpi scales it all alike.
    """
    from matplotlib.transforms import Bbox

    figure.draw_without_rendering()  # constrained layout settles the axes' place only when drawn
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    half = _MARKER_SIZE * figure.dpi / 72 / 2
    taken = [Bbox.from_bounds(px - half, py - half, 2 * half, 2 * half) for px, py in axes.transData.transform(markers)]
    for model, (x, y) in anchors.items():
        placed = None
        for spot in _LABEL_SPOTS:
            label = _label(axes, model, (x, y), spot)
            box = label.get_window_extent(renderer)
            if _inside(box, frame) and not any(box.overlaps(other) for other in taken):
                placed = box
                break
            label.remove()
        if placed is None:  # no side is free: overlap on the first side rather than drop the name
            placed = _label(axes, model, (x, y), _LABEL_SPOTS[0]).get_window_extent(renderer)
        taken.append(placed)


def _label(axes, model: str, xy: tuple[float, float], spot: tuple[float, float, str, str]):
    dx, dy, ha, va = spot
    return axes.annotate(user_text(model), xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=8)


def _inside(box, frame) -> bool:
    return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def _link_splits(axes, points: dict[str, list[Point]]) -> None:
    """A faint vertical line through each model's points: they share an x, but only one is labelled."""
    spans: dict[str, list[float]] = {}
    times: dict[str, float] = {}
    for series in points.values():
        for p in series:
            spans.setdefault(p.model, []).append(p.f1)
            times[p.model] = max(p.seconds, TIME_FLOOR_SECONDS)
    for model, f1s in spans.items():
        if len(f1s) > 1:
            axes.vlines(times[model], min(f1s), max(f1s), colors="grey", alpha=0.35, linewidth=1, zorder=0)


def scatter_figure(
    document: dict[str, Any], points: dict[str, list[Point]] | None = None, task: str | None = None
) -> Figure:
    """``task``'s primary metric (y; weighted F1 for indications) against training time (x, log
    scale): one series per test split. By default the first classification task's."""
    task = task if task is not None else (classified_tasks(document) or [""])[0]
    points = scatter_points(document, task) if points is None else points
    figure = new_figure(8.0, 5.5)
    axes = figure.add_subplot()
    axes.set_xscale("log")
    times = {max(p.seconds, TIME_FLOOR_SECONDS) for series in points.values() for p in series}
    if len(times) == 1:  # one training time (only rule models, say): a log axis needs a range
        only = times.pop()
        axes.set_xlim(only / 10, only * 10)  # before any data, or autoscaling warns first
    # 0.01, 20, 100 rather than 10^-2, 2x10^1, 10^2: the readers are clinicians as much as engineers
    axes.xaxis.set_major_formatter(plain_log_formatter())
    axes.xaxis.set_minor_formatter(plain_log_formatter(labelOnlyBase=False))
    clipped = False
    anchors: dict[str, tuple[float, float]] = {}  # a model's splits share its x: one label per model
    _link_splits(axes, points)
    for index, (split, series) in enumerate(points.items()):
        xs = [max(p.seconds, TIME_FLOOR_SECONDS) for p in series]
        clipped |= any(p.seconds < TIME_FLOOR_SECONDS for p in series)
        # A log axis cannot go below the floor: shorten the lower time bar there.
        x_low = [
            x - max(p.seconds - p.seconds_sd, TIME_FLOOR_SECONDS) if p.seconds > TIME_FLOOR_SECONDS else 0.0
            for x, p in zip(xs, series)
        ]
        x_high = [p.seconds_sd if p.seconds > TIME_FLOOR_SECONDS else 0.0 for p in series]
        # One seed: no bars at all (zero-length bars would still draw their caps).
        spread = any(p.seeds > 1 for p in series)
        axes.errorbar(
            xs,
            [p.f1 for p in series],
            yerr=[p.f1_sd for p in series] if spread else None,
            xerr=[x_low, x_high] if spread else None,
            fmt=_MARKERS[index % len(_MARKERS)],
            markersize=7,
            capsize=3,
            alpha=0.85,
            label=user_text(split),
        )
        for x, p in zip(xs, series):
            anchors.setdefault(p.model, (x, p.f1))
    floor = f"; 0 s drawn at {TIME_FLOOR_SECONDS:g} s" if clipped else ""
    axes.set_xlabel(f"Training time (s, log scale{floor})")
    metric = scatter_metric(document, task)
    axes.set_ylabel(metric)
    axes.set_title(title(document, f"{metric} vs training time ({user_text(task)})"))
    axes.grid(True, which="major", alpha=0.3)
    # Outside the axes: inside, "best" still lands on a point as often as not.
    axes.legend(title="Test set", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    note = _seed_note(p for series in points.values() for p in series)
    if note:
        figure.supxlabel(note, fontsize=8)
    axes.margins(x=0.2)  # room for the labels of the right-most points
    markers = [(max(p.seconds, TIME_FLOOR_SECONDS), p.f1) for series in points.values() for p in series]
    _place_labels(figure, axes, anchors, markers)
    return figure


def heatmap_figure(document: dict[str, Any], data: Heatmap) -> Figure:
    """Models (rows) x categories (columns), each cell annotated with its F1; colour scale fixed 0..1."""
    import numpy as np

    values = np.array(data.values, dtype=float)
    rows, columns = values.shape
    figure = new_figure(max(6.0, 1.2 + 0.75 * columns), max(3.0, 1.8 + 0.4 * rows))
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(values), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    axes.set_xticks(
        range(columns),
        [user_text(c) for c in data.categories],
        rotation=45,
        ha="right",
        rotation_mode="anchor",
        fontsize=8,
    )
    axes.set_yticks(range(rows), [user_text(m) for m in data.models], fontsize=8)
    for i in range(rows):
        for j in range(columns):
            value = values[i, j]
            text = "–" if np.isnan(value) else f"{value:.2f}"
            # dark text on viridis' light (yellow) end, light text on its dark end
            colour = "black" if not np.isnan(value) and value > 0.6 else "white"
            axes.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=axes, label="F1", fraction=0.05)
    where = f"{user_text(data.task)}: " if data.task else ""
    axes.set_title(title(document, f"Per-class F1, {where}{user_text(data.split)} test set"))
    return figure


def _stage(figure: Figure, path: Path, staged: list[tuple[str, Path]]) -> None:
    """Save ``figure`` to a temporary file beside ``path``; ``staged`` records it at once, so a
    failure mid-save still gets the temporary removed."""
    import matplotlib

    handle, temporary = temporary_beside(path, shared=True)  # private plots would hide them from the team
    staged.append((temporary, path))
    fmt = path.suffix.lstrip(".")
    # No date or random ids in the SVG: redrawing the same leaderboard gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else None
    with os.fdopen(handle, "wb") as stream, matplotlib.rc_context({"svg.hashsalt": "harness"}):
        figure.savefig(stream, format=fmt, dpi=150, metadata=metadata)
        stream.flush()
        os.fsync(stream.fileno())


def _figures(document: dict[str, Any]) -> list[tuple[str, Figure]]:
    """Per classification task, its scatter and a heatmap per test split. With one such task the
    files are named as ever; with several, each stem ends in ``-<task>``."""
    tasks = classified_tasks(document)
    figures: list[tuple[str, Figure]] = []
    used: set[str] = set()

    def unique(stem: str) -> str:
        found, suffix = stem, 2
        while found in used:  # "site a" and "site_a" must not overwrite each other
            found = f"{stem}-{suffix}"
            suffix += 1
        used.add(found)
        return found

    for task in tasks:
        tail = f"-{safe_name(task)}" if len(tasks) > 1 else ""
        points = scatter_points(document, task)
        figures.append((unique(SCATTER_STEM + tail), scatter_figure(document, points, task)))
        for split in points:
            figure = heatmap_figure(document, heatmap(document, split, task))
            figures.append((unique(HEATMAP_PREFIX + safe_name(split) + tail), figure))
    return [*figures, *curve_figures(document), *prompt_figures(document)]


def write_plots(document: dict[str, Any], out_dir: Path) -> list[Path]:
    """Draw every plot of ``document`` into ``out_dir`` as PNG and SVG; return the paths written.

    Nothing is written when no classification item passed. Every file is saved to a temporary
    name first and renamed only when all of them saved, so a failure leaves no plot, half or
    whole, from this call (and no temporary file); the error is raised.
    """
    if not classified(document):
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for stem, figure in _figures(document):
            for fmt in FORMATS:
                _stage(figure, out_dir / f"{stem}.{fmt}", staged)
        for temporary, path in staged:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        raise
    return [path for _, path in staged]


@hookimpl
def harness_write_artifacts(document: dict[str, Any], out_dir: Path) -> list[Path]:
    # The leaderboard is already on disk: a plot that fails must not cost the run its summary.
    try:
        return write_plots(document, out_dir)
    except Exception as err:
        print(f"harness: warning: plots not written ({type(err).__name__}: {err})", file=sys.stderr)
        return []
