"""The three baselines: the rule table catches clinicians' shorthand, the learned ones learn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.data import LabelledSplit
from harness.model import FitRequest
from harness.plugins import baselines
from harness.progress import no_progress
from harness.registry import ModelRegistry
from harness.training.loop import weighted_f1

REPO = Path(__file__).resolve().parents[1]

LABELS = (
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
PHRASES = {
    "urinary": ("uti", "urosepsis", "pyelonephritis", "cystitis", "cauti", "urinary sepsis"),
    "respiratory": ("cap", "hap", "lrti", "chest infection", "pneumonia", "iecopd"),
    "abdominal": ("cholangitis", "diverticulitis", "sbp", "c diff colitis", "appendicitis", "biliary sepsis"),
    "neurological": ("meningitis", "encephalitis", "brain abscess", "vp shunt infection"),
    "skin_soft_tissue": ("cellulitis", "ssti", "nec fasc", "wound infection", "dog bite"),
    "ent": ("tonsillitis", "quinsy", "otitis media", "dental abscess", "sinusitis"),
    "orthopaedic": ("osteomyelitis", "septic arthritis", "pji", "infected metalwork", "discitis"),
    "other_specific": ("endocarditis", "line infection", "endophthalmitis", "lyme disease"),
    "no_specific_source": ("sepsis", "febrile neutropenia", "pyrexia", "raised crp"),
    "prophylaxis": ("surgical prophylaxis", "pre op", "ppx", "peri-op cover"),
    "not_informative": ("as per micro", "see notes", "abx", "cont from gp"),
}
SOURCES = [label for label in LABELS[:8]]
SUFFIXES = ("", "", " d3/5", " - day 2 of 7", " iv", " l leg", " 5/7", " - review 48h")


def make_split(name: str, n: int, seed: int) -> LabelledSplit:
    """Indications built from a few phrases per category: single, combined, or hedged."""
    rng = np.random.default_rng(seed)
    texts, y = [], np.zeros((n, len(LABELS)), dtype=np.int8)
    for i in range(n):
        kind = rng.random()
        if kind < 0.15:  # two sources: "uti + cap"
            first, second = rng.choice(SOURCES, size=2, replace=False)
            text = f"{rng.choice(PHRASES[first])} + {rng.choice(PHRASES[second])}"
            hits = [first, second]
        elif kind < 0.3:  # hedged: "?uti"
            label = str(rng.choice(SOURCES))
            text, hits = f"?{rng.choice(PHRASES[label])}", [label, "uncertainty"]
        else:
            label = str(rng.choice(list(PHRASES)))
            text, hits = str(rng.choice(PHRASES[label])), [label]
        if "not_informative" not in hits:
            text += str(rng.choice(SUFFIXES))
        texts.append(text.upper() if rng.random() < 0.2 else text)
        y[i, [LABELS.index(label) for label in hits]] = 1
    return LabelledSplit(name=name, texts=tuple(texts), y=y, source="test", sha256="x", synthetic=True, public=True)


def request_for(name: str, train: LabelledSplit, seed: int = 0, **recipe: object) -> FitRequest:
    registry = ModelRegistry()
    baselines.harness_add_models(registry)
    spec = registry[name]
    return FitRequest(
        spec=spec,
        labels=LABELS,
        train=train,
        eval=make_split("eval", 40, 99),
        seed=seed,
        recipe={**spec.recipe, **recipe},
        device="cpu",
        weights=None,
        progress=no_progress,
    )


@pytest.fixture(scope="module")
def train() -> LabelledSplit:
    return make_split("train", 240, 1)


@pytest.fixture(scope="module")
def held_out() -> LabelledSplit:
    return make_split("test", 150, 2)


def label_prior_f1(train: LabelledSplit, test: LabelledSplit) -> float:
    """The best a text-blind predictor can do per label: always 1 if that beats always 0."""
    always = np.ones_like(test.y) * (train.y.mean(axis=0) > 0).astype(np.int8)
    return weighted_f1(test.y, always.astype(float), LABELS)


# --- regex --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAP", {"respiratory"}),
        ("hap", {"respiratory"}),
        ("VAP on ITU", {"respiratory"}),
        ("lrti", {"respiratory"}),
        ("IECOPD", {"respiratory"}),
        ("asp pneumonia", {"respiratory"}),
        ("uti", {"urinary"}),
        ("CAUTI", {"urinary"}),
        ("urosepsis", {"urinary"}),
        ("SSTI", {"skin_soft_tissue"}),
        ("nec fasc", {"skin_soft_tissue"}),
        ("osteo", {"orthopaedic"}),
        ("PJI", {"orthopaedic"}),
        ("infected TKR", {"orthopaedic"}),
        ("SBP", {"abdominal"}),
        ("c diff", {"abdominal"}),
        ("cholecystitis", {"abdominal"}),  # not urinary, though it ends in "cystitis"
        ("dental abscess", {"ent"}),  # a named source beats the generic "abscess"
        ("groin abscess", {"skin_soft_tissue"}),
        ("periorbital cellulitis", {"other_specific"}),
        ("?UTI", {"urinary", "uncertainty"}),
        ("uti vs chest", {"urinary", "respiratory", "uncertainty"}),
        ("sepsis ?source", {"no_specific_source", "uncertainty"}),
        ("sepsis - chest", {"respiratory"}),
        ("SBP prophylaxis", {"prophylaxis"}),
        ("#NOF", {"prophylaxis"}),
        ("as per micro", {"not_informative"}),
        ("co-amoxiclav", {"not_informative"}),
    ],
)
def test_rule_table_reads_clinical_shorthand(text: str, expected: set[str]) -> None:
    assert baselines.apply_rules(text) == expected


def test_regex_scores_are_rule_outputs_and_ignore_training_labels(train: LabelledSplit) -> None:
    shuffled = LabelledSplit("train", train.texts, train.y[::-1].copy(), "test", "x", True, True)
    texts = ["?uti", "cellulitis l leg", "see notes"]
    first = baselines.fit_regex(request_for("regex", train))
    second = baselines.fit_regex(request_for("regex", shuffled))
    scores = first.predict_scores(texts)
    assert np.array_equal(scores, second.predict_scores(texts))
    assert set(np.unique(scores)) == {0.0, 1.0}
    assert scores[0, LABELS.index("urinary")] == scores[0, LABELS.index("uncertainty")] == 1.0
    assert first.decision_rule.score == "rule" and first.params == first.trainable_params == 0


def test_regex_scores_well_on_generated_indications(train: LabelledSplit, held_out: LabelledSplit) -> None:
    scores = baselines.fit_regex(request_for("regex", train)).predict_scores(held_out.texts)
    assert weighted_f1(held_out.y, scores, LABELS) > 0.9


def test_rule_table_was_not_written_from_the_probe() -> None:
    """Issue 12: the old table matched exactly the probe's misspellings ('sesp', 'ost(eo|oe)',
    'cel{1,2}u...', 'pn...mon'), so its 15/15 said nothing about robustness. Spelled-correctly
    rules pass the probe's correct and abbreviated cases, and none of its typo cases."""
    probe = [
        json.loads(line)
        for line in (REPO / "harness" / "tasks" / "probe" / "seed_spotcheck.jsonl").read_text().splitlines()
    ]
    passes = {case["id"]: baselines.apply_rules(case["input"]) == set(case["expected"]) for case in probe}
    typos = [case["id"] for case in probe if case["kind"] == "typo"]
    assert typos and not any(passes[case_id] for case_id in typos)
    assert all(passes[case["id"]] for case in probe if case["kind"] in {"correct", "abbreviation"})


