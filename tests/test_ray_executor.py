"""``harness run --executor ray`` on a real Ray cluster started here with two *logical* GPUs.

One cluster serves the module (2 CPUs, 2 logical GPUs, a 100 MiB object store, no dashboard);
the CLI runs in-process and uses it. The fake models of ``tests/ray_fakes.py`` stand in for GPU
models (torch sees no CUDA here): what is tested is Ray's scheduling, the GPU ids it gives, the
store and the leaderboard, not a GPU.
"""

from __future__ import annotations

import logging
import os
import sys
import types

import pytest
import ray

from harness.core.executors.ray_cluster import resources_for
from harness.core.store import ITEMS
from harness.model import ModelSpec

from . import fakes, ray_fakes
from .conftest import DEADLINE_SECONDS, read_leaderboard
from .test_resume import without_timings

PLUGINS = {"ray_fakes": ray_fakes}


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        object_store_memory=100 * 2**20,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    yield
    ray.shutdown()


@pytest.fixture
def test_dir(tmp_path, monkeypatch):
    folder = tmp_path / "signals"
    folder.mkdir()
    monkeypatch.setenv("HARNESS_TEST_DIR", str(folder))
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    return folder


def with_models(config, body: str):
    config.write_text(config.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
    return config


def comparable(document: dict) -> dict:
    """What must not depend on the executor: all but timings and where each item ran."""
    results = [{k: v for k, v in r.items() if k != "placement"} for r in document["results"]]
    run = {k: v for k, v in document["run"].items() if k not in ("device", "hardware")}
    return without_timings({**document, "results": results, "run": run})


def by_model(document: dict, task: str = "indications") -> dict[str, dict]:
    return {r["model"]: r for r in document["results"] if r["task"] == task}


# --- resources: pure --------------------------------------------------------------------------------
def test_resources_come_from_the_config_else_from_what_the_model_runs_on():
    baseline = ModelSpec("b", "classical", "none", None)
    torch_model = ModelSpec("t", "encoder", "full", None, needs=("torch",))
    cuda_model = ModelSpec("c", "decoder", "lora", None, needs=("torch",), requires_cuda=True)
    assert resources_for(baseline, {}, "auto", cluster_gpus=8).gpus == 0
    assert resources_for(torch_model, {}, "auto", cluster_gpus=8).gpus == 1
    assert resources_for(torch_model, {}, "auto", cluster_gpus=0).gpus == 0  # a CPU cluster
    assert resources_for(torch_model, {}, "cpu", cluster_gpus=8).gpus == 0  # --device cpu
    assert resources_for(torch_model, {}, "cuda", cluster_gpus=0).gpus == 1  # an error, not a silent CPU run
    assert resources_for(cuda_model, {}, "auto", cluster_gpus=0).gpus == 1
    assert resources_for(baseline, {"gpus": 0.5, "cpus": 3}, "auto", 8).as_options() == {"num_cpus": 3, "num_gpus": 0.5}


# --- GPUs ------------------------------------------------------------------------------------------------
def test_two_gpu_groups_run_side_by_side_on_distinct_gpus(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    monkeypatch.setenv("HARNESS_TEST_BARRIER", "1")  # each fit waits for the other: passes only if concurrent
    config = with_models(
        tiny_config, "[models.gpu-a]\nresources = { gpus = 1 }\n[models.gpu-b]\nresources = { gpus = 1 }\n"
    )
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "gpu-a,gpu-b,regex", "--tasks", "indications,probe")
    code, stdout, stderr = run_harness(*argv, "--config", str(config), "--out", str(out), plugins=PLUGINS)
    assert code == 0, stdout + stderr
    document = read_leaderboard(out)
    results = by_model(document)
    gpus = {name: results[name]["placement"]["gpu_ids"] for name in ("gpu-a", "gpu-b")}
    assert sorted(gpus["gpu-a"] + gpus["gpu-b"]) == [0, 1], gpus  # one GPU each, not the same one
    for name in ("gpu-a", "gpu-b"):
        details = results[name]["fit_details"]
        assert details["device"] == "cuda" and details["cuda_visible_devices"] == str(gpus[name][0])
        assert results[name]["placement"]["device"] == "cuda"
    # the classical baseline asked for no GPU and got none; the probe items record their group's
    assert results["regex"]["placement"]["gpu_ids"] == [] and results["regex"]["placement"]["device"] == "cpu"
    assert by_model(document, "probe")["gpu-a"]["placement"]["gpu_ids"] == gpus["gpu-a"]
    assert "indications[gpu-a-seed42] PASSED" in stdout


def test_a_fit_that_asks_for_two_gpus_gets_both_and_one_asking_too_many_errors(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir
):
    config = with_models(
        tiny_config, "[models.gpu-a]\nresources = { gpus = 2 }\n[models.gpu-b]\nresources = { gpus = 4 }\n"
    )
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "gpu-a,gpu-b", "--tasks", "indications")
    code, stdout, stderr = run_harness(*argv, "--config", str(config), "--out", str(out), plugins=PLUGINS)
    assert code == 1, stdout + stderr
    results = by_model(read_leaderboard(out))
    assert results["gpu-a"]["status"] == "passed" and sorted(results["gpu-a"]["placement"]["gpu_ids"]) == [0, 1]
    assert results["gpu-a"]["fit_details"]["cuda_visible_devices"] in {"0,1", "1,0"}
    assert results["gpu-b"]["status"] == "error"
    assert "needs 4 GPU(s)" in results["gpu-b"]["reason"] and "has 2 GPU(s)" in results["gpu-b"]["reason"]


