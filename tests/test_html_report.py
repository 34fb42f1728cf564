"""The self-contained HTML report (`harness show --format html`, `harness publish --html`): its
numbers against the leaderboard's, the decision summary, merged runs, privacy, and the page in a
real browser (Debian's chromium driven by Selenium; skipped, with the reason, where it is missing)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from harness.leaderboard import load
from harness.report.html import heat_colour, inline_json, overall_rows, render_html

from .conftest import EXAMPLES, tree, write_split

ROOT = Path(__file__).resolve().parents[1]
SEEDS_BOARD = ROOT / "leaderboards" / "synthetic-cpu-seeds-1-2.json"
NER_BOARD = ROOT / "leaderboards" / "silver-ner-cpu.json"
SECRET = "zanzibar quokkaville cellulitis"  # planted in private splits; must never reach a page
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """Runs here write no PNG/SVG plots: another plugin's business, and seconds a run."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGINS", "plots")


class OverallRows(HTMLParser):
    """The cells' text of each body row of ``table#overall``, and each row's data-* attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.rows, self.cell = False, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("id") == "overall"
        elif self.inside and tag == "tr" and "data-task" in attrs:
            self.rows.append({"attrs": attrs, "cells": []})
        elif self.inside and tag == "td" and self.rows:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1]["cells"].append(self.cell.strip())
            self.cell = None
        elif tag == "table":
            self.inside = False


def page_rows(page: str) -> list[dict]:
    parser = OverallRows()
    parser.feed(page)
    return parser.rows


def expected_overall(document: dict) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(test set, model) -> (F1, CI, band) as the page must print them, computed here with numpy
    from the raw per-seed metrics and the run's comparisons."""
    by_key: dict[tuple[str, str], list[float]] = {}
    for item in document["results"]:
        if item["task"] == "indications" and item["status"] == "passed":
            for split in ("internal", "external"):
                by_key.setdefault((split, item["model"]), []).append(item["metrics"][split]["f1_weighted"])
    out = {}
    for (split, model), values in by_key.items():
        (entry,) = [
            m for m in document["summaries"]["indications"]["comparisons"][split]["models"] if m["model"] == model
        ]
        out[split, model] = (f"{np.mean(values):.3f}", f"[{entry['low']:.3f}, {entry['high']:.3f}]", str(entry["band"]))
    return out


def test_overall_table_shows_the_leaderboards_numbers():
    document = load(SEEDS_BOARD)
    expected = expected_overall(document)
    rows = page_rows(render_html(document))
    # task, test set, model, family, regime, seeds, metric, F1, CI, band, ...
    shown = {(r["cells"][1], r["cells"][2]): (r["cells"][7], r["cells"][8], r["cells"][9]) for r in rows}
    assert shown == expected and len(expected) == 8
    assert {r["cells"][5] for r in rows} == {"2"}  # two seeds each


def test_ner_rows_show_strict_micro_f1():
    document = load(NER_BOARD)
    passed = [r for r in document["results"] if r["task"] == "ner" and r["status"] == "passed"]
    rows = {r["model"]: r for r in overall_rows(document)}
    assert set(rows) == {r["model"] for r in passed} and passed
    for item in passed:
        assert rows[item["model"]]["estimate"] == pytest.approx(item["ner"]["test"]["strict"]["micro"]["f1"])
        assert rows[item["model"]]["metric"] == "strict F1" and rows[item["model"]]["low"] is None


def test_page_is_self_contained():
    page = render_html(load(SEEDS_BOARD))
    # no external resource of any kind: nothing the browser could fetch
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#|data:)""", page)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "fetch(" not in page and "@import" not in page and "@font-face" not in page
    assert "<style>" in page and "function sortBy" in page
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["overall"]


def test_inline_json_cannot_close_its_script():
    text = inline_json({"model": "</script><script>alert(1)</script>"})
    assert "</script" not in text and json.loads(text) == {"model": "</script><script>alert(1)</script>"}


def test_heat_colour_deepens_with_f1():
    lightness = [float(re.search(r"(\d+)%\)$", heat_colour(f1)).group(1)) for f1 in (0.2, 0.5, 0.75, 1.0)]
    assert lightness == [100, 100, 80, 60] and heat_colour(None) == "#eee"


