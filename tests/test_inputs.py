"""Bad input: one clear line naming the file and row or key, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.tasks.indications import CATEGORIES

HEADER = "text," + ",".join(CATEGORIES)
GOOD_ROW = "uti," + ",".join("1" if c == "urinary" else "0" for c in CATEGORIES)


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _train_config(tmp_path: Path, content: bytes | str, name: str = "train.csv") -> Path:
    data = tmp_path / name
    data.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return _config(tmp_path, f'[tasks.indications]\ntrain = "{name}"\n')


def bad_label_value(tmp_path):
    row = GOOD_ROW.replace("uti,1", "uti,yes")
    return _train_config(tmp_path, f"{HEADER}\n{GOOD_ROW}\n{row}\n"), ["train.csv", "row 2", "urinary", "'yes'"]


def empty_text(tmp_path):
    return _train_config(tmp_path, f"{HEADER}\n{GOOD_ROW}\n  ,{GOOD_ROW[4:]}\n"), ["train.csv", "row 2", "empty"]


def missing_column(tmp_path):
    header = HEADER.replace(",ent,", ",ear_nose_throat,")
    return _train_config(tmp_path, f"{header}\n{GOOD_ROW}\n"), ["train.csv", "missing column", "'ent'"]


def missing_text_column(tmp_path):
    return _train_config(tmp_path, f"{HEADER.replace('text', 'indication')}\n{GOOD_ROW}\n"), ["train.csv", "'text'"]


def not_utf8(tmp_path):
    content = f"{HEADER}\n{GOOD_ROW}\n".encode() + "caf\u00e9 uti,".encode("latin-1") + GOOD_ROW[4:].encode() + b"\n"
    return _train_config(tmp_path, content), ["train.csv", "line 3", "UTF-8"]


def empty_file(tmp_path):
    return _train_config(tmp_path, ""), ["train.csv", "empty"]


def missing_file(tmp_path):
    return _config(tmp_path, '[tasks.indications]\ntrain = "nowhere.csv"\n'), ["nowhere.csv", "not found"]


def malformed_jsonl(tmp_path):
    return _train_config(tmp_path, '{"text": "uti"\n', "train.jsonl"), ["train.jsonl", "line 1", "JSON"]


def unknown_label(tmp_path):
    (tmp_path / "t.csv").write_text(f"{HEADER}\n{GOOD_ROW}\n")
    body = '[tasks.indications.train]\npath = "t.csv"\nlabel_columns = { kidney = "urinary" }\n'
    return _config(tmp_path, body), ["t.csv", "unknown label 'kidney'"]


def malformed_toml(tmp_path):
    return _config(tmp_path, "[tasks.indications\ntrain = 1\n"), ["bad.toml", "malformed TOML"]


def unknown_config_key(tmp_path):
    return _config(tmp_path, '[tasks.indications]\ntrian = "x.csv"\n'), ["bad.toml", "tasks.indications.trian"]


def unknown_recipe_key(tmp_path):
    body = "[models.lookup]\nrecipe = { epoch = 2 }\n"
    return _config(tmp_path, body), ["bad.toml", "models.lookup.recipe.epoch", "epochs"]


def unknown_task_in_config(tmp_path):
    return _config(tmp_path, "[tasks.summaries]\ntrain = 1\n"), ["bad.toml", "tasks.summaries", "unknown task"]


@pytest.mark.parametrize(
    "make",
    [
        bad_label_value,
        empty_text,
        missing_column,
        missing_text_column,
        not_utf8,
        empty_file,
        missing_file,
        malformed_jsonl,
        unknown_label,
        malformed_toml,
        unknown_config_key,
        unknown_recipe_key,
        unknown_task_in_config,
    ],
)
def test_bad_data_and_config(make, run_harness, tmp_path):
    config, expected = make(tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = run_harness("run", "--models", "lookup", "--config", str(config), "--out", str(out))
    assert code == 2
    (line,) = stderr.strip().splitlines()
    for fragment in expected:
        assert fragment in line
    assert not out.exists()
    assert stdout == ""


def probe_lines(tmp_path, text):
    path = tmp_path / "probe.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id": "a", "input": "uti", "expected": ["urinary"], "kind": "x"}\n{oops\n', ["line 2", "JSON"]),
        ('{"id": "a", "input": "uti", "expected": ["kidney"], "kind": "x"}\n', ["line 1", "'kidney'"]),
        ('{"id": "a", "input": "uti", "expected": "urinary", "kind": "x"}\n', ["line 1", "'expected'"]),
        ('{"id": "a", "input": " ", "expected": [], "kind": "x"}\n', ["line 1", "empty input"]),
        ('{"id": "cap", "input": "cap", "expected": ["respiratory"], "kind": "x"}\n', ["duplicate probe id 'cap'"]),
    ],
)
def test_bad_probe_files(text, expected, run_harness, tmp_path, tiny_config):
    probe = probe_lines(tmp_path, text)
    out = tmp_path / "out"
    code, _, stderr = run_harness(
        "run", "--models", "lookup", "--config", str(tiny_config), "--probe-file", str(probe), "--out", str(out)
    )
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert "probe.jsonl" in line
    for fragment in expected:
        assert fragment in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--models", "nope"], ["unknown model(s) nope", "known:", "lookup"]),
        (["--tasks", "nope"], ["unknown task(s) nope", "indications", "probe"]),
        (["-k", "lookup and"], ["bad expression"]),
    ],
)
def test_unknown_names_list_the_known_ones(args, expected, run_harness, tiny_config, tmp_path):
    code, _, stderr = run_harness("run", "--config", str(tiny_config), "--out", str(tmp_path / "o"), *args)
    assert code == 2
    for fragment in expected:
        assert fragment in stderr
    assert not (tmp_path / "o").exists()


def test_user_probe_file_is_added(run_harness, tiny_config, tmp_path):
    probe = probe_lines(
        tmp_path, '{"id": "mine", "input": "meningitis", "expected": ["neurological"], "kind": "own"}\n'
    )
    code, _, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "probe",
        "--config",
        str(tiny_config),
        "--probe-file",
        str(probe),
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0
    from .conftest import read_leaderboard

    (item,) = read_leaderboard(tmp_path / "o")["results"]
    assert item["by_kind"]["own"] == {"passed": 1, "total": 1, "pass_rate": 1.0}
    assert len(item["cases"]) == 16
