"""Runs that survive: finished items are kept in the run directory; a run killed with SIGKILL (a
real process, killed mid-item) or stopped with Ctrl-C resumes to the leaderboard an uninterrupted
run writes, apart from timings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from harness.core.store import ITEMS

from . import fakes
from .conftest import DEADLINE_SECONDS, read_leaderboard, tree

REPO = Path(__file__).resolve().parents[1]
TIMING = ("seconds", "peak_", "per_second", "fit_reused", "timestamp")


def without_timings(value):
    """The document minus what differs between two runs of the same items: timings and timestamps."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not any(t in k for t in TIMING)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


# A plugin whose fit stops where the test says: it writes a marker file, then sleeps (to be
# killed or interrupted) or raises KeyboardInterrupt (Ctrl-C), on the seed named by
# $HARNESS_TEST_STOP_SEED. It sleeps longer than any test waits, so a run that waited the sleep out
# would miss the test's deadline.
STOPPING_PLUGIN = """
import os, pathlib, time
from harness import ModelSpec, hookimpl
from tests import fakes
from tests.conftest import DEADLINE_SECONDS

def fit(request):
    if str(request.seed) == os.environ.get("HARNESS_TEST_STOP_SEED"):
        pathlib.Path(os.environ["HARNESS_TEST_MARKER"]).write_text("fitting")
        if os.environ.get("HARNESS_TEST_STOP") == "interrupt":
            raise KeyboardInterrupt
        time.sleep(2 * DEADLINE_SECONDS)
    return fakes.fit_lookup(request)

@hookimpl
def harness_add_models(register):
    register.add(ModelSpec("stopping", "fake", "memorise", fit, markers=("fake",)))
"""


