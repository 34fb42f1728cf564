"""``example-ade``: does a SYNTHETIC clinical sentence report an adverse drug event? (binary).

Positives name a drug and an effect attributed to it, sometimes hedged ("possible"), sometimes
with the ICD-10-CM T36-T50 "adverse effect of <class>" description.  Negatives are the near
misses: a drug tolerated, the same effects with a non-drug cause, a negated or ruled-out event,
and a drug given to TREAT the effect ("furosemide for fluid overload").
"""

from __future__ import annotations

import random

from . import sources

NAME = "example-ade"
LABELS = ("yes", "no")
COLUMNS = ("id", "sentence", "ade")
FILE_SUFFIX = ".tsv"
SPLITS = {"train": ("A", 600), "eval": ("A", 150), "internal": ("A", 300)}
SHARES = {"A": {"yes": 0.30, "no": 0.70}}
ID_PREFIX = {"A": "ade"}

# drug (as the dictionary spells it) -> (ICD-10-CM adverse-effect code of its class, effects it
# causes, what it is given for).
DRUGS = {
    "amoxicillin": ("T36.0X5", ("rash", "diarrhoea", "urticaria"), "CAP"),
    "flucloxacillin": ("T36.0X5", ("cholestatic jaundice", "rash"), "cellulitis"),
    "ceftriaxone": ("T36.1X5", ("C. difficile diarrhoea", "rash"), "pyelonephritis"),
    "gentamicin": ("T36.5X5", ("AKI", "ototoxicity"), "urosepsis"),
    "vancomycin": ("T36.8X5", ("AKI", "infusion reaction"), "MRSA bacteraemia"),
    "ciprofloxacin": ("T36.8X5", ("QT prolongation", "tendinopathy"), "UTI"),
    "sulfamethoxazole": ("T37.0X5", ("hyperkalaemia", "rash"), "PCP prophylaxis"),
    "lisinopril": ("T46.4X5", ("dry cough", "angioedema", "hyperkalaemia"), "hypertension"),
    "ramipril": ("T46.4X5", ("dry cough", "AKI"), "heart failure"),
    "furosemide": ("T50.1X5", ("hypokalaemia", "AKI"), "fluid overload"),
    "hydrochlorothiazide": ("T50.2X5", ("hyponatraemia", "gout flare"), "hypertension"),
    "warfarin": ("T45.515", ("GI bleed", "haematuria", "supratherapeutic INR"), "AF"),
    "apixaban": ("T45.515", ("GI bleed", "epistaxis"), "DVT"),
    "metformin": ("T38.3X5", ("lactic acidosis", "diarrhoea"), "type 2 diabetes"),
    "glipizide": ("T38.3X5", ("hypoglycaemia",), "type 2 diabetes"),
    "simvastatin": ("T46.6X5", ("myopathy", "raised CK"), "hyperlipidaemia"),
    "atorvastatin": ("T46.6X5", ("myalgia", "deranged LFTs"), "secondary prevention"),
    "ibuprofen": ("T39.395", ("AKI", "GI bleed"), "back pain"),
    "naproxen": ("T39.395", ("dyspepsia", "AKI"), "osteoarthritis"),
    "morphine": ("T40.2X5", ("constipation", "drowsiness", "respiratory depression"), "pain"),
    "oxycodone": ("T40.2X5", ("constipation", "confusion"), "post-op pain"),
    "haloperidol": ("T43.4X5", ("QT prolongation", "acute dystonia"), "delirium"),
    "citalopram": ("T43.225", ("hyponatraemia", "QT prolongation"), "depression"),
    "sertraline": ("T43.225", ("hyponatraemia", "nausea"), "anxiety"),
    "amiodarone": ("T46.2X5", ("hypothyroidism", "bradycardia"), "AF"),
    "carbamazepine": ("T42.1X5", ("hyponatraemia", "rash"), "epilepsy"),
    "methotrexate": ("T45.1X5", ("pancytopenia", "mucositis"), "rheumatoid arthritis"),
    "prednisolone": ("T38.0X5", ("hyperglycaemia", "insomnia"), "COPD exacerbation"),
    "clopidogrel": ("T45.525", ("GI bleed", "bruising"), "NSTEMI"),
    "amlodipine": ("T46.1X5", ("ankle oedema", "flushing"), "hypertension"),
    "metoprolol": ("T44.7X5", ("bradycardia", "fatigue"), "rate control"),
    "omeprazole": ("T47.1X5", ("hypomagnesaemia", "C. difficile diarrhoea"), "GORD"),
    "allopurinol": ("T50.4X5", ("rash", "DRESS"), "gout"),
}
# Non-drug causes of the same effects, for negatives ("hyponatraemia secondary to SIADH").
OTHER_CAUSES = (
    "dehydration",
    "sepsis",
    "SIADH",
    "viral gastroenteritis",
    "cellulitis",
    "CKD",
    "hypothyroidism",
    "alcohol excess",
    "heart failure",
)
# Drugs given to treat an effect: drug and effect in one sentence, no adverse event.
TREATMENTS = (
    ("furosemide", "fluid overload"),
    ("amoxicillin", "CAP"),
    ("omeprazole", "GI bleed"),
    ("metoprolol", "AF with fast ventricular rate"),
    ("prednisolone", "urticaria"),
    ("morphine", "pain"),
)

