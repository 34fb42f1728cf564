"""``harness errors RUN_DIR`` (issue 26): the misclassified rows with their text, read back from the
data file the run scored; filters, the most confident mistakes first, two models' disagreements,
csv / jsonl / table with the patient-text banner first."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from harness.commands.errors import BANNER, mistake_confidence
from harness.core.store import ItemStore
from harness.predictions import read_parquet

from .test_row_predictions import SECRET, write_binary_task


@pytest.fixture(scope="module")
def two_model_run(tmp_path_factory):
    """tfidf-lr and lookup (which memorises train: it misses unseen test rows) on the binary task."""
    from harness.cli import main

    from . import fakes

    folder = tmp_path_factory.mktemp("errors")
    config = write_binary_task(folder)
    out = folder / "run"
    argv = ["run", "--config", str(config), "--models", "tfidf-lr,lookup", "--tasks", "ade", "--out", str(out)]
    assert main(argv, plugins={"fakes": fakes}) == 0
    return folder, out


def per_row(out):
    return {r.model: r for r in (read_parquet(p) for p in ItemStore(out).row_files())}


def records(run_harness, out, *options):
    code, stdout, err = run_harness("errors", str(out), "--format", "jsonl", *options)
    assert code == 0, err
    first, *rest = stdout.splitlines()
    assert json.loads(first) == {"notice": BANNER}
    return [json.loads(line) for line in rest]


def test_the_misclassified_rows_with_their_text_most_confident_first(two_model_run, run_harness):
    folder, out = two_model_run
    ward = per_row(out)["tfidf-lr"].split("ward")
    wrong = {int(r) for r in ward.rows[(ward.gold != ward.predicted).any(axis=1)]}
    assert 0 < len(wrong) < len(ward.rows)
    found = records(run_harness, out, "--model", "tfidf-lr")
    assert {r["row"] for r in found} == wrong and {r["test_set"] for r in found} == {"ward"}  # never train/eval
    texts = [json.loads(line)["note"] for line in (folder / "test.jsonl").read_text().splitlines()]
    ids = [json.loads(line)["pid"] for line in (folder / "test.jsonl").read_text().splitlines()]
    for r in found:
        assert r["text"] == texts[r["row"]] and r["id"] == ids[r["row"]]
        i = int(np.flatnonzero(ward.rows == r["row"])[0])
        assert r["gold"] == ("ade" if ward.gold[i, 0] else "") and r["predicted"] == (
            "ade" if ward.predicted[i, 0] else ""
        )
        assert r["confidence"] == pytest.approx(abs(ward.scores[i, 0] - 0.5), abs=1e-4)
    confidences = [r["confidence"] for r in found]
    assert confidences == sorted(confidences, reverse=True)
    # --true / --pred: the false negatives, then the false positives
    negatives = records(run_harness, out, "--model", "tfidf-lr", "--true", "ade")
    positives = records(run_harness, out, "--model", "tfidf-lr", "--pred", "ade")
    assert {r["row"] for r in negatives} | {r["row"] for r in positives} == wrong
    assert all(r["gold"] == "ade" and r["predicted"] == "" for r in negatives)
    assert all(r["predicted"] == "ade" for r in positives)


def test_csv_and_table_start_with_the_banner(two_model_run, run_harness):
    _, out = two_model_run
    code, stdout, _ = run_harness("errors", str(out), "--format", "csv", "--test-set", "ward")
    assert code == 0 and stdout.startswith(f"# {BANNER}\n")
    rows = list(csv.DictReader(io.StringIO(stdout.split("\n", 1)[1])))
    assert {r["model"] for r in rows} == {"tfidf-lr", "lookup"} and "text" in rows[0]
    code, stdout, _ = run_harness("errors", str(out), "--model", "lookup")
    assert code == 0 and stdout.splitlines()[0] == f"!! {BANNER} !!"


def test_output_is_written_whole_and_readable_by_its_owner_only(two_model_run, run_harness, tmp_path):
    """A list for an annotator holds patient text: written 0600 whatever the umask, as a shell's
    ``>`` would not (it gives the umask's mode, usually world-readable)."""
    _, out = two_model_run
    target = tmp_path / "to-check.csv"
    code, stdout, err = run_harness("errors", str(out), "--format", "csv", "--output", str(target))
    assert code == 0, err
    assert "readable by you only" in stdout and BANNER not in stdout  # the text went to the file only
    assert target.read_text(encoding="utf-8").startswith(f"# {BANNER}\n")
    assert target.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name != target.name]  # no temporary left beside it
    code, _, err = run_harness("errors", str(out), "--output", str(tmp_path / "no-such-folder" / "x.csv"))
    assert code == 2 and "no-such-folder" in err and len(err.strip().splitlines()) == 1