DECISION = {
    "metric": "f1_weighted",
    "cheapest_by": ["train_seconds", "params"],
    "test_sets": [
        {
            "test_set": "internal",
            "top_band": ["tfidf-lr"],
            "recommended": "tfidf-lr",
            "estimate": 0.9666,
            "ci": [0.9603, 0.9722],
            "band_interval": [0.9603, 0.9722],
            "told_apart": True,
            "statement": "On internal, start with tfidf-lr: alone in the top band.",
        },
        {
            "test_set": "external",
            "top_band": ["tfidf-lr", "minilm-l6"],
            "recommended": None,
            "estimate": 0.9668,
            "ci": None,
            "band_interval": [0.9556, 0.9719],
            "told_apart": False,
            "statement": "On external, the tests do not tell the models apart.",
        },
    ],
}


def test_decision_summary_is_shown_when_present_and_bands_otherwise():
    document = load(SEEDS_BOARD)
    document["summaries"]["indications"].pop("decision", None)  # a leaderboard from before the decision
    bands = render_html(document)
    for comparison in document["summaries"]["indications"]["comparisons"].values():
        for number, band in enumerate(comparison["bands"], start=1):
            assert f"band {number}: {', '.join(band)}" in bands
    document["summaries"]["indications"]["decision"] = copy.deepcopy(DECISION)
    page = render_html(document)
    section = page[page.index('<section id="decision">') : page.index('id="overall-section"')]
    assert "On internal, start with tfidf-lr: alone in the top band." in section
    assert "On external, the tests do not tell the models apart." in section
    assert "recommended: <strong>tfidf-lr</strong>" in section and "[0.960, 0.972]" in section
    assert "band 2:" not in section  # the decision replaces the bare bands


# ------------------------------------------------------------------------------- through the CLI


def private_run(run_harness, tmp_path: Path, seed: str = "1", public_site: bool = False) -> Path:
    """A run of the lookup fake on private train and ward splits holding SECRET (absolute paths,
    so that publish finds the files to scan); its leaderboard."""
    data = tmp_path / "data"
    if not data.exists():
        data.mkdir()
        write_split(data / "train.csv", EXAMPLES * 2 + [(SECRET, ["skin_soft_tissue"])])
        write_split(data / "site_a.csv", EXAMPLES)
        write_split(data / "ward.csv", [(SECRET, ["skin_soft_tissue"]), ("uti", ["urinary"])])
    config = tmp_path / "harness.toml"
    config.write_text(
        f'[tasks.indications]\ntrain = {{ path = "{data}/train.csv", public = false }}\neval = "{data}/train.csv"\n'
        "keep_embedded_tests = false\nbootstrap_resamples = 20\npermutations = 20\n"
        f'[tasks.indications.tests.site_a]\npath = "{data}/site_a.csv"\npublic = {str(public_site).lower()}\n'
        f'[tasks.indications.tests.ward]\npath = "{data}/ward.csv"\n[tasks.robustness]\nvariants = 30\n',
        encoding="utf-8",
    )
    out = tmp_path / f"run{seed}"
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,probe,robustness",
        "--config",
        str(config),
        "--seeds",
        seed,
        "--out",
        str(out),
    )
    assert code == 0, stdout
    assert SECRET in (data / "ward.csv").read_text(encoding="utf-8")  # planted where the run read it
    return out / "leaderboard.json"


def test_show_writes_the_page_without_private_text(run_harness, tmp_path):
    board = private_run(run_harness, tmp_path, public_site=True)
    page = tmp_path / "report.html"
    code, out, err = run_harness("show", str(board), "--format", "html", "--output", str(page))
    assert (code, err) == (0, "") and out.strip() == str(page)
    text = page.read_text(encoding="utf-8")
    assert "ward" in text and "lookup" in text  # the private split's results are there...
    assert "zanzibar" not in text and "quokkaville" not in text  # ...its text is not


