"""The three embedded SYNTHETIC example tasks: files parse, sizes and labels as stated, the
generator reproduces them byte for byte, test rows are not train rows, and the NLI pairs need
the premise (a hypothesis-only model does clearly worse)."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from harness.tasks.examples import generate as gen, sanity

FOLDER = gen.DEFAULT_OUT
SIZES = {
    "example-smoking": {"train": 600, "eval": 150, "internal": 300, "site_b": 300},
    "example-ade": {"train": 600, "eval": 150, "internal": 300},
    "example-nli": {"train": 900, "eval": 200, "internal": 300},
}
LABELS = {
    "example-smoking": ("status", {"current", "former", "never", "unknown"}),
    "example-ade": ("ade", {"yes", "no"}),
    "example-nli": ("label", {"entailment", "neutral", "contradiction"}),
}
TEXT = {"example-smoking": ("note",), "example-ade": ("sentence",), "example-nli": ("premise", "hypothesis")}
MAX_TRAIN_COPIES = 0.01  # share of a test split's rows whose text is also a train row's


def rows(name: str, split: str) -> list[dict]:
    return sanity.read_rows(gen.data_path(FOLDER, name, split))


def text(name: str, row: dict) -> tuple:
    return tuple(row[c] for c in TEXT[name])


@pytest.mark.parametrize("name", SIZES)
def test_task_toml_points_at_files_that_parse_with_the_stated_columns(name):
    config = tomllib.loads((FOLDER / name / "task.toml").read_text(encoding="utf-8"))
    assert config["synthetic"] is True and config["public"] is True and config["kind"] == "classification"
    paths = [config["train"]["path"], config["eval"]] + [t["path"] for t in config["tests"].values()]
    assert [Path(p).stem for p in paths] == list(SIZES[name])
    columns = {config["train"][k] for k in ("text_column", "label_column", "id_column")} | set(TEXT[name])
    for path in paths:
        loaded = sanity.read_rows(FOLDER / name / path)
        assert loaded and all(set(row) == columns for row in loaded), path
    if name == "example-ade":
        assert config["problem"] == "binary" and config["positive_label"] == "yes" and "labels" not in config
        assert set(config["label_descriptions"]) == {config["label_name"]}
    else:
        assert set(config["labels"]) == LABELS[name][1] == set(config["label_descriptions"])


@pytest.mark.parametrize("name", SIZES)
def test_row_counts_ids_and_every_label_in_every_split(name):
    column, labels = LABELS[name]
    ids = []
    for split, size in SIZES[name].items():
        loaded = rows(name, split)
        assert len(loaded) == size, split
        assert {row[column] for row in loaded} == labels, split
        assert all(0 < len(" ".join(text(name, row)).split()) <= 40 for row in loaded), split
        ids += [row["id"] for row in loaded]
    assert len(ids) == len(set(ids))


def shares(name: str, split: str) -> dict:
    counts = Counter(row[LABELS[name][0]] for row in rows(name, split))
    return {label: counts[label] / sum(counts.values()) for label in counts}


def test_label_balance_is_as_documented():
    for split in ("train", "eval", "internal"):
        assert shares("example-smoking", split) == pytest.approx(
            {"never": 0.40, "current": 0.25, "former": 0.25, "unknown": 0.10}, abs=0.01
        )
        assert shares("example-ade", split)["yes"] == pytest.approx(0.30, abs=0.01)
        assert all(abs(s - 1 / 3) < 0.01 for s in shares("example-nli", split).values())
    assert shares("example-smoking", "site_b") == pytest.approx(
        {"never": 0.35, "current": 0.30, "former": 0.25, "unknown": 0.10}
    )


@pytest.mark.parametrize("name", SIZES)
def test_test_rows_are_not_copies_of_train_rows(name):
    train = {text(name, row) for row in rows(name, "train")}
    for split in list(SIZES[name])[1:]:
        loaded = rows(name, split)
        copies = sum(text(name, row) in train for row in loaded)
        assert copies <= MAX_TRAIN_COPIES * len(loaded), (split, copies)


def test_regenerating_reproduces_the_committed_files_byte_for_byte(tmp_path, capsys):
    assert gen.main(["--out", str(tmp_path)]) == 0
    for name, splits in SIZES.items():
        for split in splits:
            fresh, committed = gen.data_path(tmp_path, name, split), gen.data_path(FOLDER, name, split)
            assert fresh.read_bytes() == committed.read_bytes(), (
                f"{committed} is stale: run python -m harness.tasks.examples.generate"
            )
    assert "site_b.csv: 300 rows" in capsys.readouterr().out


def test_the_seed_changes_the_text():
    first, other = (
        gen.generate_example(gen.EXAMPLES["example-ade"], 1),
        gen.generate_example(gen.EXAMPLES["example-ade"], 2),
    )
    assert [r["sentence"] for r in first["train"]] != [r["sentence"] for r in other["train"]]


def test_same_hypothesis_templates_carry_all_three_labels():
    by_hypothesis = {}
    for row in rows("example-nli", "train"):
        by_hypothesis.setdefault(row["hypothesis"], set()).add(row["label"])
    frequent = [labels for h, labels in by_hypothesis.items() if h.startswith("The patient has a disease of the")]
    assert frequent and all(labels == LABELS["example-nli"][1] for labels in frequent)


def _fit_macro_f1(train, test, features) -> float:
    """An independent TF-IDF + logistic regression (not sanity.macro_f1) over ``features`` of a row."""
    vectorizer = TfidfVectorizer(analyzer=features)
    model = LogisticRegression(max_iter=2000).fit(vectorizer.fit_transform(train), [r["label"] for r in train])
    return f1_score([r["label"] for r in test], model.predict(vectorizer.transform(test)), average="macro")


def test_nli_needs_the_premise():
    train, test = rows("example-nli", "train"), rows("example-nli", "internal")
    pair = _fit_macro_f1(train, test, sanity.pair_features)
    hypothesis_only = _fit_macro_f1(train, test, sanity.hypothesis_features)
    assert hypothesis_only < 0.45  # chance is 1/3
    assert pair - hypothesis_only >= 0.15, (pair, hypothesis_only)


def test_examples_are_learnable_but_not_trivial():
    for name in SIZES:
        column = LABELS[name][0]
        features = sanity.pair_features if name == "example-nli" else TEXT[name][0]
        for split in list(SIZES[name])[2:]:
            score = sanity.macro_f1(rows(name, "train"), rows(name, split), column, features)
            assert 0.70 <= score <= 0.97, (name, split, score)
