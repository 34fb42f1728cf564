"""The tuning budget, shown (``harness run --tune``): per task, every model's search in a table,
every trial in another, the expected maximum eval score against the number of trials and against
training time as a table and a plot (PNG and SVG beside the leaderboard; inline in the page).

Everything is read from the leaderboard's ``search`` section alone, so ``harness show`` and the
page render a stored run exactly as it was printed. Eval scores of tuned models are selection
scores: every table says so.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import hookimpl
from harness.tables import METRICS, Table, human_seconds

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_PREFIX = "expected_max_"
_TIME_FLOOR = 0.01  # a 0 s trial (a rule table) on a log axis


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def config_text(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={_value(value)}" for key, value in config.items()) or "–"


def trial_line(trial: Mapping[str, Any]) -> str:
    """One trial in a line: its outcome, eval score, epochs, time and configuration."""
    parts = [trial["status"]]
    if trial.get("eval") is not None:
        parts.append(f"eval {trial['eval']:.3f}")
    if trial.get("epochs"):
        parts.append(f"{trial['epochs']} epoch{'s' if trial['epochs'] != 1 else ''}")
    if trial.get("seconds") is not None:
        parts.append(human_seconds(trial["seconds"]))
    if trial.get("attempts", 1) > 1:
        parts.append(f"{trial['attempts']} attempts")
    text = ", ".join(parts)
    if trial.get("error"):
        text += f" ({trial['error']})"
    return f"{text}; {config_text(trial.get('config', {}))}"


def search_line(record: Mapping[str, Any]) -> str:
    """A model's search in a line: untuned and why, or its default and tuned eval scores."""
    if record["status"] == "untuned":
        return f"not tuned: {record.get('reason') or 'no search space'}; its recipe runs"
    trials = record["trials"]
    if record["status"] == "failed":
        return f"{len(trials)} trials, none finished: its recipe runs"
    chosen = record["chosen_trial"]
    which = "the recipe kept" if chosen == 0 else f"trial {chosen} chosen: {config_text(record['chosen'])}"
    return (
        f"{len(trials)} trials on eval, {_score(record['default_eval'])} with its recipe → "
        f"{_score(record['tuned_eval'])} (a selection score); {which}"
    )


def _metric_words(entry: Mapping[str, Any]) -> str:
    primary = entry.get("primary_metric")
    return METRICS[primary][2] if primary in METRICS else entry.get("metric", "eval score")


def _budget_text(budget: Mapping[str, Any]) -> str:
    amount = []
    if budget.get("trials"):
        amount.append(f"{budget['trials']} trials")
    if budget.get("time_seconds"):
        amount.append(human_seconds(budget["time_seconds"]))
    return (
        f"budget per model: {' or '.join(amount)}; Optuna TPE (seed {budget['searcher_seed']}), ASHA on each "
        f"epoch's eval score, {budget['max_concurrent_trials']} trial(s) at a time"
    )


def budget_table(task: str, entry: Mapping[str, Any], search: Mapping[str, Any]) -> Table:
    metric = _metric_words(entry)
    rows = []
    for model, record in entry["models"].items():
        trials = record["trials"]
        counts = {
            status: sum(t["status"] == status for t in trials) for status in ("completed", "stopped early", "failed")
        }
        epochs = "–"
        if record.get("epochs_planned"):
            epochs = f"{record['epochs_run']} of {record['epochs_planned']}"
        seconds = sum(t["seconds"] or 0.0 for t in trials)
        chosen = "recipe (trial 0)" if record.get("chosen_trial") == 0 else config_text(record.get("chosen") or {})
        rows.append(
            (
                model,
                record["status"] if record["status"] != "untuned" else f"untuned: {record.get('reason')}",
                str(len(trials)),
                f"{counts['completed']} / {counts['stopped early']} / {counts['failed']}",
                epochs,
                human_seconds(seconds) if trials else "–",
                _score(record.get("default_eval")),
                _score(record.get("tuned_eval")),
                chosen if record["status"] == "tuned" else "–",
            )
        )
    headers = (
        "Model",
        "Search",
        "Trials",
        "Completed / stopped / failed",
        "Epochs run of planned",
        "Trial time",
        f"Eval {metric}, recipe",
        f"Eval {metric}, tuned",
        "Chosen configuration",
    )
    caption = f"{_budget_text(search['budget'])}. {search['note']}"
    return Table(f"Search budget ({task})", headers, tuple(rows), caption)