# --- learned baselines --------------------------------------------------------------------

LEARNED = ["tfidf-lr", "char-gbt"]
FIT = {"tfidf-lr": baselines.fit_tfidf_lr, "char-gbt": baselines.fit_char_gbt}
# Fewer, smaller trees keep these tests quick; on 240 strings they learn as well.
QUICK = {"tfidf-lr": {}, "char-gbt": {"max_iter": 30, "features_per_label": 128}}


@pytest.mark.parametrize("name", LEARNED)
def test_learned_baseline_beats_label_prior_on_held_out_strings(
    name: str, train: LabelledSplit, held_out: LabelledSplit
) -> None:
    fitted = FIT[name](request_for(name, train, **QUICK[name]))
    scores = fitted.predict_scores(held_out.texts)
    assert scores.shape == (len(held_out), len(LABELS))
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    f1 = weighted_f1(held_out.y, scores, LABELS)
    prior = label_prior_f1(train, held_out)
    assert prior < 0.35  # the generated set is not trivially solved by predicting everything
    assert f1 > prior + 0.5, f"{name}: weighted F1 {f1:.3f}, label prior {prior:.3f}"
    assert fitted.decision_rule.score == "probability"
    assert fitted.params > 0 and fitted.trainable_params == fitted.params


@pytest.mark.parametrize("name", LEARNED)
def test_same_seed_gives_bit_identical_scores(name: str, train: LabelledSplit, held_out: LabelledSplit) -> None:
    first = FIT[name](request_for(name, train, seed=3, **QUICK[name])).predict_scores(held_out.texts)
    second = FIT[name](request_for(name, train, seed=3, **QUICK[name])).predict_scores(held_out.texts)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("name", LEARNED)
def test_constant_label_columns_do_not_crash(name: str, train: LabelledSplit, held_out: LabelledSplit) -> None:
    y = train.y.copy()
    y[:, LABELS.index("ent")] = 0  # no positives at all
    y[:, LABELS.index("not_informative")] = 1  # every row positive
    constant = LabelledSplit("train", train.texts, y, "test", "x", True, True)
    fitted = FIT[name](request_for(name, constant, **QUICK[name]))
    scores = fitted.predict_scores(held_out.texts)
    assert np.all(scores[:, LABELS.index("ent")] == 0.0)
    assert np.all(scores[:, LABELS.index("not_informative")] == 1.0)
    assert set(fitted.details["constant_labels"]) == {"ent", "not_informative"}
    assert fitted.predict_scores([]).shape == (0, len(LABELS))


def test_recipe_values_are_read_from_the_request(train: LabelledSplit) -> None:
    small = baselines.fit_char_gbt(request_for("char-gbt", train, max_features=50, max_iter=5))
    large = baselines.fit_char_gbt(request_for("char-gbt", train, max_features=50, max_iter=10))
    assert small.details["features"] == 50
    assert small.params < large.params


def test_importing_the_plugin_stays_cheap() -> None:
    code = "import sys, harness.plugins.baselines; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
