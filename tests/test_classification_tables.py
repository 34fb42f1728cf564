"""The tables of any classification task: the indications task's exactly as before, and a
multi-class or binary task's own (confusion matrix, the positive label's scores), with the
task's name in front of every title when a document holds several classification tasks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from harness.leaderboard import load
from harness.tasks.classification.tables import classification_tables, classification_tasks

ROOT = Path(__file__).parent.parent
# The indications task's tables as harness/tasks/indications/{tables,evidence_tables}.py rendered
# them before issue 14 (written with ``harness.tasks.indications.harness_tables`` at that commit).
GOLDEN = Path(__file__).parent / "data" / "indications_tables.json"
LABELS = ("viral", "bacterial", "fungal")
TRUE = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 0])
PREDICTED = {"bert": np.array([0, 0, 1, 1, 1, 1, 2, 2, 2, 0]), "tfidf": np.array([0, 1, 1, 1, 0, 2, 2, 2, 0, 0])}


def _titles(tables) -> list[str]:
    return [t.title for t in tables]


def _table(tables, title: str):
    found = [t for t in tables if t.title == title]
    assert len(found) == 1, (title, _titles(tables))
    return found[0]


def _multiclass_report(true: np.ndarray, predicted: np.ndarray) -> dict:
    """A multi-class report in the leaderboard's shape, from scikit-learn."""
    per_class = {
        label: {
            "f1": float(f1_score(true == j, predicted == j, zero_division=0)),
            "precision": float(precision_score(true == j, predicted == j, zero_division=0)),
            "recall": float(recall_score(true == j, predicted == j, zero_division=0)),
            "support": int((true == j).sum()),
        }
        for j, label in enumerate(LABELS)
    }
    every = list(range(len(LABELS)))
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        **{
            f"f1_{average}": float(f1_score(true, predicted, labels=every, average=average, zero_division=0))
            for average in ("weighted", "macro", "micro")
        },
        "examples": len(true),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(LABELS), "matrix": confusion_matrix(true, predicted).tolist()},
    }


def _binary_report(f1: float, roc_auc: float | None) -> dict:
    return {
        "f1": f1,
        "precision": 0.5,
        "recall": 0.75,
        "sensitivity": 0.75,
        "specificity": 0.8125,
        "pr_auc": 0.6,
        "roc_auc": roc_auc,
        "prevalence": 0.2,
        "confusion": {"tp": 3, "fp": 3, "fn": 1, "tn": 13},
        "f1_weighted": f1,
        "f1_macro": f1,
        "f1_micro": f1,
        "examples": 20,
        "per_class": {"smoker": {"f1": f1, "precision": 0.5, "recall": 0.75, "support": 4}},
    }


def _item(model: str, task: str, metrics: dict, problem: str, primary: str, **more) -> dict:
    return {
        "name": f"{task}[{model}-seed1]",
        "model": model,
        "task": task,
        "seed": 1,
        "status": "passed",
        "model_info": {"params": 110_000_000, "trainable_params": 110_000_000},
        "cost": {"train_seconds": 90.0, "peak_rss_mb": 900.0, "peak_cuda_mb": None},
        "metrics": metrics,
        "problem": problem,
        "primary_metric": primary,
        **more,
    }


def _multiclass_items(task: str = "infection", primary: str = "accuracy") -> list[dict]:
    rule = {"score": "softmax", "threshold": 0.0, "operator": ">=", "argmax": True}
    return [
        _item(
            model,
            task,
            {"eval": _multiclass_report(TRUE, TRUE), "internal": _multiclass_report(TRUE, predicted)},
            "multi-class",
            primary,
            decision_rule=rule,
            metrics_unseen={"internal": _multiclass_report(TRUE[:6], predicted[:6])},
            metrics_unseen_exact={"internal": _multiclass_report(TRUE[:8], predicted[:8])},
        )
        for model, predicted in PREDICTED.items()
    ]


def _binary_items(task: str = "smoking") -> list[dict]:
    rule = {"score": "sigmoid", "threshold": 0.5, "operator": ">="}
    length = {"internal": {"max_tokens": 512, "inputs": 20, "truncated": 3, "tokens_cut": 1234, "long_text": "truncate", "windows": 20}}  # fmt: skip
    return [
        _item(
            "bert", task, {"internal": _binary_report(0.6, 0.875)}, "binary", "f1", decision_rule=rule, length=length
        ),
        _item("tfidf", task, {"internal": _binary_report(0.4, None)}, "binary", "f1", decision_rule=rule),
    ]


def _document(*items: dict) -> dict:
    return {"run": {"seeds": [1], "device": "cpu", "data": {}}, "results": list(items), "summaries": {}}


