"""harness.scoring.ner_metrics against seqeval and nervaluate, the independent implementations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from nervaluate import Evaluator
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2

from harness.scoring.ner_metrics import LENGTH_BUCKETS, entity_spans, ner_report
from harness.tagged import tag_set

TYPES = ("Disease", "Drug", "Adverse-Event")  # a hyphen inside a type name must survive parsing
TAGS = tag_set(TYPES)


def valid_sentence(rng: np.random.Generator, types=TYPES) -> list[str]:
    """Random valid IOB2 tags, with entities of 1 to several tokens."""
    tags: list[str] = []
    current = None
    for _ in range(int(rng.integers(1, 16))):
        r = rng.random()
        if current is not None and r < 0.35:
            tags.append(f"I-{current}")
        elif r < 0.65:
            current = str(rng.choice(types))
            tags.append(f"B-{current}")
        else:
            current = None
            tags.append("O")
    return tags


def perturbed(rng: np.random.Generator, gold: list[str], types=TYPES, invalid: bool = False) -> list[str]:
    """A prediction near ``gold``: some tags replaced by random ones (not always IOB2 if ``invalid``)."""
    tags = list(gold)
    choices = tag_set(types)
    for i in range(len(tags)):
        if rng.random() < 0.3:
            tags[i] = str(rng.choice(choices))
    if not invalid:
        # repair into valid IOB2: an I-X that does not continue an X becomes B-X
        for i, tag in enumerate(tags):
            if tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:]):
                tags[i] = "B-" + tag[2:]
    return tags


def corpus(seed: int, invalid: bool, types=TYPES, n: int = 40):
    rng = np.random.default_rng(seed)
    gold = [valid_sentence(rng, types) for _ in range(n)]
    predicted = [perturbed(rng, g, types, invalid) for g in gold]
    return gold, predicted


def is_iob2(tags) -> bool:
    return all(
        not t.startswith("I-") or (i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == t[2:])
        for i, t in enumerate(tags)
    )


# seeds 0-7: predictions in valid IOB2; seeds 8-15: predictions with stray I- tags
CORPORA = [corpus(seed, invalid=seed >= 8) for seed in range(16)]


def test_random_corpora_exercise_both_kinds_of_prediction():
    # the comparisons below mean little unless the invalid corpora really contain invalid IOB2
    assert all(is_iob2(p) for gold, predicted in CORPORA[:8] for p in predicted)
    assert all(any(not is_iob2(p) for p in predicted) for gold, predicted in CORPORA[8:])


# ---- entity_spans -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        ([], []),
        (["O", "O"], []),
        (["B-Drug"], [("Drug", 0, 1)]),
        (["B-Drug", "I-Drug", "O", "B-Drug", "B-Drug"], [("Drug", 0, 2), ("Drug", 3, 4), ("Drug", 4, 5)]),
        (["O", "B-Disease", "I-Disease", "I-Disease"], [("Disease", 1, 4)]),
        # not IOB2: an I-X after O, at the start, or after another type starts an entity
        (["I-Drug", "I-Drug", "O", "I-Drug"], [("Drug", 0, 2), ("Drug", 3, 4)]),
        (["B-Drug", "I-Disease", "I-Disease"], [("Drug", 0, 1), ("Disease", 1, 3)]),
        (["B-Adverse-Event", "I-Adverse-Event"], [("Adverse-Event", 0, 2)]),
    ],
)
def test_entity_spans_by_hand(tags, spans):
    assert entity_spans(tags) == spans


@pytest.mark.parametrize("bad", ["B", "I-", "X-Drug", "b-Drug", "", "Drug"])
def test_entity_spans_refuses_malformed_tags(bad):
    with pytest.raises(ValueError, match="is not O"):
        entity_spans(["O", bad])


@pytest.mark.parametrize(("gold", "predicted"), CORPORA)
def test_entity_spans_match_seqeval_and_nervaluate(gold, predicted):
    for tags in (*gold, *predicted):
        mine = entity_spans(tags)
        assert mine == [(t, s, e + 1) for t, s, e in get_entities(list(tags))]  # seqeval: end inclusive
        (theirs,) = Evaluator([tags], [tags], tags=list(TYPES), loader="list").true
        assert mine == [(e.label, e.start, e.end + 1) for e in theirs]


# ---- strict -------------------------------------------------------------------------------------


def seqeval_report(gold, predicted, mode):
    kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classification_report(gold, predicted, output_dict=True, zero_division=0, **kwargs)


def assert_scores(mine, precision, recall, f1):
    assert mine["precision"] == pytest.approx(precision, abs=1e-12)
    assert mine["recall"] == pytest.approx(recall, abs=1e-12)
    assert mine["f1"] == pytest.approx(f1, abs=1e-12)


@pytest.mark.parametrize(("gold", "predicted"), CORPORA)
def test_strict_matches_seqeval(gold, predicted):
    report = ner_report(gold, predicted, TYPES)["strict"]
    # seqeval's strict mode drops an I-X it cannot attach; its default (conlleval) mode reads it
    # as we do, so predictions that are not IOB2 are compared with the default mode.
    theirs = seqeval_report(gold, predicted, "strict" if all(map(is_iob2, predicted)) else None)
    micro = theirs["micro avg"]
    assert_scores(report["micro"], micro["precision"], micro["recall"], micro["f1-score"])
    assert report["micro"]["gold"] == micro["support"]
    for t in TYPES:
        if t in theirs:  # seqeval lists only the types it saw
            ours = report["per_type"][t]
            assert_scores(ours, theirs[t]["precision"], theirs[t]["recall"], theirs[t]["f1-score"])
            assert ours["gold"] == theirs[t]["support"]
        else:
            assert report["per_type"][t]["gold"] == report["per_type"][t]["predicted"] == 0


def assert_nervaluate(mine, result):
    assert mine["true_positives"] == result.correct
    assert mine["predicted"] == result.actual
    assert mine["gold"] == result.possible
    assert_scores(mine, result.precision, result.recall, result.f1)


@pytest.mark.parametrize(("gold", "predicted"), CORPORA)
def test_strict_matches_nervaluate(gold, predicted):
    report = ner_report(gold, predicted, TYPES)["strict"]
    results = Evaluator(gold, predicted, tags=list(TYPES), loader="list").evaluate()
    assert_nervaluate(report["micro"], results["overall"]["strict"])
    for t in TYPES:
        if t in results["entities"]:
            assert_nervaluate(report["per_type"][t], results["entities"][t]["strict"])


# ---- relaxed ------------------------------------------------------------------------------------


def crosses_types(gold, predicted) -> bool:
    """Does some predicted entity overlap a gold entity of another type?"""
    return any(
        pt != gt and ps < ge and gs < pe
        for g, p in zip(gold, predicted)
        for gt, gs, ge in entity_spans(g)
        for pt, ps, pe in entity_spans(p)
    )


@pytest.mark.parametrize(("gold", "predicted"), CORPORA)
def test_relaxed_per_type_matches_nervaluate_ent_type(gold, predicted):
    report = ner_report(gold, predicted, TYPES)["relaxed"]
    results = Evaluator(gold, predicted, tags=list(TYPES), loader="list").evaluate()
    for t in TYPES:
        if t in results["entities"]:
            assert_nervaluate(report["per_type"][t], results["entities"][t]["ent_type"])
    # our micro counts are the sums of the per-type counts, matched type by type
    summed = sum(results["entities"][t]["ent_type"].correct for t in results["entities"])
    assert report["micro"]["true_positives"] == summed
    overall = results["overall"]["ent_type"]
    assert (report["micro"]["predicted"], report["micro"]["gold"]) == (overall.actual, overall.possible)
    # nervaluate's overall can only be lower: a wrong-type overlap uses a gold entity up there
    assert overall.correct <= summed
    # on the sentences where no prediction overlaps a gold entity of another type, it must agree
    kept = [(g, p) for g, p in zip(gold, predicted) if not crosses_types([g], [p])]
    assert len(kept) >= 10
    gold_kept, predicted_kept = [g for g, _ in kept], [p for _, p in kept]
    results = Evaluator(gold_kept, predicted_kept, tags=list(TYPES), loader="list").evaluate()
    kept_report = ner_report(gold_kept, predicted_kept, TYPES)["relaxed"]["micro"]
    assert_nervaluate(kept_report, results["overall"]["ent_type"])


@pytest.mark.parametrize("seed", range(16, 28))
def test_relaxed_one_type_matches_nervaluate_overall(seed):
    # with one type there is nothing to cross, so nervaluate's overall numbers must agree too
    gold, predicted = corpus(seed, invalid=seed % 2 == 1, types=("Disease",))
    report = ner_report(gold, predicted, ("Disease",))
    results = Evaluator(gold, predicted, tags=["Disease"], loader="list").evaluate()
    assert_nervaluate(report["relaxed"]["micro"], results["overall"]["ent_type"])
    assert_nervaluate(report["strict"]["micro"], results["overall"]["strict"])
    # and the relaxed matching really was exercised: partial overlaps count here, not in strict
    assert report["relaxed"]["micro"]["true_positives"] > report["strict"]["micro"]["true_positives"]


def test_relaxed_by_hand():
    gold = [["B-Drug", "I-Drug", "I-Drug", "O", "B-Disease", "O"]]
    predicted = [["O", "B-Drug", "O", "O", "B-Drug", "O"]]
    report = ner_report(gold, predicted, ("Disease", "Drug"))
    # the Drug inside the gold Drug counts; the Drug on the gold Disease does not (wrong type)
    relaxed = report["relaxed"]["micro"]
    assert (relaxed["true_positives"], relaxed["predicted"], relaxed["gold"]) == (1, 2, 2)
    assert relaxed["precision"] == relaxed["recall"] == relaxed["f1"] == 0.5
    assert report["strict"]["micro"]["true_positives"] == 0
    assert report["relaxed"]["per_type"]["Disease"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "true_positives": 0,
        "predicted": 0,
        "gold": 1,
    }


def test_relaxed_matches_each_entity_at_most_once():
    # two predictions inside one gold entity: one is correct, the other a false positive
    gold = [["B-Drug", "I-Drug", "I-Drug", "I-Drug"]]
    predicted = [["B-Drug", "O", "B-Drug", "I-Drug"]]
    relaxed = ner_report(gold, predicted, ("Drug",))["relaxed"]["micro"]
    assert (relaxed["true_positives"], relaxed["predicted"], relaxed["gold"]) == (1, 2, 1)
    assert relaxed["precision"] == 0.5 and relaxed["recall"] == 1.0
    # one prediction across two gold entities: one of them is found
    gold = [["B-Drug", "B-Drug", "O"]]
    predicted = [["B-Drug", "I-Drug", "O"]]
    relaxed = ner_report(gold, predicted, ("Drug",))["relaxed"]["micro"]
    assert (relaxed["true_positives"], relaxed["predicted"], relaxed["gold"]) == (1, 1, 2)


def test_relaxed_takes_the_closest_gold_entity_as_nervaluate_does():
    # The first prediction (tokens 0-4) overlaps gold [0] and gold [2-5], and is closer to the
    # second; nervaluate (and we) match it there, so the second prediction (token 5) finds that
    # gold entity taken. A leftmost-first rule would have found 2; a maximum matching too.
    gold = [["B-Drug", "O", "B-Drug", "I-Drug", "I-Drug", "I-Drug"]]
    predicted = [["B-Drug", "I-Drug", "I-Drug", "I-Drug", "I-Drug", "B-Drug"]]
    relaxed = ner_report(gold, predicted, ("Drug",))["relaxed"]["micro"]
    assert relaxed["true_positives"] == 1
    result = Evaluator(gold, predicted, tags=["Drug"], loader="list").evaluate()["overall"]["ent_type"]
    assert result.correct == 1


def test_relaxed_micro_differs_from_nervaluate_overall_when_a_wrong_type_comes_first():
    # The Drug prediction overlaps only the gold Disease; nervaluate's overall counts it
    # "incorrect" and uses the gold Disease up, so the Disease prediction after it is spurious.
    # Type by type (nervaluate's own per-type numbers, and ours) the Disease is found.
    gold = [["B-Disease", "I-Disease", "I-Disease"]]
    predicted = [["B-Drug", "B-Disease", "I-Disease"]]
    report = ner_report(gold, predicted, ("Disease", "Drug"))["relaxed"]
    assert report["micro"]["true_positives"] == report["per_type"]["Disease"]["true_positives"] == 1
    results = Evaluator(gold, predicted, tags=["Disease", "Drug"], loader="list").evaluate()
    assert results["overall"]["ent_type"].correct == 0
    assert results["entities"]["Disease"]["ent_type"].correct == 1


# ---- by_length ----------------------------------------------------------------------------------


def in_bucket(span, bucket) -> bool:
    length = span[2] - span[1]
    return {"1": length == 1, "2": length == 2, "3+": length >= 3}[bucket]


def as_dicts(spans):
    return [{"label": t, "start": s, "end": e - 1} for t, s, e in spans]  # nervaluate: end inclusive


@pytest.mark.parametrize(("gold", "predicted"), CORPORA)
def test_by_length_strict_matches_nervaluate_on_filtered_entities(gold, predicted):
    by_length = ner_report(gold, predicted, TYPES)["by_length"]
    assert tuple(by_length) == LENGTH_BUCKETS
    for bucket in LENGTH_BUCKETS:
        g = [as_dicts(s for s in entity_spans(tags) if in_bucket(s, bucket)) for tags in gold]
        p = [as_dicts(s for s in entity_spans(tags) if in_bucket(s, bucket)) for tags in predicted]
        result = Evaluator(g, p, tags=list(TYPES), loader="dict").evaluate()["overall"]["strict"]
        assert_nervaluate(by_length[bucket]["strict"], result)
        assert by_length[bucket]["strict"]["predicted_correct"] == result.correct
        assert by_length[bucket]["gold"] == result.possible


@pytest.mark.parametrize(("gold", "predicted"), CORPORA)
def test_by_length_relaxed_matches_nervaluate_matching(gold, predicted):
    # nervaluate's per-type ent_type indices say which predicted entities were correct and which
    # gold entities were missed; bucket those by length ourselves.
    results = Evaluator(gold, predicted, tags=list(TYPES), loader="list").evaluate()
    gold_hit = {b: 0 for b in LENGTH_BUCKETS}
    predicted_hit = {b: 0 for b in LENGTH_BUCKETS}
    gold_n = {b: 0 for b in LENGTH_BUCKETS}
    predicted_n = {b: 0 for b in LENGTH_BUCKETS}
    for t, indices in results["entity_indices"].items():
        ent_type = indices["ent_type"]
        missed = set(ent_type.missed_indices)
        for doc, (g, p) in enumerate(zip(gold, predicted)):
            g_spans = [s for s in entity_spans(g) if s[0] == t]
            p_spans = [s for s in entity_spans(p) if s[0] == t]
            for k, span in enumerate(g_spans):
                bucket = next(b for b in LENGTH_BUCKETS if in_bucket(span, b))
                gold_n[bucket] += 1
                gold_hit[bucket] += (doc, k) not in missed
            for span in p_spans:
                bucket = next(b for b in LENGTH_BUCKETS if in_bucket(span, b))
                predicted_n[bucket] += 1
        for doc, k in ent_type.correct_indices:
            span = [s for s in entity_spans(predicted[doc]) if s[0] == t][k]
            predicted_hit[next(b for b in LENGTH_BUCKETS if in_bucket(span, b))] += 1
    by_length = ner_report(gold, predicted, TYPES)["by_length"]
    for b in LENGTH_BUCKETS:
        mine = by_length[b]["relaxed"]
        assert (mine["true_positives"], mine["predicted_correct"]) == (gold_hit[b], predicted_hit[b])
        assert (mine["gold"], mine["predicted"]) == (gold_n[b], predicted_n[b])
        precision = predicted_hit[b] / predicted_n[b] if predicted_n[b] else 0.0
        recall = gold_hit[b] / gold_n[b] if gold_n[b] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert_scores(mine, precision, recall, f1)


def test_by_length_by_hand():
    # gold: a 2-token Drug and a 3-token Disease; predicted: a 1-token Drug inside the 2-token one,
    # the exact Disease, and a spurious 2-token Drug
    gold = [["B-Drug", "I-Drug", "O", "B-Disease", "I-Disease", "I-Disease", "O", "O"]]
    predicted = [["B-Drug", "O", "O", "B-Disease", "I-Disease", "I-Disease", "B-Drug", "I-Drug"]]
    by_length = ner_report(gold, predicted, ("Disease", "Drug"))["by_length"]
    one, two, three = (by_length[b] for b in LENGTH_BUCKETS)
    assert (one["gold"], two["gold"], three["gold"]) == (0, 1, 1)
    # relaxed: the 1-token prediction is a precision hit in "1", its gold a recall hit in "2"
    assert one["relaxed"]["precision"] == 1.0 and one["relaxed"]["recall"] == 0.0 and one["relaxed"]["f1"] == 0.0
    assert two["relaxed"]["recall"] == 1.0 and two["relaxed"]["precision"] == 0.0  # the spurious Drug
    assert three["relaxed"]["precision"] == three["relaxed"]["recall"] == 1.0
    assert one["strict"]["precision"] == two["strict"]["recall"] == 0.0
    assert three["strict"]["f1"] == 1.0


# ---- conventions and refusals -------------------------------------------------------------------


def test_zero_division_gives_zero():
    report = ner_report([["O", "O"], ["O"]], [["O", "O"], ["O"]], TYPES)
    for mode in ("strict", "relaxed"):
        for scores in (report[mode]["micro"], *report[mode]["per_type"].values()):
            assert scores["precision"] == scores["recall"] == scores["f1"] == 0.0
    assert report["sentences"] == 2
    assert report["entities"] == {"gold": 0, "predicted": 0}
    assert list(report["strict"]["per_type"]) == list(TYPES)
    # predicting nothing: recall 0 and precision 0, not an error
    report = ner_report([["B-Drug"]], [["O"]], TYPES)["strict"]["micro"]
    assert (report["precision"], report["recall"], report["f1"], report["gold"]) == (0.0, 0.0, 0.0, 1)


def test_counts_of_the_whole_report():
    gold, predicted = CORPORA[9]
    report = ner_report(gold, predicted, TYPES)
    assert report["entities"]["gold"] == sum(len(entity_spans(g)) for g in gold)
    assert report["entities"]["predicted"] == sum(len(entity_spans(p)) for p in predicted)
    assert sum(report["by_length"][b]["gold"] for b in LENGTH_BUCKETS) == report["entities"]["gold"]
    assert (
        sum(report["by_length"][b]["strict"]["true_positives"] for b in LENGTH_BUCKETS)
        == (report["strict"]["micro"]["true_positives"])
    )
    assert (
        sum(report["by_length"][b]["relaxed"]["predicted_correct"] for b in LENGTH_BUCKETS)
        == (report["relaxed"]["micro"]["true_positives"])
    )


def test_sentence_length_mismatch_names_the_sentence():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        ner_report([["O"], ["O", "O"]], [["O"], ["O"]], TYPES)
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        ner_report([["O"], ["O"]], [["O"]], TYPES)


def test_unknown_type_and_malformed_tag_are_refused():
    with pytest.raises(ValueError, match="sentence 0: entity type 'Gene'"):
        ner_report([["B-Gene"]], [["O"]], TYPES)
    with pytest.raises(ValueError, match="sentence 1: tag 'Drug' is not O"):
        ner_report([["O"], ["O"]], [["O"], ["Drug"]], TYPES)
