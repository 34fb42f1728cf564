"""Plots next to the leaderboard: files written whole, values as in the document, log time axis."""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from harness.report import plots  # noqa: E402  (needs matplotlib to be useful)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CATEGORIES = ("urinary", "respiratory", "ent")


def entry(
    model: str,
    seed: int,
    seconds: float,
    splits: dict[str, tuple[float, tuple[float, ...]]],
    status: str = "passed",
    task: str = "indications",
) -> dict:
    """A leaderboard result with only what the plots read: split -> (weighted F1, per-class F1s)."""
    metrics = {
        split: {
            "f1_weighted": weighted,
            "per_class": {
                c: {"f1": f1, "precision": f1, "recall": f1, "support": 5} for c, f1 in zip(CATEGORIES, per_class)
            },
        }
        for split, (weighted, per_class) in splits.items()
    }
    return {
        "model": model,
        "task": task,
        "seed": seed,
        "status": status,
        "cost": {"train_seconds": seconds},
        "metrics": {"train": metrics[next(iter(metrics))], "eval": metrics[next(iter(metrics))], **metrics},
    }


def document(*results: dict, synthetic: bool = False) -> dict:
    return {
        "run": {"synthetic_data": synthetic, "seeds": sorted({r["seed"] for r in results})},
        "results": list(results),
    }


TWO_SEEDS = document(
    entry("rules", 1, 0.0, {"internal": (0.5, (0.2, 0.4, 0.6)), "external": (0.4, (0.1, 0.3, 0.5))}),
    entry("rules", 2, 0.0, {"internal": (0.5, (0.2, 0.4, 0.6)), "external": (0.4, (0.1, 0.3, 0.5))}),
    entry("bert", 1, 100.0, {"internal": (0.8, (0.7, 0.8, 0.9)), "external": (0.6, (0.5, 0.6, 0.7))}),
    entry("bert", 2, 140.0, {"internal": (0.9, (0.9, 1.0, 0.5)), "external": (0.7, (0.6, 0.8, 0.3))}),
    entry("broken", 1, 5.0, {"internal": (1.0, (1.0, 1.0, 1.0))}, status="error"),
    entry("bert", 1, 100.0, {"internal": (0.0, (0.0, 0.0, 0.0))}, task="probe"),
    synthetic=True,
)


def files_in(folder: Path) -> set[str]:
    """The files of a run directory (not its folder of finished items, harness.core.store.ITEMS)."""
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.exists() else set()


def assert_whole_plots(paths: list[Path]) -> None:
    assert paths
    for path in paths:
        data = path.read_bytes()
        assert data, path
        if path.suffix == ".png":
            assert data.startswith(PNG_SIGNATURE), path
        else:
            assert path.suffix == ".svg"
            assert ET.fromstring(data).tag.endswith("svg"), path


def test_run_writes_plots_next_to_the_leaderboard_and_show_redraws_them(run_harness, tiny_config, tmp_path):
    out = tmp_path / "out"
    code, stdout, _ = run_harness(
        "run", "--models", "tfidf-lr,regex", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out)
    )
    assert code == 0, stdout
    expected = {f"{stem}.{fmt}" for stem in ("f1_vs_training_time", "per_class_f1_site_a") for fmt in ("png", "svg")}
    assert files_in(out) == {"leaderboard.json", *expected}  # and no temporary left behind
    assert_whole_plots([out / name for name in expected])
    for name in expected:
        assert str(out / name) in stdout

    again = tmp_path / "again"
    code, stdout, _ = run_harness("show", str(out / "leaderboard.json"), "--plots", str(again))
    assert code == 0
    assert files_in(again) == expected
    for name in expected:
        assert str(again / name) in stdout.splitlines()
    assert "Per-class F1" in stdout  # the tables still print

    code, stdout, stderr = run_harness(
        "show", str(out / "leaderboard.json"), "--format", "markdown", "--plots", str(again)
    )
    assert code == 0 and str(again / "f1_vs_training_time.png") in stderr  # stdout stays a clean document
    assert "f1_vs_training_time" not in stdout


def test_disabled_plugin_writes_no_plots(run_harness, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")
    out = tmp_path / "out"
    code, stdout, _ = run_harness(
        "run", "--models", "regex", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out)
    )
    assert code == 0, stdout
    assert files_in(out) == {"leaderboard.json"}


def test_heatmap_cells_are_the_documents_per_class_f1_best_model_first():
    one_seed = document(
        entry("weak", 1, 1.0, {"site": (0.3, (0.1, 0.2, 0.3))}),
        entry("strong", 1, 2.0, {"site": (0.9, (0.8, 0.95, 0.875))}),
    )
    data = plots.heatmap(one_seed, "site")
    assert data.models == ("strong", "weak") and data.categories == CATEGORIES
    by_model = {r["model"]: r["metrics"]["site"]["per_class"] for r in one_seed["results"]}
    for model, row in zip(data.models, data.values):
        assert row == tuple(by_model[model][c]["f1"] for c in CATEGORIES)

    figure = plots.heatmap_figure(one_seed, data)
    axes = figure.axes[0]
    image = axes.images[0]
    assert image.get_clim() == (0.0, 1.0)
    assert len(figure.axes) == 2  # the colour bar
    assert [t.get_text() for t in axes.texts] == ["0.80", "0.95", "0.88", "0.10", "0.20", "0.30"]
    assert image.get_array().tolist() == [list(row) for row in data.values]
    assert [t.get_text() for t in axes.get_xticklabels()] == list(CATEGORIES)
    assert "SYNTHETIC" not in axes.get_title()