@pytest.mark.parametrize("name", ["synthetic-cpu-default", "synthetic-cpu-seeds-1-2"])
def test_the_indications_tables_are_those_it_printed_before(name):
    document = load(ROOT / "leaderboards" / f"{name}.json")
    expected = json.loads(GOLDEN.read_text())[name]
    tables = [json.loads(json.dumps(dataclasses.asdict(t))) for t in classification_tables(document, "indications")]
    assert [t["title"] for t in tables] == [t["title"] for t in expected]
    assert tables == expected


def test_classification_tasks_are_those_with_metrics():
    document = load(ROOT / "leaderboards" / "synthetic-cpu-default.json")
    assert classification_tasks(document) == ["indications"]  # not the probe
    assert classification_tasks(_document(*_binary_items(), *_multiclass_items())) == ["smoking", "infection"]


def test_a_multiclass_task_is_judged_by_its_primary_metric_and_shows_the_top_models_confusion_matrix():
    tables = classification_tables(_document(*_multiclass_items()), "infection")
    overall = tables[0]
    assert (overall.title, overall.headline) == ("Overall results (accuracy)", True)
    assert overall.headers[-2:] == ("Eval (selection) accuracy", "Internal accuracy")
    assert "tuned thresholds" not in overall.caption  # multi-class has none
    # bert is right on 8 of 10 rows, tfidf on 4: ranked by accuracy
    assert [row[0] for row in overall.rows] == ["bert", "tfidf"]
    assert [row[3] for row in overall.rows] == ["argmax", "argmax"]
    assert [row[-1] for row in overall.rows] == ["0.80", "0.40"]
    second = tables[1]
    assert (second.title, second.headline) == ("Overall results (macro F1)", False)
    macro = f1_score(TRUE, PREDICTED["tfidf"], average="macro")
    assert second.rows[-1][-1] == f"{macro:.2f}"

    matrix = _table(tables, "Confusion matrix (internal test set)")
    assert matrix.headers == ("True label", *LABELS)
    expected = confusion_matrix(TRUE, PREDICTED["bert"])
    assert matrix.rows == tuple((label, *map(str, expected[i])) for i, label in enumerate(LABELS))
    assert matrix.caption.startswith("bert, the top model by accuracy on internal")

    per_class = _table(tables, "Per-class F1 (internal test set)")
    assert per_class.headers == ("Category", "Support", "bert", "tfidf")
    assert per_class.rows[0][:2] == ("viral", "4")
    assert "Decision thresholds: fixed vs tuned on eval" not in _titles(tables)


def test_the_second_overall_table_is_accuracy_when_macro_f1_is_primary():
    tables = classification_tables(_document(*_multiclass_items(primary="f1_macro")), "infection")
    assert _titles(tables)[:2] == ["Overall results (macro F1)", "Overall results (accuracy)"]
    assert tables[0].headline and not tables[1].headline


def test_a_binary_task_shows_the_positive_labels_scores_and_no_per_class_table():
    tables = classification_tables(_document(*_binary_items()), "smoking")
    titles = _titles(tables)
    assert titles[0] == "Overall results (F1)" and tables[0].headline
    assert not any(t.startswith(("Overall results (macro", "Per-class F1", "Confusion")) for t in titles)
    binary = _table(tables, "Positive label (internal test set)")
    assert binary.headers == (
        "Model",
        "F1",
        "Precision",
        "Recall (sensitivity)",
        "Specificity",
        "PR-AUC",
        "ROC-AUC",
    )
    assert binary.rows == (
        ("bert", "0.600", "0.500", "0.750", "0.812", "0.600", "0.875"),
        ("tfidf", "0.400", "0.500", "0.750", "0.812", "0.600", "–"),  # ROC-AUC undefined: null
    )
    assert "positive label smoker; prevalence 20.0% of 20 rows" in binary.caption


def test_truncation_is_shown_only_for_models_with_a_maximum_length():
    tables = classification_tables(_document(*_binary_items()), "smoking")
    truncation = _table(tables, "Inputs longer than the maximum length")
    assert truncation.headers == ("Test set", "Model", "Max tokens", "Inputs truncated", "Tokens cut", "Long text")
    assert truncation.rows == (("internal", "bert", "512", "3 (15.0%)", "1,234", "truncate"),)
    chunked = _binary_items()
    chunked[0]["length"]["internal"].update(long_text="chunk", windows=31)
    rows = _table(classification_tables(_document(*chunked), "smoking"), truncation.title).rows
    assert rows[0][-2:] == ("none", "chunk (31 windows)")
    assert "Inputs longer than the maximum length" not in _titles(classification_tables(_document(*_multiclass_items()), "infection"))  # fmt: skip


