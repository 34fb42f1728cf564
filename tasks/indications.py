"""The ``indications`` task: multi-label classification of antibiotic indications.

Twelve infection-source categories, as in the seed study. Default data is the embedded
SYNTHETIC set (``tasks/data``, see docs/indications-data.md); ``[tasks.indications]`` in
the config points any split at the user's CSV or JSONL files.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import InputError, LoadRequest, ScoreRequest, TaskData, TaskSpec, hookimpl
from harness.data import LabelledSplit, load_split
from harness.metrics import multilabel_report
from harness.tasks import indication_terms
from harness.tokenisation import analyse, clinical_terms

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
SPLIT_KEYS = frozenset({"path", "text_column", "label_columns", "synthetic", "public"})


def embedded_path(split: str) -> Path:
    return Path(str(files("harness.tasks") / "data" / f"indications_{split}.csv"))


def _embedded(split: str) -> LabelledSplit:
    path = embedded_path(split)
    return load_split(
        split, path, CATEGORIES, source=f"embedded:{path.name}", synthetic=True, public=True
    )


def _user_split(name: str, value: Any, where: str, request: LoadRequest) -> LabelledSplit:
    table: Mapping[str, Any] = {"path": value} if isinstance(value, str) else value
    if not isinstance(table, Mapping):
        raise InputError(where, "expected a path or a table with 'path'")
    for key in table:
        if key not in SPLIT_KEYS:
            raise InputError(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(SPLIT_KEYS))}")
    if not isinstance(table.get("path"), str):
        raise InputError(where, "missing 'path'")
    label_columns = table.get("label_columns", {})
    if isinstance(label_columns, list):  # columns given in category order
        if len(label_columns) != len(CATEGORIES):
            raise InputError(f"{where}.label_columns", f"a list needs {len(CATEGORIES)} columns, one per category")
        label_columns = dict(zip(CATEGORIES, label_columns))
    if not isinstance(label_columns, Mapping):
        raise InputError(f"{where}.label_columns", "expected a table category = \"column\" or a list")
    return load_split(
        name,
        request.resolve(table["path"]),
        CATEGORIES,
        text_column=table.get("text_column", "text"),
        label_columns=label_columns,
        synthetic=bool(table.get("synthetic", False)),
        public=bool(table.get("public", False)),
    )


def load(request: LoadRequest) -> TaskData:
    table = request.table
    splits: dict[str, LabelledSplit] = {}
    for name in ("train", "eval"):
        if name in table:
            splits[name] = _user_split(name, table[name], request.key(f"tasks.{NAME}.{name}"), request)
        else:
            splits[name] = _embedded(name)
    if table.get("keep_embedded_tests", True):
        for name in ("internal", "external"):
            splits[name] = _embedded(name)
    tests = table.get("tests", {})
    if not isinstance(tests, Mapping):
        raise InputError(request.key(f"tasks.{NAME}.tests"), "expected tables [tasks.indications.tests.NAME]")
    for name, value in tests.items():
        if name in {"train", "eval"}:
            raise InputError(request.key(f"tasks.{NAME}.tests.{name}"), "a test set cannot be named train or eval")
        splits[name] = _user_split(name, value, request.key(f"tasks.{NAME}.tests.{name}"), request)
    if not any(name not in {"train", "eval"} for name in splits):
        raise InputError(request.key(f"tasks.{NAME}"), "no test set left: add [tasks.indications.tests.NAME]")
    return TaskData(
        labels=CATEGORIES,
        splits=splits,
        provenance=tuple(split.provenance(CATEGORIES) for split in splits.values()),
    )


# Training-split metrics only show over- or under-fitting, and an LLM on a CPU takes minutes
# to predict 3,400 rows: the train split is scored on a fixed sample of this many rows.
TRAIN_SCORE_ROWS = 300


def scored_rows(split: LabelledSplit) -> LabelledSplit:
    """The rows a split is scored on: all of them, or the fixed train sample (seed 0)."""
    return split.sample(TRAIN_SCORE_ROWS, seed=0) if split.name == "train" else split


def score(request: ScoreRequest) -> dict[str, Any]:
    fit = request.fitted()
    classifier = fit.classifier
    metrics = {}
    for name, full_split in request.data.splits.items():
        split = scored_rows(full_split)
        predicted = classifier.decision_rule.apply(classifier.predict_scores(list(split.texts)))
        metrics[name] = multilabel_report(split.y, predicted, request.data.labels)
    result = {"metrics": metrics, "decision_rule": classifier.decision_rule.as_dict()}
    tokenizer = getattr(classifier, "tokenizer", None)  # baselines have none: no analysis
    if tokenizer is not None:
        tests = {name: split.texts for name, split in request.data.test_splits.items()}
        result["tokenisation"] = analyse(tokenizer, tests, clinical_terms(indication_terms))
    return result


@hookimpl
def harness_add_tasks(register) -> None:
    register.add(
        TaskSpec(
            name=NAME,
            description="Multi-label classification of antibiotic indications into 12 source categories",
            fits_on=NAME,
            load=load,
            score=score,
            config_keys=frozenset({"train", "eval", "tests", "keep_embedded_tests"}),
        )
    )
