"""The robustness task: variants of test inputs scored on the indications fit, end to end and by hand.

Known answers come from a hand-built case (a case-sensitive keyword classifier on hand-written
variants, where which variant flips is known), from scikit-learn on the same predictions, and
from the ``lookup`` fake, which lower-cases its input (case variants never flip it) but fails on
character noise.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness import DecisionRule, Fit, LabelledSplit, LoadRequest, ScoreRequest, TaskData
from harness.leaderboard import schema_errors
from harness.model import FitRequest
from harness.plugins import baselines
from harness.progress import no_progress
from harness.registry import ModelRegistry
from harness.tasks import robustness
from harness.tasks.indications import CATEGORIES, _embedded
from harness.tasks.robustness import PERMUTATIONS, VariantSet
from harness.tasks.robustness.tables import robustness_tables
from harness.tasks.robustness.variants import KINDS, Variant, generate_variants

from . import fakes
from .conftest import EXAMPLES, read_leaderboard, write_split

SECRET = "zanzibar quokkaville cellulitis"  # planted in a non-public test split


def labels_of(row) -> tuple[str, ...]:
    return tuple(label for label, hit in zip(CATEGORIES, row) if hit)


def matrix(label_sets) -> np.ndarray:
    return np.array([[int(c in labels) for c in CATEGORIES] for labels in label_sets], dtype=np.int8)


def split_of(name: str, rows, *, public: bool) -> LabelledSplit:
    texts = tuple(text for text, _ in rows)
    return LabelledSplit(name, texts, matrix(labels for _, labels in rows), "test", "0" * 64, False, public)


def load_request(upstream: TaskData, **table) -> LoadRequest:
    return LoadRequest(table=table, options=argparse.Namespace(), config_path=None, upstream=upstream)


def score_request(data: TaskData, classifier) -> ScoreRequest:
    fit = Fit(classifier, 0.0, None, None)
    return ScoreRequest(model=None, seed=0, data=data, fitted=lambda: fit, progress=no_progress)


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """Plots are another plugin's business and cost seconds a run (one test turns them back on)."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")


