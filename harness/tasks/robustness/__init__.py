"""The ``robustness`` task: a fitted classifier on label-preserving variants of its test sets.

It scores the classifiers fitted for a classification task (never training them again):
``indications`` by default, else the first classification task of ``--tasks`` or the one
``[tasks.robustness] task = "..."`` names. For a sentence-pair task the first text is varied and
the second kept. For each chosen
test split, :func:`harness.tasks.robustness.variants.generate_variants` makes ``variants`` seeded inputs one
edit away from a test row (typos, hyphenation, abbreviations, case, punctuation), each expecting
exactly its source row's labels. A robust classifier predicts the same label set for a variant as
for its source: the task reports F1 on the sources (repeated once per variant) against F1 on the
variants, with a paired bootstrap interval and a permutation p-value for the difference (both
resampling and swapping whole source rows, all of a row's variants at once); the
invariance failure rate (variants whose predicted set differs from their source's), overall and
per kind; and the worst case per input (each source's variant with the most label errors).

``[tasks.robustness]`` keys: ``variants`` (per test split, default 1000; ``--robustness-variants``
overrides it), ``seed`` (default 0; it also seeds the bootstrap and the permutations) and ``splits``
(test split names of the indications task; default every test split).

Privacy. A variant is the user's text with one edit. Texts are written to the leaderboard, as up to
:data:`EXAMPLES_PER_KIND` example failures per kind, only for public splits
(:attr:`harness.data.LabelledSplit.public`; the embedded synthetic ones are). For any other split
the item says ``examples_withheld: true`` and holds counts and scores only; provenance never holds
text.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import InputError, LoadRequest, ScoreRequest, TaskData, TaskSpec, hookimpl
from harness.data import LabelledSplit
from harness.scoring.metrics import multilabel_report
from harness.scoring.stats import paired_comparison
from harness.tables import Table
from harness.tasks.robustness.variants import KINDS, Variant, generate_variants

NAME = "robustness"
DEFAULT_VARIANTS = 1000
DEFAULT_SEED = 0
# One comparison per split, not a Holm-corrected family (stats' default of 10,000 is for those):
# 2,000 permutations give p >= 1/2001, enough here, at a fifth of the cost.
PERMUTATIONS = 2000
RESAMPLES = 1000
CONFIDENCE = 0.95
EXAMPLES_PER_KIND = 3
CONFIG_KEYS = frozenset({"variants", "seed", "splits", "task"})


@dataclass(frozen=True)
class VariantSet:
    """The variants of one test split, with the split they were made from."""

    split: LabelledSplit
    variants: tuple[Variant, ...]

    @property
    def source_rows(self) -> list[int]:
        """The distinct source rows, in order of their first variant."""
        return list(dict.fromkeys(v.source_index for v in self.variants))


# ------------------------------------------------------------------------------------ load
def _integer(request: LoadRequest, key: str, default: int, minimum: int | None = None) -> int:
    value = request.table.get(key, default)
    # bool is an int in Python; "variants = true" is a typo, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
        wanted = f"an integer >= {minimum}" if minimum is not None else "an integer"
        raise InputError(request.key(f"tasks.{NAME}.{key}"), f"expected {wanted}, got {value!r}")
    return value


def _chosen_splits(request: LoadRequest, known: Sequence[str]) -> list[str]:
    where = request.key(f"tasks.{NAME}.splits")
    value = request.table.get("splits", list(known))
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise InputError(where, f"expected a list of test split names, got {value!r}")
    if not value:
        raise InputError(where, f"list at least one test split; known: {', '.join(known)}")
    for name in value:
        if name not in known:
            raise InputError(where, f"unknown test split {name!r}; known: {', '.join(known)}")
    return list(dict.fromkeys(value))


def load(request: LoadRequest) -> TaskData:
    upstream = request.upstream
    if upstream is None:  # the runner always loads the task this one is fitted on first
        raise InputError(request.key(f"tasks.{NAME}"), "needs the data of the task it is fitted on")
    variants = _integer(request, "variants", DEFAULT_VARIANTS, minimum=1)
    option = getattr(request.options, "robustness_variants", None)
    if option is not None:
        variants = option
    seed = _integer(request, "seed", DEFAULT_SEED)
    tests = upstream.test_splits
    sets: dict[str, VariantSet] = {}
    provenance = []
    for name in _chosen_splits(request, list(tests)):
        split = tests[name]
        made = tuple(generate_variants(split.texts, split.y, upstream.labels, total=variants, seed=seed))
        sets[name] = VariantSet(split, made)
        by_kind = Counter(v.kind for v in made)
        provenance.append(
            {
                "variants_of": name,
                "variants": len(made),
                "sources": len(sets[name].source_rows),
                "seed": seed,
                "by_kind": {kind: by_kind[kind] for kind in KINDS},
            }
        )
    # No ``splits``: the profile's shrinking must not resample (and re-describe) these; the
    # source splits are the indications task's, already shrunk.
    return TaskData(labels=upstream.labels, extra={"variant_sets": sets, "seed": seed}, provenance=tuple(provenance))


# ----------------------------------------------------------------------------------- score
def _predict(classifier: Any, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 0), dtype=bool)
    return np.asarray(classifier.decision_rule.apply(classifier.predict_scores(texts)), dtype=bool)


def _varied(split: LabelledSplit, variant: Variant) -> Any:
    """A variant as the model reads it: its text, with its source row's second text for a pair."""
    if split.pairs is None:
        return variant.text
    return (variant.text, split.pairs[variant.source_index])


