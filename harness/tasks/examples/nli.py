"""``example-nli``: MedNLI-style SYNTHETIC sentence pairs (entailment / neutral / contradiction).

A premise names one condition (an ICD-10-CM code's description, cut to a clinician's form), and
may rule out another condition, state a normal finding of another body system, or state a
smoking history.  Every hypothesis template appears with all three labels: "The patient has a
disease of the respiratory system" is entailed by pneumonia, contradicted by "chest clear, no
cough", and neutral beside a migraine.  Only the premise decides.
"""

from __future__ import annotations

import random

from . import sources

NAME = "example-nli"
LABELS = ("entailment", "neutral", "contradiction")
COLUMNS = ("id", "premise", "hypothesis", "label")
FILE_SUFFIX = ".jsonl"
SPLITS = {"train": ("A", 900), "eval": ("A", 200), "internal": ("A", 300)}
SHARES = {"A": {"entailment": 1 / 3, "neutral": 1 / 3, "contradiction": 1 / 3}}
ID_PREFIX = {"A": "nli"}

# body system -> (ICD-10-CM codes of conditions in it, lay phrase, normal findings that rule it out)
SYSTEMS = {
    "respiratory": (
        ("J18.9", "J44.1", "J45.901", "J96.01"),
        "lung problems",
        ("chest clear, no cough or breathlessness", "chest X-ray normal"),
    ),
    "circulatory": (
        ("I50.9", "I21.4", "I48.91", "I26.99"),
        "heart or blood vessel problems",
        ("heart sounds normal, ECG sinus rhythm", "no chest pain or palpitations"),
    ),
    "digestive": (
        ("K85.90", "K35.80", "K92.2", "K80.20"),
        "stomach or bowel problems",
        ("abdomen soft and non-tender", "no vomiting, diarrhoea or abdominal pain"),
    ),
    "genitourinary": (
        ("N39.0", "N17.9", "N20.0"),
        "kidney or urinary problems",
        ("urinalysis and creatinine normal", "no dysuria, renal function normal"),
    ),
    "nervous": (
        ("G40.909", "G43.909", "G20", "G35"),
        "neurological problems",
        ("neuro exam non-focal", "no headache, weakness or seizures"),
    ),
    "skin": (
        ("L03.115", "L40.9", "L89.154", "L20.9"),
        "skin problems",
        ("skin intact, no rash", "skin examination normal"),
    ),
    "musculoskeletal": (
        ("M06.9", "M81.0", "M17.11", "M54.50"),
        "joint or bone problems",
        ("joints normal, full range of movement", "no joint pain or swelling"),
    ),
    "endocrine": (
        ("E11.65", "E03.9", "E05.00", "E87.1"),
        "hormonal or metabolic problems",
        ("glucose, sodium and thyroid function normal", "no polyuria, weight stable"),
    ),
}
SMOKING = {
    "entailment": ("ex-smoker, 20 pack-years", "current smoker", "smokes 10 a day"),
    "contradiction": ("never smoked", "lifelong non-smoker"),
}

OPENINGS = (
    "{age} yo {sex} admitted with {a}",
    "{pt} with known {a}, seen in clinic",
    "Diagnosed with {a} today",
    "{age}-year-old {sex} presenting with {a}",
    "Background of {a}, reviewed on the ward",
)
HYPOTHESES = {
    "system": ("The patient has a disease of the {system}.", "The patient has {lay}."),
    "condition": ("The patient has {condition}.", "{condition} is among the diagnoses."),
    "smoking": ("The patient has smoked tobacco.", "The patient has a smoking history."),
}


class Writer:
    """Renders one premise/hypothesis pair with the requested label."""

    def __init__(self, site: str, rng: random.Random):
        self.rng = rng
        self.conditions = {
            system: [(sources.short_form(sources.icd_description(c)), sources.icd_chapter(c)) for c in codes]
            for system, (codes, _, _) in SYSTEMS.items()
        }
        self.pt = sources.abbreviation("Pt", "patient")

    def premise(self) -> tuple[str, dict]:
        """A premise and what it states: system and condition present, what it rules out, smoking."""
        rng = self.rng
        system_a, system_b = rng.sample(sorted(SYSTEMS), 2)
        condition_a, chapter = rng.choice(self.conditions[system_a])
        facts = {
            "present": system_a,
            "condition": condition_a,
            "chapter": chapter,
            "normal": None,
            "ruled_out": None,
            "smoking": None,
        }
        parts = [
            rng.choice(OPENINGS).format(
                age=rng.randint(19, 92), sex=rng.choice("MF"), a=condition_a, pt=rng.choice(("Pt", "Patient"))
            )
        ]
        roll = rng.random()
        if roll < 0.45:
            parts.append(rng.choice(SYSTEMS[system_b][2]))
            facts["normal"] = system_b
        elif roll < 0.8:
            facts["ruled_out"] = rng.choice(self.conditions[system_b])[0]
            parts.append(f"{facts['ruled_out']} ruled out")
        if rng.random() < 0.5:
            facts["smoking"] = rng.choice(("entailment", "contradiction"))
            parts.append(rng.choice(SMOKING[facts["smoking"]]))
        return ". ".join(p[:1].upper() + p[1:] for p in parts) + ".", facts

    def hypothesis(self, label: str, facts: dict) -> str | None:
        """A hypothesis with ``label`` given ``facts``, or None when this premise cannot give one."""
        rng = self.rng
        kind = rng.choice(("system", "system", "condition", "condition", "smoking"))
        template = rng.choice(HYPOTHESES[kind])
        if kind == "smoking":
            stated = facts["smoking"] or "neutral"
            return template if stated == label else None
        if kind == "condition":
            if label == "entailment":
                condition = facts["condition"]
            elif label == "contradiction":
                condition = facts["ruled_out"]
            else:  # a condition of a system the premise says nothing about
                quiet = sorted(set(SYSTEMS) - {facts["present"], facts["normal"]})
                condition = rng.choice(self.conditions[rng.choice(quiet)])[0]
                if condition == facts["ruled_out"]:
                    return None
            return (
                template.format(condition=condition)[:1].upper() + template.format(condition=condition)[1:]
                if condition
                else None
            )
        if label == "entailment":
            system = facts["present"]
        elif label == "contradiction":
            system = facts["normal"]
        else:
            system = rng.choice(sorted(set(SYSTEMS) - {facts["present"], facts["normal"]}))
        if system is None:
            return None
        return template.format(system=_system_phrase(self.conditions[system][0][1]), lay=SYSTEMS[system][1])

    def write(self, label: str) -> tuple[str, str]:
        while True:  # a few premises cannot carry some labels (nothing ruled out): draw again
            premise, facts = self.premise()
            hypothesis = self.hypothesis(label, facts)
            if hypothesis:
                return premise, hypothesis


def _system_phrase(chapter: str) -> str:
    """ICD-10-CM chapter title -> what follows "a disease of the": "respiratory system"."""
    if chapter.startswith("diseases of the "):
        return chapter.removeprefix("diseases of the ").split(" and ")[0]
    return "endocrine or metabolic system"  # "endocrine, nutritional and metabolic diseases"


def make_row(label: str, writer: Writer) -> dict:
    premise, hypothesis = writer.write(label)
    return {"premise": premise, "hypothesis": hypothesis, "label": label}


def row_text(row: dict) -> tuple[str, str]:
    return (row["premise"], row["hypothesis"])
