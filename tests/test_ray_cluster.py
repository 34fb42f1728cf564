"""Ray as a user meets it, driven by separate ``harness run --executor ray`` processes.

Two Ray nodes on this machine (``ray.cluster_utils.Cluster``: each ``add_node`` is a raylet of
its own), joined by a separate ``harness run --executor ray --ray-address HOST:PORT`` process, as
a driver joins a cluster started with ``ray start --head`` / ``ray start --address``; and a real
Ctrl-C (SIGINT) to a driver that started its own cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from harness.core.store import ITEMS

from .conftest import DEADLINE_SECONDS, read_leaderboard
from .test_resume import environment, run_args, run_script, without_timings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a second node of one CPU each: two fit groups at once must use both."""
    small = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
    cluster = Cluster(initialize_head=True, connect=False, head_node_args={**small, "include_dashboard": False})
    cluster.add_node(**small)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def node_ids(address: str) -> set[str]:
    """The cluster's live nodes, as Ray names them (asked from a short-lived driver)."""
    code = (
        "import logging, ray; "
        f"ray.init(address={address!r}, log_to_driver=False, logging_level=logging.WARNING); "
        "print(','.join(n['NodeID'] for n in ray.nodes() if n['Alive']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE_SECONDS)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.strip().splitlines()[-1].split(","))


def test_groups_land_on_both_nodes_and_the_leaderboard_says_which(two_nodes, tiny_config, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from harness.cli import main
        from tests import fakes, ray_fakes
        sys.exit(main(sys.argv[1:], plugins={{"fakes": fakes, "ray_fakes": ray_fakes}}))
    """),
        encoding="utf-8",
    )
    signals = tmp_path / "signals"
    signals.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_TEST_")}
    # Each fit waits until the other has started: with one CPU per node, only both nodes at once can pass.
    env.update(HARNESS_TEST_DIR=str(signals), HARNESS_TEST_BARRIER="1", HARNESS_DISABLE_PLUGINS="plots")
    out = tmp_path / "run"
    argv = ["run", "--executor", "ray", "--ray-address", two_nodes.address, "--models", "gpu-a,gpu-b"]
    argv += ["--tasks", "indications,probe", "--config", str(tiny_config), "--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(script), *argv], env=env, capture_output=True, text=True, timeout=DEADLINE_SECONDS
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = read_leaderboard(out)["results"]
    placements = {(r["model"], r["task"]): r["placement"] for r in results}
    used = {placements[model, "indications"]["node_id"] for model in ("gpu-a", "gpu-b")}
    assert used == node_ids(two_nodes.address)  # one group on each of the two nodes
    for model in ("gpu-a", "gpu-b"):  # an item scored on a group's fit records that group's node
        assert placements[model, "probe"]["node_id"] == placements[model, "indications"]["node_id"]
        assert placements[model, "indications"]["node"] and placements[model, "indications"]["gpu_ids"] == []


def test_ctrl_c_cancels_what_is_outstanding_keeps_what_finished_and_a_local_run_resumes_it(
    tiny_config, tmp_path, record_property
):
    """A real SIGINT to a driver that started its own Ray cluster, while a fit sleeps in a worker."""
    script = run_script(tmp_path)
    reference = subprocess.run(
        [sys.executable, str(script), *run_args(tiny_config, tmp_path / "whole")],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, str(script), *run_args(tiny_config, out, "--executor", "ray")],
        env=environment(tmp_path, HARNESS_TEST_STOP_SEED="2"),  # the stopping model's seed-2 fit sleeps
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (tmp_path / "marker").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "marker").exists(), process.stderr.read() if process.poll() is not None else "no marker"
    process.send_signal(signal.SIGINT)  # Ctrl-C, while the seed-2 fit sleeps in its worker
    interrupted = time.monotonic()
    _, stderr = process.communicate(timeout=DEADLINE_SECONDS)  # it does not wait out the fit (longer than this)
    record_property("seconds_from_sigint_to_exit", round(time.monotonic() - interrupted, 1))
    assert process.returncode == 130, stderr
    saved = len(list((out / ITEMS).glob("*.json")))
    assert f"{saved} finished item(s) are saved in {out}" in stderr
    command = stderr.strip().splitlines()[-1]
    assert command.startswith("resume with: harness run ") and command.endswith(f"--resume {out}")
    assert "--executor ray" in command and not (out / "leaderboard.json").exists()
    argv = command.removeprefix("resume with: harness ").replace("--executor ray", "--executor local").split()
    resumed = subprocess.run(
        [sys.executable, str(script), *argv],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("finished earlier") == saved
    whole, after = read_leaderboard(tmp_path / "whole"), read_leaderboard(out)
    strip = lambda results: without_timings([{k: v for k, v in r.items() if k != "placement"} for r in results])  # noqa: E731
    assert strip(after["results"]) == strip(whole["results"])
    assert after["run"]["summary"] == {"passed": 12, "skipped": 0, "error": 0}


# --- a worker imports the driver's harness, not a `harness` folder in the driver's directory ---------------
DECOY_IMPORT = "\nimport os as _os, pathlib as _pathlib\n_pathlib.Path(_os.environ['HARNESS_TEST_DIR'], 'decoy-imported').write_text(__file__)\n"

DRIVER = """
import logging, sys
sys.path.insert(0, {repo!r})
if {init_ray}:  # the caller runs Ray (embedding): it joined from this directory itself
    import ray
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_from_another_checkout(tmp_path: Path, tiny_config: Path, init_ray: bool):
    """``harness run --executor ray`` with its working directory in another checkout of the project:
    a copy of the harness package that leaves a file in $HARNESS_TEST_DIR when imported."""
    other = tmp_path / "other-checkout"
    shutil.copytree(REPO / "harness", other / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    init = other / "harness" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + DECOY_IMPORT, encoding="utf-8")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(repo=str(REPO), init_ray=init_ray), encoding="utf-8")
    signals = tmp_path / "signals"
    signals.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_TEST_")}
    env.update(HARNESS_TEST_DIR=str(signals), HARNESS_DISABLE_PLUGINS="plots")
    out = tmp_path / "run"
    argv = ["run", "--executor", "ray", "--models", "regex", "--tasks", "indications,probe"]
    argv += ["--config", str(tiny_config), "--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(script), *argv],
        cwd=other,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    return done, read_leaderboard(out) if (out / "leaderboard.json").exists() else None, other, signals


def test_workers_import_the_drivers_harness_not_another_checkout_in_its_directory(tiny_config, tmp_path):
    done, document, _, signals = run_from_another_checkout(tmp_path, tiny_config, init_ray=False)
    assert not (signals / "decoy-imported").exists()  # no process imported the other checkout
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["status"] for r in document["results"]] == ["passed", "passed"]


def test_a_worker_that_imported_another_checkout_errors_its_group_naming_the_location(tiny_config, tmp_path):
    """Where the caller started Ray from that directory, Ray's workers do import the other copy:
    the check refuses them, naming the field that differs (the copy is of this code, so it checks)."""
    done, document, other, signals = run_from_another_checkout(tmp_path, tiny_config, init_ray=True)
    assert (signals / "decoy-imported").read_text() == str(other / "harness" / "__init__.py")
    assert done.returncode == 1, done.stdout + done.stderr
    for result in document["results"]:
        assert result["status"] == "error"
        assert (
            f"is not the driver's: location {other / 'harness'} there, {(REPO / 'harness').resolve()} on the driver"
            in result["reason"]
        )
