"""Tables of the evidence behind a choice: comparisons and bands, thresholds, calibration, site
shift, prevalence, train/test overlap and cost, built from a leaderboard document.

Like :mod:`harness.tables`, whose :class:`Table` they return, these read only the document, so
``harness show`` re-renders a published leaderboard as the run printed it. With several seeds
a model's numbers are means over its seeds (± the sample sd where the table says so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from harness.privacy import shown_count
from harness.scoring.decision import pairs_inside_bands
from harness.scoring.stats import mean_sd, smallest_adjusted_p
from harness.tables import (
    METRICS,
    Table,
    grouped_by_model,
    human_count,
    human_seconds,
    mean_sd_cell,
    passed_entries,
    primary_metric_of,
    signed,
    test_splits,
)


@dataclass(frozen=True)
class ShownTask:
    """What the tables of one classification task need to know beyond its results: its name,
    its problem and the metric it is judged by (both read from its items)."""

    task: str
    problem: str = "multi-label"
    primary_metric: str = "f1_weighted"

    @property
    def key(self) -> str:
        return METRICS[self.primary_metric][0]

    @property
    def label(self) -> str:
        return METRICS[self.primary_metric][2]

    def value(self, report: dict[str, Any]) -> float:
        """The primary metric of a metrics report, read under its equal twin's key where the
        report has only that one (a tuned or unseen-rows report written as multi-label)."""
        key, twin, _ = METRICS[self.primary_metric]
        return report[key] if key in report else report[twin]

    def compared(self, metric: str) -> str:
        """The words for a comparison's ``metric`` (a key of ``confidence_intervals``)."""
        if self.problem == "multi-class" and metric == "f1_micro":
            return "accuracy"
        if self.problem == "binary" and metric == "f1_weighted":
            return "F1"
        return METRICS[metric][2]


def shown_task(document: dict[str, Any], task: str) -> ShownTask:
    """The task's problem and primary metric from its first passed item; an older leaderboard's
    items have neither: multi-label, judged by weighted F1 (the indications task's set-up)."""
    entries = passed_entries(document["results"], task)
    first = next(iter(entries), {})
    return ShownTask(task, first.get("problem", "multi-label"), primary_metric_of(entries))


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _interval(low: float, high: float, with_sign: bool = False) -> str:
    form = signed if with_sign else _f
    return f"[{form(low)}, {form(high)}]"


def _mean(entries: Iterable[dict[str, Any]], value: Callable[[dict[str, Any]], float | None]) -> float | None:
    values = [v for v in (value(e) for e in entries) if v is not None]
    return mean_sd(values)[0] if values else None


def _seeds_note(document: dict[str, Any]) -> str:
    seeds = document["run"]["seeds"]
    return f"mean over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"


def _synthetic_note(document: dict[str, Any]) -> str:
    return " SYNTHETIC data (not patient records)." if document["run"].get("synthetic_data") else ""


# --------------------------------------------------------------------------- comparisons


def comparison_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    """Per test set: models in bands of statistically indistinguishable scores (the summary's metric)."""
    summary = document.get("summaries", {}).get(shown.task, {})
    tables = []
    for split, comparison in summary.get("comparisons", {}).items():
        pairs = {(p["a"], p["b"]): p for p in comparison["pairs"]}
        ranked = comparison["models"]
        rows = []
        for index, model in enumerate(ranked):
            step = "–"
            if index + 1 < len(ranked):
                below = ranked[index + 1]["model"]
                pair = pairs.get((model["model"], below))
                if pair is not None:
                    step = (
                        f"{signed(pair['difference'])} {_interval(pair['ci_low'], pair['ci_high'], True)}, "
                        f"p = {pair['p_holm']:.3g}"
                    )
            rows.append(
                (
                    str(model["band"]),
                    model["model"],
                    _f(model["estimate"]),
                    _interval(model["low"], model["high"]),
                    step,
                )
            )
        metric = comparison["metric"]
        # "f1 weighted" as the indications task always printed it; named words where they differ
        named = shown.compared(metric)
        words = metric.replace("_", " ") if named == METRICS[metric][2] else f"{named} ({metric.replace('_', ' ')})"
        caption = (
            f"{words}, {_seeds_note(document)}; "
            f"{int(comparison['confidence'] * 100)}% percentile bootstrap CIs ({comparison['resamples']} resamples, "
            f"seed {comparison['bootstrap_seed']}); paired permutation tests ({_permutations(comparison)}), "
            f"Holm-adjusted over {len(comparison['pairs'])} pairs. Every model in a band is better than every model "
            f"in the bands below (adjusted p ≤ {comparison['alpha']}); {_inside(comparison)}"
            f"{_synthetic_note(document)}"
        )
        excluded = summary.get("excluded", [])
        if excluded:
            caption += " Not compared: " + "; ".join(f"{e['model']} ({e['reason']})" for e in excluded) + "."
        headers = ("Band", "Model", _capital(named), "95% CI", "vs next: Δ [95% CI], Holm p")
        tables.append(Table(f"Model comparison ({split} test set)", headers, tuple(rows), caption))
    return tables


