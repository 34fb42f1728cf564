"""Learning curves end to end (issue 24): ``harness run --train-sizes`` on the tiny data set with
the fake models, and on an embedded example with a real baseline. Scores are checked against
scikit-learn on predictions made here, from the subsets the harness says it drew."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from harness import ModelSpec, hookimpl
from harness.core.train_sizes import subset_rows
from harness.leaderboard import load
from harness.tasks.indications import CATEGORIES

from . import fakes
from .conftest import read_leaderboard
from .test_resume import without_timings


@pytest.fixture(autouse=True)
def no_plots(monkeypatch, request):
    """Plots cost seconds a run on busy cores; only the test of the page and the plots draws them."""
    if "plots" not in request.node.name:
        monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")


def curve_run(run_harness, config: Path, out: Path, *more: str, plugins=None, models="lookup,regex"):
    argv = ("run", "--models", models, "--tasks", "indications", "--config", str(config), "--out", str(out), *more)
    code, stdout, stderr = run_harness(*argv, plugins=plugins)
    assert code == 0, stdout + stderr
    return stdout, read_leaderboard(out)


def read_split(path: Path, text_column: str = "text") -> tuple[list[str], np.ndarray]:
    with path.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    return [r[text_column] for r in rows], np.array([[int(r[c]) for c in CATEGORIES] for r in rows], dtype=np.int8)


def lookup_predictions(train_texts, train_y, texts) -> np.ndarray:
    """What the lookup fake predicts after training on these rows (its rule, written out again)."""
    table = {text.lower(): row for text, row in zip(train_texts, train_y)}
    out = np.zeros((len(texts), train_y.shape[1]), dtype=np.int8)
    for i, text in enumerate(texts):
        hits = [key for key in table if key in text.lower()]
        if hits:
            out[i] = table[max(hits, key=len)]
    return out


def curve_of(document: dict, task: str = "indications") -> dict:
    return document["summaries"][task]["learning_curve"]


def test_a_curve_fits_each_size_and_seed_and_scores_them_as_scikit_learn_does(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    stdout, document = curve_run(run_harness, tiny_config, out, "--seeds", "1,2", "--train-sizes", "16,24")
    load(out / "leaderboard.json")  # schema-valid
    names = [r["name"] for r in document["results"]]
    assert names[:3] == [
        "indications[lookup-seed1-train16]",
        "indications[lookup-seed1-train24]",
        "indications[lookup-seed1]",
    ]
    assert "indications[regex-seed1]" in names and not any("regex" in n and "train" in n for n in names)  # flat
    assert sorted(fakes.FIT_ROWS) == [("lookup", s, n) for s in (1, 2) for n in (16, 24, 32)]
    assert "learning curve of indications: training rows 16, 24, all (32)" in stdout

    curve = curve_of(document)
    assert [(s["size"], s["rows"]) for s in curve["subsets"]] == [("16", 16), ("24", 24), ("all", 32)]
    models = {m["model"]: m for m in curve["models"]}
    assert models["regex"]["trains"] is False and [p["rows"] for p in models["regex"]["points"]] == [32]
    assert [p["rows"] for p in models["lookup"]["points"]] == [16, 24, 32]

    train_texts, train_y = read_split(tiny_config.parent / "data" / "train.csv")
    test_texts, test_y = read_split(tiny_config.parent / "data" / "site_a.csv", "Indication")
    items = {(r["model"], r["seed"], r.get("train_rows")): r for r in document["results"]}
    for point in models["lookup"]["points"]:
        rows, scored = point["rows"], point["test_sets"]["site_a"]
        expected = []
        for seed in (1, 2):
            picked = subset_rows(train_y, seed, rows) if rows < 32 else np.arange(32)
            assert curve["subsets"][[16, 24, 32].index(rows)]["label_rows"][str(seed)] == dict(
                zip(CATEGORIES, train_y[picked].sum(axis=0).tolist())
            )
            predicted = lookup_predictions([train_texts[i] for i in picked], train_y[picked], test_texts)
            expected.append(f1_score(test_y, predicted, average="weighted", zero_division=0))
            item = items["lookup", seed, None if rows == 32 else rows]
            assert item["metrics"]["site_a"]["f1_weighted"] == pytest.approx(expected[-1])
        assert scored["per_seed"] == pytest.approx(expected)
        assert scored["estimate"] == pytest.approx(statistics.fmean(expected))  # the seed mean
        assert scored["low"] <= scored["estimate"] <= scored["high"]
    # every label of train is in the smallest subset of every seed
    assert all(n >= 1 for counts in curve["subsets"][0]["label_rows"].values() for n in counts.values())


def test_subset_fits_stay_out_of_the_full_data_tables_and_the_decision(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    curve_run(run_harness, tiny_config, out, "--train-sizes", "16,24")
    code, shown, _ = run_harness("show", str(out / "leaderboard.json"))
    overall = shown.split("Overall results (weighted F1)", 1)[1].split("\n\n", 1)[0]
    assert overall.count("lookup") == 1 and "train16" not in shown
    summary = read_leaderboard(out)["summaries"]["indications"]
    assert {m["model"] for m in summary["comparisons"]["site_a"]["models"]} == {"lookup", "regex"}


def test_the_answers_are_printed_by_the_run_and_by_show_from_the_leaderboard_alone(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    stdout, document = curve_run(run_harness, tiny_config, out, "--train-sizes", "12,16,24", "--report", "summary")
    assert "Learning curve answers (site_a test set)" in stdout
    code, shown, _ = run_harness("show", str(out / "leaderboard.json"), "--report", "summary")
    assert code == 0
    table = shown[shown.index("Learning curve answers") :]
    assert table.split("\n\n")[0] in stdout  # the same table, from the leaderboard alone
    answers = {a["model"]: a for a in curve_of(document)["answers"]["site_a"]}
    assert answers["regex"]["own"]["statement"].startswith("regex does not train")
    code, full, _ = run_harness("show", str(out / "leaderboard.json"))
    assert "Learning curve (site_a test set)" in full and "Learning curve subsets (rows per label)" in full
    regex = next(line for line in full.splitlines() if line.startswith("│ regex (does not train)") and "(0." in line)
    flat = f"({next(m for m in curve_of(document)['models'] if m['model'] == 'regex')['points'][0]['test_sets']['site_a']['estimate']:.3f})"
    assert regex.count(flat) == 3  # its one score repeated at 12, 16 and 24 rows
    scores = {m["model"]: m["points"][0]["test_sets"]["site_a"]["estimate"] for m in curve_of(document)["models"]}
    best = next(line for line in full.splitlines() if line.startswith("│ best at this size"))
    assert best.split("│")[3].strip() == max(scores, key=scores.get)  # at 12 rows: lookup's 12-row score or regex's


def test_the_page_and_the_plots_draw_the_curve(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    curve_run(run_harness, tiny_config, out, "--train-sizes", "12,16,20,24")
    assert (out / "learning_curve_indications_site_a.png").is_file()
    page = tmp_path / "page.html"
    code, _, stderr = run_harness("show", str(out / "leaderboard.json"), "--format", "html", "--output", str(page))
    assert code == 0, stderr
    html = page.read_text(encoding="utf-8")
    assert "<h2>Learning curves</h2>" in html and 'id="learning_curve_indications_site_a"><svg' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "Learning curve answers (site_a test set)" in html


def test_the_tolerance_is_a_config_key_that_changes_the_answers_not_the_fits(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    _, first = curve_run(run_harness, tiny_config, out, "--train-sizes", "16,24")
    assert curve_of(first)["tolerance"] == 0.01
    text = tiny_config.read_text(encoding="utf-8").replace(
        "keep_embedded_tests = false", "keep_embedded_tests = false\nlearning_curve_tolerance = 0.2"
    )
    tiny_config.write_text(text, encoding="utf-8")
    _, second = curve_run(run_harness, tiny_config, out, "--train-sizes", "16,24")
    assert fakes.FIT_CALLS == []  # every item read back: the tolerance is not part of an item
    answer = curve_of(second)["answers"]["site_a"][0]["own"]
    assert curve_of(second)["tolerance"] == 0.2 and answer["mark"] == pytest.approx(answer["target"] - 0.2)
    assert answer["rows"] == 16  # the lookup's 16-row score is within 0.2 of its full-data one


def test_a_curve_only_adds_items_the_full_fits_are_the_runs_own(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    argv = ("run", "--models", "lookup", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out))
    assert run_harness(*argv)[0] == 0 and fakes.FIT_ROWS == [("lookup", 42, 32)]
    stdout, _ = curve_run(run_harness, tiny_config, out, "--train-sizes", "16", models="lookup")
    assert fakes.FIT_ROWS == [("lookup", 42, 16)]  # the full fit was read back; the subset is new
    assert stdout.count("finished earlier") == 1
    curve_run(run_harness, tiny_config, out, "--train-sizes", "16,all", models="lookup")
    assert fakes.FIT_ROWS == []  # the same subset again: its size and seed key it


def test_the_probe_follows_the_full_fit_unless_asked(run_harness, tiny_config, tmp_path):
    argv = ("run", "--models", "lookup", "--tasks", "indications,probe", "--config", str(tiny_config))
    assert run_harness(*argv, "--train-sizes", "16", "--out", str(tmp_path / "a"))[0] == 0
    names = [r["name"] for r in read_leaderboard(tmp_path / "a")["results"]]
    assert "probe[lookup-seed42-train16]" not in names and "probe[lookup-seed42]" in names
    code, _, stderr = run_harness(*argv, "--train-sizes", "16", "--curve-followers", "--out", str(tmp_path / "b"))
    assert code == 0, stderr
    names = [r["name"] for r in read_leaderboard(tmp_path / "b")["results"]]
    assert "probe[lookup-seed42-train16]" in names
    assert sorted(fakes.FIT_ROWS) == [("lookup", 42, 16), ("lookup", 42, 32)]  # the probe shared the subset's fit


# A model whose recipe trains on a row sample, as SmolLM2's CPU recipe does (max_train_rows).
def fit_sampled(request):
    limit = request.recipe["max_train_rows"]
    fitted = fakes.fit_lookup(request)
    fitted.details = {"train_rows_used": min(limit, len(request.train))}
    return fitted


class SampledPlugin:
    @hookimpl
    def harness_add_models(self, register):
        register.add(ModelSpec("sampled", "fake", "memorise", fit_sampled, recipe={"max_train_rows": 14}))


def test_a_row_sampled_recipe_says_how_it_combines_with_the_size(run_harness, tiny_config, tmp_path):
    out = tmp_path / "run"
    _, document = curve_run(
        run_harness, tiny_config, out, "--train-sizes", "12,16", models="sampled", plugins={"s": SampledPlugin()}
    )
    (model,) = curve_of(document)["models"]
    assert [(p["rows"], p["trained_rows"]) for p in model["points"]] == [(12, 12), (16, 14), (32, 14)]
    assert model["max_trained_rows"] == 14
    code, shown, _ = run_harness("show", str(out / "leaderboard.json"))
    assert "† its recipe trained on a row sample (max_train_rows) of at most 14 rows (sampled)" in " ".join(
        shown.split()
    )


def test_each_curve_names_the_recipe_it_used(run_harness, tiny_config, tmp_path, monkeypatch):
    from harness.core.reports import Session

    monkeypatch.setattr(Session, "recipe_source", lambda self, model, task: f"{model} recipe on {task}")
    _, document = curve_run(run_harness, tiny_config, tmp_path / "run", "--train-sizes", "16")
    assert {m["model"]: m["recipe"] for m in curve_of(document)["models"]} == {
        "lookup": "lookup recipe on indications",
        "regex": "regex recipe on indications",
    }


def test_a_tuned_recipe_is_applied_last_and_named():
    import argparse

    from harness.core.config import RunConfig
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager
    from harness.core.profiles import get_profile
    from harness.core.reports import Session

    hooks = Hooks(make_plugin_manager({"fakes": fakes}))
    models, tasks = hooks.models(), hooks.tasks()
    session = Session(argparse.Namespace(), RunConfig(), get_profile("default"), models, tasks, (1,))
    assert session.recipe(models["lookup"], "indications") == {"epochs": 3}
    assert session.recipe_source("lookup", "indications") == "default recipe"
    session = Session(argparse.Namespace(), RunConfig(), get_profile("default"), models, tasks, (1,))
    session.tuned[("lookup", "indications")] = {"epochs": 7}
    assert session.recipe(models["lookup"], "indications") == {"epochs": 7}
    session.searches[("lookup", "indications")] = {"trials": [{}] * 8}
    assert session.recipe_source("lookup", "indications") == "tuned recipe (8 trials on eval)"
    assert session.recipe_source("lookup", "ner") == "default recipe"


def test_a_multi_class_example_with_a_real_baseline(run_harness, tmp_path):
    """example-smoking: 600 training rows, four classes, macro F1; tf-idf + logistic regression."""
    out = tmp_path / "run"
    argv = ("run", "--models", "tfidf-lr", "--tasks", "example-smoking", "--train-sizes", "0.1,0.5,all")
    code, stdout, stderr = run_harness(*argv, "--out", str(out))
    assert code == 0, stdout + stderr
    document = load(out / "leaderboard.json")
    curve = curve_of(document, "example-smoking")
    assert curve["metric"] == "f1_macro" and curve["metric_name"] == "macro F1"
    assert [s["rows"] for s in curve["subsets"]] == [60, 300, 600]
    counts = curve["subsets"][0]["label_rows"]["42"]
    assert sum(counts.values()) == 60 and min(counts.values()) >= 1  # one class per row, each held
    (model,) = curve["models"]
    for point in model["points"]:
        item = next(
            r for r in document["results"] if r.get("train_rows", 600) == point["rows"] and r["model"] == "tfidf-lr"
        )
        for test in ("internal", "site_b"):
            assert point["test_sets"][test]["estimate"] == pytest.approx(item["metrics"][test]["f1_macro"])
    assert set(curve["answers"]) == {"internal", "site_b"}


def test_a_run_killed_mid_curve_resumes_to_the_uninterrupted_leaderboard(tmp_path, tiny_config):
    import os
    import signal
    import subprocess
    import sys
    import time

    from .test_resume import environment, run_script

    script = run_script(tmp_path)  # the stopping plugin: stops its fit on the seed $HARNESS_TEST_STOP_SEED
    argv = ["run", "--models", "stopping,regex", "--tasks", "indications", "--seeds", "1,2"]
    argv += ["--train-sizes", "16,24", "--config", str(tiny_config)]
    whole = tmp_path / "whole"
    reference = subprocess.run(
        [sys.executable, str(script), *argv, "--out", str(whole)],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, str(script), *argv, "--out", str(out)],
        env=environment(tmp_path, HARNESS_TEST_STOP_SEED="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    marker = tmp_path / "marker"
    deadline = time.monotonic() + 90
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), process.stderr.read().decode() if process.poll() is not None else "no marker"
    os.kill(process.pid, signal.SIGKILL)  # mid-curve: seed 2's 16-row fit is running
    process.wait(timeout=30)
    finished = len(list((out / "items").glob("*.json")))
    assert finished == 4  # seed 1: stopping at 16, 24 and all of train, and regex
    resumed = subprocess.run(
        [sys.executable, str(script), *argv, "--resume", str(out)],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("finished earlier") == 4
    after, before = read_leaderboard(out), read_leaderboard(whole)
    assert without_timings(after["results"]) == without_timings(before["results"])
    assert json.dumps(without_timings(curve_of(after)), sort_keys=True) == json.dumps(
        without_timings(curve_of(before)), sort_keys=True
    )


def test_a_model_that_does_not_train_is_declared_so():
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager

    models = Hooks(make_plugin_manager()).models()
    assert not models["regex"].trains and not models["smollm2-135m-zeroshot"].trains
    assert models["tfidf-lr"].trains and models["minilm-l6"].trains