def run_script(tmp_path: Path) -> Path:
    """A script that runs the CLI with the stopping plugin added, as a separate process."""
    plugin = tmp_path / "stopping_plugin.py"
    plugin.write_text(STOPPING_PLUGIN, encoding="utf-8")
    script = tmp_path / "run_harness.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(REPO)!r}, {str(tmp_path)!r}]
        import stopping_plugin
        from harness.cli import main
        sys.exit(main(sys.argv[1:], plugins={{"stopping": stopping_plugin}}))
    """),
        encoding="utf-8",
    )
    return script


def run_args(config: Path, out: Path, *more: str) -> list[str]:
    return [
        "run",
        "--models",
        "stopping,regex",
        "--tasks",
        "indications,probe",
        "--seeds",
        "1,2,3",
        "--config",
        str(config),
        *more,
        "--out",
        str(out),
    ]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_TEST_")}
    return {**env, "HARNESS_DISABLE_PLUGINS": "plots", "HARNESS_TEST_MARKER": str(tmp_path / "marker"), **extra}


def test_a_run_killed_mid_item_resumes_to_the_uninterrupted_leaderboard(tmp_path, tiny_config):
    script = run_script(tmp_path)
    reference = subprocess.run(
        [sys.executable, str(script), *run_args(tiny_config, tmp_path / "whole")],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, str(script), *run_args(tiny_config, out)],
        env=environment(tmp_path, HARNESS_TEST_STOP_SEED="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    marker = tmp_path / "marker"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), process.stderr.read().decode() if process.poll() is not None else "no marker"
    os.kill(process.pid, signal.SIGKILL)  # mid-item: seed 2's fit is running
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "leaderboard.json").exists()
    finished = sorted((out / ITEMS).glob("*.json"))
    assert len(finished) == 4  # seed 1: two models x two tasks

    resumed = subprocess.run(
        [sys.executable, str(script), *run_args(tiny_config, out)[:-2], "--resume", str(out)],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("finished earlier") == 4
    whole, after_kill = read_leaderboard(tmp_path / "whole"), read_leaderboard(out)
    assert without_timings(after_kill["results"]) == without_timings(whole["results"])
    assert without_timings(after_kill["summaries"]) == without_timings(whole["summaries"])
    assert after_kill["run"]["summary"] == whole["run"]["summary"] == {"passed": 12, "skipped": 0, "error": 0}
    # Nothing half-written was left behind by the kill.
    assert not list((out / ITEMS).glob(".*.tmp"))


def test_ctrl_c_stops_after_what_finished_and_says_how_to_resume(tmp_path, tiny_config):
    script = run_script(tmp_path)
    out = tmp_path / "run"
    stopped = subprocess.run(
        [sys.executable, str(script), *run_args(tiny_config, out)],
        env=environment(tmp_path, HARNESS_TEST_STOP_SEED="3", HARNESS_TEST_STOP="interrupt"),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert stopped.returncode == 130
    assert "8 finished item(s) are saved in" in stopped.stderr
    command = stopped.stderr.strip().splitlines()[-1]
    assert command.startswith("resume with: harness run ") and command.endswith(f"--resume {out}")
    assert "--out" not in command and not (out / "leaderboard.json").exists()
    argv = command.removeprefix("resume with: harness ").split()
    resumed = subprocess.run(
        [sys.executable, str(script), *argv],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("finished earlier") == 8
    assert read_leaderboard(out)["run"]["summary"]["passed"] == 12


def test_running_into_the_same_out_skips_finished_items(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    args = (
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,probe",
        "--seeds",
        "1,2",
        "--config",
        str(tiny_config),
        "--out",
        str(out),
    )
    code, _, _ = run_harness(*args)
    assert code == 0 and fakes.FIT_CALLS == [("lookup", 1), ("lookup", 2)]
    first = read_leaderboard(out)
    code, stdout, _ = run_harness(*args)
    assert code == 0 and fakes.FIT_CALLS == []  # nothing fitted again
    assert stdout.count("finished earlier") == 4
    assert without_timings(read_leaderboard(out)["results"]) == without_timings(first["results"])
    assert read_leaderboard(out)["summaries"] == first["summaries"]  # predictions were kept for the summary


def test_a_change_that_matters_runs_the_item_again(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    args = ("run", "--models", "lookup", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out))
    assert run_harness(*args)[0] == 0
    tiny_config.write_text(tiny_config.read_text() + "\n[models.lookup]\nrecipe = { epochs = 5 }\n")
    assert run_harness(*args)[0] == 0 and fakes.FIT_CALLS == [("lookup", 42)]  # new recipe: fitted again
    data = tiny_config.parent / "data" / "eval.csv"
    data.write_text(data.read_text() + "urosepsis," + ",".join(["1"] + ["0"] * 11) + "\n")
    assert run_harness(*args)[0] == 0 and fakes.FIT_CALLS == [("lookup", 42)]  # new data: again
    assert run_harness(*args)[0] == 0 and fakes.FIT_CALLS == []  # nothing changed: read back


def test_a_damaged_item_file_runs_again(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    args = ("run", "--models", "lookup", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out))
    assert run_harness(*args)[0] == 0
    (stored,) = (out / ITEMS).glob("*.json")
    stored.write_text(stored.read_text()[:40])  # as if cut short (the rename makes this unlikely)
    assert run_harness(*args)[0] == 0 and fakes.FIT_CALLS == [("lookup", 42)]


def test_resume_needs_a_run_directory_with_finished_items(run_harness, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a default runs/<time> folder would go
    code, _, stderr = run_harness("run", "--models", "lookup", "--resume", str(tmp_path / "nothing"))
    assert code == 2 and "no finished items there" in stderr and str(tmp_path / "nothing") in stderr
    assert tree(tmp_path) == set()  # no run directory made for a run that did not start
    code, _, stderr = run_harness("run", "--resume", str(tmp_path), "--out", str(tmp_path / "other"))
    assert code == 2 and "--resume" in stderr and len(stderr.strip().splitlines()) == 1
    assert tree(tmp_path) == set()


def test_errors_and_skips_are_not_kept(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    args = (
        "run",
        "--models",
        "broken,gpu-only,lookup",
        "--tasks",
        "indications",
        "--config",
        str(tiny_config),
        "--out",
        str(out),
    )
    assert run_harness(*args)[0] == 1
    assert len(list((out / ITEMS).glob("*.json"))) == 1  # lookup only
    code, _, _ = run_harness(*args)
    assert code == 1 and ("broken", 42) in fakes.FIT_CALLS and ("lookup", 42) not in fakes.FIT_CALLS