def _names(row: np.ndarray, labels: Sequence[str]) -> list[str]:
    return sorted(label for label, hit in zip(labels, row) if hit)


def _pair(original: float, variant: float) -> dict[str, float]:
    return {"original": float(original), "variant": float(variant)}


def _by_kind(
    kinds: np.ndarray, y: np.ndarray, original: np.ndarray, variant: np.ndarray, labels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    out = {}
    for kind in KINDS:
        mask = kinds == kind
        if not mask.any():
            continue
        yk, ok, vk = y[mask], original[mask], variant[mask]
        out[kind] = {
            "variants": int(mask.sum()),
            "invariance_failure_rate": float((ok != vk).any(axis=1).mean()),
            "exact_match": _pair((ok == yk).all(axis=1).mean(), (vk == yk).all(axis=1).mean()),
            "f1_weighted": _pair(
                multilabel_report(yk, ok, labels)["f1_weighted"], multilabel_report(yk, vk, labels)["f1_weighted"]
            ),
        }
    return out


def _worst_case(
    rows: np.ndarray, y: np.ndarray, original: np.ndarray, variant: np.ndarray, labels: Sequence[str]
) -> dict[str, float]:
    """Per source input: its worst variant (most label errors; ties: the first), and what flipped."""
    errors = (variant != y).sum(axis=1)
    flipped = (original != variant).any(axis=1)
    wrong = errors > 0
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(int(row), []).append(i)
    worst = [members[int(np.argmax(errors[members]))] for members in groups.values()]
    firsts = [members[0] for members in groups.values()]
    right_originally = (original[firsts] == y[firsts]).all(axis=1)
    return {
        "worst_case_f1_weighted": multilabel_report(y[worst], variant[worst], labels)["f1_weighted"],
        "inputs_flipped_share": float(np.mean([flipped[m].any() for m in groups.values()])),
        "inputs_right_then_wrong_share": float(
            np.mean([ok and wrong[m].any() for ok, m in zip(right_originally, groups.values())])
        ),
    }


def _examples(
    variant_set: VariantSet, flipped: np.ndarray, original: np.ndarray, variant: np.ndarray, labels: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Up to EXAMPLES_PER_KIND invariance failures per kind, texts included: public splits only."""
    out: dict[str, list[dict[str, Any]]] = {}
    for i, v in enumerate(variant_set.variants):
        shown = out.setdefault(v.kind, [])
        if flipped[i] and len(shown) < EXAMPLES_PER_KIND:
            shown.append(
                {
                    "source_text": variant_set.split.texts[v.source_index],
                    "variant_text": v.text,
                    "edit": v.edit,
                    "expected": sorted(v.expected),
                    "predicted_original": _names(original[i], labels),
                    "predicted_variant": _names(variant[i], labels),
                }
            )
    return out


def score_split(
    variant_set: VariantSet,
    source_predictions: Mapping[int, np.ndarray],
    variant_predictions: np.ndarray,
    labels: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """One split's robustness fields, from the predictions of its source rows and of its variants."""
    split, variants = variant_set.split, variant_set.variants
    public = bool(split.public)
    if not variants:  # no row of the split admits an edit of any kind
        return {"variants": 0, "sources": 0, "examples_withheld": not public}
    rows = np.array([v.source_index for v in variants])
    y = np.asarray(split.y, dtype=bool)[rows]  # a variant expects its source row's labels
    original = np.stack([source_predictions[int(row)] for row in rows])
    variant = variant_predictions
    flipped = (original != variant).any(axis=1)
    on_original, on_variant = multilabel_report(y, original, labels), multilabel_report(y, variant, labels)
    # Clustered by source row: a source's variants share its text and its prediction, so they
    # are not independent evidence, and resampling them one by one would narrow the interval.
    comparison = paired_comparison(
        y,
        original,
        variant,
        labels,
        metric="f1_weighted",
        resamples=RESAMPLES,
        permutations=PERMUTATIONS,
        confidence=CONFIDENCE,
        seed=seed,
        clusters=rows,
    )
    result: dict[str, Any] = {
        "variants": len(variants),
        "sources": len(variant_set.source_rows),
        "f1_weighted": _pair(on_original["f1_weighted"], on_variant["f1_weighted"]),
        "f1_macro": _pair(on_original["f1_macro"], on_variant["f1_macro"]),
        "difference": {
            "metric": comparison.metric,
            "original_minus_variant": comparison.difference,
            "ci_low": comparison.ci_low,
            "ci_high": comparison.ci_high,
            "confidence": CONFIDENCE,
            "resamples": comparison.resamples,
            "p_value": comparison.p_value,
            "permutations": comparison.permutations,
            "clusters": len(variant_set.source_rows),
        },
        "invariance_failure_rate": float(flipped.mean()),
        **_worst_case(rows, y, original, variant, labels),
        "by_kind": _by_kind(np.array([v.kind for v in variants]), y, original, variant, labels),
        "examples_withheld": not public,
    }
    if public:
        result["examples"] = _examples(variant_set, flipped, original, variant, labels)
    return result


def score(request: ScoreRequest) -> dict[str, Any]:
    classifier = request.fitted().classifier
    labels = request.data.labels
    seed = request.data.extra["seed"]
    sets: Mapping[str, VariantSet] = request.data.extra["variant_sets"]
    # Two predict calls for the whole item (an LLM pays per call as well as per text): every
    # distinct source row used, then every variant.
    sources = [(name, row) for name, s in sets.items() for row in s.source_rows]
    source_scores = _predict(classifier, [sets[name].split.inputs[row] for name, row in sources])
    variant_scores = _predict(classifier, [_varied(s.split, v) for s in sets.values() for v in s.variants])
    by_source = {key: source_scores[i] for i, key in enumerate(sources)}
    splits, start = {}, 0
    for name, variant_set in sets.items():
        end = start + len(variant_set.variants)
        rows = {row: by_source[name, row] for row in variant_set.source_rows}
        splits[name] = score_split(variant_set, rows, variant_scores[start:end], labels, seed)
        start = end
    return {"robustness": {"seed": seed, "splits": splits}}


# ------------------------------------------------------------------------------ plugin hooks
def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


@hookimpl
def harness_addoption(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--robustness-variants",
        type=_positive,
        metavar="N",
        help=f"robustness task: variants per test split (default: [tasks.robustness] variants, else {DEFAULT_VARIANTS})",
    )


@hookimpl
def harness_add_tasks(register) -> None:
    register.add(
        TaskSpec(
            name=NAME,
            description="Label-preserving variants of the test inputs (typos, abbreviations, case...) "
            "scored on a classification task's classifiers (default: indications)",
            fits_on="indications",
            follows=True,
            load=load,
            score=score,
            config_keys=CONFIG_KEYS,
            profile_defaults={"smoke": {"variants": 200}},
        )
    )


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """The ranking by F1 on variants, and the failure rate per kind of variant."""
    from harness.tasks.robustness.tables import robustness_tables

    return robustness_tables(document)
