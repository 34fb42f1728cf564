"""Entity-level scores for IOB2 tagging: strict, relaxed (overlap) and by entity length.

Pure Python so that scoring needs no heavy import; the tests check every number against two
independent implementations, seqeval and nervaluate. Conventions follow
:mod:`harness.scoring.metrics` (``zero_division=0``): with no predicted entities precision is 0, with no
gold entities recall is 0, and F1 is 0 whenever precision + recall is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Span = tuple[str, int, int]  # (type, start, end), token offsets, end exclusive

LENGTH_BUCKETS = ("1", "2", "3+")


def _type_of(tag: str) -> tuple[str, str]:
    """(prefix, type) of an O / B-X / I-X tag; ValueError for anything else."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[:2] in ("B-", "I-"):
        return tag[0], tag[2:]
    raise ValueError(f"tag {tag!r} is not O, B-<type> or I-<type>")


def entity_spans(tags: Sequence[str]) -> list[Span]:
    """Entities of one sentence as ``(type, start, end)``, end exclusive, left to right.

    ``B-X`` starts an entity; ``I-X`` continues an entity of type X. A predicted sequence need
    not be valid IOB2: an ``I-X`` after ``O``, at the start, or after an entity of another type
    starts a new entity of type X, as conlleval and seqeval's default mode read it (a model that
    forgets the ``B-`` still gets credit for the span it found). Gold tags are read the same way;
    the readers in :mod:`harness.tagged` have already refused gold that is not IOB2.
    Raises ValueError for a tag that is not ``O``, ``B-X`` or ``I-X``.
    """
    spans: list[Span] = []
    current: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        prefix, kind = _type_of(tag)
        if prefix == "I" and kind == current:
            continue
        if current is not None:
            spans.append((current, start, i))
            current = None
        if prefix != "O":
            current, start = kind, i
    if current is not None:
        spans.append((current, start, len(tags)))
    return spans


def _relaxed_matches(gold: Sequence[Span], predicted: Sequence[Span]) -> list[tuple[int, int]]:
    """(gold index, predicted index) pairs of the relaxed one-to-one matching in one sentence.

    Predictions are taken left to right; each takes, among the gold entities of its type that it
    overlaps by at least one token and that are not yet matched, the one whose boundaries are
    closest (smallest |start difference| + |end difference|; the leftmost on a tie). This is
    nervaluate's ``ent_type`` rule restricted to one type at a time (see :func:`ner_report`).
    """
    taken: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for p, (p_type, p_start, p_end) in enumerate(predicted):
        best: int | None = None
        best_distance = 0
        for g, (g_type, g_start, g_end) in enumerate(gold):
            if g in taken or g_type != p_type or g_start >= p_end or p_start >= g_end:
                continue
            distance = abs(p_start - g_start) + abs(p_end - g_end)
            if best is None or distance < best_distance:
                best, best_distance = g, distance
        if best is not None:
            taken.add(best)
            pairs.append((best, p))
    return pairs


def _scores(predicted_correct: int, gold_correct: int, predicted: int, gold: int) -> dict[str, Any]:
    """P, R and F1 from counts; the two numerators differ only in relaxed by-length scores,
    where a matched gold entity and its prediction can fall in different length buckets."""
    precision = predicted_correct / predicted if predicted else 0.0
    recall = gold_correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_positives": gold_correct,
        "predicted": predicted,
        "gold": gold,
    }


def _bucket(span: Span) -> str:
    length = span[2] - span[1]
    return "1" if length == 1 else "2" if length == 2 else "3+"