# --- the same leaderboard as the local executor ---------------------------------------------------------------
def test_the_leaderboard_is_the_local_executors_apart_from_timings_and_placement(
    ray_cluster, run_harness, tmp_path, test_dir
):
    from threadpoolctl import threadpool_limits

    argv = ("run", "--models", "regex,tfidf-lr,char-gbt", "--tasks", "indications,probe", "--profile", "smoke")
    # A Ray task with one CPU runs BLAS on one thread (Ray sets OMP_NUM_THREADS); on more threads
    # tf-idf's logistic regression sums in another order and its calibration figures move by up to
    # ~1e-5 on the full data (docs/cluster.md). One thread here too, so the two must agree exactly.
    # torch is held to one thread as well: the hardware record reports torch's threads whenever the
    # run has torch loaded, and the run may load it (this test failed with 2 when run on its own).
    import torch

    torch_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with threadpool_limits(limits=1):
            code, local_out, stderr = run_harness(*argv, "--out", str(tmp_path / "local"))
    finally:
        torch.set_num_threads(torch_threads)
    assert code == 0, stderr
    code, ray_out, stderr = run_harness(*argv, "--executor", "ray", "--out", str(tmp_path / "ray"))
    assert code == 0, stderr
    local, on_ray = read_leaderboard(tmp_path / "local"), read_leaderboard(tmp_path / "ray")
    assert comparable(on_ray) == comparable(local)
    assert [r["name"] for r in on_ray["results"]] == [r["name"] for r in local["results"]]
    assert all("placement" not in r for r in local["results"])
    assert {r["placement"]["executor"] for r in on_ray["results"]} == {"ray"}
    for line in [line for line in local_out.splitlines() if " PASSED in " in line]:  # each item printed, as today
        assert line.split(" PASSED")[0] + " PASSED" in ray_out
    # The times' machines: this one for the local run, with the one thread it computed with (the
    # threadpool_limits above); under Ray each node's, from the items' placement, with the threads the
    # groups computed with (Ray gave each task one CPU).
    from harness.core.hardware import describe_machine, machine_of

    assert [machine_of(h) for h in local["run"]["hardware"]] == [{**machine_of(describe_machine()), "threads": 1}]
    nodes = {(r["placement"]["node"], r["placement"]["node_id"]) for r in on_ray["results"]}
    assert {(h["node"], h["node_id"]) for h in on_ray["run"]["hardware"]} == nodes
    assert {h["threads"] for h in on_ray["run"]["hardware"]} == {1}
    assert all(r["placement"]["hardware"]["cpu_model"] == describe_machine()["cpu_model"] for r in on_ray["results"])
    assert "Times measured on " in ray_out and f"node {next(iter(nodes))[0]}: " in ray_out


