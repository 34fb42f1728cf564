"""One source of truth for an item: a task's result fields never overwrite the harness's own
fields, and the resume key hashes exactly the recipe and task table the run used."""

from __future__ import annotations

import itertools

import pytest

from harness.core import store as resume
from harness.core.profiles import Profile
from harness.tasks import classification as indications  # indications is a preset of this kind: its code

from .conftest import read_leaderboard


@pytest.mark.parametrize("key", ["cost", "model", "status"])
def test_a_task_field_named_like_a_core_field_is_refused(run_harness, tiny_config, tmp_path, monkeypatch, key):
    real = indications.score
    monkeypatch.setattr(indications, "score", lambda request: {**real(request), key: "the task's own"})
    out = tmp_path / "run"
    code, _, _ = run_harness(
        "run", "--models", "lookup", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out)
    )
    (entry,) = read_leaderboard(out)["results"]
    assert code == 1 and entry["status"] == "error" and entry["model"] == "lookup"
    assert entry["reason"].startswith("PluginError")
    assert "task 'indications'" in entry["reason"] and repr(key) in entry["reason"]


def test_the_resume_key_hashes_the_recipe_and_table_the_run_used(run_harness, tiny_config, tmp_path, monkeypatch):
    """Were the effective recipe or task table computed twice (once for the run, once for the key),
    any difference between the two computations would let a key describe another fit. Here each
    computation gives a different answer: the key must still hash what the fit and the load got."""
    calls = itertools.count(1)
    recipe_for, task_table = Profile.recipe_for, Profile.task_table
    monkeypatch.setattr(
        Profile, "recipe_for", lambda self, *a, **k: {**recipe_for(self, *a, **k), "epochs": next(calls)}
    )
    monkeypatch.setattr(
        Profile,
        "task_table",
        lambda self, spec, table: {
            **task_table(self, spec, table),
            **({"bootstrap_seed": next(calls)} if spec.name == "indications" else {}),
        },
    )
    loaded: list[dict] = []
    real_load = indications.load
    monkeypatch.setattr(
        indications,
        "load",
        lambda request, name, preset: loaded.append(dict(request.table)) or real_load(request, name, preset),
    )
    hashed: list[dict] = []
    canonical = resume._canonical
    monkeypatch.setattr(
        resume,
        "_canonical",
        lambda value: (
            hashed.append(value) or canonical(value)
            if isinstance(value, dict) and "format" in value
            else canonical(value)
        ),
    )
    out = tmp_path / "run"
    code, _, stderr = run_harness(
        "run", "--models", "lookup", "--tasks", "indications,probe", "--config", str(tiny_config), "--out", str(out)
    )
    assert code == 0, stderr
    fitted = [e["fit_details"]["recipe"] for e in read_leaderboard(out)["results"]]
    assert len(hashed) == 2 and len(loaded) == 1
    for basis, recipe in zip(hashed, fitted):
        assert basis["model"]["recipe"] == recipe  # what the fit received (the lookup fake records it)
        assert basis["tasks"]["indications"]["table"] == loaded[0]
