"""A classification task of the user's own (issue 14): the guide's configs, formats, pairs, probe and robustness.

Each test runs the real command line on small files written here and checks the leaderboard it
wrote against numbers computed independently (scikit-learn, or the files themselves).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from harness.core.config import load_config
from harness.core.hooks import Hooks
from harness.core.manager import make_plugin_manager

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "your-own-task.md"
ROWS = {
    "current": ["smokes 10 a day", "current smoker", "smokes daily, 20 pack years", "1 ppd cigarettes"],
    "former": ["quit in 2009", "ex-smoker", "former smoker, stopped 5 years ago", "gave up cigarettes in 2015"],
    "never": ["never smoked", "lifelong non-smoker", "denies ever smoking", "never a smoker"],
}


def registries():
    hooks = Hooks(make_plugin_manager())
    return hooks.models(), hooks.tasks()


def readme_config() -> str:
    section = GUIDE.read_text(encoding="utf-8").split("## Four kinds of task", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def test_the_readme_configs_are_valid_configs(tmp_path):
    """Every key the guide shows is a key the harness takes (load_config checks them all)."""
    path = tmp_path / "harness.toml"
    path.write_text(readme_config(), encoding="utf-8")
    models, tasks = registries()
    config = load_config(path, models, tasks)
    assert {"smoking", "ade", "mednli", "clip"} <= set(tasks.names())
    assert config.task_table("mednli")["text_pair_column"] == "sentence2"


def write_smoking(folder: Path) -> None:
    import csv

    for name, repeat in {"train": 3, "eval": 1, "test": 1}.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "note", "status"])
            number = 0
            for label, texts in ROWS.items():
                for copy in range(repeat):
                    for text in texts:
                        number += 1
                        writer.writerow([f"{name}-{number}", f"{text} ({name} {copy})", label])


def test_a_multi_class_task_from_the_config_is_scored_as_scikit_learn_scores_it(tmp_path, run_harness):
    write_smoking(tmp_path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"note": f"{text}!", "status": label} for label, texts in ROWS.items() for text in texts]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "site_b.parquet")
    probe = tmp_path / "probe.jsonl"
    probe.write_text(
        json.dumps({"id": "p1", "input": "never smoked", "expected": ["never"], "kind": "own", "task": "smoking"})
        + "\n"
        + json.dumps({"id": "p2", "input": "uti", "expected": ["urinary"], "kind": "own", "task": "indications"})
        + "\n",
        encoding="utf-8",
    )
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.smoking]\nkind = "classification"\nproblem = "multi-class"\n'
        'train = { path = "train.csv", text_column = "note", label_column = "status" }\n'
        'eval = "eval.csv"\nprobe_file = "probe.jsonl"\n'
        '[tasks.smoking.tests.internal]\npath = "test.csv"\n[tasks.smoking.tests.site_b]\npath = "site_b.parquet"\n'
        "[tasks.robustness]\nvariants = 20\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, stdout, stderr = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr,regex", "--tasks", "smoking,probe,robustness",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    document = json.loads((out / "leaderboard.json").read_text())
    by = {(r["task"], r["model"]): r for r in document["results"]}
    item = by["smoking", "tfidf-lr"]
    assert item["problem"] == "multi-class" and item["primary_metric"] == "f1_macro"
    assert item["decision_rule"]["argmax"] is True and "metrics_tuned" not in item
    assert by["smoking", "regex"]["status"] == "skipped" and "12 categories" in by["smoking", "regex"]["reason"]
    # The tables are the task's own: no task-specific code drew them.
    assert "Overall results (macro F1)" in stdout and "Confusion matrix" in stdout
    # Every number against scikit-learn, from the confusion matrix's own predictions.
    labels = ["current", "former", "never"]
    for split in ("internal", "site_b"):
        metrics = item["metrics"][split]
        matrix = np.array(metrics["confusion_matrix"]["matrix"])
        assert metrics["confusion_matrix"]["labels"] == labels
        truth = np.repeat(np.arange(3), matrix.sum(axis=1))
        predicted = np.concatenate([np.repeat(np.arange(3), row) for row in matrix])
        assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        assert metrics["f1_macro"] == pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0))
        assert matrix.sum(axis=1).tolist() == [4, 4, 4]  # the files' own label counts
    comparison = document["summaries"]["smoking"]["comparisons"]["internal"]
    assert comparison["metric"] == "f1_macro"
    # The probe followed smoking: only its case, not indications' seed spot-check or case p2.
    probe = by["probe", "tfidf-lr"]
    assert [case["id"] for case in probe["cases"]] == ["p1"]
    robustness = by["robustness", "tfidf-lr"]["robustness"]["splits"]
    assert set(robustness) == {"internal", "site_b"}
    # The user's text never reaches the leaderboard (these splits are not public).
    text = (out / "leaderboard.json").read_text()
    assert "former smoker, stopped" not in text and "examples_withheld" in text


def test_a_binary_pair_task_reads_tsv_and_jsonl(tmp_path, run_harness):
    """Binary on a yes/no column, read as one positive column; pairs reach the model as pairs."""
    rows = [
        ("rash after amoxicillin", "the drug caused it", "yes"),
        ("rash after amoxicillin", "nothing happened", "no"),
        ("AKI on gentamicin", "the drug caused it", "yes"),
        ("tolerating gentamicin", "the drug caused it", "no"),
    ] * 4
    lines = [json.dumps({"premise": p, "hypothesis": h, "ade": y}) for p, h, y in rows]
    for name in ("train", "eval", "test"):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.ade]\nkind = "classification"\nproblem = "binary"\ntext_column = "premise"\n'
        'text_pair_column = "hypothesis"\nlabel_column = "ade"\ntrain = "train.jsonl"\neval = "eval.jsonl"\n'
        '[tasks.ade.tests.internal]\npath = "test.jsonl"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, stderr = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr", "--tasks", "ade", "--out", str(out)
    )
    assert code == 0, stderr
    item = json.loads((out / "leaderboard.json").read_text())["results"][0]
    metrics = item["metrics"]["internal"]
    assert item["problem"] == "binary" and item["primary_metric"] == "f1"
    assert metrics["confusion"]["tp"] + metrics["confusion"]["fn"] == 8  # the yes rows
    assert metrics["f1"] == metrics["f1_weighted"] and item["fit_details"]["pair_encoding"] == "joined"


def test_a_binary_task_decision_speaks_of_the_positive_labels_f1(tmp_path, run_harness):
    """A binary task is compared on its one column's weighted F1, which is the F1 of the positive
    label: the decision says "F1", as the task's tables do, never "weighted F1"."""
    positives = [f"rash after amoxicillin dose {i}" for i in range(12)]
    negatives = [f"tolerating gentamicin day {i}" for i in range(12)]
    rows = [(text, "yes") for text in positives] + [(text, "no") for text in negatives]
    for name in ("train", "eval", "test"):
        lines = [f"{text} {name}\t{label}" for text, label in rows]
        (tmp_path / f"{name}.tsv").write_text("sentence\tade\n" + "\n".join(lines) + "\n", encoding="utf-8")
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.ade]\nkind = "classification"\nproblem = "binary"\ntext_column = "sentence"\n'
        'label_column = "ade"\ntrain = "train.tsv"\neval = "eval.tsv"\n[tasks.ade.tests.internal]\npath = "test.tsv"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, stdout, stderr = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr,char-gbt", "--tasks", "ade", "--out", str(out)
    )
    assert code == 0, stderr
    decision = json.loads((out / "leaderboard.json").read_text())["summaries"]["ade"]["decision"]
    assert decision["metric"] == "f1_weighted" and decision["metric_name"] == "F1"
    (row,) = decision["test_sets"]
    assert "(F1 " in row["statement"] and "weighted" not in row["statement"]
    assert "Decision (F1;" in stdout