def _permutations(comparison: dict[str, Any]) -> str:
    used, asked = comparison["permutations"], comparison.get("permutations_requested")
    raised = f", raised from {asked} so that {len(comparison['pairs'])} pairs can be significant" if asked else ""
    return f"{used} per pair{raised}"


def _inside(comparison: dict[str, Any]) -> str:
    """What a band means, and the significant pairs it holds (or that no pair could be significant)."""
    pairs, alpha = len(comparison["pairs"]), comparison["alpha"]
    smallest = smallest_adjusted_p(pairs, comparison["permutations"])
    if smallest > alpha:
        return (
            f"with {pairs} pairs and {comparison['permutations']:,} permutations the smallest Holm-adjusted p "
            f"possible is {smallest:.3g}, above {alpha}: no pair could be significant, so one band says nothing."
        )
    inside = pairs_inside_bands(comparison)
    meaning = "no band boundary separates the models of one band, but that does not make them equal"
    if not inside:
        return f"{meaning}; here no pair inside a band is significant."
    listed = "; ".join(f"{p['better']} > {p['worse']} (band {p['band']}, p = {p['p_holm']:.3g})" for p in inside)
    return f"{meaning}: significant pairs inside a band: {listed}."


# --------------------------------------------------------------------------- thresholds, calibration


def threshold_table(document: dict[str, Any], shown: ShownTask) -> Table | None:
    """The primary metric at the model's own rule beside per-class thresholds tuned on eval
    (none for multi-class: its rule is the argmax, there is no threshold to tune)."""
    grouped = {
        m: e
        for m, e in grouped_by_model(passed_entries(document["results"], shown.task)).items()
        if "metrics_tuned" in e[0]
    }
    if not grouped:
        return None
    splits = test_splits([e for entries in grouped.values() for e in entries])
    rows = []
    for model, entries in grouped.items():
        cells = []
        for split in splits:
            fixed = [shown.value(e["metrics"][split]) for e in entries if split in e["metrics"]]
            tuned = [shown.value(e["metrics_tuned"][split]) for e in entries if split in e["metrics_tuned"]]
            cells += [mean_sd_cell(fixed, 3), mean_sd_cell(tuned, 3)]
        searched = _mean(entries, lambda e: sum(e["tuned_thresholds"]["tuned"].values())) or 0.0
        rows.append((model, *cells, f"{searched:.0f}" if float(searched).is_integer() else f"{searched:.1f}"))
    headers = (
        "Model",
        *(f"{s.capitalize()} {rule}" for s in splits for rule in ("F1 fixed", "F1 tuned")),
        "Classes searched",
    )
    caption = (
        f"{shown.label}; fixed = the model's own decision rule (0.5 for sigmoid scores); tuned = one threshold "
        f"per class chosen on the eval split only (grid 0.05–0.95), from the logits of the epoch that eval chose, "
        f"never on a test set; {_seeds_note(document)}." + _synthetic_note(document)
    )
    return Table("Decision thresholds: fixed vs tuned on eval", headers, tuple(rows), caption)


