"""Error-analysis counts (issue 26): per-label TP/FP/FN/TN, confused label pairs and model
disagreement, checked against scikit-learn and against the per-row files; ``[privacy]
min_cell_count`` blanks small counts on the page and in ``publish``, never in the run's own
leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

from harness.core.store import ItemStore
from harness.leaderboard import validate
from harness.predictions import read_parquet
from harness.privacy import suppress_small
from harness.scoring.confusions import confused_pairs, disagreement, label_counts

from .conftest import read_leaderboard

LABELS = ("current", "former", "never")
WORDS = {
    "current": ["smokes", "daily", "ppd"],
    "former": ["quit", "ex", "stopped"],
    "never": ["never", "denies", "non"],
}


def write_noisy_smoking(folder) -> None:
    """A multi-class task the models get partly wrong: a third of the rows use another class's words."""
    import csv
    import random

    rng = random.Random(3)
    for name, n in {"train": 90, "eval": 30, "test": 45}.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "note", "status"])
            for i in range(n):
                label = LABELS[i % 3]
                shown = label if rng.random() > 0.35 else rng.choice(LABELS)
                writer.writerow(
                    [f"{name}-{i}", f"{rng.choice(WORDS[shown])} {rng.choice(WORDS[shown])} visit {i}", label]
                )


def test_label_counts_are_scikit_learns_multilabel_confusion_matrices():
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 2, (50, 4)), rng.integers(0, 2, (50, 4))
    counts = label_counts(truth, predicted, list("abcd"))
    for j, matrix in enumerate(multilabel_confusion_matrix(truth, predicted)):
        (tn, fp), (fn, tp) = matrix
        assert counts["abcd"[j]] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def test_confused_pairs_of_one_hot_rows_are_the_confusion_matrixs_off_diagonal():
    rng = np.random.default_rng(1)
    true, pred = rng.integers(0, 3, 80), rng.integers(0, 3, 80)
    one_hot = np.eye(3, dtype=int)
    pairs = confused_pairs(one_hot[true], one_hot[pred], LABELS)
    matrix = confusion_matrix(true, pred, labels=[0, 1, 2])
    expected = sorted(
        ((-matrix[a, b], LABELS[a], LABELS[b]) for a in range(3) for b in range(3) if a != b and matrix[a, b]),
    )
    assert [(-p["rows"], p["true"], p["predicted"]) for p in pairs] == expected


def test_disagreement_pools_seeds_and_says_who_was_right():
    truth = np.array([[1, 0], [0, 1], [1, 1]])
    a = np.array([[[1, 0], [0, 1], [1, 0]], [[1, 0], [1, 0], [1, 1]]])  # 2 seeds x 3 rows x 2 labels
    b = np.array([[[1, 0], [1, 1], [0, 0]], [[0, 1], [1, 0], [1, 1]]])
    (pair,) = disagreement(truth, {"a": a, "b": b})
    # seed 1: rows 2 (a right) and 3 (neither) differ; seed 2: row 1 differs (a right)
    assert pair == {
        "models": ["a", "b"], "rows": 6, "differ": 3, "share": 0.5,
        "first_right": 2, "second_right": 0, "neither_right": 1,
    }  # fmt: skip


@pytest.fixture
def smoking_run(tmp_path, run_harness, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    write_noisy_smoking(tmp_path)
    config = tmp_path / "harness.toml"
    config.write_text(
        "[privacy]\nmin_cell_count = 3\n"
        '[tasks.smoking]\nkind = "classification"\nproblem = "multi-class"\n'
        'train = { path = "train.csv", text_column = "note", label_column = "status" }\n'
        'eval = "eval.csv"\nbootstrap_resamples = 20\npermutations = 20\n'
        '[tasks.smoking.tests.internal]\npath = "test.csv"\n',
        encoding="utf-8",
    )
    out = tmp_path / "run"
    code, stdout, err = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr,char-gbt", "--tasks", "smoking", "--out", str(out)
    )
    assert code == 0, err
    return out, stdout


def test_the_summary_and_tables_agree_with_the_per_row_files(smoking_run):
    out, stdout = smoking_run
    document = read_leaderboard(out)
    rows = {r.model: r.split("internal") for r in map(read_parquet, ItemStore(out).row_files())}
    a, b = rows["tfidf-lr"], rows["char-gbt"]
    differ = (a.predicted != b.predicted).any(axis=1)
    (pair,) = document["summaries"]["smoking"]["disagreement"]["internal"]
    assert pair["models"] == ["tfidf-lr", "char-gbt"] and pair["rows"] == len(a.rows)
    assert pair["differ"] == differ.sum() > 0
    assert pair["first_right"] == ((a.predicted == a.gold).all(axis=1) & differ).sum()
    assert pair["second_right"] == ((b.predicted == b.gold).all(axis=1) & differ).sum()
    for item in document["results"]:
        split = rows[item["model"]]
        matrix = confusion_matrix(split.gold.argmax(1), split.predicted.argmax(1), labels=[0, 1, 2])
        assert item["metrics"]["internal"]["confusion_matrix"]["matrix"] == matrix.tolist()
        assert item["error_analysis"]["internal"]["label_counts"] == label_counts(split.gold, split.predicted, LABELS)
    assert "Model disagreement (internal test set)" in stdout
    assert "Confusion matrix (internal test set, " in stdout  # the model the task's own table does not show
    # The run's own leaderboard keeps every count, small ones included (it stays with the data).
    cells = [
        c for item in document["results"] for r in item["metrics"]["internal"]["confusion_matrix"]["matrix"] for c in r
    ]
    assert document["run"]["privacy"] == {"min_cell_count": 3} and any(0 < c < 3 for c in cells)


