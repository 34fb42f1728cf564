"""A non-editable install carries the plugins, tasks, data, probes and schema inside `harness`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_maps_top_level_folders_into_the_harness_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "harness/cli.py",
        "harness/hookspecs.py",
        "harness/plugins/baselines.py",
        "harness/plugins/encoders.py",
        "harness/tasks/indications/__init__.py",
        "harness/tasks/probe/__init__.py",
        "harness/tasks/ner/data/ner_train.conll",
        "harness/core/runner.py",
        "harness/scoring/stats.py",
        "harness/training/loop.py",
        "harness/tasks/indications/data/indications_train.csv",
        "harness/tasks/indications/data/indications_external.csv",
        "harness/tasks/probe/seed_spotcheck.jsonl",
        "harness/leaderboard-v1.schema.json",
        "harness/report/templates/report.html.j2",
        "harness/report/templates/report.js",
        "harness/report/templates/report.css",
    ):
        assert expected in names, expected
    top_level = {name.split("/")[0] for name in names}
    assert not top_level & {"plugins", "tasks", "probes", "leaderboards", "tests", "benchmarks"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "harness = harness.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