def test_the_per_row_files_come_back_from_the_workers(ray_cluster, run_harness, tmp_path, test_dir):
    """Each item's per-row predictions travel back with its report; the driver's store writes the
    same file the local executor writes."""
    from threadpoolctl import threadpool_limits

    argv = ("run", "--models", "regex,tfidf-lr", "--tasks", "indications", "--profile", "smoke")
    with threadpool_limits(limits=1):
        assert run_harness(*argv, "--out", str(tmp_path / "local"))[0] == 0
    code, _, stderr = run_harness(*argv, "--executor", "ray", "--out", str(tmp_path / "ray"))
    assert code == 0, stderr
    local_rows, ray_rows = per_row(tmp_path / "local"), per_row(tmp_path / "ray")
    assert set(ray_rows) == set(local_rows) == {("indications", m) for m in ("regex", "tfidf-lr")}
    for key, mine in ray_rows.items():
        theirs = local_rows[key]
        assert [s.split for s in mine.splits] == [s.split for s in theirs.splits]
        for a, b in zip(mine.splits, theirs.splits):
            assert (a.rows == b.rows).all() and (a.gold == b.gold).all() and (a.predicted == b.predicted).all()
            assert a.scores == pytest.approx(b.scores)


def per_row(run_dir):
    """(task, model) -> the item's per-row predictions, read from the run directory."""
    from harness.core.store import ItemStore
    from harness.predictions import read_parquet

    rows = [read_parquet(path) for path in ItemStore(run_dir).row_files()]
    return {(r.task, r.model): r for r in rows}


# --- faults -----------------------------------------------------------------------------------------------------
def test_a_killed_worker_is_retried_once_and_a_second_kill_records_the_error(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    out = tmp_path / "run"
    monkeypatch.setenv("HARNESS_TEST_ITEMS", str(out / ITEMS))
    models = "killed-once,killed-twice,killed-in-probe,lookup"
    argv = ("run", "--executor", "ray", "--models", models, "--tasks", "indications,probe")
    code, stdout, stderr = run_harness(*argv, "--config", str(tiny_config), "--out", str(out), plugins=PLUGINS)
    assert code == 1, stdout + stderr
    document = read_leaderboard(out)
    status = {(r["model"], r["task"]): r for r in document["results"]}
    for task in ("indications", "probe"):
        once, twice, other = (status[m, task] for m in ("killed-once", "killed-twice", "lookup"))
        assert once["status"] == "passed" and once["placement"]["attempt"] == 2
        assert twice["status"] == "error" and "lost twice (retried once)" in twice["reason"]
        assert "WorkerCrashedError" in twice["reason"] or "died" in twice["reason"]
        assert other["status"] == "passed" and "attempt" not in other["placement"]
    # Items stream back one by one: the indications item of killed-in-probe was saved by the driver
    # while its group still ran (its worker waited for that, then died scoring the probe); the
    # second attempt ran the probe item alone.
    assert status["killed-in-probe", "indications"]["status"] == "passed"
    assert "attempt" not in status["killed-in-probe", "indications"]["placement"]
    assert status["killed-in-probe", "probe"]["status"] == "passed"
    assert status["killed-in-probe", "probe"]["placement"]["attempt"] == 2
    assert sorted(p.name for p in test_dir.glob("killed-*")) == [
        "killed-in-probe-fit-attempt-1",
        "killed-in-probe-fit-attempt-2",  # fitted again for the probe item
        "killed-in-probe-scoring-attempt-1",
        "killed-in-probe-scoring-attempt-2",  # the probe scored again, on the second attempt
        "killed-once-attempt-1",
        "killed-once-attempt-2",
        "killed-twice-attempt-1",
        "killed-twice-attempt-2",  # retried once, never a third time
    ]
    assert "fit group killed-once on indications, seed 42: its Ray worker was lost" in stderr
    assert document["run"]["summary"] == {"passed": 6, "skipped": 0, "error": 2}
    assert len(list((out / ITEMS).glob("*.json"))) == 6  # every passed item kept, once


def test_a_worker_that_reads_other_data_errors_its_group_with_the_reason(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    eval_csv = tiny_config.parent / "data" / "eval.csv"
    monkeypatch.setenv("HARNESS_TEST_TAMPER", str(eval_csv))  # changed after the driver hashed it
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "lookup,regex", "--tasks", "indications,probe")
    code, stdout, stderr = run_harness(*argv, "--config", str(tiny_config), "--out", str(out), plugins=PLUGINS)
    assert code == 1, stdout + stderr
    document = read_leaderboard(out)
    driver_sha = next(p["sha256"] for p in document["run"]["data"]["indications"] if p["split"] == "eval")
    assert len(document["results"]) == 4
    for result in document["results"]:
        assert result["status"] == "error"
        assert "data differs from the driver's: task indications, eval" in result["reason"]
        assert driver_sha in result["reason"]
    assert not list((out / ITEMS).glob("*.json"))  # nothing stored: a resume runs them again


def test_a_worker_whose_config_gives_another_recipe_errors_its_group_naming_the_key(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    monkeypatch.setenv("HARNESS_TEST_TAMPER_CONFIG", str(tiny_config))  # changed after the driver loaded it
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "lookup", "--tasks", "indications,probe")
    code, stdout, stderr = run_harness(*argv, "--config", str(tiny_config), "--out", str(out), plugins=PLUGINS)
    assert code == 1, stdout + stderr
    for result in read_leaderboard(out)["results"]:
        assert result["status"] == "error"
        assert result["reason"].startswith("the recipe of lookup differs from the driver's: epochs = 7 on node ")
        assert "3 on the driver" in result["reason"]


def write_weights(folder):
    """A folder the weights search accepts: config.json and a one-tensor safetensors file."""
    import json
    import struct

    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(range(16)))
    return folder


