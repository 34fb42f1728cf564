"""Two Ray nodes on this machine (``ray.cluster_utils.Cluster``: each ``add_node`` is a raylet of
its own), joined by a separate ``harness run --executor ray --ray-address HOST:PORT`` process, as
a driver joins a cluster started with ``ray start --head`` / ``ray start --address``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster

from .conftest import read_leaderboard

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
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
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
    done = subprocess.run([sys.executable, str(script), *argv], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    results = read_leaderboard(out)["results"]
    placements = {(r["model"], r["task"]): r["placement"] for r in results}
    used = {placements[model, "indications"]["node_id"] for model in ("gpu-a", "gpu-b")}
    assert used == node_ids(two_nodes.address)  # one group on each of the two nodes
    for model in ("gpu-a", "gpu-b"):  # an item scored on a group's fit records that group's node
        assert placements[model, "probe"]["node_id"] == placements[model, "indications"]["node_id"]
        assert placements[model, "indications"]["node"] and placements[model, "indications"]["gpu_ids"] == []