POSITIVE = (
    "{effect} secondary to {drug}",
    "{drug}-induced {effect}",
    "developed {effect} after starting {drug}",
    "{drug} stopped due to {effect}",
    "{effect} - adverse effect of {drug_class} ({drug})",
    "likely {drug}-related {effect}, {drug} held",
    "possible {effect} from {drug}, dose reduced",
    "{hx} of {effect} with {drug}",
    "{effect} on {drug}, switched to alternative",
    "{effect}, thought due to {drug} rather than {cause}",
    "{drug} rechallenge caused recurrent {effect}",
    "{drug} implicated in {effect}, not restarted",
)
NEGATIVE = (
    "started {drug} for {indication}, tolerating well",
    "continue {drug} for {indication}",
    "{drug} restarted on discharge, no side effects",
    "{drug} held pre-op, to restart tomorrow",
    "{pt} on long-term {drug}, no issues",
    "{effect} secondary to {cause}",
    "{effect} attributed to {cause}; {drug} continued",
    "no {effect} on {drug}",
    "{drug}-induced {effect} ruled out, {drug} continued",
    "denies {effect} since starting {drug}",
    "{effect} resolved; {drug} started for {indication}",
    "{treatment_drug} given for {treated}",
    "{effect}, thought due to {cause} rather than {drug}",
    "{effect} predates {drug}, unlikely related",
    "{drug} not stopped: {effect} due to {cause}",
)

# Annotators split on bare co-occurrence: these are in both tables (either label can come).
AMBIGUOUS = ("{effect} while on {drug}", "{effect} after {drug} dose, cause unclear")
POSITIVE += AMBIGUOUS
NEGATIVE += AMBIGUOUS


class Writer:
    """Renders one sentence that does (``yes``) or does not (``no``) report an adverse drug event."""

    def __init__(self, site: str, rng: random.Random):
        self.rng = rng
        self.drugs = {sources.drug(name): entry for name, entry in DRUGS.items()}
        self.classes = {code: _drug_class(code) for code, _, _ in DRUGS.values()}
        self.words = {"pt": sources.abbreviation("Pt", "patient"), "hx": sources.abbreviation("Hx", "history")}
        for name, _ in TREATMENTS:
            sources.drug(name)

    def write(self, label: str) -> str:
        rng = self.rng
        name = rng.choice(sorted(self.drugs))
        code, effects, indication = self.drugs[name]
        treatment_drug, treated = rng.choice(TREATMENTS)
        template = rng.choice(POSITIVE if label == "yes" else NEGATIVE)
        text = template.format(
            drug=name,
            effect=rng.choice(effects),
            indication=indication,
            drug_class=self.classes[code],
            cause=rng.choice(OTHER_CAUSES),
            treatment_drug=treatment_drug,
            treated=treated,
            pt=rng.choice(("pt", self.words["pt"])),
            hx=rng.choice(("hx", self.words["hx"])),
        )
        return text[:1].upper() + text[1:] + ("." if rng.random() < 0.5 else "")


def _drug_class(code: str) -> str:
    """ "Adverse effect of loop [high-ceiling] diuretics" -> "loop diuretics"."""
    return sources.short_form(sources.icd_description(code)).removeprefix("adverse effect of ").strip()


def make_row(label: str, writer: Writer) -> dict:
    return {"sentence": writer.write(label), "ade": label}


def row_text(row: dict) -> str:
    return row["sentence"]