def test_several_seeds_are_averaged_one_point_per_model():
    points = plots.scatter_points(TWO_SEEDS)
    assert list(points) == ["internal", "external"]  # not train, not eval
    bert = next(p for p in points["internal"] if p.model == "bert")
    assert [p.model for p in points["internal"]] == ["rules", "bert"]  # the error and the probe are left out
    assert bert.f1 == pytest.approx(0.85) and bert.f1_sd == pytest.approx(statistics.stdev([0.8, 0.9]))
    assert bert.seconds == pytest.approx(120.0) and bert.seconds_sd == pytest.approx(statistics.stdev([100, 140]))
    assert bert.seeds == 2

    data = plots.heatmap(TWO_SEEDS, "external")
    assert data.models == ("bert", "rules")
    assert data.values[0] == pytest.approx((0.55, 0.7, 0.5))

    axes = plots.scatter_figure(TWO_SEEDS).axes[0]
    internal = axes.containers[0]
    assert list(internal.lines[0].get_xdata()) == pytest.approx([plots.TIME_FLOOR_SECONDS, 120.0])
    assert list(internal.lines[0].get_ydata()) == pytest.approx([0.5, 0.85])
    assert internal.has_yerr and internal.has_xerr


def test_time_axis_is_log_and_zero_seconds_sit_on_the_floor(tmp_path):
    figure = plots.scatter_figure(TWO_SEEDS)
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert "0 s drawn at 0.01 s" in axes.get_xlabel()
    assert axes.get_title().endswith("(SYNTHETIC data)")
    assert "seeds" in figure.get_supxlabel()
    assert axes.get_xlim()[0] > 0

    only_rules = document(entry("rules", 1, 0.0, {"internal": (0.5, (0.2, 0.4, 0.6))}))
    paths = plots.write_plots(only_rules, tmp_path)
    assert_whole_plots(paths)
    assert "SYNTHETIC" not in plots.scatter_figure(only_rules).axes[0].get_title()


def test_unsafe_split_names_give_safe_file_names(tmp_path):
    assert plots.safe_name("site a/b:ü.csv") == "site_a_b___csv"
    assert plots.safe_name("ok-name_1") == "ok-name_1"
    unsafe = document(
        entry("m", 1, 1.0, {"../site $a$/b": (0.5, (0.2, 0.4, 0.6)), "___site__a__b": (0.5, (0.2, 0.4, 0.6))}),
    )
    paths = plots.write_plots(unsafe, tmp_path / "plots")
    assert_whole_plots(paths)
    assert {p.name for p in paths} == {
        f"{stem}.{fmt}"
        for fmt in ("png", "svg")
        for stem in ("f1_vs_training_time", "per_class_f1____site__a__b", "per_class_f1____site__a__b-2")
    }
    assert all(p.parent == tmp_path / "plots" for p in paths)
    assert {p.name for p in tmp_path.iterdir()} == {"plots"}  # nothing escaped the folder


def test_no_passed_indications_result_writes_nothing(tmp_path):
    none_passed = document(
        entry("broken", 1, 1.0, {"internal": (0.5, (0.2, 0.4, 0.6))}, status="error"),
        {
            k: v
            for k, v in entry("m", 1, 1.0, {"internal": (0.5, (0.2, 0.4, 0.6))}, task="probe").items()
            if k != "metrics"
        },  # another task's result, without classification metrics
    )
    assert plots.write_plots(none_passed, tmp_path / "plots") == []
    assert plots.write_plots(document(), tmp_path / "plots") == []
    assert files_in(tmp_path) == set()


def test_a_failure_while_saving_leaves_no_plot_and_no_temporary(tmp_path, monkeypatch, capsys):
    from matplotlib.figure import Figure

    save = Figure.savefig
    calls = []

    def failing_savefig(self, stream, **kwargs):
        calls.append(kwargs["format"])
        if len(calls) == 3:  # after two whole files: a part-written third
            stream.write(b"\x89PNG half")
            raise OSError("disk full")
        return save(self, stream, **kwargs)

    monkeypatch.setattr(Figure, "savefig", failing_savefig)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        plots.write_plots(TWO_SEEDS, out)
    assert files_in(out) == set()

    # the hook warns instead: the leaderboard is already written and the run's summary must print
    calls.clear()
    assert plots.harness_write_artifacts(TWO_SEEDS, out) == []
    assert "plots not written" in capsys.readouterr().err
    assert files_in(out) == set()


def test_each_classification_task_gets_its_own_plots_named_and_titled(tmp_path):
    """A run of several classification tasks drew only the first one's plots, untitled by task."""
    two_tasks = document(
        entry("rules", 1, 0.0, {"internal": (0.5, (0.2, 0.4, 0.6))}),
        entry("bert", 1, 100.0, {"internal": (0.8, (0.7, 0.8, 0.9))}),
        entry("rules", 1, 0.0, {"ward": (0.3, (0.1, 0.3, 0.5))}, task="example-ade"),
    )
    paths = plots.write_plots(two_tasks, tmp_path)
    assert_whole_plots(paths)
    assert {p.name for p in paths} == {
        f"{stem}-{task}.{fmt}"
        for task, split in (("indications", "internal"), ("example-ade", "ward"))
        for stem in ("f1_vs_training_time", f"per_class_f1_{split}")
        for fmt in ("png", "svg")
    }
    ward = plots.heatmap(two_tasks, "ward", "example-ade")
    assert ward.task == "example-ade" and ward.models == ("rules",) and ward.values == ((0.1, 0.3, 0.5),)
    assert plots.heatmap_figure(two_tasks, ward).axes[0].get_title() == "Per-class F1, example-ade: ward test set"
    scatter = plots.scatter_figure(two_tasks, task="example-ade").axes[0]
    assert scatter.get_title() == "Weighted F1 vs training time (example-ade)"
    assert [p.model for p in plots.scatter_points(two_tasks, "example-ade")["ward"]] == ["rules"]
