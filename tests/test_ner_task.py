"""The ``ner`` task end to end: CoNLL and JSONL input, the gazetteer baseline, models that cannot
tag skipped with the reason, scores in the leaderboard, the decoder/encoder cost ratio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.task import ScoredItem, SummaryRequest, TaskData
from harness.tasks import ner
from harness.tasks.ner.tables import ner_tables

from .conftest import read_leaderboard, tree

TRAIN = [
    ("aspirin treats headache", "B-Chemical O B-Disease"),
    ("type 2 diabetes mellitus needs metformin", "B-Disease I-Disease I-Disease I-Disease O B-Chemical"),
    ("no side effects from ibuprofen", "O O O O B-Chemical"),
    ("chronic kidney disease and gout", "B-Disease I-Disease I-Disease O B-Disease"),
]
TEST = [
    ("metformin for type 2 diabetes mellitus", "B-Chemical O B-Disease I-Disease I-Disease I-Disease"),
    ("gout again", "B-Disease O"),
    ("paracetamol helps", "B-Chemical O"),  # not in train: the gazetteer cannot find it
]


def write_conll(path: Path, rows) -> Path:
    blocks = ["\n".join(f"{w}\t{t}" for w, t in zip(text.split(), tags.split())) for text, tags in rows]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ner_config(tmp_path: Path) -> Path:
    write_conll(tmp_path / "train.conll", TRAIN)
    write_conll(tmp_path / "test.conll", TEST)
    config = tmp_path / "ner.toml"
    config.write_text(
        '[tasks.ner]\ntrain = "train.conll"\neval = "train.conll"\nkeep_embedded_tests = false\n'
        '[tasks.ner.tests.ward]\npath = "test.conll"\n',
        encoding="utf-8",
    )
    return config


def test_the_gazetteer_tags_what_it_saw_and_nothing_else(run_harness, ner_config, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_harness(
        "run", "--models", "gazetteer,regex", "--tasks", "ner", "--config", str(ner_config), "--out", str(out)
    )
    assert code == 0, stderr
    document = read_leaderboard(out)
    items = {r["model"]: r for r in document["results"]}
    assert items["regex"]["status"] == "skipped" and "does not tag tokens" in items["regex"]["reason"]
    ward = items["gazetteer"]["ner"]["ward"]
    # Found: metformin, the 4-word diabetes, gout; missed: paracetamol (never seen).
    assert ward["strict"]["micro"] == {
        "precision": 1.0,
        "recall": 0.75,
        "f1": pytest.approx(6 / 7),
        "true_positives": 3,
        "predicted": 3,
        "gold": 4,
    }
    assert ward["by_length"]["3+"]["strict"]["f1"] == 1.0 and ward["by_length"]["3+"]["gold"] == 1
    assert ward["strict"]["per_type"]["Chemical"]["recall"] == 0.5
    inference = items["gazetteer"]["ner_inference"]
    assert inference["sentences"] == len(TEST) and inference["seconds_per_sentence"] >= 0
    assert items["gazetteer"]["model_info"]["trainable_params"] == 7  # seven distinct entity strings in train
    assert "NER (ward test set)" in stdout and "NER inference cost" in stdout
    assert document["run"]["synthetic_data"] is False


def test_spans_in_jsonl_are_read_with_the_corpus_tokenizer(run_harness, ner_config, tmp_path):
    lines = [
        {
            "text": "Metformin for type 2 diabetes mellitus.",
            "entities": [{"start": 0, "end": 9, "label": "Chemical"}, {"start": 14, "end": 38, "label": "Disease"}],
        }
    ]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    ner_config.write_text(ner_config.read_text().replace("test.conll", "test.jsonl"), encoding="utf-8")
    out = tmp_path / "run"
    code, _, stderr = run_harness(
        "run", "--models", "gazetteer", "--tasks", "ner", "--config", str(ner_config), "--out", str(out)
    )
    assert code == 0, stderr
    ward = read_leaderboard(out)["results"][0]["ner"]["ward"]
    assert ward["strict"]["micro"]["f1"] == 1.0 and ward["entities"]["gold"] == 2  # lower-cased lookup


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("aspirin treats headache", "B-Chemical O I-Disease")], ["test.conll", "line 3", "I-Disease"]),
        ([("gene therapy", "B-Gene I-Gene")], ["test.conll", "'Gene'", "never occur in train"]),
    ],
)
def test_bad_test_files_name_the_file(run_harness, ner_config, tmp_path, rows, expected):
    write_conll(tmp_path / "test.conll", rows)
    out = tmp_path / "run"
    code, _, stderr = run_harness(
        "run", "--models", "gazetteer", "--tasks", "ner", "--config", str(ner_config), "--out", str(out)
    )
    assert code == 2 and not out.exists() and len(stderr.strip().splitlines()) == 1
    assert all(part in stderr for part in expected), stderr


def test_unknown_split_key_and_format(run_harness, ner_config, tmp_path, monkeypatch):
    ner_config.write_text(ner_config.read_text() + 'format = "xml"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # without --out the run directory would be runs/<time> here
    before = tree(tmp_path)
    code, _, stderr = run_harness("run", "--models", "gazetteer", "--tasks", "ner", "--config", str(ner_config))
    assert code == 2 and "tasks.ner.tests.ward.format" in stderr and len(stderr.strip().splitlines()) == 1
    assert tree(tmp_path) == before  # nothing written: no runs/ folder, no item


def _item(model: str, architecture: str, per_sentence: float, params: int) -> ScoredItem:
    inference = {
        "sentences": 10,
        "seconds": 10 * per_sentence,
        "seconds_per_sentence": per_sentence,
        "seconds_per_sentence_per_million_params": per_sentence / (params / 1e6),
    }
    # The family is spelled otherwise on purpose: the comparison reads the declared architecture.
    info = {"family": f"{architecture} family", "architecture": architecture, "params": params}
    return ScoredItem(model, 1, {"ner_inference": inference}, {}, info)


def test_decoder_over_encoder_ratio_per_sentence_and_per_parameter():
    items = (
        _item("enc-a", "encoder", 0.002, 20_000_000),
        _item("enc-b", "encoder", 0.004, 40_000_000),
        _item("dec", "decoder", 0.012, 120_000_000),
        _item("gaz", "baseline", 0.0001, 10),
    )
    ratio = ner.summarise(SummaryRequest(TaskData(labels=("Chemical",)), items, (1,)))["inference_ratio"]
    assert ratio["encoders"] == ["enc-a", "enc-b"] and ratio["decoders"] == ["dec"]
    assert ratio["decoder_over_encoder_seconds_per_sentence"] == pytest.approx(0.012 / 0.003)
    assert ratio["decoder_over_encoder_per_million_params"] == pytest.approx(1.0)  # 1e-4 s per M params each


def test_the_embedded_silver_corpus_loads_and_says_it_is_silver(run_harness, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_harness(
        "run", "--models", "gazetteer", "--tasks", "ner", "--profile", "smoke", "--out", str(out)
    )
    assert code == 0, stderr
    document = read_leaderboard(out)
    assert document["run"]["synthetic_data"] is True and "SILVER" in document["run"]["data_note"]
    assert "SILVER" in stdout
    tables = ner_tables(document)
    assert tables[0].title == "NER (test set)" and "SILVER" in tables[0].caption
    assert {p["split"] for p in document["run"]["data"]["ner"]} == {"train", "eval", "test"}