def ner_report(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], types: Sequence[str]
) -> dict[str, Any]:
    """Entity-level precision, recall and F1 of predicted IOB2 tags against gold tags.

    ``gold[i]`` and ``predicted[i]`` are the tags of sentence i (equal lengths, else
    ValueError naming the sentence); every tag must be ``O`` or ``B-``/``I-`` of one of
    ``types`` (else ValueError). Entities are read by :func:`entity_spans`, so an ``I-X``
    without its ``B-X`` in a prediction starts an entity. Returns::

        {"strict":   {"micro": S, "per_type": {type: S, ...}},
         "relaxed":  {"micro": S, "per_type": {type: S, ...}},
         "by_length": {"1": {"strict": S, "relaxed": S, "gold": n}, "2": ..., "3+": ...},
         "sentences": n, "entities": {"gold": n, "predicted": n}}

    where each S is ``{"precision", "recall", "f1", "true_positives", "predicted", "gold"}``
    (``per_type`` lists every type of ``types``, in that order, even one never seen).

    * strict: a predicted entity is correct if a gold entity has its type and both boundaries.
    * relaxed (SemEval 2013 "type" matching): a predicted entity is correct if it overlaps by at
      least one token a gold entity of its type; each gold and each predicted entity is matched
      at most once, predictions taken left to right, each matched to the closest-bounded free gold
      entity it overlaps (see ``_relaxed_matches``). precision = correct / predicted, recall =
      correct / gold. Types are matched separately, so micro counts are the sums of the
      per-type counts. nervaluate's ``ent_type`` gives the same per-type numbers; its overall
      numbers can be lower: there a prediction overlapping only a gold entity of another type
      uses that gold entity up, so a later prediction of the right type can no longer match it.
    * by_length: entities of 1, 2 and 3 or more tokens. Recall counts the gold entities of that
      length (matched / gold of that length); precision counts the predicted entities of that
      length, by their own length (matched / predicted of that length); F1 is their harmonic
      mean. Strictly matched entities have one length, so there the two numerators agree; in the
      relaxed scores a 2-token gold entity found by a 1-token prediction is a recall hit in "2" and
      a precision hit in "1". ``true_positives`` is the recall numerator (matched gold entities);
      ``predicted_correct``, only in these blocks, is the precision numerator.

    With no predicted entities precision is 0, with no gold entities recall is 0, and then F1 is
    0 (``zero_division=0``, as :mod:`harness.scoring.metrics`).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    known = set(types)
    zero = {"correct": 0, "predicted": 0, "gold": 0}
    counts = {mode: {t: dict(zero) for t in types} for mode in ("strict", "relaxed")}
    # by_length counts: per bucket, gold/predicted totals and the two numerators per mode
    lengths = {
        b: {"gold": 0, "predicted": 0, "strict": 0, "relaxed_gold": 0, "relaxed_predicted": 0} for b in LENGTH_BUCKETS
    }
    total_gold = total_predicted = 0
    for i, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"sentence {i}: {len(gold_tags)} gold tags but {len(predicted_tags)} predicted tags")
        try:
            gold_spans = entity_spans(gold_tags)
            predicted_spans = entity_spans(predicted_tags)
        except ValueError as err:
            raise ValueError(f"sentence {i}: {err}") from None
        for span in (*gold_spans, *predicted_spans):
            if span[0] not in known:
                raise ValueError(f"sentence {i}: entity type {span[0]!r} is not one of {', '.join(types)}")
        total_gold += len(gold_spans)
        total_predicted += len(predicted_spans)
        for span in gold_spans:
            for mode in counts:
                counts[mode][span[0]]["gold"] += 1
            lengths[_bucket(span)]["gold"] += 1
        for span in predicted_spans:
            for mode in counts:
                counts[mode][span[0]]["predicted"] += 1
            lengths[_bucket(span)]["predicted"] += 1
        # Entities of one sequence never overlap, so an exact match is one-to-one by itself.
        for span in set(gold_spans).intersection(predicted_spans):
            counts["strict"][span[0]]["correct"] += 1
            lengths[_bucket(span)]["strict"] += 1
        for g, p in _relaxed_matches(gold_spans, predicted_spans):
            counts["relaxed"][gold_spans[g][0]]["correct"] += 1
            lengths[_bucket(gold_spans[g])]["relaxed_gold"] += 1
            lengths[_bucket(predicted_spans[p])]["relaxed_predicted"] += 1

    report: dict[str, Any] = {}
    for mode, per_type in counts.items():
        micro = {key: sum(c[key] for c in per_type.values()) for key in zero}
        report[mode] = {
            "micro": _scores(micro["correct"], micro["correct"], micro["predicted"], micro["gold"]),
            "per_type": {
                t: _scores(c["correct"], c["correct"], c["predicted"], c["gold"]) for t, c in per_type.items()
            },
        }
    report["by_length"] = {}
    for bucket, c in lengths.items():
        strict = _scores(c["strict"], c["strict"], c["predicted"], c["gold"])
        relaxed = _scores(c["relaxed_predicted"], c["relaxed_gold"], c["predicted"], c["gold"])
        strict["predicted_correct"] = c["strict"]
        relaxed["predicted_correct"] = c["relaxed_predicted"]
        report["by_length"][bucket] = {"strict": strict, "relaxed": relaxed, "gold": c["gold"]}
    report["sentences"] = len(gold)
    report["entities"] = {"gold": total_gold, "predicted": total_predicted}
    return report