def calibration_table(document: dict[str, Any], shown: ShownTask) -> Table | None:
    grouped = {
        m: e
        for m, e in grouped_by_model(passed_entries(document["results"], shown.task)).items()
        if "calibration" in e[0]
    }
    if not grouped:
        return None
    rows = []
    for model, entries in grouped.items():
        for split in entries[0]["calibration"]:
            if split == "eval":
                continue
            cells = [
                _f(_mean(entries, lambda e, q=q, split=split: e["calibration"][split]["macro"][q]))
                for q in ("ece", "brier", "pr_auc", "roc_auc")
            ]
            rows.append((model, split, *cells))
    first = next(iter(grouped.values()))[0]["calibration"]
    classes = len(next(iter(first.values()))["per_class"])
    over = (
        "the positive label's" if shown.problem == "binary" else f"mean over the {classes} classes (where defined) of"
    )
    caption = (
        f"{over}: expected calibration error (10 equal-width bins), "
        "Brier score, PR-AUC (average precision), ROC-AUC; per class in the leaderboard. Rule-based and "
        f"zero-shot scores are not probabilities of each class; read their ECE with that in mind. "
        f"{_seeds_note(document)}.{_synthetic_note(document)}"
    )
    return Table(
        "Calibration and ranking", ("Model", "Test set", "ECE", "Brier", "PR-AUC", "ROC-AUC"), tuple(rows), caption
    )


# --------------------------------------------------------------------------- site shift, prevalence, overlap


def site_shift_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    shift = document.get("summaries", {}).get(shown.task, {}).get("site_shift")
    if not shift or not shift["models"]:
        return []
    models = list(shift["models"])
    others = list(dict.fromkeys(o for by_other in shift["models"].values() for o in by_other))
    tables = []
    for other in others:
        first = next(by_other[other] for by_other in shift["models"].values() if other in by_other)
        rows = []
        for name in ["f1_weighted", *first["per_class_f1"]]:
            cells = []
            for model in models:
                found = shift["models"][model].get(other)
                if found is None:
                    cells.append("–")
                    continue
                d = found["f1_weighted"] if name == "f1_weighted" else found["per_class_f1"][name]
                if d["difference"] is None:  # no row of the class and none predicted on one of the sets
                    cells.append("–")
                    continue
                cells.append(f"{signed(d['difference'])} {_interval(d['low'], d['high'], True)}")
            rows.append((shown.compared("f1_weighted") if name == "f1_weighted" else name, *cells))
        caption = (
            f"F1 on {other} minus F1 on {shift['reference']} with {int(first['confidence'] * 100)}% bootstrap "
            f"intervals (each test set resampled on its own, {first['resamples']} resamples); "
            f"{_seeds_note(document)}; an interval that excludes 0 is a shift beyond sampling noise."
            + _synthetic_note(document)
        )
        tables.append(Table(f"Site shift: {other} − {shift['reference']}", ("Category", *models), tuple(rows), caption))
    return tables


# What a prevalence column adds up to, per problem.
PREVALENCE = {
    "multi-label": "share of rows with each category (a row may have several)",
    "multi-class": "share of rows with each category (one per row)",
    "binary": "share of rows with the positive label",
}


def prevalence_table(document: dict[str, Any], shown: ShownTask) -> Table | None:
    provenance = [p for p in document["run"]["data"].get(shown.task, []) if "support" in p]
    if not provenance:
        return None
    categories = list(provenance[0]["support"])
    rows = [(category, *(_share(p, category, document) for p in provenance)) for category in categories]
    rows.append(("rows", *(str(p["rows"]) for p in provenance)))
    synthetic = [p["split"] for p in provenance if p["synthetic"]]
    caption = PREVALENCE[shown.problem]
    if synthetic:
        caption += f"; SYNTHETIC splits: {', '.join(synthetic)}"
    return Table("Prevalence per split", ("Category", *(p["split"] for p in provenance)), tuple(rows), caption)


def _share(split: dict[str, Any], category: str, document: dict[str, Any]) -> str:
    """A category's share of a split's rows; ``<k rows`` where its count was suppressed."""
    count = split["support"][category]
    if count is None:
        return f"{shown_count(count, document)} rows"
    return f"{100 * count / split['rows']:.1f}%" if split["rows"] else "–"


