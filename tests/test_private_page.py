"""The planted string (issue 26): a private string in a user's test set reaches ``harness errors``
and the ``--private`` page only; never the run's leaderboard, its per-row files, a normal page or
anything ``harness publish`` writes."""

from __future__ import annotations

import json
import os
import stat

import pytest

from harness.core.store import ItemStore
from harness.predictions import read_parquet

from .test_row_predictions import SECRET, write_binary_task


@pytest.fixture
def planted_run(tmp_path, run_harness, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    config = write_binary_task(tmp_path)
    out = tmp_path / "run"
    code, _, err = run_harness(
        "run", "--config", str(config), "--models", "tfidf-lr", "--tasks", "ade", "--out", str(out)
    )
    assert code == 0, err
    (rows,) = [read_parquet(p) for p in ItemStore(out).row_files()]
    ward = rows.split("ward")
    assert (ward.gold[7] != ward.predicted[7]).any()  # the planted row is a mistake: errors must show it
    assert SECRET in (tmp_path / "test.jsonl").read_text()
    return out


def test_the_planted_string_stays_in_the_private_outputs(planted_run, run_harness, tmp_path):
    out = planted_run
    for path in out.rglob("*"):  # the run directory: leaderboard, items, per-row files
        if path.is_file():
            assert b"zanzibar" not in path.read_bytes(), path
    page = tmp_path / "page.html"
    assert run_harness("show", str(out / "leaderboard.json"), "--format", "html", "--output", str(page))[0] == 0
    assert "zanzibar" not in page.read_text() and "harness-private" not in page.read_text()
    board, board_page = tmp_path / "pub" / "board.json", tmp_path / "pub" / "board.html"
    code, _, err = run_harness("publish", str(out / "leaderboard.json"), "--to", str(board), "--html", str(board_page))
    assert code == 0, err
    for path in (board, board_page):
        assert "zanzibar" not in path.read_text()
    # ...and only here:
    code, stdout, _ = run_harness("errors", str(out), "--format", "jsonl")
    assert code == 0 and any(json.loads(line).get("text") == SECRET for line in stdout.splitlines()[1:])
    private = tmp_path / "private.html"
    code, stdout, err = run_harness(
        "show", str(out), "--format", "html", "--private", "--private-rows", "50", "--output", str(private)
    )
    assert code == 0, err
    text = private.read_text()
    assert SECRET in text and 'id="private-banner"' in text and 'name="harness-private"' in text
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600  # readable by its owner only
    code, _, err = run_harness("publish", str(private), "--to", str(tmp_path / "refused.json"))
    assert code == 2 and "private page" in err and not (tmp_path / "refused.json").exists()


def test_the_private_page_shows_the_most_confident_errors_first(planted_run, run_harness, tmp_path):
    private = tmp_path / "private.html"
    code, _, err = run_harness(
        "show", str(planted_run), "--format", "html", "--private", "--private-rows", "2", "--output", str(private)
    )
    assert code == 0, err
    section = private.read_text().split('id="private-errors"')[1].split("</section>")[0]
    code, stdout, _ = run_harness("errors", str(planted_run), "--format", "jsonl")
    top = [json.loads(line) for line in stdout.splitlines()[1:3]]
    assert section.count("<tr><td>") == 2
    for row in top:
        assert f"<td>{row['id']}</td>" in section


def test_private_needs_the_html_format(planted_run, run_harness):
    code, _, err = run_harness("show", str(planted_run), "--private")
    assert code == 2 and "--private is for --format html" in err
