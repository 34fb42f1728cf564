"""Classification tasks of any labels: multi-label, multi-class or binary, texts or text pairs.

A team's own task is a table of its config, no code (docs/your-own-task.md)::

    [tasks.smoking]
    kind = "classification"
    problem = "multi-class"
    train = { path = "data/train.csv", text_column = "note", label_column = "status" }
    eval = "data/eval.csv"
    [tasks.smoking.tests.site_b]
    path = "data/site_b.parquet"

Presets are tasks of this kind with some keys given: ``indications`` (the seed study's twelve
categories and embedded data) and the embedded examples (``harness/tasks/examples``). Every
one is scored the same way: each split at the model's own decision rule; the test sets also with
per-class thresholds tuned on eval (not for multi-class: argmax has none), calibration,
bootstrap intervals of the task's primary metric and F1 on rows unseen in train; across
models, paired comparisons and bands by the primary metric.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness import InputError, ScoreRequest, TaskSpec, hookimpl
from harness.model import train_rows_of
from harness.predictions import RowPredictions, SplitRows
from harness.scoring.budget import budget_statement
from harness.scoring.calibration import class_calibration
from harness.scoring.confusions import disagreement, error_analysis
from harness.scoring.decision import compared_words, costs_of, decide
from harness.scoring.evidence import compare_models, overlap_report, seen_in, site_shift
from harness.scoring.metrics import problem_report
from harness.scoring.stats import bootstrap_ci
from harness.scoring.thresholds import apply_tuned, tune_thresholds
from harness.scoring.tokenisation import analyse, clinical_terms
from harness.tables import Table
from harness.task import SummaryRequest
from harness.tasks.classification.learning_curve import learning_curve
from harness.tasks.classification.loading import TASK_KEYS, EvidenceSettings, Preset, keys, load

KIND = "classification"
# Training-split metrics only show over- or under-fitting, and an LLM on a CPU takes minutes
# to predict thousands of rows: the train split is scored on a fixed sample of this many rows.
TRAIN_SCORE_ROWS = 300
# The keys a preset's user may still set (its labels and problem are the preset's).
PRESET_KEYS = TASK_KEYS - {"kind", "problem", "labels", "label_name"}


def scored_rows(split: Any) -> Any:
    """The rows a split is scored on: all of them, or the fixed train sample (seed 0)."""
    return split.sample(TRAIN_SCORE_ROWS, seed=0) if split.name == "train" else split


def score(request: ScoreRequest) -> dict[str, Any]:
    """Every split at the model's own decision rule; the test sets also with thresholds tuned on
    eval, calibration, bootstrap CIs, F1 on rows unseen in train and input lengths."""
    classifier = request.fitted().classifier
    data, labels, rule = request.data, request.data.labels, classifier.decision_rule
    setup = data.setup
    problem = setup.problem if setup else "multi-label"
    settings: EvidenceSettings = data.extra["evidence"]
    rows = {name: scored_rows(split) for name, split in data.splits.items()}
    scores, demonstrations, test_seconds = {}, {}, 0.0
    for name, split in rows.items():
        started = time.perf_counter()
        scores[name] = classifier.predict_scores(list(split.inputs))
        if name in data.test_splits:  # eval's scores may be cached from training: not a latency
            test_seconds += time.perf_counter() - started
        demonstrations[name] = demonstrations_of(classifier, len(split))
    predictions = {name: rule.apply(values) for name, values in scores.items()}
    request.keep_rows(
        RowPredictions(
            task="",  # the runner names it (the request does not know its task's name)
            model=request.model.name,
            seed=request.seed,
            problem=problem,
            labels=tuple(labels),
            decision_rule=rule.as_dict(),
            splits=tuple(
                split_rows(split, predictions[name], scores[name], demonstrations[name]) for name, split in rows.items()
            ),
        )
    )

    def report(y: np.ndarray, predicted: np.ndarray, values: np.ndarray) -> dict[str, Any]:
        return problem_report(problem, y, predicted, values, labels)

    tests = data.test_splits
    result: dict[str, Any] = {
        "problem": problem,
        "primary_metric": data.extra.get("primary_metric", "f1_weighted"),
        "metrics": {name: report(rows[name].y, predictions[name], scores[name]) for name in scores},
        "decision_rule": rule.as_dict(),
    }
    if not rule.argmax:  # argmax has no threshold to tune
        tuned = tune_thresholds(data.splits["eval"].y, scores["eval"], labels, rule)  # eval only
        result["tuned_thresholds"] = tuned.to_dict()
        result["metrics_tuned"] = {
            name: report(split.y, apply_tuned(rule, scores[name], tuned, labels), scores[name])
            for name, split in tests.items()
        }
    result["calibration"] = {
        name: class_calibration(data.splits[name].y, scores[name], labels) for name in ("eval", *tests)
    }
    result["confidence_intervals"] = {
        name: bootstrap_ci(
            split.y, predictions[name], labels, resamples=settings.resamples, seed=settings.bootstrap_seed
        ).to_dict()
        for name, split in tests.items()
    }
    # "Unseen" means unseen by this fit: a row-sampled fit (a CPU recipe) saw only its sample.
    train = data.splits["train"]
    train_keys = keys(train)
    seen_train = [train_keys[i] for i in train_rows_of(classifier, len(train))]
    # Unseen: not in train even ignoring case and spacing (a lowercasing model saw those rows);
    # metrics_unseen_exact keeps the verbatim match beside it.
    for field, normalised in (("metrics_unseen", True), ("metrics_unseen_exact", False)):
        result[field] = {}
        for name, split in tests.items():
            unseen = ~seen_in(seen_train, keys(split), normalised=normalised)
            if unseen.any():
                result[field][name] = report(split.y[unseen], predictions[name][unseen], scores[name][unseen])
    result["inference"] = _inference(tests, test_seconds)
    result["error_analysis"] = {
        name: error_analysis(split.y, predictions[name], labels) for name, split in tests.items()
    }
    length_report = getattr(classifier, "length_report", None)
    if length_report is not None:
        lengths = {name: length_report(list(split.inputs)) for name, split in tests.items()}
        if any(lengths.values()):
            result["length"] = {name: dict(value) for name, value in lengths.items() if value}
    prompting_report = getattr(classifier, "prompting_report", None)  # a prompted (served) model
    if prompting_report is not None:
        prompting = {name: prompting_report(list(split.inputs)) for name, split in rows.items()}
        if any(prompting.values()):
            result["prompting"] = {name: dict(value) for name, value in prompting.items() if value}
    request.retain("test_predictions", {name: predictions[name] for name in tests})
    tokenizer = getattr(classifier, "tokenizer", None)  # baselines have none: no analysis
    terms = data.extra.get("terms")
    if tokenizer is not None and terms is not None:
        texts = {name: split.texts for name, split in tests.items()}
        result["tokenisation"] = analyse(tokenizer, texts, clinical_terms(terms))
    return result


def demonstrations_of(classifier: Any, size: int) -> list[Any] | None:
    """A prompted model's ``last_demonstrations`` (per input of its last ``predict_scores``, the
    row ids of the examples it was shown, or None), if it gives one of the right length."""
    given = getattr(classifier, "last_demonstrations", None)
    if given is None or len(given) != size:
        return None
    return [None if ids is None else [str(i) for i in ids] for ids in given]


def split_rows(split: Any, predicted: np.ndarray, values: np.ndarray, demonstrations: list[Any] | None) -> SplitRows:
    """One scored split's per-row predictions, its rows placed in their file; never its text."""
    origin = split.origin
    source = {"sha256": split.sha256, "source": split.source}
    if origin is not None:
        source.update(
            path=origin.path,
            format=origin.format,
            delimiter=origin.delimiter,
            text_column=origin.text_column,
            text_pair_column=origin.text_pair_column,
            id_column=origin.id_column,
        )
    return SplitRows(
        split=split.name,
        rows=split.file_rows(),
        gold=np.asarray(split.y, dtype=np.int8),
        predicted=np.asarray(predicted, dtype=np.int8),
        scores=np.asarray(values, dtype=np.float64),
        ids=None if origin is None else origin.ids,
        demonstrations=demonstrations,
        source=source,
    )