def test_vs_lists_the_rows_two_models_disagree_on_and_who_was_right(two_model_run, run_harness):
    _, out = two_model_run
    rows = per_row(out)
    a, b = rows["tfidf-lr"].split("ward"), rows["lookup"].split("ward")
    differ = {int(r) for r in a.rows[(a.predicted != b.predicted).any(axis=1)]}
    assert differ
    found = records(run_harness, out, "--model", "tfidf-lr", "--vs", "lookup")
    assert {r["row"] for r in found} == differ
    for r in found:
        i = r["row"]
        right_a, right_b = (a.predicted[i] == a.gold[i]).all(), (b.predicted[i] == b.gold[i]).all()
        assert r["right"] == ("tfidf-lr" if right_a else "lookup" if right_b else "neither")


def test_the_planted_string_is_shown_only_where_the_model_got_its_row_wrong(two_model_run, run_harness):
    _, out = two_model_run
    lookup = per_row(out)["lookup"].split("ward")
    found = records(run_harness, out, "--model", "lookup")
    shown = any(r["text"] == SECRET for r in found)
    assert shown == bool((lookup.gold[7] != lookup.predicted[7]).any())


@pytest.mark.parametrize(
    "options, message",
    [
        (("--model", "nobody"), "--model: no per-row predictions of 'nobody'; the run has lookup, tfidf-lr"),
        (("--test-set", "site_z"), "--test-set: no test set 'site_z'; the run has ward"),
        (("--true", "rash"), "--true: unknown label 'rash'; the run's labels: ade"),
        (("--vs", "lookup"), "--vs: name the other model with --model MODEL"),
        (
            ("--model", "tfidf-lr", "--vs", "lookup", "--true", "ade"),
            "--vs: lists every row the two models disagree on: drop --true and --pred",
        ),
    ],
)
def test_bad_options_are_one_line(two_model_run, run_harness, options, message):
    _, out = two_model_run
    code, stdout, err = run_harness("errors", str(out), *options)
    assert (code, stdout) == (2, "") and err.strip() == f"harness: error: {message}"


def test_a_changed_data_file_is_refused(tmp_path, run_harness):
    config = write_binary_task(tmp_path)
    out = tmp_path / "run"
    assert (
        run_harness("run", "--config", str(config), "--models", "tfidf-lr", "--tasks", "ade", "--out", str(out))[0] == 0
    )
    assert run_harness("errors", str(out))[0] == 0
    test = tmp_path / "test.jsonl"
    lines = test.read_text().splitlines()
    test.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")  # the same rows, in another order
    code, stdout, err = run_harness("errors", str(out))
    assert code == 2 and stdout == "" and "test.jsonl: changed since the run" in err and SECRET not in err


def test_confidence_of_an_argmax_mistake_is_the_chosen_labels_score():
    scores = np.array([0.2, 0.7, 0.1])
    assert mistake_confidence(scores, np.array([1, 0, 0]), np.array([0, 1, 0]), {"argmax": True}) == 0.7
    # thresholds: the farthest wrong side (a false positive at 0.9 beats a false negative at 0.3)
    assert mistake_confidence(
        np.array([0.9, 0.3]), np.array([0, 1]), np.array([1, 0]), {"threshold": 0.5}
    ) == pytest.approx(0.4)
