"""Per-row predictions (issue 26): one Parquet file per scored item in the private run directory,
with no text; read back, they give every metric the leaderboard printed (checked against
scikit-learn); an item whose file is gone runs again on resume."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from harness.core.store import FORMAT, ITEMS, ROWS_SUFFIX
from harness.predictions import read_parquet

from .conftest import read_leaderboard

SECRET = "zanzibar quokkaville cellulitis"  # planted in the test set: never in a per-row file
WORDS = {"yes": ["rash", "wheeze", "itch", "swelling"], "no": ["fine", "tolerated", "stable", "well"]}


def write_binary_task(folder: Path, seed: int = 0) -> Path:
    """A binary task with ids, whose test set the model gets partly wrong (noisy labels)."""
    rng = random.Random(seed)

    def rows(name: str, n: int) -> list[dict]:
        out = []
        for i in range(n):
            label = rng.choice(["yes", "no"])
            shown = label if rng.random() > 0.25 else ("no" if label == "yes" else "yes")  # a quarter misleading
            text = f"{rng.choice(WORDS[shown])} after dose {rng.randint(1, 9)} note {name}{i}"
            out.append({"pid": f"P-{name}-{i:03d}", "note": text, "ade": label})
        return out

    sets = {"train": rows("train", 60), "eval": rows("eval", 30), "test": rows("test", 40)}
    sets["test"][7]["note"] = SECRET
    for name, records in sets.items():
        (folder / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    config = folder / "harness.toml"
    config.write_text(
        '[tasks.ade]\nkind = "classification"\nproblem = "binary"\ntext_column = "note"\nlabel_column = "ade"\n'
        'positive_label = "yes"\nid_column = "pid"\ntrain = "train.jsonl"\neval = "eval.jsonl"\n'
        'bootstrap_resamples = 20\npermutations = 20\n[tasks.ade.tests.ward]\npath = "test.jsonl"\n',
        encoding="utf-8",
    )
    return config


def row_files(out: Path) -> list[Path]:
    return sorted((out / ITEMS).glob(f"*{ROWS_SUFFIX}"))


@pytest.fixture
def binary_run(tmp_path, run_harness):
    config = write_binary_task(tmp_path)
    out = tmp_path / "run"
    code, _, err = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr", "--tasks", "ade", "--out", str(out)
    )
    assert code == 0, err
    return out


def test_every_scored_item_has_a_typed_per_row_file_without_text(binary_run):
    (path,) = row_files(binary_run)
    table = pq.read_table(path)
    assert [f.name for f in table.schema] == ["split", "row", "id", "gold", "predicted", "scores", "demonstrations"]
    assert str(table.schema.field("row").type) == "int64"
    assert str(table.schema.field("scores").type) == "fixed_size_list<element: double>[1]"
    meta = json.loads(table.schema.metadata[b"harness.rows"])
    assert meta["model"] == "tfidf-lr" and meta["task"] == "ade" and meta["labels"] == ["ade"]
    assert meta["decision_rule"]["threshold"] == 0.5 and meta["problem"] == "binary"
    assert set(meta["sources"]) == {"train", "eval", "ward"}
    assert meta["sources"]["ward"]["text_column"] == "note" and meta["sources"]["ward"]["id_column"] == "pid"
    predictions = read_parquet(path)
    ward = predictions.split("ward")
    assert ward.rows.tolist() == list(range(40)) and ward.ids[7] == "P-test-007"
    assert len(predictions.split("train").rows) == 60  # all of train: under 300 rows, nothing sampled
    raw = path.read_bytes()
    assert b"zanzibar" not in raw and b"after dose" not in raw  # ids and labels, never text
    stored = json.loads(next((binary_run / ITEMS).glob("*.json")).read_text())
    assert stored["format"] == FORMAT == 2 and stored["rows"] == path.name


def test_the_per_row_file_gives_every_metric_the_leaderboard_printed(binary_run):
    """Recompute each binary metric of the test set from the per-row file with scikit-learn."""
    (item,) = read_leaderboard(binary_run)["results"]
    printed = item["metrics"]["ward"]
    ward = read_parquet(row_files(binary_run)[0]).split("ward")
    truth, predicted, scores = ward.gold[:, 0], ward.predicted[:, 0], ward.scores[:, 0]
    assert (predicted == (scores >= item["decision_rule"]["threshold"])).all()  # the rule it records
    assert 0 < (truth != predicted).sum() < len(truth)  # some errors: the comparison means something
    assert printed["f1"] == pytest.approx(f1_score(truth, predicted, zero_division=0))
    assert printed["precision"] == pytest.approx(precision_score(truth, predicted, zero_division=0))
    assert printed["recall"] == pytest.approx(recall_score(truth, predicted, zero_division=0))
    assert printed["specificity"] == pytest.approx(recall_score(1 - truth, 1 - predicted, zero_division=0))
    assert printed["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert printed["pr_auc"] == pytest.approx(average_precision_score(truth, scores))
    assert printed["prevalence"] == pytest.approx(truth.mean())
    assert printed["examples"] == len(truth)
    tn = int(((truth == 0) & (predicted == 0)).sum())
    assert printed["confusion"]["tn"] == tn


def test_a_multi_label_item_read_back_matches_its_f1s(tmp_path, run_harness, tiny_config):
    out = tmp_path / "ml"
    code, stdout, err = run_harness(
        "run", "--config", str(tiny_config), "--models", "tfidf-lr", "--tasks", "indications", "--out", str(out)
    )
    assert code == 0, err
    (item,) = read_leaderboard(out)["results"]
    predictions = read_parquet(row_files(out)[0])
    site = predictions.split("site_a")
    assert "Per-label counts (site_a test set)" in stdout  # a multi-label task's TP/FP/FN/TN table
    counts = item["error_analysis"]["site_a"]["label_counts"]
    for j, label in enumerate(predictions.labels):
        truth, predicted = site.gold[:, j] == 1, site.predicted[:, j] == 1
        assert counts[label]["fp"] == (~truth & predicted).sum() and counts[label]["fn"] == (truth & ~predicted).sum()
    assert predictions.labels == tuple(item["metrics"]["site_a"]["per_class"])
    for average in ("weighted", "macro", "micro"):
        expected = f1_score(site.gold, site.predicted, average=average, zero_division=0)
        if average == "macro":  # the harness leaves out labels absent from truth and predictions
            present = (site.gold.sum(0) + site.predicted.sum(0)) > 0
            expected = f1_score(site.gold[:, present], site.predicted[:, present], average="macro", zero_division=0)
        assert item["metrics"]["site_a"][f"f1_{average}"] == pytest.approx(expected)
    assert accuracy_score(site.gold, site.predicted) <= 1.0
    assert np.isfinite(site.scores).all() and site.scores.shape == site.gold.shape


def test_resume_reads_items_back_and_reruns_one_whose_per_row_file_is_gone(tmp_path, run_harness):
    config = write_binary_task(tmp_path)
    out = tmp_path / "run"
    argv = ("run", "--config", str(config), "--models", "tfidf-lr,lookup", "--tasks", "ade", "--out", str(out))
    assert run_harness(*argv)[0] == 0
    files = row_files(out)
    assert len(files) == 2
    before = {path.name: path.read_bytes() for path in files}
    code, stdout, err = run_harness(*argv)  # into the same run directory: a resume
    assert code == 0, err
    assert {path.name: path.read_bytes() for path in row_files(out)} == before  # nothing rewritten
    files[0].unlink()
    code, _, err = run_harness(*argv)
    assert code == 0, err
    assert {path.name for path in row_files(out)} == set(before)  # the lost one ran again
    assert {path.name: path.read_bytes() for path in row_files(out)}[files[1].name] == before[files[1].name]


class Prompted:
    """A stand-in for a few-shot prompted model: the lookup's answers, and per input the ids of
    the training rows it was 'shown' (``last_demonstrations``), None for every third input."""

    def __init__(self, inner):
        self.inner, self.last_demonstrations = inner, None
        self.decision_rule, self.params, self.trainable_params, self.details = inner.decision_rule, 0, 0, {}

    def predict_scores(self, texts):
        self.last_demonstrations = [None if i % 3 == 2 else [f"train-{i}", f"train-{i + 1}"] for i in range(len(texts))]
        return self.inner.predict_scores(texts)


def test_a_prompted_models_demonstration_ids_are_kept_per_row(tmp_path, run_harness):
    from harness import ModelSpec, hookimpl

    from . import fakes

    class Plugin:
        @hookimpl
        def harness_add_models(self, register):
            fit = lambda request: Prompted(fakes.fit_lookup(request))  # noqa: E731
            register.add(ModelSpec("prompted", "fake", "in-context", fit, markers=("fake",)))

    config = write_binary_task(tmp_path)
    out = tmp_path / "run"
    code, _, err = run_harness(
        "run", "--config", str(config), "--models", "prompted,lookup", "--tasks", "ade", "--out", str(out),
        plugins={"prompted": Plugin()},
    )  # fmt: skip
    assert code == 0, err
    by_model = {r.model: r for r in map(read_parquet, row_files(out))}
    ward = by_model["prompted"].split("ward")
    assert ward.demonstrations[0] == ["train-0", "train-1"] and ward.demonstrations[2] is None
    assert len(ward.demonstrations) == len(ward.rows)
    assert by_model["lookup"].split("ward").demonstrations is None  # a model that gives none: an empty column
