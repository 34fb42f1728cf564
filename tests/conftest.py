from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.tasks.indications import CATEGORIES

from . import fakes

# How long a test waits for another process to reach a point (a Ray worker to start a fit, a run to
# write its marker, a driver to stop after Ctrl-C, a publish to get the lock): generous, since on a
# loaded 2-core machine 60 s was not enough. Ray workers read it too (they import this module).
DEADLINE_SECONDS = float(os.environ.get("HARNESS_TESTS_DEADLINE", "300"))

# (text, categories) pairs; the lookup fake memorises them, so unseen variants fail.
EXAMPLES = [
    ("uti", ["urinary"]),
    ("pyelonephritis", ["urinary"]),
    ("cap", ["respiratory"]),
    ("hap", ["respiratory"]),
    ("lrti", ["respiratory"]),
    ("appendicitis", ["abdominal"]),
    ("meningitis", ["neurological"]),
    ("cellulitis", ["skin_soft_tissue"]),
    ("tonsillitis", ["ent"]),
    ("osteomyelitis", ["orthopaedic"]),
    ("endocarditis", ["other_specific"]),
    ("sepsis", ["no_specific_source"]),
    ("surgical prophylaxis", ["prophylaxis"]),
    ("?uti", ["urinary", "uncertainty"]),
    ("see notes", ["not_informative"]),
    ("nec fasc", ["skin_soft_tissue"]),
]


def write_split(path: Path, rows, text_column: str = "text") -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([text_column, *CATEGORIES])
        for text, labels in rows:
            writer.writerow([text, *(int(c in labels) for c in CATEGORIES)])
    return path


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A config pointing every indications split at small CSVs (embedded tests dropped)."""
    data = tmp_path / "data"
    data.mkdir()
    write_split(data / "train.csv", EXAMPLES * 2)
    write_split(data / "eval.csv", EXAMPLES)
    write_split(data / "site_a.csv", EXAMPLES + [("pnuemonia", ["respiratory"])], text_column="Indication")
    config = tmp_path / "harness.toml"
    config.write_text(
        """
[tasks.indications]
train = "data/train.csv"
eval = { path = "data/eval.csv" }
keep_embedded_tests = false

[tasks.indications.tests.site_a]
path = "data/site_a.csv"
text_column = "Indication"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def run_harness(capsys, monkeypatch):
    """Call the CLI in-process with the fake models added; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "200")  # rich tables: no folded names to match against

    def run(*argv: str, plugins: dict | None = None):
        fakes.FIT_CALLS.clear()
        fakes.FIT_ROWS.clear()
        code = main(list(argv), plugins={"fakes": fakes, **(plugins or {})})
        out, err = capsys.readouterr()
        return code, out, err

    return run


def tree(folder: Path) -> set[str]:
    """Every path under ``folder``, relative: the same before and after a command that must write nothing."""
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def read_leaderboard(out_dir: Path) -> dict:
    return json.loads((out_dir / "leaderboard.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def harness_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private harness cache for the session: SmolLM2's GGUF is converted once for all tests."""
    folder = tmp_path_factory.mktemp("harness-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module of tiny models: on 2 shared, busy cores, two threads made
    tiny ops ~100x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
