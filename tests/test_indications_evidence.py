"""The indications task's evidence in a real run: CIs, bands, tuned thresholds (from eval only),
calibration, site shift, overlap and unseen-string F1, cost, with several seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness import ModelSpec, hookimpl
from harness.data import load_split
from harness.scoring import stats
from harness.tasks import classification as indications  # indications is a preset of this kind: its code
from harness.tasks.indications import CATEGORIES

from . import fakes
from .conftest import EXAMPLES, read_leaderboard, write_split

EXTRA = [
    ("urosepsis", ["urinary"]),
    ("chest infection", ["respiratory"]),
    ("see notes", ["not_informative"]),
    ("cellulitis leg", ["skin_soft_tissue"]),
    ("?cap", ["respiratory", "uncertainty"]),
]


@pytest.fixture
def two_sites(tmp_path: Path) -> Path:
    """Train/eval plus two test sets, each with rows seen and unseen in train."""
    data = tmp_path / "data"
    data.mkdir()
    write_split(data / "train.csv", EXAMPLES * 2)
    write_split(data / "eval.csv", EXAMPLES + EXTRA[:2])
    write_split(data / "site_a.csv", EXAMPLES + EXTRA)
    write_split(data / "site_b.csv", EXAMPLES[:8] + EXTRA[2:] + [("uti please", ["urinary"])])
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.indications]\ntrain = "data/train.csv"\neval = "data/eval.csv"\nkeep_embedded_tests = false\n'
        "bootstrap_resamples = 200\npermutations = 499\n"
        '[tasks.indications.tests.site_a]\npath = "data/site_a.csv"\n'
        '[tasks.indications.tests.site_b]\npath = "data/site_b.csv"\n',
        encoding="utf-8",
    )
    return config


def run_two_seeds(run_harness, config: Path, out: Path, models: str = "lookup,tfidf-lr,regex"):
    code, stdout, stderr = run_harness(
        "run",
        "--models",
        models,
        "--tasks",
        "indications",
        "--seeds",
        "1,2",
        "--config",
        str(config),
        "--out",
        str(out),
    )
    assert code == 0, stderr
    return read_leaderboard(out), stdout


def test_two_seeds_give_comparisons_bands_site_shift_and_overlap(run_harness, two_sites, tmp_path):
    document, stdout = run_two_seeds(run_harness, two_sites, tmp_path / "run")
    summary = document["summaries"]["indications"]
    assert summary["seeds"] == [1, 2] and summary["excluded"] == []
    for split in ("site_a", "site_b"):
        comparison = summary["comparisons"][split]
        assert {m["model"] for m in comparison["models"]} == {"lookup", "tfidf-lr", "regex"}
        assert all(m["seeds"] == 2 for m in comparison["models"])
        assert sorted(m for band in comparison["bands"] for m in band) == ["lookup", "regex", "tfidf-lr"]
        assert len(comparison["pairs"]) == 3 and comparison["resamples"] == 200
        # The seed mean on the comparison equals the mean of the items' own weighted F1.
        for model in comparison["models"]:
            own = [e["metrics"][split]["f1_weighted"] for e in document["results"] if e["model"] == model["model"]]
            assert model["estimate"] == pytest.approx(np.mean(own), abs=1e-12)
    assert summary["site_shift"]["reference"] == "site_a"
    assert set(summary["site_shift"]["models"]["lookup"]) == {"site_b"}
    overlap = summary["overlap"]
    # "see notes" of EXTRA is a training string too.
    assert (
        overlap["site_a"]["rows_in_train"] == len(EXAMPLES) + 1 and overlap["site_a"]["rows_unseen"] == len(EXTRA) - 1
    )
    for title in (
        "Model comparison (site_a test set)",
        "Site shift: site_b − site_a",
        "Decision thresholds",
        "Calibration and ranking",
        "Train/test overlap",
        "Weighted F1 on strings unseen in training",
        "Prevalence per split",
        "Cost",
    ):
        assert title in stdout
    assert "mean ± sd over seeds 1, 2" in stdout


def test_per_item_evidence_matches_independent_computations(run_harness, two_sites, tmp_path):
    document, _ = run_two_seeds(run_harness, two_sites, tmp_path / "run", models="lookup")
    entry = document["results"][0]
    base = two_sites.parent / "data"
    train = load_split("train", base / "train.csv", CATEGORIES)
    test = load_split("site_a", base / "site_a.csv", CATEGORIES)
    # The lookup fake is deterministic: fit it again here to get its predictions.
    classifier = fakes.fit_lookup(_fit_request(train))
    predicted = classifier.decision_rule.apply(classifier.predict_scores(list(test.texts)))
    unseen = np.array([text not in set(train.texts) for text in test.texts])
    metrics = entry["metrics_unseen"]["site_a"]
    assert metrics["examples"] == unseen.sum() == len(EXTRA) - 1
    assert metrics["f1_weighted"] == pytest.approx(
        f1_score(test.y[unseen], predicted[unseen], average="weighted", zero_division=0)
    )
    assert entry["metrics"]["site_a"]["f1_weighted"] > metrics["f1_weighted"]  # memorising pays on seen rows
    intervals = entry["confidence_intervals"]["site_a"]
    expected = stats.bootstrap_ci(test.y, predicted, CATEGORIES, resamples=200, seed=0).to_dict()
    assert intervals == json.loads(json.dumps(expected))
    assert entry["calibration"]["site_a"]["per_class"]["urinary"]["brier"] == pytest.approx(
        np.mean((classifier.predict_scores(list(test.texts))[:, 0] - test.y[:, 0]) ** 2)
    )
    inference = entry["inference"]
    site_b = load_split("site_b", base / "site_b.csv", CATEGORIES)
    assert inference["inputs"] == len(test) + len(site_b)
    assert inference["seconds_per_input"] == pytest.approx(inference["seconds"] / inference["inputs"], rel=1e-3)


def test_unseen_rows_ignore_case_and_spacing_and_the_verbatim_figure_is_kept(run_harness, tmp_path):
    """Case and spacing variants of training strings are training rows for a lowercasing model:
    metrics_unseen leaves them out (the overlap table's normalised match), metrics_unseen_exact
    keeps the verbatim match beside it."""
    data = tmp_path / "data"
    data.mkdir()
    variants = [("UTI", ["urinary"]), ("  Cap", ["respiratory"]), ("Appendicitis ", ["abdominal"])]
    write_split(data / "train.csv", EXAMPLES)
    write_split(data / "eval.csv", EXAMPLES)
    write_split(data / "site_a.csv", EXAMPLES[:4] + variants + EXTRA)
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.indications]\ntrain = "data/train.csv"\neval = "data/eval.csv"\nkeep_embedded_tests = false\n'
        'bootstrap_resamples = 50\n[tasks.indications.tests.site_a]\npath = "data/site_a.csv"\n',
        encoding="utf-8",
    )
    code, _, stderr = run_harness(
        "run", "--models", "lookup", "--tasks", "indications", "--config", str(config), "--out", str(tmp_path / "o")
    )
    assert code == 0, stderr
    (entry,) = read_leaderboard(tmp_path / "o")["results"]
    train = load_split("train", data / "train.csv", CATEGORIES)
    test = load_split("site_a", data / "site_a.csv", CATEGORIES)
    classifier = fakes.fit_lookup(_fit_request(train))
    predicted = classifier.decision_rule.apply(classifier.predict_scores(list(test.texts)))
    folded = {" ".join(text.split()).lower() for text in train.texts}
    unseen = np.array([" ".join(text.split()).lower() not in folded for text in test.texts])
    unseen_verbatim = np.array([text not in set(train.texts) for text in test.texts])
    assert unseen.sum() == len(EXTRA) - 1 and unseen_verbatim.sum() == len(EXTRA) - 1 + len(variants)
    for field, rows in (("metrics_unseen", unseen), ("metrics_unseen_exact", unseen_verbatim)):
        metrics = entry[field]["site_a"]
        assert metrics["examples"] == rows.sum()
        expected = f1_score(test.y[rows], predicted[rows], average="weighted", zero_division=0)
        assert metrics["f1_weighted"] == pytest.approx(expected)
    # the lookup lowercases: it gets every variant right, so counting them as unseen flattered it
    assert entry["metrics_unseen_exact"]["site_a"]["f1_weighted"] > entry["metrics_unseen"]["site_a"]["f1_weighted"]


class HalfTrained:
    """A plugin whose lookup fit trains on the rows of the first 8 example strings only (as a
    CPU recipe's row sample would) and says so through ``train_rows``."""

    @staticmethod
    def fit(request):
        rows = [i for i, text in enumerate(request.train.texts) if text in {t for t, _ in EXAMPLES[:8]}]
        fitted = fakes.fit_lookup(request)
        fitted.table = {request.train.texts[i]: request.train.y[i].astype(float) for i in rows}  # lower case already
        fitted.train_rows = tuple(rows)
        return fitted

    @hookimpl
    def harness_add_models(self, register) -> None:
        register.add(ModelSpec("half-lookup", "fake", "memorise", self.fit, markers=("fake",)))


def test_unseen_means_unseen_by_the_rows_the_fit_trained_on(run_harness, two_sites, tmp_path):
    code, _, stderr = run_harness(
        "run",
        "--models",
        "half-lookup,lookup",
        "--tasks",
        "indications",
        "--config",
        str(two_sites),
        "--out",
        str(tmp_path / "run"),
        plugins={"half": HalfTrained()},
    )
    assert code == 0, stderr
    half, full = read_leaderboard(tmp_path / "run")["results"]
    test = load_split("site_a", two_sites.parent / "data" / "site_a.csv", CATEGORIES)
    trained_on = {text for text, _ in EXAMPLES[:8]}
    unseen = np.array([text not in trained_on for text in test.texts])
    classifier = HalfTrained.fit(_fit_request(load_split("train", two_sites.parent / "data" / "train.csv", CATEGORIES)))
    predicted = classifier.decision_rule.apply(classifier.predict_scores(list(test.texts)))
    metrics = half["metrics_unseen"]["site_a"]
    assert metrics["examples"] == unseen.sum() == len(EXAMPLES) - 8 + len(EXTRA)
    assert metrics["f1_weighted"] == pytest.approx(
        f1_score(test.y[unseen], predicted[unseen], average="weighted", zero_division=0)
    )
    assert full["metrics_unseen"]["site_a"]["examples"] == len(EXTRA) - 1  # no train_rows: all of train


def _fit_request(train):
    from harness import FitRequest, ModelSpec
    from harness.progress import no_progress

    spec = ModelSpec("lookup", "fake", "memorise", fakes.fit_lookup)
    return FitRequest(
        spec=spec,
        labels=CATEGORIES,
        train=train,
        eval=train,
        seed=1,
        recipe={},
        device="cpu",
        weights=None,
        progress=no_progress,
    )


def test_the_same_bootstrap_seed_gives_the_same_intervals_bit_for_bit(run_harness, two_sites, tmp_path):
    first, _ = run_two_seeds(run_harness, two_sites, tmp_path / "a", models="lookup,regex")
    second, _ = run_two_seeds(run_harness, two_sites, tmp_path / "b", models="lookup,regex")
    assert first["summaries"] == second["summaries"]
    assert [e["confidence_intervals"] for e in first["results"]] == [
        e["confidence_intervals"] for e in second["results"]
    ]
    two_sites.write_text(two_sites.read_text().replace("permutations = 499", "permutations = 499\nbootstrap_seed = 7"))
    third, _ = run_two_seeds(run_harness, two_sites, tmp_path / "c", models="lookup,regex")
    assert third["results"][0]["confidence_intervals"] != first["results"][0]["confidence_intervals"]


def test_thresholds_are_tuned_on_eval_and_never_see_a_test_set(run_harness, two_sites, tmp_path, monkeypatch):
    seen: list[np.ndarray] = []
    real = indications.tune_thresholds

    def spy(y_eval, scores_eval, labels, rule, **options):
        seen.append(np.asarray(y_eval).copy())
        return real(y_eval, scores_eval, labels, rule, **options)

    monkeypatch.setattr(indications, "tune_thresholds", spy)
    first, _ = run_two_seeds(run_harness, two_sites, tmp_path / "a", models="tfidf-lr")
    eval_y = load_split("eval", two_sites.parent / "data" / "eval.csv", CATEGORIES).y
    assert len(seen) == 2 and all(np.array_equal(y, eval_y) for y in seen)
    # Scramble every test label: the thresholds must not move; the tuned test F1 does.
    for name in ("site_a.csv", "site_b.csv"):
        path = two_sites.parent / "data" / name
        rows = path.read_text().splitlines()
        scrambled = [rows[0]] + [
            ",".join([r.split(",")[0], *("1" if c == "0" else "0" for c in r.split(",")[1:])]) for r in rows[1:]
        ]
        path.write_text("\n".join(scrambled) + "\n")
    second, _ = run_two_seeds(run_harness, two_sites, tmp_path / "b", models="tfidf-lr")
    assert [e["tuned_thresholds"] for e in first["results"]] == [e["tuned_thresholds"] for e in second["results"]]
    assert first["results"][0]["metrics_tuned"] != second["results"][0]["metrics_tuned"]
    assert set(first["results"][0]["metrics_tuned"]) == {"site_a", "site_b"}  # reported beside, not instead
    assert set(first["results"][0]["metrics"]) == {"train", "eval", "site_a", "site_b"}


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("bootstrap_resamples = 0", "bootstrap_resamples", "positive integer"),
        ("permutations = 1.5", "permutations", "positive integer"),
        ("alpha = 2", "alpha", "between 0 and 1"),
        ('reference_test = "site_c"', "reference_test", "unknown test set 'site_c'"),
        ("bootstrap_seed = -1", "bootstrap_seed", "non-negative integer"),
    ],
)
def test_bad_evidence_settings_name_the_key(run_harness, two_sites, tmp_path, line, key, message):
    text = two_sites.read_text().replace("bootstrap_resamples = 200\npermutations = 499", line)
    two_sites.write_text(text)
    out = tmp_path / "run"
    code, _, stderr = run_harness("run", "--models", "lookup", "--config", str(two_sites), "--out", str(out))
    assert code == 2 and not out.exists()
    assert f"tasks.indications.{key}" in stderr and message in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_a_failing_summary_is_recorded_and_fails_the_run(run_harness, two_sites, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("deliberate failure in the comparison")

    monkeypatch.setattr(indications, "compare_models", broken)
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run", "--models", "lookup", "--tasks", "indications", "--config", str(two_sites), "--out", str(out)
    )
    assert code == 1
    document = read_leaderboard(out)  # written, and valid: it was validated before writing
    assert "deliberate failure" in document["summaries"]["indications"]["error"]
    assert document["results"][0]["status"] == "passed"
    assert "summary of task indications" in stdout


def test_reference_test_defaults_to_internal_on_the_embedded_data(run_harness, tmp_path):
    out = tmp_path / "run"
    code, _, _ = run_harness(
        "run", "--models", "regex", "--tasks", "indications", "--profile", "smoke", "--out", str(out)
    )
    assert code == 0
    summary = read_leaderboard(out)["summaries"]["indications"]
    assert summary["site_shift"]["reference"] == "internal"
    assert set(summary["site_shift"]["models"]["regex"]) == {"external"}
    assert summary["comparisons"]["internal"]["resamples"] == 1000
    assert summary["comparisons"]["internal"]["permutations"] == 2000  # the smoke profile's default
