"""A label with no row in a test set (issue 22): macro F1 over the labels present (scikit-learn's
rule on class ids), "–" for the absent label's F1 in the tables, the page and the site-shift table,
null in the leaderboard (which the schema allows), and a warning at load naming set and label."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness.leaderboard import schema_errors
from harness.report.html import heatmaps, render_html
from harness.tasks.classification.tables import classification_tables

ROWS = {
    "current": ["smokes 10 a day", "current smoker", "smokes daily, 20 pack years", "1 ppd cigarettes"],
    "former": ["quit in 2009", "ex-smoker", "former smoker, stopped 5 years ago", "gave up cigarettes in 2015"],
    "never": ["never smoked", "lifelong non-smoker", "denies ever smoking", "never a smoker"],
    "unknown": ["not documented", "smoking status not recorded", "SH not taken", "no social history"],
}


def write(path: Path, labels: list[str], copies: int = 1) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["note", "status"])
        for label in labels:
            for _ in range(copies):
                for text in ROWS[label]:
                    writer.writerow([text, label])


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")


def test_a_test_set_without_a_label_is_scored_over_the_labels_present(tmp_path, run_harness):
    every = list(ROWS)
    write(tmp_path / "train.csv", every, copies=3)
    write(tmp_path / "eval.csv", every)
    write(tmp_path / "internal.csv", ["current", "former", "never"])  # no 'unknown' row
    write(tmp_path / "site_b.csv", every)
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.smoking]\nkind = "classification"\nproblem = "multi-class"\n'
        'train = { path = "train.csv", text_column = "note", label_column = "status" }\neval = "eval.csv"\n'
        'bootstrap_resamples = 200\n[tasks.smoking.tests.internal]\npath = "internal.csv"\n'
        '[tasks.smoking.tests.site_b]\npath = "site_b.csv"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, stderr = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr", "--tasks", "smoking", "--out", str(out)
    )
    assert code == 0, stderr
    absent = [line for line in stderr.splitlines() if "has no row of label" in line]
    assert absent == [
        "harness: warning: tasks.smoking: test set 'internal' has no row of label(s) 'unknown': macro F1 there "
        'averages over the labels present, and their F1 shows as "–" where a model predicts none'
    ]
    document = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
    assert schema_errors(document) == []  # null per-class F1 is valid
    (item,) = [r for r in document["results"] if r["model"] == "tfidf-lr"]
    metrics = item["metrics"]["internal"]
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    assert matrix[:, 3].sum() == 0  # the premise: no row of 'unknown', and none predicted
    truth = np.repeat(np.arange(4), matrix.sum(axis=1))
    predicted = np.concatenate([np.repeat(np.arange(4), row) for row in matrix])
    assert metrics["f1_macro"] == pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0))
    assert metrics["f1_macro"] == pytest.approx(f1_score(truth, predicted, labels=[0, 1, 2], average="macro"))
    assert metrics["per_class"]["unknown"]["f1"] is None
    interval = item["confidence_intervals"]["internal"]
    assert interval["per_class_f1"]["unknown"] == {"estimate": None, "low": None, "high": None}
    assert interval["f1_macro"]["estimate"] == pytest.approx(metrics["f1_macro"])
    shift = document["summaries"]["smoking"]["site_shift"]
    assert shift["reference"] == "internal"
    unknown_shift = shift["models"]["tfidf-lr"]["site_b"]["per_class_f1"]["unknown"]
    assert unknown_shift["reference"] is None and unknown_shift["difference"] is None
    assert shift["models"]["tfidf-lr"]["site_b"]["per_class_f1"]["current"]["difference"] is not None

    tables = {table.title: table for table in classification_tables(document, "smoking")}
    per_class = {row[0]: row for row in tables["Per-class F1 (internal test set)"].rows}
    assert per_class["unknown"] == ("unknown", "0", "–")
    assert per_class["current"][2] != "–"
    site_shift = {row[0]: row for row in tables["Site shift: site_b − internal"].rows}
    assert site_shift["unknown"] == ("unknown", "–")

    (internal_map,) = [m for m in heatmaps(document) if m["test_set"] == "internal"]
    cells = {row["category"]: row["f1"] for row in internal_map["rows"]}
    assert cells["unknown"] == [None] and cells["current"][0] is not None
    page = render_html(document)
    section = page.split('class="heatmap sortable" data-task="smoking" data-test-set="internal"', 1)[1].split(
        "</table>", 1
    )[0]
    assert re.search(r"<td>unknown</td><td[^>]*>0</td>\s*<td[^>]*>–</td>", section)
