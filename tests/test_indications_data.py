"""The embedded SYNTHETIC indications data: reproducible, well-formed, and useful for real text.

The transfer check trains a small TF-IDF + logistic-regression model on the synthetic train split
and scores it on ``tests/data/handwritten_indications.csv``, a held-out set written by hand (not by
the generator's templates) in the way prescribers type indications.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from harness.tasks.indications import generate as gen

DATA = gen.DEFAULT_OUT
HANDWRITTEN = Path(__file__).parent / "data" / "handwritten_indications.csv"
DOC = Path(__file__).resolve().parents[1] / "harness" / "tasks" / "indications" / "README.md"
SIZES = {"train": 3400, "eval": 600, "internal": 2000, "external": 2000}
SITE = {"train": "int", "eval": "int", "internal": "int", "external": "ext"}
# Published prevalences (Yuan et al. 2025): internal vs external site.
TARGETS = {
    "respiratory": {"int": 18.7, "ext": 35.3},
    "prophylaxis": {"int": 35.2, "ext": 18.0},
}


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def label_matrix(rows: list[dict]) -> np.ndarray:
    return np.array([[int(row[label]) for label in gen.LABELS] for row in rows])


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return {split: read_rows(DATA / f"indications_{split}.csv")[1] for split in SIZES}


# ------------------------------------------------------------------------ reproducibility
def test_regenerating_reproduces_the_committed_files_byte_for_byte(tmp_path, capsys):
    assert gen.main(["--out", str(tmp_path)]) == 0
    for split in SIZES:
        name = f"indications_{split}.csv"
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"{name} is stale: run `python -m harness.tasks.indications.generate`"
        )
    assert "indications_external.csv: 2000 rows" in capsys.readouterr().out


def test_generate_is_deterministic_and_the_seed_matters():
    first, again, other = gen.generate(7), gen.generate(7), gen.generate(8)
    assert first == again
    assert [r["text"] for r in first["train"]] != [r["text"] for r in other["train"]]


# ----------------------------------------------------------------------------- file shape
@pytest.mark.parametrize("split", SIZES)
def test_file_format(split):
    raw = (DATA / f"indications_{split}.csv").read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    columns, rows = read_rows(DATA / f"indications_{split}.csv")
    assert columns == ["id", "text", *gen.LABELS]
    assert len(rows) == SIZES[split]
    assert all(re.fullmatch(rf"{SITE[split]}-\d{{6}}", row["id"]) for row in rows)


def test_ids_are_unique_across_splits(splits):
    ids = [row["id"] for rows in splits.values() for row in rows]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("split", SIZES)
def test_labels_are_binary_and_every_row_has_one(splits, split):
    rows = splits[split]
    assert all(row[label] in {"0", "1"} for row in rows for label in gen.LABELS)
    assert label_matrix(rows).sum(axis=1).min() >= 1
    assert all(row["text"].strip() for row in rows)


@pytest.mark.parametrize("split", SIZES)
def test_exclusive_labels_stand_alone(splits, split):
    """Prophylaxis and not_informative rows carry no other label (documented convention)."""
    y = label_matrix(splits[split])
    for label in ("prophylaxis", "not_informative"):
        rows = y[y[:, gen.LABELS.index(label)] == 1]
        assert (rows.sum(axis=1) == 1).all(), label


@pytest.mark.parametrize("split", SIZES)
def test_every_category_has_enough_positives(splits, split):
    positives = dict(zip(gen.LABELS, label_matrix(splits[split]).sum(axis=0)))
    assert min(positives.values()) >= 10, positives


@pytest.mark.parametrize("split", SIZES)
@pytest.mark.parametrize("label", TARGETS)
def test_site_prevalence_matches_the_study(splits, split, label):
    share = gen.prevalence([{k: int(v) if k in gen.LABELS else v for k, v in r.items()} for r in splits[split]])
    assert abs(share[label] - TARGETS[label][SITE[split]]) <= 2.5


def test_strings_repeat_like_real_indications(splits):
    texts = [row["text"] for row in splits["internal"]]
    most_common = max(set(texts), key=texts.count)
    assert texts.count(most_common) >= 50  # pick-list entries such as "Perioperative Prophylaxis"
    assert len(set(texts)) >= len(texts) // 2  # but most strings are typed


def test_docs_prevalence_table_is_computed_from_the_files(splits):
    numeric = {s: [{**r, **{k: int(r[k]) for k in gen.LABELS}} for r in rows] for s, rows in splits.items()}
    assert gen.prevalence_table(numeric) in DOC.read_text(encoding="utf-8")


def test_docs_list_every_icd_code_family():
    doc = DOC.read_text(encoding="utf-8")
    missing = [code for families in gen.terms.ICD_FAMILIES.values() for code, _ in families if code not in doc]
    assert not missing


def test_clinician_forms_shorten_icd_descriptions():
    assert gen.clinician_forms("Urinary tract infection, site not specified") == ["urinary tract infection"]
    assert gen.clinician_forms("Pneumonia due to Klebsiella pneumoniae") == [
        "pneumonia due to klebsiella pneumoniae",
        "klebsiella pneumonia",
    ]
    assert gen.clinician_forms("Acute mastoiditis without complications, right ear") == ["acute mastoiditis right ear"]


# ------------------------------------------------------------------------ hand-written set
def test_handwritten_set_is_well_formed():
    columns, rows = read_rows(HANDWRITTEN)
    assert columns == ["id", "text", *gen.LABELS]
    assert len(rows) >= 150
    assert label_matrix(rows).sum(axis=1).min() >= 1
    assert all(row[label] in {"0", "1"} for row in rows for label in gen.LABELS)


# --------------------------------------------------------------------------------- transfer
@pytest.fixture(scope="module")
def baseline(splits):
    """TF-IDF word 1-2 + char_wb 2-5 grams, one-vs-rest logistic regression, fit on train."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline, make_union
    from threadpoolctl import threadpool_limits

    model = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2)),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)),
        ),
        OneVsRestClassifier(LogisticRegression(C=10, max_iter=2000)),
    )
    # One BLAS thread: multi-threaded OpenBLAS makes this lbfgs fit ~30x slower on 2 cores.
    with threadpool_limits(1):
        model.fit([row["text"] for row in splits["train"]], label_matrix(splits["train"]))
    return model