def _inference(tests: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    inputs = sum(len(split) for split in tests.values())
    return {
        "inputs": inputs,
        "seconds": seconds,
        "seconds_per_input": seconds / inputs if inputs else None,
        "inputs_per_second": inputs / seconds if seconds > 0 else None,
    }


def summarise(request: SummaryRequest) -> dict[str, Any]:
    """Across models and seeds, per test set: comparisons and bands by the primary metric; site
    shift; overlap; the decision; with ``--train-sizes``, the learning curve."""
    data, labels = request.data, request.data.labels
    settings: EvidenceSettings = data.extra["evidence"]
    tests = data.test_splits
    stacked, excluded = _stacked_predictions(request)
    comparisons = {
        name: compare_models(
            split.y,
            {model: by_split[name] for model, by_split in stacked.items()},
            labels,
            metric=settings.metric,
            resamples=settings.resamples,
            permutations=settings.permutations,
            alpha=settings.alpha,
            seed=settings.bootstrap_seed,
        )
        for name, split in tests.items()
    }
    reference = settings.reference_test or next(iter(tests))
    shift = {
        model: {
            other: site_shift(
                tests[reference].y,
                by_split[reference],
                split.y,
                by_split[other],
                labels,
                resamples=settings.resamples,
                seed=settings.bootstrap_seed,
            )
            for other, split in tests.items()
            if other != reference
        }
        for model, by_split in stacked.items()
    }
    summary = {
        "disagreement": {
            name: disagreement(split.y, {model: by_split[name] for model, by_split in stacked.items()})
            for name, split in tests.items()
        },
        "seeds": list(request.seeds),
        "excluded": excluded,
        "comparisons": comparisons,
        "site_shift": {"reference": reference, "models": shift},
        "overlap": overlap_report(keys(data.splits["train"]), {name: keys(split) for name, split in tests.items()}),
        "decision": decide(
            comparisons,
            costs_of(request.items),
            failed={e["model"] for e in excluded},
            metric_name=compared_words(settings.metric, data.extra.get("primary_metric", "f1_weighted")),
            budget=budget_statement(request.search) if request.search else None,
        ),
    }
    if request.curve is not None:  # harness run --train-sizes
        summary["learning_curve"] = learning_curve(request)
    return summary


def _stacked_predictions(request: SummaryRequest) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Per model with every seed passed: each test set's predictions stacked (seeds, items, labels)."""
    by_model: dict[str, dict[int, Mapping[str, Any]]] = {}
    for item in request.items:
        by_model.setdefault(item.model, {})[item.seed] = item.retained["test_predictions"]
    stacked, excluded = {}, []
    for model, by_seed in by_model.items():
        missing = [seed for seed in request.seeds if seed not in by_seed]
        if missing:
            excluded.append({"model": model, "reason": f"no result for seed(s) {', '.join(map(str, missing))}"})
            continue
        splits = by_seed[request.seeds[0]]
        stacked[model] = {name: np.stack([by_seed[seed][name] for seed in request.seeds]) for name in splits}
    return stacked, excluded


def task_spec(
    name: str,
    description: str,
    preset: Preset | None = None,
    config_keys: frozenset[str] = TASK_KEYS,
    profile_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    in_all: bool = True,
) -> TaskSpec:
    """A classification task: a preset's, or the one a config table defines (``preset`` empty)."""
    return TaskSpec(
        name=name,
        description=description,
        fits_on=name,
        load=lambda request: load(request, name, preset or Preset()),
        score=score,
        summarise=summarise,
        config_keys=config_keys,
        profile_defaults=profile_defaults or {"smoke": {"permutations": 2000}},
        in_all=in_all,
    )


def from_config(name: str, table: Mapping[str, Any], where: str) -> TaskSpec:
    """The task ``[tasks.NAME] kind = "classification"`` defines (its keys are checked on load)."""
    for key in table:
        if key not in TASK_KEYS:
            raise InputError(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(TASK_KEYS))}")
    description = table.get("description", f"{table.get('problem', 'multi-label')} classification (from the config)")
    if not isinstance(description, str):
        raise InputError(f"{where}.description", f"expected a string, got {description!r}")
    return task_spec(name, description)


@hookimpl
def harness_add_tasks(register) -> None:
    register.add_kind(KIND, from_config)


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """Every classification task's tables (overall, per class, by problem, lengths, evidence)."""
    from harness.tasks.classification.tables import classification_tables, classification_tasks

    return [table for task in classification_tasks(document) for table in classification_tables(document, task)]
