"""The ``indications`` task: multi-label classification of antibiotic indications.

Twelve infection-source categories, as in the seed study. Default data is the embedded
SYNTHETIC set (``harness/tasks/*/data``, see harness/tasks/indications/README.md); ``[tasks.indications]`` in
the config points any split at the user's CSV or JSONL files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import InputError, LoadRequest, ScoreRequest, TaskData, TaskSpec, hookimpl
from harness.data import LabelledSplit, load_split
from harness.errors import warn
from harness.leaderboard import SYNTHETIC_NOTE
from harness.model import train_rows_of
from harness.scoring.calibration import class_calibration
from harness.scoring.decision import costs_of, decide
from harness.scoring.evidence import compare_models, overlap_report, seen_in, site_shift
from harness.scoring.metrics import multilabel_report
from harness.scoring.stats import bootstrap_ci
from harness.scoring.thresholds import apply_tuned, tune_thresholds
from harness.scoring.tokenisation import analyse, clinical_terms
from harness.tables import Table
from harness.task import SummaryRequest, gather_splits
from harness.tasks.indications import terms as indication_terms

NAME = "indications"
CATEGORIES = (
    "urinary",
    "respiratory",
    "abdominal",
    "neurological",
    "skin_soft_tissue",
    "ent",
    "orthopaedic",
    "other_specific",
    "no_specific_source",
    "prophylaxis",
    "uncertainty",
    "not_informative",
)
EMBEDDED_SPLITS = ("train", "eval", "internal", "external")
SPLIT_KEYS = frozenset({"path", "text_column", "label_columns", "id_column", "synthetic", "public"})


def embedded_path(split: str) -> Path:
    return Path(str(files("harness.tasks.indications") / "data" / f"indications_{split}.csv"))


def _embedded(split: str) -> LabelledSplit:
    path = embedded_path(split)
    return load_split(split, path, CATEGORIES, source=f"embedded:{path.name}", synthetic=True, public=True)


def _user_split(name: str, table: Mapping[str, Any], where: str, request: LoadRequest) -> LabelledSplit:
    label_columns = table.get("label_columns", {})
    if isinstance(label_columns, list):  # columns given in category order
        if len(label_columns) != len(CATEGORIES):
            raise InputError(f"{where}.label_columns", f"a list needs {len(CATEGORIES)} columns, one per category")
        label_columns = dict(zip(CATEGORIES, label_columns))
    if not isinstance(label_columns, Mapping):
        raise InputError(f"{where}.label_columns", 'expected a table category = "column" or a list')
    id_column = table.get("id_column")
    if id_column is not None and not isinstance(id_column, str):
        raise InputError(f"{where}.id_column", f"expected a column name (a string), got {id_column!r}")
    return load_split(
        name,
        request.resolve(table["path"]),
        CATEGORIES,
        text_column=table.get("text_column", "text"),
        label_columns=label_columns,
        id_column=id_column,
        synthetic=bool(table.get("synthetic", False)),
        public=bool(table.get("public", False)),
    )


@dataclass(frozen=True)
class EvidenceSettings:
    """How uncertainty is estimated (``[tasks.indications]`` keys of the same names)."""

    resamples: int = 1000  # bootstrap resamples per interval
    bootstrap_seed: int = 0  # the same seed gives the same intervals, bit for bit
    permutations: int = 10_000  # per paired test; the smallest p-value is 1 / (permutations + 1)
    alpha: float = 0.05  # family-wise, after Holm, for the bands
    reference_test: str | None = None  # site shift is every other test set minus this one


EVIDENCE_KEYS = {
    "bootstrap_resamples": "resamples",
    "bootstrap_seed": "bootstrap_seed",
    "permutations": "permutations",
    "alpha": "alpha",
    "reference_test": "reference_test",
}


def _evidence_settings(request: LoadRequest, tests: list[str]) -> EvidenceSettings:
    table, values = request.table, {}
    for key, field_name in EVIDENCE_KEYS.items():
        if key not in table:
            continue
        value, where = table[key], request.key(f"tasks.{NAME}.{key}")
        if key == "alpha":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise InputError(where, f"expected a number between 0 and 1, got {value!r}")
        elif key == "reference_test":
            if value not in tests:
                raise InputError(where, f"unknown test set {value!r}; the test sets: {', '.join(tests)}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "bootstrap_seed" else 1):
            raise InputError(
                where, f"expected a {'non-negative' if key == 'bootstrap_seed' else 'positive'} integer, got {value!r}"
            )
        values[field_name] = value
    if "reference_test" not in values and "internal" in tests:
        values["reference_test"] = "internal"
    return EvidenceSettings(**values)


def load(request: LoadRequest) -> TaskData:
    splits: dict[str, LabelledSplit] = gather_splits(
        request,
        NAME,
        lambda name, table, where: _user_split(name, table, where, request),
        _embedded,
        ("internal", "external"),
        SPLIT_KEYS,
    )
    tests = [name for name in splits if name not in {"train", "eval"}]
    evidence = _evidence_settings(request, tests)
    _warn_about_overlap(splits["train"], [splits[name] for name in tests])
    return TaskData(
        labels=CATEGORIES,
        splits=splits,
        extra={"evidence": evidence},
        provenance=tuple(split.provenance(CATEGORIES) for split in splits.values()),
        note=SYNTHETIC_NOTE if any(split.synthetic for split in splits.values()) else "",
    )


def _warn_about_overlap(train: LabelledSplit, tests: list[LabelledSplit]) -> None:
    """One warning per test set holding strings that occur verbatim in train. Not an error:
    clinical indications repeat, so real data overlaps too; but a memorising model looks better
    on those rows than it is, and the leaderboard scores the unseen rows apart. Counts only,
    never the text."""
    report = overlap_report(train.texts, {split.name: split.texts for split in tests})
    for name, counts in report.items():
        if counts["rows_in_train"]:
            warn(
                f"tasks.{NAME}",
                f"{counts['rows_in_train']:,} of {counts['rows']:,} rows of test set {name!r} "
                f"({counts['distinct_in_train']:,} distinct strings) also occur verbatim in train; "
                "see the train/test overlap table",
            )


# Training-split metrics only show over- or under-fitting, and an LLM on a CPU takes minutes
# to predict 3,400 rows: the train split is scored on a fixed sample of this many rows.
TRAIN_SCORE_ROWS = 300


def scored_rows(split: LabelledSplit) -> LabelledSplit:
    """The rows a split is scored on: all of them, or the fixed train sample (seed 0)."""
    return split.sample(TRAIN_SCORE_ROWS, seed=0) if split.name == "train" else split


def score(request: ScoreRequest) -> dict[str, Any]:
    """Every split at the model's own decision rule; the test sets also with per-class
    thresholds tuned on eval, calibration, bootstrap CIs and F1 on strings unseen in train."""
    classifier = request.fitted().classifier
    data, labels, rule = request.data, request.data.labels, classifier.decision_rule
    settings: EvidenceSettings = data.extra["evidence"]
    rows = {name: scored_rows(split) for name, split in data.splits.items()}
    scores, test_seconds = {}, 0.0
    for name, split in rows.items():
        started = time.perf_counter()
        scores[name] = classifier.predict_scores(list(split.texts))
        if name in data.test_splits:  # eval's scores may be cached from training: not a latency
            test_seconds += time.perf_counter() - started
    predictions = {name: rule.apply(values) for name, values in scores.items()}
    metrics = {name: multilabel_report(rows[name].y, predictions[name], labels) for name in scores}
    # Tuned on eval only: the test sets' labels and scores never reach tune_thresholds.
    tuned = tune_thresholds(data.splits["eval"].y, scores["eval"], labels, rule)
    tests = data.test_splits
    # "Unseen" means unseen by this fit: a row-sampled fit (a CPU recipe) saw only its sample.
    train = data.splits["train"]
    train_texts = [train.texts[i] for i in train_rows_of(classifier, len(train))]
    result: dict[str, Any] = {
        "metrics": metrics,
        "decision_rule": rule.as_dict(),
        "tuned_thresholds": tuned.to_dict(),
        "metrics_tuned": {
            name: multilabel_report(split.y, apply_tuned(rule, scores[name], tuned, labels), labels)
            for name, split in tests.items()
        },
        "calibration": {
            name: class_calibration(data.splits[name].y, scores[name], labels) for name in ("eval", *tests)
        },
        "confidence_intervals": {
            name: bootstrap_ci(
                split.y, predictions[name], labels, resamples=settings.resamples, seed=settings.bootstrap_seed
            ).to_dict()
            for name, split in tests.items()
        },
        "metrics_unseen": {},
        "inference": _inference(tests, test_seconds),
    }
    for name, split in tests.items():
        unseen = ~seen_in(train_texts, split.texts)
        if unseen.any():
            result["metrics_unseen"][name] = multilabel_report(split.y[unseen], predictions[name][unseen], labels)
    request.retain("test_predictions", {name: predictions[name] for name in tests})
    tokenizer = getattr(classifier, "tokenizer", None)  # baselines have none: no analysis
    if tokenizer is not None:
        texts = {name: split.texts for name, split in tests.items()}
        result["tokenisation"] = analyse(tokenizer, texts, clinical_terms(indication_terms))
    return result


def _inference(tests: Mapping[str, LabelledSplit], seconds: float) -> dict[str, Any]:
    inputs = sum(len(split) for split in tests.values())
    return {
        "inputs": inputs,
        "seconds": seconds,
        "seconds_per_input": seconds / inputs if inputs else None,
        "inputs_per_second": inputs / seconds if seconds > 0 else None,
    }


def summarise(request: SummaryRequest) -> dict[str, Any]:
    """Across models and seeds, per test set: comparisons and bands; site shift; overlap."""
    data, labels = request.data, request.data.labels
    settings: EvidenceSettings = data.extra["evidence"]
    tests = data.test_splits
    stacked, excluded = _stacked_predictions(request)
    comparisons = {
        name: compare_models(
            split.y,
            {model: by_split[name] for model, by_split in stacked.items()},
            labels,
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
    return {
        "seeds": list(request.seeds),
        "excluded": excluded,
        "comparisons": comparisons,
        "site_shift": {"reference": reference, "models": shift},
        "overlap": overlap_report(data.splits["train"].texts, {name: split.texts for name, split in tests.items()}),
        "decision": decide(comparisons, costs_of(request.items), failed={e["model"] for e in excluded}),
    }


def _stacked_predictions(request: SummaryRequest) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Per model with every seed passed: each test set's predictions stacked (seeds, items, labels)."""
    import numpy as np

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


@hookimpl
def harness_add_tasks(register) -> None:
    register.add(
        TaskSpec(
            name=NAME,
            description="Multi-label classification of antibiotic indications into 12 source categories",
            fits_on=NAME,
            load=load,
            score=score,
            summarise=summarise,
            config_keys=frozenset({"train", "eval", "tests", "keep_embedded_tests", *EVIDENCE_KEYS}),
            profile_defaults={"smoke": {"permutations": 2000}},
        )
    )


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """Overall results (weighted, then macro F1), per-class F1, tokenisation, then the evidence."""
    from harness.tasks.indications.evidence_tables import evidence_tables
    from harness.tasks.indications.tables import (
        overall_table,
        per_class_tables,
        tokenisation_tables,
    )

    overall = [overall_table(document), overall_table(document, "f1_macro")]
    return [
        *(t for t in overall if t is not None),
        *per_class_tables(document),
        *tokenisation_tables(document),
        *evidence_tables(document),
    ]