def test_a_worker_that_sees_other_weights_errors_its_group_naming_the_file(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    weights = write_weights(tmp_path / "weights")
    config = with_models(tiny_config, f'[models.weighted]\nweights = "{weights}"\n')
    monkeypatch.setenv("HARNESS_TEST_TAMPER_WEIGHTS", str(weights / "model.safetensors"))
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "weighted,lookup", "--tasks", "indications")
    code, stdout, stderr = run_harness(*argv, "--config", str(config), "--out", str(out), plugins=PLUGINS)
    assert code == 1, stdout + stderr
    results = by_model(read_leaderboard(out))
    assert results["lookup"]["status"] == "passed"  # it loads no weights
    reason = results["weighted"]["reason"]
    assert reason.startswith("the weights of weighted differ from the driver's: file model.safetensors: content")


def test_a_worker_that_imported_another_harness_version_errors_its_group_naming_the_field(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    from harness import __version__
    from harness.core.executors import ray_cluster as driver_side
    from harness.core.executors.worker import harness_origin

    # The driver says it imported 0.0.0+other; the worker (another process) imported this one.
    monkeypatch.setattr(driver_side, "harness_origin", lambda: {**harness_origin(), "version": "0.0.0+other"})
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "lookup", "--tasks", "indications")
    code, stdout, stderr = run_harness(*argv, "--config", str(tiny_config), "--out", str(out), plugins=PLUGINS)
    assert code == 1, stdout + stderr
    (result,) = read_leaderboard(out)["results"]
    assert result["reason"].startswith("the harness imported on node ")
    assert f"is not the driver's: version {__version__} there, 0.0.0+other on the driver" in result["reason"]


# --- Ctrl-C ------------------------------------------------------------------------------------------------
def test_a_ctrl_c_that_ray_swallows_still_stops_the_run(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch
):
    """Ray runs Python's signal handlers inside its waits and passes a KeyboardInterrupt back
    through its C++ core as a status: this wait catches it instead, as a C++ path that drops that
    status would. The driver must still stop (it did not: it waited for every fit to end)."""
    import signal

    real_wait, swallowed = ray.wait, []

    def wait_that_swallows_a_ctrl_c(*args, **kwargs):
        if not swallowed:
            try:
                signal.raise_signal(signal.SIGINT)  # the user's Ctrl-C, as Ray's check_signals() sees it
            except KeyboardInterrupt:
                swallowed.append(True)
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(ray, "wait", wait_that_swallows_a_ctrl_c)
    out = tmp_path / "run"
    argv = ("run", "--executor", "ray", "--models", "lookup,regex", "--tasks", "indications,probe")
    code, _, stderr = run_harness(*argv, "--config", str(tiny_config), "--out", str(out), plugins=PLUGINS)
    assert swallowed == [True]
    assert code == 130, stderr
    assert f"--resume {out}" in stderr and not (out / "leaderboard.json").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back


# --- resume across executors ---------------------------------------------------------------------------------
def resume_argv(config, *more: str) -> tuple[str, ...]:
    return (
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,probe",
        "--seeds",
        "1,2,3",
        "--config",
        str(config),
        *more,
    )


