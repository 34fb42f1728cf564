"""The run end to end on fake models and tiny data: grid, fixtures, outcomes, leaderboard."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness.leaderboard import schema_errors
from harness.tasks.indications import CATEGORIES

from . import fakes
from .conftest import EXAMPLES, read_leaderboard


def test_run_scores_and_shares_one_fit_per_model_and_seed(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,probe",
        "--config",
        str(tiny_config),
        "--out",
        str(out),
        "--seeds",
        "1,2",
    )
    assert code == 0, stdout
    # probe reuses the classifier fitted for indications: one fit per seed, not two
    assert fakes.FIT_CALLS == [("lookup", 1), ("lookup", 2)]
    document = read_leaderboard(out)
    assert schema_errors(document) == []
    assert [(r["task"], r["seed"], r["status"]) for r in document["results"]] == [
        ("indications", 1, "passed"),
        ("probe", 1, "passed"),
        ("indications", 2, "passed"),
        ("probe", 2, "passed"),
    ]
    probe = document["results"][1]
    assert probe["cost"]["fit_reused"] is True and document["results"][0]["cost"]["fit_reused"] is False
    # the memorising fake gets the test set right except the unseen misspelling
    metrics = document["results"][0]["metrics"]
    assert set(metrics) == {"train", "eval", "site_a"}
    y_true = np.array([[int(c in labels) for c in CATEGORIES] for _, labels in EXAMPLES + [("", ["respiratory"])]])
    y_pred = y_true.copy()
    y_pred[-1] = 0
    assert metrics["site_a"]["f1_weighted"] == pytest.approx(
        f1_score(y_true, y_pred, average="weighted", zero_division=0)
    )
    assert metrics["eval"]["f1_weighted"] == 1.0
    assert document["results"][0]["decision_rule"] == {"score": "rule", "threshold": 0.5, "operator": ">="}
    assert document["run"]["seeds"] == [1, 2]
    assert document["run"]["synthetic_data"] is False
    cases = {c["id"]: c for c in probe["cases"]}
    assert cases["cap"]["passed"] is True and cases["pneumonia-typo"]["passed"] is False
    # the last line is the summary rule, and it counts exactly what ran: 4 passed, nothing else
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("─") and last.endswith("─"), last
    assert re.fullmatch(r"4 passed in \d+\.\ds", last.strip("─ ")), last


def test_error_in_one_item_does_not_stop_the_run(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "broken,lookup",
        "--tasks",
        "indications,probe",
        "--config",
        str(tiny_config),
        "--out",
        str(out),
    )
    assert code == 1
    document = read_leaderboard(out)
    status = {(r["model"], r["task"]): r for r in document["results"]}
    assert status[("broken", "indications")]["status"] == "error"
    assert "deliberate failure in fit" in status[("broken", "indications")]["reason"]
    assert "RuntimeError" in status[("broken", "indications")]["traceback"]
    assert status[("broken", "probe")]["status"] == "error"
    assert status[("lookup", "probe")]["status"] == "passed"
    # a failed fit is not retried by the next task that needs it
    assert fakes.FIT_CALLS.count(("broken", 42)) == 1
    last = stdout.strip().splitlines()[-1]
    assert "2 passed" in last and "2 errors" in last


def test_model_that_cannot_run_here_is_skipped_with_its_reason(run_harness, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr("harness.core.weights.cuda_present", lambda: False)
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "gpu-only",
        "--tasks",
        "indications",
        "--config",
        str(tiny_config),
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 0
    (item,) = read_leaderboard(tmp_path / "run")["results"]
    assert item["status"] == "skipped" and "CUDA" in item["reason"]
    assert fakes.FIT_CALLS == []
    assert "1 skipped" in stdout.strip().splitlines()[-1]


def test_collect_only_prints_the_grid_and_writes_nothing(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup,broken",
        "--tasks",
        "indications,probe,robustness",
        "--config",
        str(tiny_config),
        "--collect-only",
        "--seeds",
        "1,2",
        "--out",
        str(out),
    )
    assert code == 0
    assert "indications[lookup-seed1]" in stdout and "probe[broken-seed2]" in stdout
    assert "collected 12 items" in stdout  # 2 models x 3 tasks x 2 seeds
    assert not out.exists() and fakes.FIT_CALLS == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-k", "lookup and not probe"], ["indications[lookup-seed42]", "robustness[lookup-seed42]"]),
        (["-k", "probe"], ["probe[lookup-seed42]", "probe[broken-seed42]", "probe[gpu-only-seed42]"]),
        (
            ["-k", "seed42 and (broken or LOOKUP) and indications"],
            ["indications[lookup-seed42]", "indications[broken-seed42]"],
        ),
        (["-m", "gpu"], ["indications[gpu-only-seed42]", "probe[gpu-only-seed42]", "robustness[gpu-only-seed42]"]),
        (
            ["-m", "not gpu", "-k", "broken"],
            ["indications[broken-seed42]", "probe[broken-seed42]", "robustness[broken-seed42]"],
        ),
    ],
)
def test_select_items_with_k_and_m(run_harness, tiny_config, args, expected):
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup,broken,gpu-only",
        "--tasks",
        "indications,probe,robustness",
        "--config",
        str(tiny_config),
        "--collect-only",
        *args,
    )
    assert code == 0
    listed = [line.split()[0] for line in stdout.splitlines() if line.startswith("  ")]
    assert listed == expected


def test_leaderboard_never_holds_the_users_text(run_harness, tmp_path):
    from .conftest import write_split

    secret = "john smith 1957 nhs 4857773456 uti"
    write_split(tmp_path / "train.csv", [*fakes_examples(), (secret, ["urinary"])])
    write_split(tmp_path / "test.csv", [(secret, ["urinary"]), ("uti", ["urinary"])])
    config = tmp_path / "c.toml"
    config.write_text(
        '[tasks.indications]\ntrain = "train.csv"\neval = "train.csv"\nkeep_embedded_tests = false\n'
        '[tasks.indications.tests.ward]\npath = "test.csv"\n'
    )
    code, _, _ = run_harness("run", "--models", "lookup", "--config", str(config), "--out", str(tmp_path / "run"))
    assert code == 0
    text = (tmp_path / "run" / "leaderboard.json").read_text()
    assert "john smith" not in text and "4857773456" not in text
    assert json.loads(text)["results"][0]["metrics"]["ward"]["examples"] == 2


def fakes_examples():
    from .conftest import EXAMPLES

    return EXAMPLES


def test_smoke_profile_shrinks_data_and_overrides_epochs(run_harness, tmp_path, tiny_config):
    code, _, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 0
    document = read_leaderboard(tmp_path / "r")
    (item,) = document["results"]
    assert item["fit_details"]["recipe"] == {"epochs": 1}
    rows = {p["split"]: p["rows"] for p in document["run"]["data"]["indications"]}
    assert rows == {"train": 128, "eval": 48, "internal": 64, "external": 64}
    assert document["run"]["synthetic_data"] is True and "SYNTHETIC" in document["run"]["data_note"]


def test_a_remembered_fit_error_does_not_keep_the_half_built_model_alive():
    import gc
    import traceback
    import weakref

    from harness.core.runner import release_frames, short_traceback

    class Model:  # stands in for weights on a GPU
        pass

    alive: list[weakref.ref] = []

    def load() -> None:
        model = Model()
        alive.append(weakref.ref(model))
        raise MemoryError("no room for the optimizer state")

    def fit() -> None:
        try:
            load()
        except MemoryError as err:
            raise RuntimeError("fit failed") from err

    try:
        fit()
    except RuntimeError as caught:
        err = caught
    gc.collect()
    assert alive[0]() is not None  # the traceback's frames hold it
    assert release_frames(err) is err
    gc.collect()
    assert alive[0]() is None
    text = short_traceback(err)
    assert "RuntimeError: fit failed" in text and "in fit" in text  # still a useful traceback
    assert "in load" in "".join(traceback.format_exception(err.__cause__))