def test_publish_html_renders_the_merged_runs_without_private_text(run_harness, tmp_path):
    boards = [private_run(run_harness, tmp_path, seed) for seed in ("1", "2")]
    page = tmp_path / "board" / "cpu.html"
    code, out, err = run_harness(
        "publish", *map(str, boards), "--to", str(tmp_path / "board" / "cpu.json"), "--html", str(page)
    )
    assert code == 0, err
    assert str(page) in out
    text = page.read_text(encoding="utf-8")
    assert "Published from 2 run(s)" in text
    merged = text[text.index('id="merged-from"') : text.index("</section>", text.index('id="merged-from"'))]
    assert merged.count("<td>leaderboard.json</td>") == 2
    assert "zanzibar" not in text and "quokkaville" not in text
    seeds = {r["cells"][5] for r in page_rows(text)}
    assert seeds == {"2"}  # the two runs' seeds are one model's two seeds on the page


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "html"], "--format html needs --output PAGE.html"),
        (["--output", "x.html"], "--output is for --format html"),
        (["--format", "html", "--output", "x.html", "--plots", "plots"], None),  # the control: it writes both
    ],
)
def test_show_html_usage_errors_are_one_line(run_harness, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # x.html and plots/ would be written here
    code, out, err = run_harness("show", str(SEEDS_BOARD), *argv)
    if message is None:  # the same folder check sees what a command that succeeds writes
        assert code == 0 and {"x.html", "plots"} <= tree(tmp_path), err
        return
    assert code == 2 and out == "" and err.strip().endswith(message) and err.count("\n") == 1
    assert tree(tmp_path) == set()  # nothing written


def test_show_html_to_an_unwritable_path_is_one_line(run_harness, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_harness("show", str(SEEDS_BOARD), "--format", "html", "--output", str(blocker / "r.html"))
    assert code == 2 and "cannot write the HTML report" in err and err.count("\n") == 1
    assert tree(tmp_path) == {"file"} and blocker.read_text() == ""  # no temporary file left beside it


# ------------------------------------------------------------------------------- in a real browser


def test_ci_installs_the_browser_before_the_tests():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = ci.index("apt-get install -y -q chromium chromium-driver")
    assert ci.index("apt-get update") < install < ci.index(".venv/bin/python -m pytest")
    assert "apt-get" not in (ROOT / "setup.sh").read_text(encoding="utf-8")  # setup.sh runs without root


BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1800",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed "
            "(as root: apt-get install -y chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (requirements/cpu.txt)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def opened(browser, tmp_path_factory):
    """The seeds 1-2 leaderboard's page, opened from file:// (logs read once, before any click)."""
    page = tmp_path_factory.mktemp("page") / "report.html"
    page.write_text(render_html(load(SEEDS_BOARD)), encoding="utf-8")
    browser.get("about:blank")
    browser.get_log("performance"), browser.get_log("browser")  # drop the start page's requests
    browser.get(page.as_uri())
    requests = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    return browser, urls, browser.get_log("browser")


def test_page_loads_without_console_error_or_network_request(opened):
    _, urls, console = opened
    assert [entry for entry in console if entry["level"] in ("SEVERE", "WARNING")] == []
    assert urls and urls[0].startswith("file://")  # the log saw the page itself: it does record requests
    assert [url for url in urls if not url.startswith(("file://", "data:"))] == []


def _visible_rows(driver) -> list[list[str]]:
    """The text of each shown row's cells, read in one script call (a call per cell costs seconds)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#overall tbody tr'))"
        ".filter((row) => row.offsetParent !== null)"
        ".map((row) => Array.from(row.cells).map((cell) => cell.innerText.trim()));"
    )


def test_numbers_shown_equal_the_leaderboards_and_whiskers_are_drawn(opened):
    from selenium.webdriver.common.by import By

    driver, _, _ = opened
    expected = expected_overall(load(SEEDS_BOARD))
    shown = {}
    for cells in _visible_rows(driver):
        shown[cells[1], cells[2]] = (cells[7], cells[8], cells[9])
    assert shown == expected
    whiskers = driver.find_elements(By.CSS_SELECTOR, "#overall td.ci svg line")
    assert len(whiskers) >= 3 * len(expected)  # a bar and two caps per interval
    points = driver.find_elements(By.CSS_SELECTOR, "svg.scatter circle.point")
    assert sorted((p.get_attribute("data-test-set"), p.get_attribute("data-model")) for p in points) == sorted(expected)
    titles = {p.find_element(By.TAG_NAME, "title").get_attribute("textContent").split(" (")[0] for p in points}
    assert titles == {model for _, model in expected}  # the model is named on hover
    # and in print: each model's name written once beside its points, no two names overlapping
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('svg.scatter text.point-label')).map((t) => {"
        " const b = t.getBBox(); return [t.textContent, b.x, b.y, b.width, b.height]; });"
    )
    assert sorted(name for name, *_ in labels) == sorted({model for _, model in expected})
    for index, (_, x, y, w, h) in enumerate(labels):
        for _, x2, y2, w2, h2 in labels[index + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y


def test_sorting_a_column_reorders_the_rows(opened):
    from selenium.webdriver.common.by import By

    driver, _, _ = opened
    header = driver.find_elements(By.CSS_SELECTOR, "#overall thead th")[7]  # F1
    before = [float(r[7]) for r in _visible_rows(driver)]
    header.click()
    ascending = [float(r[7]) for r in _visible_rows(driver)]
    header.click()
    descending = [float(r[7]) for r in _visible_rows(driver)]
    assert ascending == sorted(before) and descending == sorted(before, reverse=True) and before != ascending
    assert header.get_attribute("aria-sort") == "descending"


def test_a_filter_hides_rows_and_a_screenshot_is_written(opened, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver, _, _ = opened
    shot = Path(os.environ.get("HARNESS_REPORT_SCREENSHOT") or tmp_path / "report.png")
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-filter='test_set']")).select_by_visible_text("external")
    rows = _visible_rows(driver)
    assert len(rows) == 4 and {r[1] for r in rows} == {"external"}
    assert driver.find_element(By.ID, "shown-count").text == "4 of 8 rows"
    Select(driver.find_element(By.CSS_SELECTOR, "select[data-filter='family']")).select_by_visible_text("encoder")
    assert [r[2] for r in _visible_rows(driver)] == ["minilm-l6"]


SMOKING = Path(__file__).parents[1] / "leaderboards" / "synthetic-example-smoking.json"
ADE = Path(__file__).parents[1] / "leaderboards" / "synthetic-example-ade.json"


def test_a_multi_class_task_is_drawn_by_its_primary_metric_macro_f1():
    """The page's overall rows, their intervals and bands, the scatter and its axis all read the
    task's primary metric: a macro-F1 interval beside a weighted-F1 point (as the page drew a
    multi-class task before) would put a number outside its own interval's meaning."""
    from harness.report.html import sections
    from harness.report.plots import heatmap, scatter_metric, scatter_points
    from harness.report.tables import task_tables

    document = load(SMOKING)
    by_model = {
        (r["model"], split): r["metrics"][split]
        for r in document["results"]
        if r["status"] == "passed" and r["task"] == "example-smoking"
        for split in r["metrics"]
    }
    rows = overall_rows(document)
    assert rows and {row["metric"] for row in rows} == {"macro F1"}
    for row in rows:
        metrics = by_model[row["model"], row["test_set"]]
        assert row["estimate"] == pytest.approx(metrics["f1_macro"])
        assert metrics["f1_macro"] != pytest.approx(metrics["f1_weighted"], abs=1e-6) or row["model"] == "regex"
    assert scatter_metric(document) == "Macro F1"
    for split, points in scatter_points(document).items():
        for point in points:
            assert point.f1 == pytest.approx(by_model[point.model, split]["f1_macro"])
    internal = heatmap(document, "internal")
    macro = [by_model[model, "internal"]["f1_macro"] for model in internal.models]
    assert macro == sorted(macro, reverse=True)
    # The headline overall table is the page's own table with whiskers; the accuracy one stays.
    titles = [t["title"] for s in sections(task_tables(document)) for t in [vars(x) for x in s["tables"]]]
    assert "Overall results (accuracy)" in titles and "Overall results (macro F1)" not in titles
    page = render_html(document)
    assert "Macro F1 against training time" in page and "Weighted F1 against training time" not in page


def test_a_binary_task_is_drawn_by_the_positive_labels_f1():
    """A binary task's page names its metric F1 throughout: the decision, the rows, the scatter."""
    document = load(ADE)
    decision = document["summaries"]["example-ade"]["decision"]
    assert decision["metric_name"] == "F1"
    assert {row["metric"] for row in overall_rows(document)} == {"F1"}
    page = render_html(document)
    recommended = page[page.index("recommended: <strong>") :][:200]
    estimate = decision["test_sets"][0]["estimate"]  # the document's own number: a re-run changes it
    assert f"F1 {estimate:.3f}" in " ".join(recommended.split()) and "weighted" not in recommended
    assert "F1 against training time" in page and "weighted F1" not in page


def test_an_older_binary_leaderboard_shown_again_says_f1():
    """A leaderboard written before items named their primary metric, and before the decision was
    stored: ``harness show`` decides again from the comparisons, in the task's words."""
    document = load(ADE)
    del document["summaries"]["example-ade"]["decision"]
    for entry in document["results"]:
        entry.pop("primary_metric", None)
    from rich.console import Console

    from harness.report.console import print_decision

    out = Console(record=True, width=300)
    print_decision(out, document)
    text = out.export_text()
    assert "Decision (F1;" in text and "weighted" not in text


def _one_band_with_a_pair_inside(comparison: dict) -> tuple[str, str]:
    """Every model in one band, only the best and the worst significantly different: a chain no
    band boundary can cut (as in issue 22). The (better, worse) pair."""
    ranked = sorted(comparison["models"], key=lambda m: -m["estimate"])
    best, worst = ranked[0]["model"], ranked[-1]["model"]
    for model in comparison["models"]:
        model["band"] = 1
    comparison["bands"] = [[m["model"] for m in ranked]]
    for pair in comparison["pairs"]:
        pair["significant"] = {pair["a"], pair["b"]} == {best, worst}
        pair["p_holm"] = 0.001 if pair["significant"] else 0.5
    return best, worst


def test_pairs_inside_a_band_are_listed_with_what_a_band_means():
    from harness.scoring.decision import decision_from_document

    document = load(ADE)
    summary = document["summaries"]["example-ade"]
    better, worse = _one_band_with_a_pair_inside(summary["comparisons"]["internal"])
    assert len(summary["comparisons"]["internal"]["models"]) > 2  # else a boundary would separate them
    summary["decision"] = decision_from_document(document, "example-ade")
    page = render_html(document)
    section = " ".join(page[page.index('<section id="decision">') : page.index('id="overall-section"')].split())
    assert f"{better} &gt; {worse} (band 1, Holm p = 0.001)" in section
    assert "no band boundary separates" in section and "not told apart" not in page
    # A leaderboard with bands and no decision lists them too.
    del summary["decision"]
    bare = " ".join(render_html(document).split())
    assert f"{better} &gt; {worse} (band 1, Holm p = 0.001)" in bare


def test_model_cards_print_the_decision_rule_as_the_overall_table_does():
    from harness.report.html import model_cards
    from harness.report.tables import task_tables

    rules = {}
    main = ROOT / "leaderboards" / "synthetic-cpu-default.json"
    for path in (SMOKING, ADE, main):
        document = load(path)
        overall = next(t for t in task_tables(document) if "Decision rule" in t.headers)
        column = overall.headers.index("Decision rule")
        in_table = {row[0]: row[column] for row in overall.rows}
        cards = {card["model"]: card["decision_rule"] for card in model_cards(document) if card["decision_rule"]}
        assert cards and {model: in_table[model] for model in cards} == cards
        page = render_html(document)
        assert "Decision rule: label = " not in page and ">= 0.0" not in page
        rules[path] = cards
    assert rules[SMOKING]["minilm-l6"] == "argmax" and rules[main]["smollm2-135m-zeroshot"] == "top-1"


def test_each_classification_task_gets_its_own_titled_heatmaps_and_scatter():
    document = load(ADE)
    smoking = load(SMOKING)
    # one run of both example tasks, as `--tasks example-ade,example-smoking` would give
    document["results"] += [r for r in smoking["results"] if r["task"] == "example-smoking"]
    document["summaries"]["example-smoking"] = smoking["summaries"]["example-smoking"]
    document["run"]["data"]["example-smoking"] = smoking["run"]["data"]["example-smoking"]
    page = render_html(document)
    for task, split in (("example-ade", "internal"), ("example-smoking", "internal"), ("example-smoking", "site_b")):
        assert f"<h3>{task}: {split} test set</h3>" in page
        assert f'data-task="{task}" data-test-set="{split}"' in page
    assert "<h3>F1 against training time: example-ade</h3>" in page
    assert "<h3>Macro F1 against training time: example-smoking</h3>" in page
    data = json.loads(page[page.index('id="page-data">') + len('id="page-data">') : page.index("</script>")])
    assert [(s["task"], s["metric"], sorted(s["points"])) for s in data["scatters"]] == [
        ("example-ade", "F1", ["internal"]),
        ("example-smoking", "Macro F1", ["internal", "site_b"]),
    ]
    assert 'id="scatter-1"' in page and 'id="scatter-2"' in page
    section = page[page.index('<section id="decision">') : page.index('id="overall-section"')]
    assert "<h3>example-ade</h3>" in section and "<h3>example-smoking</h3>" in section  # whose decision is whose


def test_the_page_is_titled_by_its_tasks_and_date_not_its_file_name(tmp_path):
    from harness.report.html import write_html

    document = load(SEEDS_BOARD)
    page = write_html(document, tmp_path / "page.html", tables=[]).read_text(encoding="utf-8")
    day = document["run"]["timestamp_utc"][:10]
    assert f"<title>indications, probe, robustness: leaderboard of {day}</title>" in page
    assert "<title>page</title>" not in page
