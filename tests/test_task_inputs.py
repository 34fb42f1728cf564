"""What a classification task of one's own accepts and refuses beyond the bad-input catalogue
(issue 22): labels written two ways and ``label_map``, a semicolon-separated CSV with
``delimiter``, a JSONL list cell, a 0/1 column without positives, probe cases of a multi-class task.

These call the task's loader directly on small files (no model runs); the catalogue
(tests/test_bad_input_catalogue.py) runs the command line for each error's one line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from harness import InputError, LoadRequest
from harness.errors import warnings_held
from harness.tasks.classification.loading import Preset, load
from harness.tasks.probe import load as load_probe

TEST = "note,status\nsmokes 20 a day,current\nstopped in 1999,former\nno tobacco ever,never\n"


def task(tmp_path: Path, train: str, **keys) -> dict:
    """A multi-class task table on train.csv (given) and eval/test files of three labels."""
    (tmp_path / "train.csv").write_text(train, encoding="utf-8")
    (tmp_path / "test.csv").write_text(TEST, encoding="utf-8")
    table = {
        "kind": "classification",
        "problem": "multi-class",
        "train": {"path": "train.csv", "text_column": "note", "label_column": "status"},
        "eval": "test.csv",
        "tests": {"internal": "test.csv"},
        **keys,
    }
    return table


def loaded(tmp_path: Path, table: dict, upstream=None):
    request = LoadRequest(table, argparse.Namespace(), tmp_path / "harness.toml", upstream, "smoking")
    return load(request, "smoking", Preset())


TRAIN = "note,status\ncurrent smoker,current\nex-smoker,former\nnever smoked,never\n"


@pytest.mark.parametrize(
    ("written", "named"),
    [("Current", "'Current'"), ("current ", None), ("CURRENT", "'CURRENT'")],
    ids=["capitalised", "trailing space (trimmed: the same label)", "upper case"],
)
def test_a_label_written_another_way_is_refused_naming_both_and_a_row_of_each(tmp_path, written, named):
    table = task(tmp_path, TRAIN + f"smokes daily,{written}\n")
    if named is None:  # a cell's surrounding spaces were always trimmed: not a second spelling
        assert loaded(tmp_path, table).labels == ("current", "former", "never")
        return
    with pytest.raises(InputError, match=rf"row 4: label {named} and label 'current' \(row 1 of .*train.csv\)"):
        loaded(tmp_path, table)


def test_labels_differing_in_inner_spacing_are_refused(tmp_path):
    table = task(tmp_path, TRAIN + "quit 2010,ex  smoker\nquit 2011,ex smoker\n")
    with pytest.raises(InputError, match=r"row 5: label 'ex smoker' and label 'ex  smoker' \(row 4 of"):
        loaded(tmp_path, table)


def test_label_map_merges_the_spellings_it_names(tmp_path):
    table = task(tmp_path, TRAIN + "smokes daily,Current\nquit 2010,Ex smoker\n")
    table["label_map"] = {"Current": "current", "Ex smoker": "former"}
    data = loaded(tmp_path, table)
    assert data.labels == ("current", "former", "never")
    assert data.splits["train"].y.sum(axis=0).tolist() == [2, 2, 1]


def test_label_map_that_misses_a_spelling_still_refuses_it(tmp_path):
    table = task(tmp_path, TRAIN + "smokes daily,Current\nquit 2010,FORMER\n")
    table["label_map"] = {"Current": "current"}
    with pytest.raises(InputError, match=r"label 'FORMER' and label 'former'"):
        loaded(tmp_path, table)


@pytest.mark.parametrize("value", [["current"], {"Current": ""}, "current"])
def test_a_label_map_of_the_wrong_shape_is_refused(tmp_path, value):
    with pytest.raises(InputError, match=r"tasks\.smoking\.label_map: expected a table"):
        loaded(tmp_path, task(tmp_path, TRAIN, label_map=value))


def test_a_label_map_for_0_1_columns_is_refused_rather_than_ignored(tmp_path):
    (tmp_path / "train.csv").write_text("note,uti,cap\na,1,0\nb,0,1\n", encoding="utf-8")
    table = {
        "kind": "classification",
        "problem": "multi-label",
        "text_column": "note",
        "label_columns": ["uti", "cap"],
        "label_map": {"UTI": "uti"},
        "train": "train.csv",
        "eval": "train.csv",
        "tests": {"internal": "train.csv"},
    }
    with pytest.raises(InputError, match=r"tasks\.smoking\.label_map: rewrites label_column values"):
        loaded(tmp_path, table)


def test_label_names_of_0_1_columns_that_differ_in_case_are_refused(tmp_path):
    (tmp_path / "train.csv").write_text("note,uti,UTI\na,1,0\nb,0,1\n", encoding="utf-8")
    table = {
        "kind": "classification",
        "problem": "multi-label",
        "text_column": "note",
        "label_columns": ["uti", "UTI"],
        "train": "train.csv",
        "eval": "train.csv",
        "tests": {"internal": "train.csv"},
    }
    with pytest.raises(InputError, match=r"tasks\.smoking\.train\.label_columns: labels 'uti' and 'UTI' differ"):
        loaded(tmp_path, table)


def test_a_0_1_column_without_a_positive_training_row_is_refused_but_may_lack_test_rows(tmp_path):
    (tmp_path / "train.csv").write_text("note,uti,cap\na,1,0\nb,0,1\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("note,uti,cap\nc,1,0\n", encoding="utf-8")
    table = {
        "kind": "classification",
        "problem": "multi-label",
        "text_column": "note",
        "label_columns": ["uti", "cap"],
        "train": "train.csv",
        "eval": "train.csv",
        "tests": {"internal": "test.csv"},
    }
    with warnings_held():
        data = loaded(tmp_path, table)  # no 'cap' row in the test set: a warning, not an error
    assert data.labels == ("uti", "cap")
    (tmp_path / "train.csv").write_text("note,uti,cap\na,1,0\nb,1,0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"train.csv: column 'cap' \(label 'cap'\) has no row with 1 in train"):
        loaded(tmp_path, table)


def test_a_semicolon_separated_csv_reads_with_delimiter(tmp_path):
    table = task(tmp_path, TRAIN.replace(",", ";"))
    (tmp_path / "test.csv").write_text(TEST.replace(",", ";"), encoding="utf-8")
    with pytest.raises(InputError, match=r"semicolon-separated: set tasks\.smoking\.train\.delimiter = \";\""):
        loaded(tmp_path, table)
    table["train"]["delimiter"] = ";"  # eval and the test sets take train's, as its columns
    data = loaded(tmp_path, table)
    assert data.splits["train"].texts == ("current smoker", "ex-smoker", "never smoked")
    assert data.splits["internal"].texts[0] == "smokes 20 a day"
    (tmp_path / "site_b.csv").write_text(TEST, encoding="utf-8")
    table["tests"]["site_b"] = {"path": "site_b.csv", "delimiter": ","}  # a file of its own kind
    assert loaded(tmp_path, table).splits["site_b"].texts == data.splits["internal"].texts


@pytest.mark.parametrize("value", [";;", "", '"', 1])
def test_a_delimiter_that_is_not_one_character_is_refused(tmp_path, value):
    table = task(tmp_path, TRAIN)
    table["train"]["delimiter"] = value
    with pytest.raises(InputError, match=r"tasks\.smoking\.train\.delimiter: expected one character"):
        loaded(tmp_path, table)


def test_a_jsonl_list_cell_of_one_label_is_a_multi_class_row_and_of_two_is_refused(tmp_path):
    rows = [{"note": "current smoker", "status": ["current"]}, {"note": "ex-smoker", "status": "former"}]
    rows.append({"note": "never smoked", "status": "never"})
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    table = task(tmp_path, TRAIN)
    table["train"]["path"] = "train.jsonl"
    assert loaded(tmp_path, table).splits["train"].y.tolist() == np.eye(3, dtype=int).tolist()
    rows[1]["status"] = ["former", "current"]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError, match=r"train.jsonl: row 2: column 'status' holds a list of 2 labels"):
        loaded(tmp_path, table)


@pytest.mark.parametrize(("problem", "refused"), [("multi-class", True), ("binary", False)])
def test_a_probe_case_expecting_no_label_is_refused_for_multi_class_only(tmp_path, problem, refused):
    """Argmax answers one label, so [] never passes a multi-class case; for a binary task [] is
    the negative answer."""
    if problem == "binary":
        (tmp_path / "train.csv").write_text("note,status\na,yes\nb,no\n", encoding="utf-8")
        (tmp_path / "test.csv").write_text("note,status\nc,yes\nd,no\n", encoding="utf-8")
        table = {
            "kind": "classification",
            "problem": "binary",
            "train": {"path": "train.csv", "text_column": "note", "label_column": "status"},
            "eval": "test.csv",
            "tests": {"internal": "test.csv"},
        }
        upstream = loaded(tmp_path, table)
    else:
        with warnings_held():
            upstream = loaded(tmp_path, task(tmp_path, TRAIN))
    probe = tmp_path / "probe.jsonl"
    probe.write_text(json.dumps({"id": "p", "input": "smokes", "expected": [], "kind": "own"}) + "\n")
    options = argparse.Namespace(probe_file=[str(probe)])
    request = LoadRequest({}, options, tmp_path / "harness.toml", upstream, "smoking")
    if refused:
        with pytest.raises(InputError, match=r"line 1: 'expected' is \[\] but task 'smoking' is multi-class"):
            load_probe(request)
    else:
        assert [case["id"] for case in load_probe(request).extra["cases"]] == ["p"]