def run_config(tmp_path: Path, robustness_table: str = "", public_site: bool = False) -> Path:
    """Tiny data: site_a (public or not) and a non-public ward split holding SECRET."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    write_split(data / "train.csv", EXAMPLES * 2 + [(SECRET, ["skin_soft_tissue"])])
    write_split(data / "site_a.csv", EXAMPLES)
    write_split(data / "ward.csv", [(SECRET, ["skin_soft_tissue"]), ("uti", ["urinary"])])
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.indications]\ntrain = "data/train.csv"\neval = "data/train.csv"\nkeep_embedded_tests = false\n'
        f'[tasks.indications.tests.site_a]\npath = "data/site_a.csv"\npublic = {str(public_site).lower()}\n'
        '[tasks.indications.tests.ward]\npath = "data/ward.csv"\n'
        f"{robustness_table}",
        encoding="utf-8",
    )
    return config


# ------------------------------------------------------------------------ a case worked by hand
@dataclass
class KeywordClassifier:
    """urinary iff "uti" is in the text, skin iff "cellulitis" is: case-sensitive on purpose."""

    decision_rule: DecisionRule = DecisionRule("rule")
    params: int = 0
    trainable_params: int = 0
    details: dict = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)

    def predict_scores(self, texts):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), len(CATEGORIES)))
        for i, text in enumerate(texts):
            out[i, CATEGORIES.index("urinary")] = "uti" in text
            out[i, CATEGORIES.index("skin_soft_tissue")] = "cellulitis" in text
        return out


SOURCES = [
    ("uti", ["urinary"]),  # 0: right
    ("cellulitis", ["skin_soft_tissue"]),  # 1: right
    ("uti and cellulitis", ["urinary", "skin_soft_tissue"]),  # 2: right
    ("UTI", ["urinary"]),  # 3: wrong (case-sensitive)
    ("uti catheter", ["urinary"]),  # 4: right
    ("never varied", ["not_informative"]),  # 5: no variant, not scored
]
# (source row, kind, text, flips?): the classifier's predictions decide every flip.
HAND_VARIANTS = [
    (0, "case", "UTI", True),  # a: {} - 1 error
    (0, "punctuation", "uti.", False),  # b
    (1, "deletion", "celluitis", True),  # c: {} - 1 error
    (1, "case", "CELLULITIS", True),  # d: {} - 1 error (ties with c: c is worst)
    (1, "punctuation", "cellulitis.", False),  # e
    (2, "case", "UTI and cellulitis", True),  # f: {skin} - 1 error (ties with g: f is worst)
    (2, "deletion", "uti and celluitis", True),  # g: {urinary} - 1 error
    (3, "case", "uti", True),  # h: wrong source, right variant
    (4, "punctuation", "uti catheter.", False),  # i
]


def hand_set(public: bool) -> VariantSet:
    split = split_of("hand", SOURCES, public=public)
    made = tuple(Variant(row, kind, text, labels_of(split.y[row]), f"{kind}@0") for row, kind, text, _ in HAND_VARIANTS)
    return VariantSet(split, made)


def hand_data(public: bool = True) -> TaskData:
    return TaskData(labels=CATEGORIES, extra={"variant_sets": {"hand": hand_set(public)}, "seed": 7})


def test_hand_worked_case_gives_the_known_answers():
    classifier = KeywordClassifier()
    fields = robustness.score(score_request(hand_data(), classifier))["robustness"]
    assert fields["seed"] == 7
    split = fields["splits"]["hand"]
    # two predict calls: the five distinct sources used (never row 5), then the nine variants
    assert classifier.calls == [
        ["uti", "cellulitis", "uti and cellulitis", "UTI", "uti catheter"],
        [text for _, _, text, _ in HAND_VARIANTS],
    ]
    assert (split["variants"], split["sources"]) == (9, 5)
    assert split["invariance_failure_rate"] == pytest.approx(6 / 9)
    assert {k: v["invariance_failure_rate"] for k, v in split["by_kind"].items()} == {
        "deletion": 1.0,
        "case": 1.0,
        "punctuation": 0.0,
    }
    assert {k: v["variants"] for k, v in split["by_kind"].items()} == {"deletion": 2, "case": 4, "punctuation": 3}
    # case: the sources of a, d, f are right and h's is wrong; of the variants only h is right
    assert split["by_kind"]["case"]["exact_match"] == {"original": 0.75, "variant": 0.25}
    assert split["inputs_flipped_share"] == pytest.approx(4 / 5)  # all but source 4
    assert split["inputs_right_then_wrong_share"] == pytest.approx(3 / 5)  # 0, 1, 2 (3 was wrong already)
    # worst variants a, c, f, h, i (ties: the first); g instead of f would score differently
    y = matrix([["urinary"], ["skin_soft_tissue"], ["urinary", "skin_soft_tissue"], ["urinary"], ["urinary"]])
    worst = matrix([[], [], ["skin_soft_tissue"], ["urinary"], ["urinary"]])
    expected = f1_score(y, worst, average="weighted", zero_division=0)
    assert split["worst_case_f1_weighted"] == pytest.approx(expected)
    not_first = f1_score(
        y, matrix([[], [], ["urinary"], ["urinary"], ["urinary"]]), average="weighted", zero_division=0
    )
    assert expected != pytest.approx(not_first)
    # public split: up to three failures per kind, in order, with both predictions
    assert split["examples_withheld"] is False
    examples = split["examples"]
    assert [e["variant_text"] for e in examples["case"]] == ["UTI", "CELLULITIS", "UTI and cellulitis"]
    assert examples["punctuation"] == []
    assert examples["deletion"][1] == {
        "source_text": "uti and cellulitis",
        "variant_text": "uti and celluitis",
        "edit": "deletion@0",
        "expected": ["skin_soft_tissue", "urinary"],
        "predicted_original": ["skin_soft_tissue", "urinary"],
        "predicted_variant": ["urinary"],
    }
    assert split["difference"]["permutations"] == PERMUTATIONS


def test_hand_worked_case_on_a_private_split_writes_no_text():
    split = robustness.score(score_request(hand_data(public=False), KeywordClassifier()))["robustness"]["splits"][
        "hand"
    ]
    assert split["examples_withheld"] is True and "examples" not in split
    text = json.dumps(split)
    for source, _ in SOURCES:
        assert f'"{source}' not in text
    assert split["invariance_failure_rate"] == pytest.approx(6 / 9)


# --------------------------------------------------------------- a real baseline against sklearn
@pytest.fixture(scope="module")
def tfidf_classifier():
    registry = ModelRegistry()
    baselines.harness_add_models(registry)
    spec = registry["tfidf-lr"]
    train = _embedded("train").sample(600, seed=0)
    request = FitRequest(
        spec=spec,
        labels=CATEGORIES,
        train=train,
        eval=train,
        seed=0,
        recipe=dict(spec.recipe),
        device="cpu",
        weights=None,
        progress=no_progress,
    )
    return baselines.fit_tfidf_lr(request)


@pytest.fixture(scope="module")
def embedded_tests() -> TaskData:
    splits = {name: _embedded(name) for name in ("internal", "external")}
    return TaskData(labels=CATEGORIES, splits=splits)


def test_scores_match_sklearn_on_the_same_predictions(tfidf_classifier, embedded_tests):
    data = robustness.load(load_request(embedded_tests, variants=400, seed=3, splits=["external"]))
    split = robustness.score(score_request(data, tfidf_classifier))["robustness"]["splits"]["external"]
    # independently: the generator's variants, each source predicted once per variant
    source = embedded_tests.splits["external"]
    made = generate_variants(source.texts, source.y, CATEGORIES, total=400, seed=3)

    def predict(texts: list[str]) -> np.ndarray:
        return tfidf_classifier.decision_rule.apply(tfidf_classifier.predict_scores(texts))

    y = np.array([source.y[v.source_index] for v in made])
    original = predict([source.texts[v.source_index] for v in made])
    variant = predict([v.text for v in made])
    for average in ("weighted", "macro"):
        assert split[f"f1_{average}"]["original"] == pytest.approx(
            f1_score(y, original, average=average, zero_division=0)
        )
        assert split[f"f1_{average}"]["variant"] == pytest.approx(
            f1_score(y, variant, average=average, zero_division=0)
        )
    assert split["difference"]["original_minus_variant"] == pytest.approx(
        split["f1_weighted"]["original"] - split["f1_weighted"]["variant"]
    )
    assert (
        split["difference"]["ci_low"] <= split["difference"]["original_minus_variant"] <= split["difference"]["ci_high"]
    )
    flips = (original != variant).any(axis=1)
    assert split["invariance_failure_rate"] == pytest.approx(flips.mean())
    kinds = np.array([v.kind for v in made])
    for kind, fields in split["by_kind"].items():
        mask = kinds == kind
        assert fields["variants"] == mask.sum()
        assert fields["invariance_failure_rate"] == pytest.approx(flips[mask].mean())
        assert fields["exact_match"]["variant"] == pytest.approx((variant[mask] == y[mask]).all(axis=1).mean())
        assert fields["f1_weighted"]["variant"] == pytest.approx(
            f1_score(y[mask], variant[mask], average="weighted", zero_division=0)
        )
    assert (split["variants"], split["sources"]) == (400, len({v.source_index for v in made}))


def test_duplicating_every_variant_does_not_narrow_the_interval(tfidf_classifier, embedded_tests):
    """Variants of one source row are not independent evidence: the interval and the p-value
    resample and swap whole source rows, so a source with twice the variants adds nothing."""
    data = robustness.load(load_request(embedded_tests, variants=400, seed=3, splits=["external"]))
    made = data.extra["variant_sets"]["external"]
    twice = VariantSet(made.split, tuple(v for v in made.variants for _ in range(2)))

    def difference(variant_set: VariantSet) -> dict:
        fields = robustness.score(
            score_request(
                TaskData(labels=CATEGORIES, extra={"variant_sets": {"external": variant_set}, "seed": 3}),
                tfidf_classifier,
            )
        )
        return fields["robustness"]["splits"]["external"]["difference"]

    once, doubled = difference(made), difference(twice)
    assert once["ci_low"] < once["ci_high"]  # a case with an interval to narrow
    assert doubled["ci_high"] - doubled["ci_low"] >= once["ci_high"] - once["ci_low"] - 1e-12
    assert doubled["p_value"] == pytest.approx(once["p_value"])
    assert once["clusters"] == doubled["clusters"] == len(made.source_rows) < len(made.variants)


def test_every_scored_variant_keeps_its_source_labels(embedded_tests):
    data = robustness.load(load_request(embedded_tests))
    sets = data.extra["variant_sets"]
    assert list(sets) == ["internal", "external"]
    for name, variant_set in sets.items():
        assert variant_set.split is embedded_tests.splits[name]
        assert len(variant_set.variants) == 1000
        assert {v.kind for v in variant_set.variants} == set(KINDS)
        for v in variant_set.variants:
            assert v.expected == labels_of(variant_set.split.y[v.source_index]), (v.kind, v.edit)
    provenance = {p["variants_of"]: p for p in data.provenance}
    assert provenance["internal"]["variants"] == 1000 and provenance["internal"]["seed"] == 0
    assert sum(provenance["internal"]["by_kind"].values()) == 1000


def test_same_seed_same_results_and_another_seed_other_variants(tfidf_classifier, embedded_tests):
    def run(seed: int):
        data = robustness.load(load_request(embedded_tests, variants=200, seed=seed, splits=["internal"]))
        fields = robustness.score(score_request(data, tfidf_classifier))
        return [v.edit for v in data.extra["variant_sets"]["internal"].variants], json.dumps(fields, sort_keys=True)

    first, again, other = run(5), run(5), run(6)
    assert first == again
    assert other[0] != first[0]


# ----------------------------------------------------------------------------- through the CLI
def test_runs_end_to_end_and_shares_the_fit(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,robustness",
        "--config",
        str(tiny_config),
        "--out",
        str(out),
        "--seeds",
        "1,2",
    )
    assert code == 0, stdout
    assert fakes.FIT_CALLS == [("lookup", 1), ("lookup", 2)]  # one fit per seed, shared
    document = read_leaderboard(out)
    assert schema_errors(document) == []
    items = [r for r in document["results"] if r["task"] == "robustness"]
    assert [(r["seed"], r["status"], r["cost"]["fit_reused"]) for r in items] == [
        (1, "passed", True),
        (2, "passed", True),
    ]
    # site_a's 17 short rows admit fewer than the 1,000 asked for: all of them are scored
    texts = [text for text, _ in EXAMPLES] + ["pnuemonia"]
    made = generate_variants(texts, matrix([*(labels for _, labels in EXAMPLES), ["respiratory"]]), CATEGORIES)
    assert 100 < len(made) < 1000
    (provenance,) = document["run"]["data"]["robustness"]
    assert provenance["variants_of"] == "site_a" and provenance["variants"] == len(made)
    split = items[0]["robustness"]["splits"]["site_a"]
    assert split["variants"] == len(made) and split["sources"] == len({v.source_index for v in made})
    # the fake lower-cases its input, so case never flips it; dropped letters do
    assert split["by_kind"]["case"]["invariance_failure_rate"] == 0.0
    assert split["by_kind"]["deletion"]["invariance_failure_rate"] > 0.5
    assert split["examples_withheld"] is True and "examples" not in split  # a user split is private by default
    assert items[0]["robustness"] == items[1]["robustness"]  # the fake ignores the seed; the variants do not vary
    ranking, per_kind = robustness_tables(document)
    # Two seeds, one row: mean ± sd over the seeds (the fake ignores its seed: sd 0).
    assert [row[:3] for row in ranking.rows] == [("1", "lookup", "site_a")]
    assert ranking.rows[0][5].endswith("± 0.000") and "mean ± sd over seeds 1, 2" in ranking.caption
    assert "SYNTHETIC" not in ranking.caption and "seed 0" in ranking.caption
    assert per_kind.headers[:3] == ("Model", "Test set", "key typo") and "key typo = keyboard_typo" in per_kind.caption
    assert "Robustness to label-preserving variants" in stdout


def test_real_baselines_on_the_embedded_data(run_harness, tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_DISABLE_PLUGINS")  # every built-in plugin, on robustness items too
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "tfidf-lr,regex",
        "--tasks",
        "indications,robustness",
        "--profile",
        "smoke",
        "--robustness-variants",
        "1000",
        "--out",
        str(out),  # the smoke profile's own default is 200
    )
    assert code == 0, stdout
    document = read_leaderboard(out)
    assert schema_errors(document) == []
    items = {r["model"]: r["robustness"] for r in document["results"] if r["task"] == "robustness"}
    for fields in items.values():
        assert set(fields["splits"]) == {"internal", "external"}
        for split in fields["splits"].values():
            assert split["variants"] >= 1000
            assert split["examples_withheld"] is False  # the embedded splits are public
            shown = [e for examples in split["examples"].values() for e in examples]
            assert shown and all(len(examples) <= 3 for examples in split["examples"].values())
            assert all(e["predicted_original"] != e["predicted_variant"] for e in shown)
    ranking, _ = robustness_tables(document)
    assert "SYNTHETIC" in ranking.caption
    for split in ("internal", "external"):
        rows = [row for row in ranking.rows if row[2] == split]
        by_f1 = sorted(items, key=lambda m: -items[m]["splits"][split]["f1_weighted"]["variant"])
        assert [row[1] for row in rows] == by_f1 and [row[0] for row in rows] == ["1", "2"]


def test_private_text_never_reaches_the_leaderboard_and_public_examples_do(run_harness, tmp_path):
    config = run_config(tmp_path, public_site=True)
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run", "--models", "lookup", "--tasks", "indications,robustness", "--config", str(config), "--out", str(out)
    )
    assert code == 0, stdout
    text = (out / "leaderboard.json").read_text(encoding="utf-8")
    assert "zanzibar" not in text and "quokkaville" not in text
    # nor any variant of it ("uti", the ward's other row, is in the public site_a too)
    secret_variants = generate_variants([SECRET], matrix([["skin_soft_tissue"]]), CATEGORIES, seed=0)
    assert secret_variants and not [v.text for v in secret_variants if v.text in text]
    (item,) = [r for r in json.loads(text)["results"] if r["task"] == "robustness"]
    splits = item["robustness"]["splits"]
    assert splits["ward"]["examples_withheld"] is True and "examples" not in splits["ward"]
    assert splits["site_a"]["examples_withheld"] is False and any(splits["site_a"]["examples"].values())
    assert "zanzibar" not in stdout


def test_config_chooses_splits_seed_and_count(run_harness, tmp_path):
    config = run_config(tmp_path, '[tasks.robustness]\nsplits = ["ward"]\nvariants = 5\nseed = 3\n')
    out = tmp_path / "run"
    code, _, _ = run_harness(
        "run", "--models", "lookup", "--tasks", "robustness", "--config", str(config), "--out", str(out)
    )
    assert code == 0
    document = read_leaderboard(out)
    (item,) = document["results"]
    assert item["robustness"]["seed"] == 3 and list(item["robustness"]["splits"]) == ["ward"]
    assert [p["variants"] for p in document["run"]["data"]["robustness"]] == [5]
    code, _, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "robustness",
        "--config",
        str(config),
        "--robustness-variants",
        "7",
        "--out",
        str(out),
    )
    assert code == 0  # the command line wins over the config
    assert read_leaderboard(out)["results"][0]["robustness"]["splits"]["ward"]["variants"] == 7


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("variants = 0", ["tasks.robustness.variants", "integer >= 1", "0"]),
        ('variants = "many"', ["tasks.robustness.variants", "'many'"]),
        ("variants = true", ["tasks.robustness.variants", "True"]),
        ("seed = 1.5", ["tasks.robustness.seed", "integer"]),
        ('splits = "ward"', ["tasks.robustness.splits", "list"]),
        ("splits = []", ["tasks.robustness.splits", "at least one", "site_a, ward"]),
        ('splits = ["site_b"]', ["tasks.robustness.splits", "'site_b'", "known: site_a, ward"]),
        ("variant = 10", ["tasks.robustness.variant", "unknown key", "seed, splits, task, variants"]),
    ],
)
def test_bad_config_names_the_key(run_harness, tmp_path, table, expected):
    config = run_config(tmp_path, f"[tasks.robustness]\n{table}\n")
    out = tmp_path / "run"
    code, stdout, stderr = run_harness("run", "--models", "lookup", "--config", str(config), "--out", str(out))
    assert code == 2 and stdout == "" and not out.exists()
    (line,) = stderr.strip().splitlines()
    assert "harness.toml" in line
    for fragment in expected:
        assert fragment in line


def test_bad_variants_option_exits_2(run_harness, capsys):
    with pytest.raises(SystemExit) as exited:
        run_harness("run", "--models", "lookup", "--robustness-variants", "0")
    assert exited.value.code == 2
    assert "--robustness-variants" in capsys.readouterr().err


def test_provenance_counts_every_kind(embedded_tests):
    data = robustness.load(load_request(embedded_tests, variants=90, splits=["internal"]))
    (entry,) = data.provenance
    variants = data.extra["variant_sets"]["internal"].variants
    assert entry == {
        "variants_of": "internal",
        "variants": 90,
        "sources": len({v.source_index for v in variants}),
        "seed": 0,
        "by_kind": {kind: sum(v.kind == kind for v in variants) for kind in KINDS},
    }
    assert list(entry["by_kind"]) == list(KINDS)


def test_schema_rejects_broken_robustness_items(run_harness, tiny_config, tmp_path):
    code, _, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,robustness",
        "--config",
        str(tiny_config),
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 0
    document = read_leaderboard(tmp_path / "run")
    assert schema_errors(document) == []

    def site_a(d):
        return d["results"][1]["robustness"]["splits"]["site_a"]

    changes = [
        lambda d: d["results"][1].pop("robustness"),  # a passed robustness item must have its fields
        lambda d: site_a(d).update(examples={}),  # no examples, not even empty ones, for a private split
        lambda d: site_a(d).update(examples_withheld=False),  # a public split must show its examples
        lambda d: site_a(d).update(invariance_failure_rate=1.5),
        lambda d: site_a(d)["by_kind"]["case"].update(text="uti"),
        lambda d: d["run"]["data"]["robustness"][0].update(texts=["uti"]),  # provenance: counts only
    ]
    for change in changes:
        broken = json.loads(json.dumps(document))
        change(broken)
        assert schema_errors(broken) != []