def weighted_f1(model, rows: list[dict]) -> float:
    from sklearn.metrics import f1_score

    predicted = (model.predict_proba([row["text"] for row in rows]) >= 0.5).astype(int)
    return f1_score(label_matrix(rows), predicted, average="weighted", zero_division=0)


def test_model_trained_on_synthetic_data_transfers_to_handwritten_text(baseline, splits, record_property):
    _, handwritten = read_rows(HANDWRITTEN)
    seen = {row["text"].strip().lower() for row in splits["train"]}
    unseen = [row for row in handwritten if row["text"].strip().lower() not in seen]
    scores = {
        "handwritten": weighted_f1(baseline, handwritten),
        "handwritten_unseen": weighted_f1(baseline, unseen),
        "internal": weighted_f1(baseline, splits["internal"]),
        "external": weighted_f1(baseline, splits["external"]),
    }
    for name, value in scores.items():
        record_property(f"weighted_f1_{name}", round(value, 4))
    print("weighted F1:", {k: round(v, 3) for k, v in scores.items()}, f"({len(unseen)} unseen strings)")
    assert scores["handwritten"] >= 0.75
    # The rows whose text is not in train (half of them): the README's figure is 0.941 (0.91-0.94
    # over six generator seeds), so 0.90 fails on drift without failing on a seed's noise.
    assert len(unseen) >= 100 and scores["handwritten_unseen"] >= 0.90
    assert scores["internal"] >= 0.85 and scores["external"] >= 0.85
