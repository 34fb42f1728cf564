"""The machine the times were measured on: recorded in the leaderboard's run section, validated by
the schema (old leaderboards still valid), printed beside the times by the console, `harness show`
and the page, and compared by `harness publish`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.hardware import SPEED_FLAGS, describe_machine, hardware_text, machine_of, times_lines
from harness.leaderboard import SCHEMA_FILE, load, schema_errors

from .conftest import DEADLINE_SECONDS, read_leaderboard

ROOT = Path(__file__).resolve().parents[1]
BOARDS = sorted((ROOT / "leaderboards").glob("*.json"))

# The first processor of /proc/cpuinfo on the two machines issue 22 timed (abridged flag lists).
XEON_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: another processor's line is not read
"""
EPYC = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma sha_ni
"""


def test_the_cpu_flags_that_change_speed_are_read_and_their_absence_said(tmp_path):
    xeon, epyc = tmp_path / "xeon", tmp_path / "epyc"
    xeon.write_text(XEON_AMX, encoding="utf-8")
    epyc.write_text(EPYC, encoding="utf-8")
    with_amx, without = describe_machine(str(xeon)), describe_machine(str(epyc))
    assert with_amx["cpu_model"] == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
    assert with_amx["cpu_flags"] == [
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_tile",
        "amx_bf16",
        "amx_int8",
    ]
    assert without["cpu_flags"] == ["avx2"]
    if without["machine"] == "x86_64":
        assert hardware_text(without).startswith("AMD EPYC 7B13 (AVX2, no AVX-512, no AMX); ")
        assert "no AVX-512" not in hardware_text(with_amx) and "AMX-BF16" in hardware_text(with_amx)
    assert machine_of(with_amx) != machine_of(without)


def test_the_record_matches_the_schema_and_the_schema_lists_the_flags():
    schema = json.loads((ROOT / "harness" / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert schema["$defs"]["hardware"]["properties"]["cpu_flags"]["items"]["enum"] == list(SPEED_FLAGS)
    document = load(BOARDS[0])
    document["run"]["hardware"] = [describe_machine()]
    assert schema_errors(document) == []
    broken = copy.deepcopy(document)
    del broken["run"]["hardware"][0]["cpu_model"]
    assert any("cpu_model" in error for error in schema_errors(broken))
    broken = copy.deepcopy(document)
    broken["run"]["hardware"][0]["cpu_flags"] = ["turbo"]
    assert schema_errors(broken)


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.name)
def test_committed_leaderboards_validate_and_say_where_their_times_were_measured(board):
    """Those written before the record validate and say so; those written since name their machine."""
    document = json.loads(board.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    if "hardware" not in document["run"]:
        assert times_lines(document["run"]) == [
            "Times measured on hardware this leaderboard does not record (written before it was)."
        ]
    else:
        (line,) = times_lines(document["run"])
        assert line.startswith("Times measured on ") and document["run"]["hardware"][0]["cpu_model"] in line


def test_describing_the_machine_does_not_import_torch():
    code = "import sys; from harness.core.hardware import describe_machine; describe_machine(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_SECONDS)
    assert done.stdout.strip() == "False", done.stderr


def test_a_run_records_its_machine_and_prints_it_beside_the_times(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_harness(
        "run", "--models", "lookup,regex", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out)
    )
    assert code == 0, stderr
    document = read_leaderboard(out)
    (machine,) = document["run"]["hardware"]
    assert machine_of(machine) == machine_of(describe_machine()) and "node" not in machine
    line = f"Times measured on {hardware_text(machine)}."
    assert line in stdout
    assert stdout.index("Training") < stdout.index(line)  # after the tables that hold the times
    code, shown, _ = run_harness("show", str(out / "leaderboard.json"))
    assert code == 0 and line in shown
    code, markdown, _ = run_harness("show", str(out / "leaderboard.json"), "--format", "markdown")
    assert code == 0 and line in markdown


def test_several_machines_are_listed_one_a_line():
    node = {**describe_machine(), "threads": 1}
    run = {"hardware": [{"node": "10.0.0.1", "node_id": "a", **node}, {"node": "10.0.0.2", "node_id": "b", **node}]}
    lines = times_lines(run)
    assert lines[0] == "Times measured on 2 machines:"
    assert lines[1].startswith("  node 10.0.0.1: ") and lines[2].startswith("  node 10.0.0.2: ")
    assert "1 thread, " in lines[1]


def test_the_page_shows_the_machines_at_the_top_beside_the_times_and_per_merged_run(run_harness, tiny_config, tmp_path):
    from harness.report.html import render_html

    out = tmp_path / "run"
    argv = ("run", "--models", "lookup", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out))
    assert run_harness(*argv)[0] == 0
    document = read_leaderboard(out)
    text = hardware_text(document["run"]["hardware"][0])
    page = render_html(document)
    assert f'<dd id="hardware">{text}</dd>' in page
    assert f"Training and prediction times: measured on {text}." in page
    old = render_html(load(BOARDS[0]))
    assert '<dd id="hardware">not recorded (this leaderboard was written before it was)</dd>' in old
    target = tmp_path / "published.json"
    assert run_harness("publish", str(out / "leaderboard.json"), "--to", str(target))[0] == 0
    published = render_html(load(target))
    assert f"<td>cpu</td><td>{text}</td>" in published  # the merged run's row


def test_gpus_and_cuda_come_from_the_torch_the_run_imported(monkeypatch):
    """No GPU here: a stand-in for an imported torch with two H100s (the harness never imports torch
    for this; it reads what the run's torch sees)."""
    from types import SimpleNamespace

    device = SimpleNamespace(name="NVIDIA H100 80GB HBM3", total_memory=85_045_870_592)
    cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: 2, get_device_properties=lambda i: device)
    fake_torch = SimpleNamespace(cuda=cuda, version=SimpleNamespace(cuda="12.4"), get_num_threads=lambda: 12)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    machine = describe_machine()
    assert machine["gpus"] == [{"name": "NVIDIA H100 80GB HBM3", "memory_gib": 79.2}] * 2
    assert machine["cuda"] == "12.4" and machine["threads"] == 12
    assert hardware_text(machine).endswith("; 2x NVIDIA H100 80GB HBM3 (79.2 GiB), CUDA 12.4")
    document = load(BOARDS[0])
    document["run"]["hardware"] = [machine]
    assert schema_errors(document) == []
