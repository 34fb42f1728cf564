"""``harness run --tune`` with real model families on real Ray Tune: the classical baselines (one
report per trial) and MiniLM through the torch training loop (one report per epoch, ASHA), on the
tiny indications data."""

from __future__ import annotations

import pytest

pytest.importorskip("ray.tune")
pytest.importorskip("optuna")

from harness.leaderboard import validate

from .conftest import read_leaderboard
from .test_tuning import search_of


def test_the_baselines_are_searched_and_the_grid_scores_what_the_chosen_trial_scored(
    run_harness, tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    out = tmp_path / "run"
    argv = ["run", "--models", "tfidf-lr,char-gbt,regex", "--tasks", "indications", "--config", str(tiny_config)]
    code, stdout, stderr = run_harness(*argv, "--tune", "3", "--out", str(out))
    assert code == 0, stderr
    document = read_leaderboard(out)
    validate(document)
    for model, recipe in (("tfidf-lr", {"C": 100.0, "class_weight": None, "word_ngram_max": 2, "char_ngram_max": 5}),):
        assert search_of(document, model)["default"] == recipe
    for model in ("tfidf-lr", "char-gbt"):
        record = search_of(document, model)
        assert record["status"] == "tuned" and len(record["trials"]) == 3
        assert all(len(t["eval_by_epoch"]) == 1 and t["epochs"] == 0 for t in record["trials"])  # one report each
        assert all(t["status"] == "completed" for t in record["trials"])
        assert record["epochs_planned"] is None  # nothing in epochs: ASHA has nothing to save
        (item,) = [r for r in document["results"] if r["model"] == model]
        assert item["metrics"]["eval"]["f1_weighted"] == pytest.approx(record["tuned_eval"], abs=1e-6)
    assert search_of(document, "regex")["status"] == "untuned"


@pytest.mark.slow
def test_minilm_reports_each_epoch_and_the_grid_refits_the_chosen_trial(
    run_harness, tiny_config, tmp_path, monkeypatch
):
    pytest.importorskip("torch")
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    config = tiny_config.read_text(encoding="utf-8") + (
        "\n[models.minilm-l6]\nrecipe = { epochs = 2, batch_size = 8 }\n"
        "search = { epochs = [1, 2], lr = { log_uniform = [1e-4, 1e-3] }, head_lr = false, batch_size = false, "
        "warmup_ratio = false, weight_decay = false, pos_weight = false }\n"
    )
    tiny_config.write_text(config, encoding="utf-8")
    out = tmp_path / "run"
    argv = ["run", "--models", "minilm-l6", "--tasks", "indications", "--config", str(tiny_config), "--tune", "3"]
    code, stdout, stderr = run_harness(*argv, "--out", str(out))
    if "weights" in stdout and "skipped" in stdout:
        pytest.skip("MiniLM's packaged weights are not installed")
    assert code == 0, stderr
    document = read_leaderboard(out)
    validate(document)
    record = search_of(document, "minilm-l6")
    assert set(record["space"]) == {"epochs", "lr"}
    assert record["trials"][0]["config"] == {"epochs": 2, "lr": 2e-4}  # trial 0: the recipe
    for trial in record["trials"]:
        if trial["status"] == "completed":
            assert len(trial["eval_by_epoch"]) == trial["config"]["epochs"]  # one report per epoch
    assert record["epochs_run"] == sum(t["epochs"] for t in record["trials"])
    (item,) = [r for r in document["results"] if r["model"] == "minilm-l6"]
    chosen = record["trials"][record["chosen_trial"]]
    assert item["fit_details"]["epochs_run"] == chosen["config"]["epochs"]
    assert item["fit_details"]["eval_f1_weighted_by_epoch"] == pytest.approx(chosen["eval_by_epoch"], abs=1e-4)
