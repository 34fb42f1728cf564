"""harness.tagged: the CoNLL and span-JSONL readers, their refusals, and TaggedSplit."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.scoring.ner_metrics import entity_spans
from harness.tagged import TaggedSplit, read_conll, read_span_jsonl, tag_set, token_offsets


def tokenize(text: str) -> list[str]:
    """A stand-in for the corpus tokenizer: words, and each other non-space character alone."""
    return re.findall(r"\w+|[^\w\s]", text)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ---- CoNLL --------------------------------------------------------------------------------------

GOOD_CONLL = (
    "-DOCSTART- -X- O O\n"
    "\n"
    "Aspirin\tB-Drug\n"
    "caused\tO\n"
    "gastric\tB-Disease\n"
    "ulcer\tI-Disease\n"
    ".\tO\n"
    "\n"
    "\n"
    "Took NN B-NP B-Drug\n"  # four columns: the first and the last count
    "ibuprofène   O\n"  # runs of spaces; not ASCII
    "New York\tO\n"  # tab-separated: the token keeps its space
    "\r\n"  # a Windows blank line
    "-DOCSTART-\tO\n"
    "Fever\tB-Disease\n"
)


def test_conll_good_file(tmp_path):
    path = write(tmp_path, "train.conll", GOOD_CONLL)
    split = read_conll(path, "train", public=True)
    assert split.sentences == (
        ("Aspirin", "caused", "gastric", "ulcer", "."),
        ("Took", "ibuprofène", "New York"),
        ("Fever",),
    )
    assert split.tags == (
        ("B-Drug", "O", "B-Disease", "I-Disease", "O"),
        ("B-Drug", "O", "O"),
        ("B-Disease",),
    )
    assert split.name == "train" and split.public and not split.synthetic
    assert split.source == str(path)
    assert split.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert split.entity_types() == ["Disease", "Drug"]
    assert read_conll(path, "train", source="embedded:ner_train.conll", synthetic=True).source == (
        "embedded:ner_train.conll"
    )


def test_conll_with_byte_order_mark_and_no_final_newline(tmp_path):
    path = write(tmp_path, "a.conll", "\ufeffAspirin B-Drug\nworks O")
    assert read_conll(path, "eval").sentences == (("Aspirin", "works"),)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("Aspirin B-Drug\nworks\n", 2, "one column"),
        ("Aspirin B-Drug\n\nfine O\nworks X-Drug\n", 4, "tag 'X-Drug' is not O, B-<type> or I-<type>"),
        ("Aspirin B-\n", 1, "tag 'B-' is not O"),
        ("Aspirin b-drug\n", 1, "tag 'b-drug' is not O"),
        ("the O\nulcer I-Disease\n", 2, "'I-Disease' follows 'O'; IOB2 needs a B-Disease first"),
        ("a O\n\nulcer I-Disease\n", 3, "'I-Disease' starts a sentence; IOB2 needs a B-Disease first"),
        ("Aspirin B-Drug\nulcer I-Disease\n", 2, "'I-Disease' follows 'B-Drug'; IOB2 needs a B-Disease first"),
        # a -DOCSTART- line ends the sentence, so an I- after it starts one
        ("Aspirin B-Drug\n-DOCSTART- O\ntablets I-Drug\n", 3, "'I-Drug' starts a sentence"),
    ],
)
def test_conll_refusals_name_file_and_line(tmp_path, content, line, message):
    path = write(tmp_path, "bad.conll", content)
    with pytest.raises(InputError) as err:
        read_conll(path, "train")
    assert err.value.where == str(path)
    assert err.value.problem.startswith(f"line {line}: ")
    assert message in err.value.problem
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("\n  \n\t\n", "file is empty"),
        ("-DOCSTART- -X- O O\n\n-DOCSTART- O\n", "no sentences"),
        (b"Aspirin B-Drug\ncaf\xe9 O\n", "line 2: not valid UTF-8"),
    ],
)
def test_conll_refuses_files_without_sentences(tmp_path, content, message):
    path = write(tmp_path, "bad.conll", content)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        read_conll(path, "train")
    assert err.value.where == str(path)


def test_conll_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_conll(tmp_path / "nope.conll", "train")


# ---- span JSONL ---------------------------------------------------------------------------------


def jsonl(*records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_token_offsets():
    text = "  Aspirin (81mg) caused\u00a0ulcers."
    tokens = tokenize(text)
    offsets = token_offsets(text, tokens)
    assert [text[s:e] for s, e in offsets] == tokens
    assert offsets[0] == (2, 9)
    # a repeated token is found after the one before, not at its first occurrence
    assert token_offsets("a b a", ["a", "b", "a"]) == [(0, 1), (2, 3), (4, 5)]
    with pytest.raises(ValueError, match="token 1 is not in the text after character 1"):
        token_offsets("a b", ["a", "B"])
    with pytest.raises(ValueError, match="token 0 is empty"):
        token_offsets("a", [""])


def test_span_jsonl_good_file(tmp_path):
    text = "Aspirin caused gastric ulcer; naïve patients had none."
    path = write(
        tmp_path,
        "eval.jsonl",
        jsonl(
            {
                "id": 1,
                "text": text,
                "entities": [
                    {"start": 15, "end": 28, "label": "Disease"},  # listed out of order on purpose
                    {"start": 0, "end": 7, "label": "Drug"},
                ],
            },
            {"text": "No findings.", "entities": []},
        )
        + "\n"  # a blank line is skipped
        + jsonl({"id": "x", "text": "Fever (38.5C)", "entities": [{"start": 0, "end": 5, "label": "Disease"}]}),
    )
    split = read_span_jsonl(path, "eval", tokenize, synthetic=True)
    assert split.sentences == (
        ("Aspirin", "caused", "gastric", "ulcer", ";", "naïve", "patients", "had", "none", "."),
        ("No", "findings", "."),
        ("Fever", "(", "38", ".", "5C", ")"),
    )
    assert split.tags == (
        ("B-Drug", "O", "B-Disease", "I-Disease", "O", "O", "O", "O", "O", "O"),
        ("O", "O", "O"),
        ("B-Disease", "O", "O", "O", "O", "O"),
    )
    assert split.synthetic and not split.public and split.name == "eval"
    assert split.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_span_jsonl_round_trips_through_entity_spans(tmp_path):
    # the character spans, mapped to tokens and back, are the entities we started from
    text = "Metformin and insulin glargine lowered HbA1c ; nausea , vomiting and dizziness followed"
    words = text.split(" ")
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    entities = [(0, 1, "Drug"), (2, 4, "Drug"), (7, 8, "Disease"), (9, 10, "Disease"), (11, 12, "Disease")]
    record = {
        "text": text,
        "entities": [
            {"start": starts[a], "end": starts[b - 1] + len(words[b - 1]), "label": t} for a, b, t in entities
        ],
    }
    split = read_span_jsonl(write(tmp_path, "a.jsonl", jsonl(record)), "train", tokenize)
    assert split.sentences == (tuple(words),)
    assert entity_spans(split.tags[0]) == [(t, a, b) for a, b, t in entities]


TEXT = "Aspirin caused ulcers."  # tokens at 0-7, 8-14, 15-21, 21-22
DRUG = {"start": 0, "end": 7, "label": "Drug"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": TEXT, "entities": [], "spans": []}, "unknown key(s) 'spans'; allowed: entities, id, text"),
        ({"text": TEXT}, "missing key(s) 'entities'"),
        ({"entities": []}, "missing key(s) 'text'"),
        ({"text": "", "entities": []}, "'text' must be a non-empty string"),
        ({"text": "   ", "entities": []}, "'text' must be a non-empty string"),
        ({"text": 3, "entities": []}, "'text' must be a non-empty string"),
        ({"text": TEXT, "entities": {}}, "'entities' must be a list"),
        ({"text": TEXT, "entities": ["Drug"]}, "entity 1: expected an object"),
        ({"text": TEXT, "entities": [{"start": 0, "end": 7}]}, "entity 1: missing key(s) 'label'"),
        (
            {"text": TEXT, "entities": [{"start": 0, "end": 7, "label": "Drug", "type": "x"}]},
            "entity 1: unknown key(s) 'type'",
        ),
        ({"text": TEXT, "entities": [{"start": "0", "end": 7, "label": "Drug"}]}, "must be integers"),
        ({"text": TEXT, "entities": [{"start": False, "end": 7, "label": "Drug"}]}, "must be integers"),
        ({"text": TEXT, "entities": [{"start": 0, "end": 7, "label": ""}]}, "label must be a non-empty string"),
        ({"text": TEXT, "entities": [{"start": 0, "end": 7, "label": "Adverse Event"}]}, "without spaces"),
        (
            {"text": TEXT, "entities": [DRUG, {"start": 15, "end": 30, "label": "Disease"}]},
            "entity 2 (characters 15-30): needs 0 <= start < end <= 22",
        ),
        ({"text": TEXT, "entities": [{"start": -1, "end": 7, "label": "Drug"}]}, "characters -1-7"),
        ({"text": TEXT, "entities": [{"start": 7, "end": 7, "label": "Drug"}]}, "needs 0 <= start < end"),
        (
            {"text": TEXT, "entities": [{"start": 8, "end": 21, "label": "Disease"}, {**DRUG, "end": 14}]},
            "entities at characters 0-14 and 8-21 overlap",
        ),
        (
            {"text": TEXT, "entities": [{"start": 0, "end": 5, "label": "Drug"}]},
            "entity at characters 0-5 (Drug) does not end at a token boundary",
        ),
        (
            {"text": TEXT, "entities": [{"start": 7, "end": 14, "label": "Drug"}]},  # starts on the space
            "entity at characters 7-14 (Drug) does not start at a token boundary",
        ),
        ({"text": "!!!", "entities": []}, None),  # tokens exist: fine; see the next test for none
    ],
)
def test_span_jsonl_refusals_name_file_and_line(tmp_path, record, message):
    ok = {"text": "Fine here.", "entities": []}
    path = write(tmp_path, "bad.jsonl", jsonl(ok, ok) + json.dumps(record) + "\n")
    if message is None:
        assert len(read_span_jsonl(path, "train", tokenize)) == 3
        return
    with pytest.raises(InputError) as err:
        read_span_jsonl(path, "train", tokenize)
    assert err.value.where == str(path)
    assert err.value.problem.startswith("line 3: ")
    assert message in err.value.problem
    assert "Aspirin" not in str(err.value)  # offsets, never the user's text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a", "entities": []}\n{"text": "b", "entities": [}\n', "line 2: not valid JSON"),
        ('{"text": "a", "entities": []}\n["a"]\n', "line 2: expected a JSON object, got list"),
        (
            '{"id": 12, "text": "a", "entities": []}\n\n{"id": "12", "text": "b", "entities": []}\n',
            "lines 1 and 3: duplicate id '12'",
        ),
        ("", "file is empty"),
    ],
)
def test_span_jsonl_file_level_refusals(tmp_path, content, message):
    path = write(tmp_path, "bad.jsonl", content)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        read_span_jsonl(path, "train", tokenize)
    assert err.value.where == str(path)


def test_span_jsonl_line_numbers_survive_u2028_inside_a_string(tmp_path):
    # JSON allows a raw U+2028 in a string; splitlines() would break the line there
    content = '{"text": "a\u2028b", "entities": []}\n{"text": "c", "entities": [], "x": 1}\n'
    path = write(tmp_path, "a.jsonl", content)
    with pytest.raises(InputError, match="line 2: unknown key"):
        read_span_jsonl(path, "train", tokenize)


def test_span_jsonl_refuses_a_tokenizer_that_loses_the_text(tmp_path):
    path = write(tmp_path, "a.jsonl", jsonl({"text": "Aspirin works", "entities": []}))
    with pytest.raises(InputError, match="line 1: token 0 is not in the text after character 0"):
        read_span_jsonl(path, "train", lambda text: [w.lower() for w in text.split()])
    with pytest.raises(InputError, match="line 1: the tokenizer found no tokens"):
        read_span_jsonl(path, "train", lambda text: [])


# ---- TaggedSplit --------------------------------------------------------------------------------


def make_split(n: int = 20) -> TaggedSplit:
    sentences = tuple((f"w{i}", "x", "y") for i in range(n))
    tags = tuple(("B-Drug", "I-Drug", "O") if i % 2 else ("B-Disease", "O", "B-Disease") for i in range(n))
    return TaggedSplit("test", sentences, tags, "embedded:ner_test.conll", "0" * 64, synthetic=True, public=True)


def test_sample_keeps_order_pairs_and_is_seeded():
    split = make_split()
    sample = split.sample(5, seed=3)
    assert len(sample) == 5
    indices = [int(s[0][1:]) for s in sample.sentences]
    assert indices == sorted(indices) and len(set(indices)) == 5
    assert all(sample.tags[k] == split.tags[i] for k, i in enumerate(indices))  # tags travel with words
    assert sample.sentences == split.sample(5, seed=3).sentences
    assert sample.name == split.name and sample.sha256 == split.sha256
    assert split.sample(None, seed=3) is split and split.sample(20, seed=3) is split


def test_provenance_counts_entities_per_type_and_never_words():
    split = make_split()
    provenance = split.provenance(["Disease", "Drug", "Gene"])
    assert provenance == {
        "split": "test",
        "source": "embedded:ner_test.conll",
        "sha256": "0" * 64,
        "rows": 20,
        "synthetic": True,
        "public": True,
        "support": {"Disease": 20, "Drug": 10, "Gene": 0},  # two per even sentence, one per odd
    }
    assert "w1" not in json.dumps(provenance)


def test_tag_set():
    assert tag_set(["Drug", "Disease"]) == ("O", "B-Drug", "I-Drug", "B-Disease", "I-Disease")
