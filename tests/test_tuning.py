"""``harness run --tune N`` on real Ray Tune (a local cluster each run starts), with the fake models
of ``tests/tune_fakes.py`` and the tiny indications data: the search, the recipe it hands the grid,
the leaderboard's search section, resuming, a lost trial worker, Ctrl-C. The baselines and a tiny
torch model are searched in ``tests/test_tuning_models.py``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")
pytest.importorskip("optuna")

from harness.leaderboard import validate

from . import tune_fakes
from .conftest import read_leaderboard

PLUGINS = {"tune_fakes": tune_fakes}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def test_dir(tmp_path, monkeypatch):
    folder = tmp_path / "signals"
    folder.mkdir()
    monkeypatch.setenv("HARNESS_TEST_DIR", str(folder))
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    return folder


def fits(folder: Path) -> list[dict]:
    path = folder / "fits.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def search_of(document: dict, model: str, task: str = "indications") -> dict:
    return document["search"]["tasks"][task]["models"][model]


def test_a_tuned_run_chooses_on_eval_fits_the_grid_with_it_and_resumes(run_harness, tiny_config, tmp_path, test_dir):
    out = tmp_path / "run"
    argv = ["run", "--models", "knob,lookup", "--tasks", "indications", "--config", str(tiny_config)]
    code, stdout, stderr = run_harness(*argv, "--tune", "4", "--out", str(out), plugins=PLUGINS)
    assert code == 0, stderr
    document = read_leaderboard(out)
    validate(document)
    record = search_of(document, "knob")
    trials = record["trials"]
    assert [t["trial"] for t in trials] == [0, 1, 2, 3]
    assert trials[0]["config"] == {"skill": 0.2} == record["default"]  # trial 0 is the recipe
    completed = [t for t in trials if t["status"] == "completed"]
    best = max(completed, key=lambda t: (t["eval"], -t["trial"]))
    assert record["chosen"] == best["config"] and record["chosen_trial"] == best["trial"]
    assert record["tuned_eval"] == best["eval"] >= record["default_eval"] == trials[0]["eval"]
    assert all(len(t["eval_by_epoch"]) == t["epochs"] and t["eval"] == max(t["eval_by_epoch"]) for t in trials)
    # The grid fitted the chosen configuration: the item's recipe, and its eval score is the trial's.
    (item,) = [r for r in document["results"] if r["model"] == "knob"]
    assert item["fit_details"]["recipe"]["skill"] == pytest.approx(record["chosen"]["skill"])
    assert item["metrics"]["eval"]["f1_weighted"] == pytest.approx(record["tuned_eval"], abs=1e-6)
    # Trials held train and eval and nothing else of the task; the grid's own fit (in this process) more.
    trial_fits = [f for f in fits(test_dir) if f["event"] == "start" and f["trial"]]
    assert len(trial_fits) == 4 and all(set(f["splits"]) <= {"train", "eval"} for f in trial_fits)
    assert all(f["pid"] != os.getpid() for f in trial_fits)
    # A model with no search space says so and runs its recipe.
    untuned = search_of(document, "lookup")
    assert untuned["status"] == "untuned" and untuned["trials"] == [] and "no search space" in untuned["reason"]
    assert "lookup on indications: not tuned: it has no search space; its recipe runs" in stdout
    decision = document["summaries"]["indications"]["decision"]
    assert decision["budget"].startswith("Each model with a search space was tuned with 4 trials on eval")
    assert [p["trials"] for p in record["curve"]] == [1, 2, 3, 4]
    assert record["curve"][-1]["expected_max"] == pytest.approx(max(t["eval"] for t in trials if t["eval"] is not None))

    # harness show renders the budget from the leaderboard alone.
    code, shown, _ = run_harness("show", str(out / "leaderboard.json"), plugins=PLUGINS)
    assert code == 0
    assert "Search budget (indications)" in shown and "Search trials (indications)" in shown
    assert "Expected maximum" in shown
    assert "selection scores" in shown.replace("\n", " ")

    # Resuming reads the finished search back: no trial runs again.
    before = len(fits(test_dir))
    code, stdout, stderr = run_harness(*argv, "--tune", "4", "--resume", str(out), plugins=PLUGINS)
    assert code == 0, stderr
    assert "finished earlier; read from the run directory" in stdout
    assert [f for f in fits(test_dir)[before:] if f["trial"]] == []
    assert search_of(read_leaderboard(out), "knob") == record

    # A changed budget is a new search, and the warning says why.
    code, stdout, stderr = run_harness(*argv, "--tune", "2", "--resume", str(out), plugins=PLUGINS)
    assert code == 0, stderr
    assert "starting a new search" in stderr and "the number of trials changed (4 → 2)" in stderr
    assert len(search_of(read_leaderboard(out), "knob")["trials"]) == 2


def test_a_trial_whose_worker_dies_runs_once_more_then_is_recorded_failed(run_harness, tiny_config, tmp_path, test_dir):
    out = tmp_path / "run"
    argv = ["run", "--models", "knob-killed", "--tasks", "indications", "--config", str(tiny_config)]
    code, stdout, stderr = run_harness(*argv, "--tune", "2", "--out", str(out), plugins=PLUGINS)
    assert code == 0, stderr  # the search went on, and the grid ran the chosen recipe
    document = read_leaderboard(out)
    validate(document)
    first, second = search_of(document, "knob-killed")["trials"]
    assert first["status"] == "completed" and first["attempts"] == 2  # killed once, then it finished
    assert second["status"] == "failed" and second["attempts"] == 2 and second["error"]
    assert search_of(document, "knob-killed")["chosen_trial"] == 0
    assert "trial 1: failed" in stdout


def _harness_process(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    code = "import sys; from harness.cli import main; from tests import tune_fakes; "
    code += "sys.exit(main(sys.argv[1:], plugins={'tune_fakes': tune_fakes}))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_during_the_search_prints_the_resume_command_and_the_search_resumes(tiny_config, tmp_path, test_dir):
    out = tmp_path / "run"
    env = {**os.environ, "HARNESS_TEST_PAUSE": "0.5", "COLUMNS": "200"}
    argv = ["run", "--models", "knob", "--tasks", "indications", "--config", str(tiny_config), "--tune", "4"]
    process = _harness_process([*argv, "--out", str(out)], env)
    deadline = time.monotonic() + 240
    while sum(f["trial"] and f["event"] == "done" for f in fits(test_dir)) < 2:  # two trials finished
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    resume = next(line for line in stderr.splitlines() if line.startswith("resume with: harness "))
    assert f"--resume {out}" in resume and "--tune 4" in resume and "--out" not in resume
    assert f"{out / 'search'}" in stderr
    done_before = [f["skill"] for f in fits(test_dir) if f["trial"] and f["event"] == "done"]

    process = _harness_process(resume.removeprefix("resume with: harness ").split(), env)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    trials = search_of(read_leaderboard(out), "knob")["trials"]
    assert len(trials) == 4
    done = [f["skill"] for f in fits(test_dir) if f["trial"] and f["event"] == "done"]
    assert len(done) == 4  # a trial finished before Ctrl-C never ran again
    assert done[: len(done_before)] == done_before


def test_under_the_ray_executor_the_workers_fit_the_tuned_recipe(run_harness, tiny_config, tmp_path, test_dir):
    out = tmp_path / "run"
    argv = ["run", "--models", "knob", "--tasks", "indications", "--config", str(tiny_config), "--executor", "ray"]
    code, stdout, stderr = run_harness(*argv, "--tune", "3", "--out", str(out), plugins=PLUGINS)
    assert code == 0, stderr
    document = read_leaderboard(out)
    record = search_of(document, "knob")
    assert record["chosen"]["skill"] != 0.2  # a trial beat the recipe: the grid's fit must differ from it
    (item,) = [r for r in document["results"] if r["model"] == "knob"]
    assert item["placement"]["executor"] == "ray"
    assert item["fit_details"]["recipe"]["skill"] == pytest.approx(record["chosen"]["skill"])


def test_a_time_budget_ends_the_search_and_is_not_taken_for_an_interruption(
    run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    monkeypatch.setenv("HARNESS_TEST_PAUSE", "1")  # 3 s per trial
    out = tmp_path / "run"
    argv = ["run", "--models", "knob", "--tasks", "indications", "--config", str(tiny_config), "--tune-time", "90s"]
    started = time.monotonic()
    code, stdout, stderr = run_harness(*argv, "--out", str(out), plugins=PLUGINS)
    assert code == 0, stderr
    document = read_leaderboard(out)
    validate(document)
    record = search_of(document, "knob")
    assert document["search"]["budget"]["time_seconds"] == 90 and document["search"]["budget"]["trials"] is None
    assert 1 <= len(record["trials"]) < 90  # as many as fitted in 90 s, not an endless search
    assert record["trials"][0]["config"] == {"skill": 0.2} and record["status"] == "tuned"
    assert "1.5 min of trials on eval" in document["summaries"]["indications"]["decision"]["budget"]
    assert time.monotonic() - started < 600