@pytest.mark.parametrize(("first", "then"), [("local", "ray"), ("ray", "local")])
def test_a_run_interrupted_with_one_executor_resumes_with_the_other(
    ray_cluster, run_harness, tiny_config, tmp_path, test_dir, monkeypatch, first, then
):
    code, _, stderr = run_harness(*resume_argv(tiny_config, "--out", str(tmp_path / "whole")), plugins=PLUGINS)
    assert code == 0, stderr
    out = tmp_path / "run"
    monkeypatch.setenv("HARNESS_TEST_INTERRUPT_AFTER", "2")  # Ctrl-C once two items have finished
    code, _, stderr = run_harness(*resume_argv(tiny_config, "--executor", first, "--out", str(out)), plugins=PLUGINS)
    assert code == 130, stderr
    assert "resume with: harness run" in stderr and f"--resume {out}" in stderr
    assert not (out / "leaderboard.json").exists()
    saved = len(list((out / ITEMS).glob("*.json")))
    assert 2 <= saved < 6
    monkeypatch.delenv("HARNESS_TEST_INTERRUPT_AFTER")
    code, stdout, stderr = run_harness(
        *resume_argv(tiny_config, "--executor", then, "--resume", str(out)), plugins=PLUGINS
    )
    assert code == 0, stderr
    assert stdout.count("finished earlier") == saved
    whole, resumed = read_leaderboard(tmp_path / "whole"), read_leaderboard(out)
    assert comparable(resumed) == comparable(whole)
    assert resumed["run"]["summary"] == {"passed": 6, "skipped": 0, "error": 0}
    # The items Ray ran say where; those the local executor ran say nothing, read back or not.
    on_ray = sum("placement" in r for r in resumed["results"])
    assert on_ray == (saved if first == "ray" else 6 - saved)


# --- bad usage --------------------------------------------------------------------------------------------------
def test_without_ray_the_ray_executor_is_a_usage_error_with_the_install_line(
    run_harness, tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: importing it raises ImportError
    out = tmp_path / "run"
    code, _, stderr = run_harness(
        "run", "--executor", "ray", "--models", "lookup", "--config", str(tiny_config), "--out", str(out)
    )
    assert code == 2 and not out.exists()
    assert (
        stderr.strip()
        == "harness: error: --executor ray needs Ray, which is not installed: pip install 'clinical-harness[ray]'"
    )


def test_cli_help_does_not_import_ray():
    import subprocess

    code = "import sys; from harness.cli import main\ntry: main(['run', '--help'])\nexcept SystemExit: pass\nprint('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_SECONDS)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


def test_plugins_reach_workers_by_reference():
    """A plugin module travels as its name (the worker imports it), so its functions need not pickle."""
    import cloudpickle

    from harness.core.executors.ray_cluster import caller_plugins
    from harness.core.manager import make_plugin_manager

    pm = make_plugin_manager({"fakes": fakes, "ray_fakes": ray_fakes})
    plugins = caller_plugins(pm)
    assert plugins == {"fakes": fakes, "ray_fakes": ray_fakes}
    assert cloudpickle.loads(cloudpickle.dumps(plugins))["ray_fakes"] is ray_fakes
    assert isinstance(plugins["fakes"], types.ModuleType)


def test_workers_get_the_drivers_own_import_paths_in_order_and_its_harness_variables(monkeypatch, tmp_path):
    from harness.core.executors.ray_cluster import worker_environment

    first, second = str(tmp_path / "checkout"), str(tmp_path / "plugins")
    monkeypatch.setattr(sys, "path", [first, *sys.path, second])
    monkeypatch.setenv("HARNESS_MODELS_DIR", "/shared/models")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([second, "/extra"]))
    env = worker_environment()
    paths = env["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == first and paths.index(second) < paths.index("/extra") and len(paths) == len(set(paths))
    assert not any("site-packages" in path for path in paths)  # each node's own installation
    assert env["HARNESS_MODELS_DIR"] == "/shared/models" and "PATH" not in env


def test_a_learning_curve_on_ray_is_the_local_one(ray_cluster, run_harness, tiny_config, tmp_path, test_dir):
    """Each (model, seed, size) is a fit group of its own: Ray spreads them; the curve is the same."""
    argv = ("run", "--models", "lookup,regex", "--tasks", "indications", "--seeds", "1,2", "--train-sizes", "16,24")
    argv += ("--config", str(tiny_config))
    code, _, stderr = run_harness(*argv, "--out", str(tmp_path / "local"))
    assert code == 0, stderr
    code, stdout, stderr = run_harness(*argv, "--executor", "ray", "--out", str(tmp_path / "ray"))
    assert code == 0, stdout + stderr
    local, on_ray = read_leaderboard(tmp_path / "local"), read_leaderboard(tmp_path / "ray")
    assert comparable(on_ray) == comparable(local)
    subsets = [r for r in on_ray["results"] if "train_rows" in r]
    assert len(subsets) == 4 and all(r["placement"]["executor"] == "ray" for r in subsets)
    assert "learning_curve" in on_ray["summaries"]["indications"]