def _counts(document):
    for item in document["results"]:
        for split_metrics in item["metrics"].values():
            yield from (c for row in split_metrics.get("confusion_matrix", {}).get("matrix", []) for c in row)
        for analysis in item.get("error_analysis", {}).values():
            yield from (c for counts in analysis["label_counts"].values() for c in counts.values())
            yield from (p["rows"] for p in analysis["confused_pairs"])
    for summary in document.get("summaries", {}).values():
        for pairs in summary.get("disagreement", {}).values():
            yield from (p[k] for p in pairs for k in ("differ", "first_right", "second_right", "neither_right"))


def test_publish_and_the_page_blank_counts_under_min_cell_count(smoking_run, run_harness, tmp_path):
    out, _ = smoking_run
    published = tmp_path / "board.json"
    page = tmp_path / "board.html"
    code, _, err = run_harness("publish", str(out / "leaderboard.json"), "--to", str(published), "--html", str(page))
    assert code == 0, err
    document = json.loads(published.read_text())
    counts = list(_counts(document))
    assert None in counts and not any(isinstance(c, int) and 0 < c < 3 for c in counts)
    assert document["run"]["privacy"] == {"min_cell_count": 3, "suppressed": True}
    for entry in document["run"]["merged_from"]:  # each run's own summaries, as published
        for pairs in entry["summaries"]["smoking"]["disagreement"].values():
            assert not any(isinstance(p[k], int) and 0 < p[k] < 3 for p in pairs for k in ("differ", "first_right"))
    validate(document, "published")
    text = page.read_text()
    assert "&lt;3" in text and 'id="confusions"' in text
    shown = tmp_path / "shown.html"
    assert run_harness("show", str(out / "leaderboard.json"), "--format", "html", "--output", str(shown))[0] == 0
    assert "&lt;3" in shown.read_text()  # a page of the run's own leaderboard is blanked too


def test_class_supports_under_min_cell_count_are_blanked_and_shown_as_under_k(smoking_run, run_harness, tmp_path):
    """A class's support in a test set, and a split's label counts, are counts of notes too: blanked
    under k on the page and when published (15 rows per class in the test set, 30 in train: k = 31
    blanks them all), and the tables say <k."""
    out, _ = smoking_run
    document = read_leaderboard(out)
    document["run"]["privacy"]["min_cell_count"] = 31
    board = tmp_path / "run-k31.json"
    board.write_text(json.dumps(document), encoding="utf-8")
    published, page = tmp_path / "board.json", tmp_path / "board.html"
    code, _, err = run_harness("publish", str(board), "--to", str(published), "--html", str(page))
    assert code == 0, err
    blanked = json.loads(published.read_text())
    supports = [
        c["support"] for item in blanked["results"] for m in item["metrics"].values() for c in m["per_class"].values()
    ]
    assert supports and all(s is None for s in supports)
    label_counts = [n for split in blanked["run"]["data"]["smoking"] for n in split["support"].values()]
    assert label_counts and all(n is None for n in label_counts)
    validate(blanked, "published")
    assert "<31" in page.read_text().replace("&lt;", "<")
    code, shown, err = run_harness("show", str(published))
    assert code == 0, err
    assert "<31" in shown and "<31 rows" in shown  # per-class support; prevalence per split
    assert read_leaderboard(out)["results"][0]["metrics"]["internal"]["per_class"]["current"]["support"] == 15


def test_min_cell_count_zero_changes_nothing():
    document = {"run": {}, "results": [{"metrics": {"t": {"confusion_matrix": {"labels": ["a"], "matrix": [[1]]}}}}]}
    assert suppress_small(json.loads(json.dumps(document)), 0) == document


def test_errors_true_and_pred_list_the_rows_of_a_confused_pair(smoking_run, run_harness):
    """``harness errors --true A --pred B`` lists as many rows as the leaderboard's pair A -> B counts."""
    out, _ = smoking_run
    (item,) = [r for r in read_leaderboard(out)["results"] if r["model"] == "tfidf-lr"]
    pairs = item["error_analysis"]["internal"]["confused_pairs"]
    assert pairs
    for pair in pairs:
        code, stdout, err = run_harness(
            "errors", str(out), "--model", "tfidf-lr", "--true", pair["true"], "--pred", pair["predicted"],
            "--format", "jsonl",
        )  # fmt: skip
        assert code == 0, err
        found = [json.loads(line) for line in stdout.splitlines()[1:]]
        assert len(found) == pair["rows"]
        assert all(r["gold"] == pair["true"] and r["predicted"] == pair["predicted"] for r in found)