def test_titles_name_the_task_only_when_the_document_holds_several():
    alone = _titles(classification_tables(_document(*_binary_items()), "smoking"))
    both = _document(*_binary_items(), *_multiclass_items())
    smoking = _titles(classification_tables(both, "smoking"))
    infection = _titles(classification_tables(both, "infection"))
    assert smoking == [f"smoking: {title}" for title in alone]
    assert infection[0] == "infection: Overall results (accuracy)"
    assert all(title.startswith("infection: ") for title in infection)
    assert classification_tables(both, "absent") == []


def test_an_older_document_without_problem_is_multilabel_by_weighted_f1():
    items = _multiclass_items()
    for item in items:
        del item["problem"], item["primary_metric"]
        item["decision_rule"] = {"score": "sigmoid", "threshold": 0.5, "operator": ">="}
        for report in item["metrics"].values():
            del report["accuracy"], report["confusion_matrix"]
    tables = classification_tables(_document(*items), "infection")
    assert _titles(tables)[:2] == ["Overall results (weighted F1)", "Overall results (macro F1)"]
    assert tables[0].headline
    assert not any(title.startswith("Confusion") for title in _titles(tables))
    assert tables[0].rows[0][3] == "score ≥ 0.5"


def test_evidence_tables_say_the_tasks_metric():
    items = _multiclass_items()
    comparison = {
        "metric": "f1_micro",
        "confidence": 0.95,
        "resamples": 200,
        "bootstrap_seed": 0,
        "permutations": 500,
        "alpha": 0.05,
        "models": [
            {"model": "bert", "band": 1, "estimate": 0.8, "low": 0.6, "high": 1.0},
            {"model": "tfidf", "band": 1, "estimate": 0.6, "low": 0.3, "high": 0.9},
        ],
        "pairs": [{"a": "bert", "b": "tfidf", "difference": 0.2, "ci_low": -0.1, "ci_high": 0.5, "p_holm": 0.31}],
    }
    overlap = {"internal": {"rows": 10, "rows_in_train": 4, "rows_in_train_share": 0.4, "rows_in_train_normalised": 4, "distinct": 8, "distinct_in_train": 3}}  # fmt: skip
    calibration = {"per_class": dict.fromkeys(LABELS, {}), "macro": {"ece": 0.1, "brier": 0.2, "pr_auc": None, "roc_auc": 0.9}}  # fmt: skip
    for item in items:
        item["calibration"] = {"eval": calibration, "internal": calibration}
    document = _document(*items)
    document["summaries"]["infection"] = {"comparisons": {"internal": comparison}, "overlap": overlap}
    support = {"viral": 4, "bacterial": 4, "fungal": 2}
    document["run"]["data"]["infection"] = [{"split": "internal", "rows": 10, "synthetic": False, "support": support}]
    tables = classification_tables(document, "infection")
    compared = _table(tables, "Model comparison (internal test set)")
    assert compared.headers[2] == "Accuracy" and compared.caption.startswith("accuracy (f1 micro), seed 1;")
    assert compared.rows[0] == ("1", "bert", "0.800", "[0.600, 1.000]", "+0.200 [−0.100, +0.500], p = 0.31")
    calibrated = _table(tables, "Calibration and ranking")
    assert calibrated.caption.startswith("mean over the 3 classes (where defined) of: expected calibration error")
    assert calibrated.rows[0] == ("bert", "internal", "0.100", "0.200", "–", "0.900")
    prevalence = _table(tables, "Prevalence per split")
    assert prevalence.caption == "share of rows with each category (one per row)"
    assert prevalence.rows[0] == ("viral", "40.0%")
    unseen = _table(tables, "Accuracy on strings unseen in training")
    bert_unseen = accuracy_score(TRUE[:6], PREDICTED["bert"][:6])
    bert_unseen_verbatim = accuracy_score(TRUE[:8], PREDICTED["bert"][:8])
    assert unseen.headers == ("Model", "Internal all rows", "Internal unseen", "Internal unseen verbatim")
    assert unseen.rows[0] == ("bert", "0.800", f"{bert_unseen:.3f}", f"{bert_unseen_verbatim:.3f}")
    # A leaderboard written before metrics_unseen_exact: its metrics_unseen is the verbatim match.
    for item in document["results"]:
        del item["metrics_unseen_exact"]
    unseen = _table(classification_tables(document, "infection"), "Accuracy on strings unseen in training")
    assert unseen.rows[0] == ("bert", "0.800", "–", f"{bert_unseen:.3f}")