def trials_table(task: str, entry: Mapping[str, Any]) -> Table:
    rows = []
    for model, record in entry["models"].items():
        for trial in record["trials"]:
            rows.append(
                (
                    model,
                    str(trial["trial"]) + (" (recipe)" if trial["trial"] == 0 else ""),
                    trial["status"] + (f": {trial['error']}" if trial.get("error") else ""),
                    config_text(trial["config"]),
                    " ".join(f"{v:.3f}" for v in trial["eval_by_epoch"]) or "–",
                    _score(trial["eval"]),
                    human_seconds(trial["seconds"]),
                    str(trial["attempts"]),
                )
            )
    headers = ("Model", "Trial", "Status", "Configuration", "Eval by epoch", "Eval (best)", "Time", "Attempts")
    caption = (
        "every trial fitted on train and scored on eval only; a trial stopped early by ASHA keeps the best "
        "score it reached; a lost worker's trial runs once more (attempts)"
    )
    return Table(f"Search trials ({task})", headers, tuple(rows), caption)


def curve_table(task: str, entry: Mapping[str, Any]) -> Table | None:
    curves = {model: r["curve"] for model, r in entry["models"].items() if r["status"] == "tuned" and r.get("curve")}
    if not curves:
        return None
    longest = max(len(c) for c in curves.values())
    rows = []
    for n in range(1, longest + 1):
        cells = [str(n)]
        for curve in curves.values():
            point = curve[n - 1] if n <= len(curve) else None
            cells.append("–" if point is None else f"{point['expected_max']:.3f} ({human_seconds(point['seconds'])})")
        rows.append(tuple(cells))
    caption = (
        f"expected best eval {_metric_words(entry)} of n trials drawn from the search's trials (Dodge et al. 2019; "
        "unbiased estimator of Tang et al. 2020); in brackets, n trials' expected training time. Where two "
        "columns swap order, the verdict depends on the budget"
    )
    return Table(f"Expected maximum eval score by trials ({task})", ("Trials", *curves), tuple(rows), caption)


def search_tables(document: Mapping[str, Any]) -> list[Table]:
    search = document.get("search")
    if not search:
        return []
    tables: list[Table] = []
    for task, entry in search["tasks"].items():
        tables.append(budget_table(task, entry, search))
        if any(record["trials"] for record in entry["models"].values()):
            tables.append(trials_table(task, entry))
        curve = curve_table(task, entry)
        if curve is not None:
            tables.append(curve)
    return tables


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    return search_tables(document)


# --------------------------------------------------------------------------- the plot


def curve_figure(document: Mapping[str, Any], task: str) -> Figure | None:
    """Expected maximum eval score against trials (left) and against training time (right, log)."""
    from harness.report.figures import new_figure, title, user_text

    entry = document["search"]["tasks"][task]
    curves = {model: r["curve"] for model, r in entry["models"].items() if r["status"] == "tuned" and r.get("curve")}
    if not curves:
        return None
    figure = new_figure(10.0, 4.2)
    by_trials, by_time = figure.subplots(1, 2, sharey=True)
    for model, curve in curves.items():
        ys = [p["expected_max"] for p in curve]
        by_trials.plot([p["trials"] for p in curve], ys, marker="o", markersize=4, label=user_text(model))
        by_time.step([max(p["seconds"], _TIME_FLOOR) for p in curve], ys, where="post", marker="o", markersize=4)
    metric = _metric_words(entry)
    by_trials.set_xlabel("Trials (n)")
    by_trials.set_ylabel(f"Expected max eval {metric}")
    by_time.set_xlabel("Training time of n trials (s, log scale)")
    by_time.set_xscale("log")
    for axes in (by_trials, by_time):
        axes.grid(True, alpha=0.3)
    by_trials.legend(fontsize=8)
    figure.suptitle(title(dict(document), f"Expected maximum eval {metric} vs budget ({user_text(task)})"), fontsize=10)
    figure.supxlabel("eval scores are selection scores; Dodge et al. 2019, Tang et al. 2020 estimator", fontsize=8)
    return figure


def search_figures(document: Mapping[str, Any]) -> list[tuple[str, Figure]]:
    from harness.report.figures import safe_name

    figures = []
    for task in (document.get("search") or {}).get("tasks", {}):
        figure = curve_figure(document, task)
        if figure is not None:
            figures.append((PLOT_PREFIX + safe_name(task), figure))
    return figures


def svg_text(figure: Figure) -> str:
    """The figure as SVG markup (the page inlines it: nothing is fetched)."""
    import io

    import matplotlib

    stream = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "harness"}):
        figure.savefig(stream, format="svg", metadata={"Date": None})
    text = stream.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.DOTALL)
    return text


def write_search_plots(document: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """The expected-max plots of ``document`` as PNG and SVG in ``out_dir``, each whole or not at all."""
    import os

    from harness.report.plots import FORMATS, _stage

    figures = search_figures(document)
    if not figures:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for stem, figure in figures:
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
    try:
        return write_search_plots(document, Path(out_dir))
    except Exception as err:  # the leaderboard is on disk already: a plot must not cost the run
        print(f"harness: warning: search plots not written ({type(err).__name__}: {err})", file=sys.stderr)
        return []