def overlap_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    overlap = document.get("summaries", {}).get(shown.task, {}).get("overlap")
    if not overlap:
        return []
    rows = [
        (
            split,
            str(o["rows"]),
            f"{o['rows_in_train']} ({100 * o['rows_in_train_share']:.0f}%)",
            str(o["rows_in_train_normalised"]),
            f"{o['distinct_in_train']}/{o['distinct']}",
        )
        for split, o in overlap.items()
    ]
    counts = Table(
        "Train/test overlap",
        ("Test set", "Rows", "Rows in train", "Ignoring case/spaces", "Distinct strings in train"),
        tuple(rows),
        "exact string matches with the training split; clinical indications repeat verbatim, "
        "so a model that memorises looks better on the seen rows than it is" + _synthetic_note(document),
    )
    grouped = {
        m: e
        for m, e in grouped_by_model(passed_entries(document["results"], shown.task)).items()
        if "metrics_unseen" in e[0]
    }
    splits = list(overlap)
    model_rows = []
    for model, entries in grouped.items():
        cells = []
        for split in splits:
            cells.append(mean_sd_cell([shown.value(e["metrics"][split]) for e in entries if split in e["metrics"]], 3))
            for normalised in (True, False):
                reports = [found for e in entries if (found := _unseen_report(e, split, normalised)) is not None]
                cells.append(mean_sd_cell([shown.value(report) for report in reports], 3))
        model_rows.append((model, *cells))
    which = ("all rows", "unseen", "unseen verbatim")
    headers = ("Model", *(f"{s.capitalize()} {w}" for s in splits for w in which))
    unseen = Table(
        f"{_capital(shown.label)} on strings unseen in training",
        headers,
        tuple(model_rows),
        "unseen = the test rows whose text does not occur in the training rows that model's fit trained on "
        "(a row-sampled fit, e.g. a CPU recipe's, saw only its sample) even ignoring case and spaces, the "
        "overlap table's match; unseen verbatim = not there as the exact string, so it also counts case and "
        f"spacing variants of training rows (– in a leaderboard written before both were kept); {_seeds_note(document)}",
    )
    return [counts, unseen] if model_rows else [counts]


def _unseen_report(entry: dict[str, Any], split: str, normalised: bool) -> dict[str, Any] | None:
    """An item's report on a test set's unseen rows, by the normalised or the verbatim match. A
    leaderboard written before ``metrics_unseen_exact`` holds the verbatim one, as metrics_unseen."""
    if "metrics_unseen_exact" in entry:
        return entry["metrics_unseen" if normalised else "metrics_unseen_exact"].get(split)
    return None if normalised else entry.get("metrics_unseen", {}).get(split)


# --------------------------------------------------------------------------- cost


def _flops(x: float | None) -> str:
    if x is None:
        return "–"
    exponent = len(f"{int(x):d}") - 1
    return f"{x / 10**exponent:.1f}e{exponent}"


def cost_table(document: dict[str, Any], shown: ShownTask) -> Table | None:
    grouped = grouped_by_model(passed_entries(document["results"], shown.task))
    if not grouped:
        return None
    rows = []
    for model, entries in grouped.items():
        info = entries[0]["model_info"]
        latency = _mean(entries, lambda e: (e.get("inference") or {}).get("seconds_per_input"))
        throughput = _mean(entries, lambda e: (e.get("inference") or {}).get("inputs_per_second"))
        rows.append(
            (
                model,
                human_count(info["params"]),
                human_count(info["trainable_params"]),
                human_seconds(_mean(entries, lambda e: e["cost"]["train_seconds"])),
                _flops(_mean(entries, lambda e: e["cost"].get("train_flops_estimate"))),
                "–" if latency is None else f"{1000 * latency:.2f}",
                "–" if throughput is None else f"{throughput:.0f}",
                _f(_mean(entries, lambda e: e["cost"]["peak_rss_mb"]), 0),
                _f(_mean(entries, lambda e: e["cost"]["peak_cuda_mb"]), 0),
            )
        )
    headers = (
        "Model",
        "Params",
        "Trainable",
        "Training time",
        "Train FLOPs (est.)",
        "ms/input",
        "Inputs/s",
        "Peak RSS MB",
        "Peak CUDA MB",
    )
    caption = (
        f"on {document['run']['device']}; FLOPs ≈ (4 N + 2 N_trainable) × training tokens, not for classical "
        f"models; latency = test-set prediction time / inputs, in the recipe's batches; {_seeds_note(document)}"
    )
    return Table("Cost", headers, tuple(rows), caption)


def evidence_tables(document: dict[str, Any], shown: ShownTask) -> list[Table]:
    tables: list[Table | None] = [
        *comparison_tables(document, shown),
        threshold_table(document, shown),
        calibration_table(document, shown),
        *site_shift_tables(document, shown),
        prevalence_table(document, shown),
        *overlap_tables(document, shown),
        cost_table(document, shown),
    ]
    return [t for t in tables if t is not None]
