"""`harness publish`: merging runs into one leaderboard, refusing private text, under a lock."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands.publish import TextFinder, publish
from harness.errors import InputError
from harness.leaderboard import load, schema_errors

from . import fakes
from .conftest import DEADLINE_SECONDS, EXAMPLES, write_split

# Only in train: a text that must never reach a published leaderboard while train is private.
SECRET = "john smith 1957 nhs 4857773456 uti"
CONFIG = """
[tasks.indications]
train = {{ path = "data/train.csv", public = {public} }}
eval = "data/eval.csv"
keep_embedded_tests = false
bootstrap_resamples = 20
permutations = 20

[tasks.indications.tests.site_a]
path = "data/site_a.csv"
text_column = "Indication"
public = {public}

[tasks.robustness]
variants = 30
"""


def _no_plots(document, out_dir):
    return []


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """Runs here write no plots: drawing them is 90% of a tiny run's time, and none is published."""
    monkeypatch.setattr("harness.report.plots.write_plots", _no_plots)


def _run(*argv: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("harness.report.plots.write_plots", _no_plots)
        assert main(list(argv), plugins={"fakes": fakes}) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs made once for the module: "1".."4" (seeds 1-4, every split private) and "public"
    (train and site_a public, with the robustness task, whose site_a examples are then written)."""
    root = tmp_path_factory.mktemp("publish")
    data = root / "data"
    data.mkdir()
    write_split(data / "train.csv", [*EXAMPLES, *EXAMPLES, (SECRET, ["urinary"])])
    # eval in capitals (the lookup fake ignores case): no eval text equals a site_a text, so
    # site_a's robustness examples can be published while eval stays private
    write_split(data / "eval.csv", [(text.upper(), labels) for text, labels in EXAMPLES])
    write_split(data / "site_a.csv", [*EXAMPLES, ("pnuemonia", ["respiratory"])], text_column="Indication")
    (root / "private.toml").write_text(CONFIG.format(public="false"), encoding="utf-8")
    (root / "public.toml").write_text(CONFIG.format(public="true"), encoding="utf-8")
    paths = {}
    for seed in "1234":
        _run(
            "run",
            "--models",
            "lookup",
            "--tasks",
            "indications,probe",
            "--config",
            str(root / "private.toml"),
            "--seeds",
            seed,
            "--out",
            str(root / f"run{seed}"),
        )
        paths[seed] = root / f"run{seed}" / "leaderboard.json"
    _run(
        "run",
        "--models",
        "lookup",
        "--tasks",
        "indications,probe,robustness",
        "--config",
        str(root / "public.toml"),
        "--seeds",
        "1",
        "--out",
        str(root / "public"),
    )
    paths["public"] = root / "public" / "leaderboard.json"
    return paths


def _edited(source: Path, out: Path, edit) -> Path:
    """A copy of a run's leaderboard changed by ``edit``, still valid against the schema."""
    document = json.loads(source.read_text(encoding="utf-8"))
    edit(document)
    assert schema_errors(document) == []
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document), encoding="utf-8")
    return out


def test_publish_merges_runs_and_adds_to_an_existing_leaderboard(runs, run_harness, tmp_path):
    target = tmp_path / "board" / "cpu.json"
    code, out, err = run_harness("publish", str(runs["1"]), str(runs["2"]), "--to", str(target))
    assert (code, err) == (0, "")
    assert out.strip() == f"{target}: 2 runs, 4 items"
    document = load(target)
    assert [(r["task"], r["seed"]) for r in document["results"]] == [
        ("indications", 1),
        ("probe", 1),
        ("indications", 2),
        ("probe", 2),
    ]
    run = document["run"]
    merged = run["merged_from"]
    assert [m["seeds"] for m in merged] == [[1], [2]]
    assert [m["sha256"] for m in merged] == [hashlib.sha256(runs[s].read_bytes()).hexdigest() for s in "12"]
    assert {m["file"] for m in merged} == {"leaderboard.json"}  # basename only
    assert all("indications" in m["summaries"] and "data" not in m for m in merged)
    assert "summaries" not in document  # comparisons need predictions: they stay per run
    assert run["seeds"] == [1, 2] and run["summary"] == {"passed": 4, "skipped": 0, "error": 0}
    assert run["git_commit"] is None and run["device"] == "cpu" and run["profile"] == "default"
    assert run["config_sha256"] == merged[0]["config_sha256"]
    assert [p["split"] for p in run["data"]["indications"]] == ["train", "eval", "site_a"]  # not twice
    assert run["data"]["indications"] == json.loads(runs["1"].read_text())["run"]["data"]["indications"]
    assert run_harness("show", str(target))[0] == 0
    assert run_harness("validate", str(target))[0] == 0

    code, out, _ = run_harness("publish", str(runs["3"]), "--to", str(target))
    assert code == 0 and out.strip() == f"{target}: 3 runs, 6 items"
    assert [m["seeds"] for m in load(target)["run"]["merged_from"]] == [[1], [2], [3]]

    before = target.read_bytes()
    code, _, err = run_harness("publish", str(runs["1"]), "--to", str(target))
    assert code == 2
    assert f"{runs['1']}: item indications[lookup-seed1] is already in {target}" in err
    assert target.read_bytes() == before


def test_different_data_under_one_split_name_is_refused(run_harness, tiny_config, tmp_path):
    first, second, target = tmp_path / "first", tmp_path / "second", tmp_path / "board.json"
    args = ("run", "--models", "lookup", "--tasks", "indications", "--config", str(tiny_config))
    assert run_harness(*args, "--seeds", "1", "--out", str(first))[0] == 0
    eval_csv = tmp_path / "data" / "eval.csv"
    eval_csv.write_text(eval_csv.read_text().replace("tonsillitis", "pharyngitis"))  # one row changed
    assert run_harness(*args, "--seeds", "2", "--out", str(second))[0] == 0
    code, _, err = run_harness(
        "publish", str(first / "leaderboard.json"), str(second / "leaderboard.json"), "--to", str(target)
    )
    assert code == 2
    assert "task 'indications', split 'eval': different data than in" in err
    assert str(first / "leaderboard.json") in err and str(second / "leaderboard.json") in err
    assert len(err.strip().splitlines()) == 1 and not target.exists()


def test_a_file_that_is_no_leaderboard_or_other_rows_of_the_same_file_are_refused(runs, run_harness, tmp_path):
    target = tmp_path / "cpu.json"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = run_harness("publish", str(runs["1"]), str(bad), "--to", str(target))
    assert code == 2 and f"{bad}: does not match leaderboard-v1.schema.json" in err

    def fewer_rows(document):  # as the smoke profile scores a sample of the same file
        document["run"]["data"]["indications"][1]["rows"] = 10

    sampled = _edited(runs["2"], tmp_path / "sampled.json", fewer_rows)
    code, _, err = run_harness("publish", str(runs["1"]), str(sampled), "--to", str(target))
    assert code == 2 and "task 'indications', split 'eval': the same file but 10 rows scored, 16 in" in err
    assert not target.exists()


def _plant_in_reason(document):
    item = document["results"][1]  # a skipped item's reason is free text
    item.update(status="skipped", reason=f"could not score row 3: {SECRET}")


def _plant_as_key(document):
    document["results"][0]["fit_details"][SECRET] = 1


def _plant_short(document):
    document["run"]["command"]["keyword"] = "  sepsis "  # a whole string equal to a short training text


@pytest.mark.parametrize(
    ("plant", "where", "split"),
    [
        # paths in the merged document: the planted run comes second
        (_plant_in_reason, "results/3/reason", "indications/train"),
        (_plant_as_key, "a key of results/2/fit_details", "indications/train"),
        (_plant_short, "run/merged_from/1/command/keyword", "indications/train"),
    ],
)
def test_private_text_is_refused_naming_the_path_not_the_text(runs, run_harness, tmp_path, plant, where, split):
    planted = _edited(runs["1"], tmp_path / "planted.json", plant)
    target = tmp_path / "board" / "cpu.json"
    code, out, err = run_harness("publish", str(runs["2"]), str(planted), "--to", str(target))
    assert code == 2 and out == ""
    assert f"refused: {where} holds text of the private split {split}" in err
    assert SECRET not in err and "smith" not in err and "sepsis" not in err
    assert sorted(p.name for p in target.parent.iterdir()) == ["cpu.json.lock"]  # no leaderboard, no temp file


def test_text_of_a_split_marked_public_is_published(runs, run_harness, tmp_path):
    planted = _edited(runs["public"], tmp_path / "planted.json", _plant_in_reason)
    target = tmp_path / "cpu.json"
    code, _, err = run_harness("publish", str(planted), "--to", str(target))
    assert (code, err) == (0, "")
    assert load(target)["results"][1]["reason"].endswith(SECRET)
    # site_a is public too: its robustness examples are kept
    robustness = load(target)["results"][2]["robustness"]["splits"]["site_a"]
    assert robustness["examples_withheld"] is False and robustness["examples"]


def test_robustness_examples_of_a_private_split_are_withheld(runs, run_harness, tmp_path):
    def make_site_a_private(document):
        for entry in document["run"]["data"]["indications"]:
            if entry["split"] == "site_a":
                entry["public"] = False

    # A hand-made document: examples of a split its provenance says is private.
    leaky = _edited(runs["public"], tmp_path / "leaky.json", make_site_a_private)
    assert json.loads(leaky.read_text())["results"][2]["robustness"]["splits"]["site_a"]["examples"]
    target = tmp_path / "cpu.json"
    assert run_harness("publish", str(leaky), "--to", str(target))[0] == 0
    split = load(target)["results"][2]["robustness"]["splits"]["site_a"]
    assert split["examples_withheld"] is True and "examples" not in split
    assert "source_text" not in target.read_text()  # no example anywhere


def test_missing_data_file_is_refused_unless_data_root_points_at_a_copy(run_harness, tiny_config, tmp_path):
    assert (
        run_harness(
            "run",
            "--models",
            "lookup",
            "--tasks",
            "indications",
            "--config",
            str(tiny_config),
            "--out",
            str(tmp_path / "run"),
        )[0]
        == 0
    )
    run, target = str(tmp_path / "run" / "leaderboard.json"), tmp_path / "board.json"
    elsewhere = tmp_path / "usb" / "study"
    elsewhere.parent.mkdir()
    shutil.move(tmp_path / "data", elsewhere)
    code, _, err = run_harness("publish", run, "--to", str(target))
    assert code == 2 and not target.exists()
    assert f"{tmp_path / 'data' / 'train.csv'}: split indications/train: data file not found" in err
    assert "--data-root DIR can point at a folder holding it" in err
    # DIR/train.csv (the path's last part) is found, and its SHA-256 checked
    (elsewhere / "train.csv").write_text((elsewhere / "train.csv").read_text() + "extra,0,0,0,0,0,0,0,0,0,0,0,1\n")
    code, _, err = run_harness("publish", run, "--to", str(target), "--data-root", str(elsewhere))
    assert code == 2 and "split indications/train: this file changed since the run" in err
    write_split(elsewhere / "train.csv", EXAMPLES * 2)  # as tiny_config wrote it: the same bytes
    code, out, err = run_harness("publish", run, "--to", str(target), "--data-root", str(elsewhere))
    assert (code, err) == (0, ""), err
    assert out.strip() == f"{target}: 1 run, 1 item"


# One publish in its own process, waiting for the lock as long as the tests wait for anything (the
# command's 60 s was not enough for four at once on a loaded 2-core machine).
PUBLISH_ONE = """
import sys
from pathlib import Path
from harness.commands.publish import publish, summary_line
target = Path(sys.argv[2])
print(summary_line(target, publish([Path(sys.argv[1])], target, lock_timeout=float(sys.argv[3]))))
"""


def test_publish_says_when_the_merged_runs_times_come_from_different_hardware(runs, run_harness, tmp_path):
    def on_a_xeon_with_amx(document):
        for machine in document["run"]["hardware"]:
            machine.update(cpu_model="Intel Xeon Platinum 8481C", cpu_flags=["avx2", "avx512f", "amx_tile"])

    def before_hardware_was_recorded(document):
        del document["run"]["hardware"]

    same = tmp_path / "same.json"
    code, _, err = run_harness("publish", str(runs["1"]), str(runs["2"]), "--to", str(same))
    assert (code, err) == (0, "")  # one machine: nothing to say
    assert load(same)["run"]["hardware"] == load(runs["1"])["run"]["hardware"]
    xeon = _edited(runs["2"], tmp_path / "xeon" / "leaderboard.json", on_a_xeon_with_amx)
    target = tmp_path / "mixed.json"
    code, out, err = run_harness("publish", str(runs["1"]), str(xeon), "--to", str(target))
    assert code == 0 and out.strip() == f"{target}: 2 runs, 4 items"
    assert err.startswith(f"harness: warning: {target}: the merged runs' times come from different hardware: ")
    assert "on Intel Xeon Platinum 8481C (AVX2, AVX-512F, AMX); " in err and err.count("\n") == 1
    assert len(load(target)["run"]["hardware"]) == 2  # both machines, for the page
    old = _edited(runs["3"], tmp_path / "old" / "leaderboard.json", before_hardware_was_recorded)
    code, _, err = run_harness("publish", str(runs["1"]), str(old), "--to", str(tmp_path / "old.json"))
    assert code == 0 and " on hardware not recorded; their training and prediction times compare" in err


def _publish_process(run: Path, target: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISH_ONE, str(run), str(target), str(DEADLINE_SECONDS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_publishes_at_once_lose_no_run(runs, tmp_path):
    target = tmp_path / "cpu.json"
    processes = [_publish_process(runs[seed], target) for seed in "1234"]
    outcomes = [(p.wait(timeout=2 * DEADLINE_SECONDS), p.stderr.read()) for p in processes]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    document = load(target)
    assert sorted(r["seed"] for r in document["results"]) == [1, 1, 2, 2, 3, 3, 4, 4]
    assert sorted(m["seeds"][0] for m in document["run"]["merged_from"]) == [1, 2, 3, 4]


HOLD_LOCK = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_held_lock_waits_and_a_dead_holders_lock_does_not_block(runs, tmp_path):
    target = tmp_path / "cpu.json"
    lock = tmp_path / "cpu.json.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match="another `harness publish` to cpu.json held this lock for 0.3 s"):
            publish([runs["1"]], target, lock_timeout=0.3)
        assert not target.exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # killed: its lock file stays behind
        holder.wait()
    assert lock.exists()
    publish([runs["1"]], target, lock_timeout=5)
    assert len(load(target)["results"]) == 2


def test_finder_matches_whole_short_texts_and_long_texts_inside_strings():
    finder = TextFinder({"uti": "t/train", "pyelonephritis left": "t/eval"})
    assert finder.find(" uti ") == "t/train"
    assert finder.find("acute uti") is None  # short texts only as the whole string
    assert finder.find("error: 'acute pyelonephritis left side'") == "t/eval"
    assert finder.find("pyelonephritis") is None


NER_CONFIG = """
[tasks.ner]
train = "ner/train.conll"
eval = "ner/eval.conll"
keep_embedded_tests = false
[tasks.ner.tests.ward]
path = "ner/ward.conll"
"""
NER_SECRET = ("Mrs", "Jones", "of", "Ward", "9", "was", "given", "aspirin", "for", "pneumonia")


def _conll(path: Path, sentences) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = ["\n".join(f"{word}\t{tag}" for word, tag in sentence) for sentence in sentences]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def test_private_conll_text_is_refused(run_harness, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = [(w, "B-Chemical" if w == "aspirin" else "B-Disease" if w == "pneumonia" else "O") for w in NER_SECRET]
    other = [("she", "O"), ("took", "O"), ("aspirin", "B-Chemical"), ("for", "O"), ("sepsis", "B-Disease")]
    _conll(tmp_path / "ner" / "train.conll", [secret, other] * 3)
    _conll(tmp_path / "ner" / "eval.conll", [other])
    _conll(tmp_path / "ner" / "ward.conll", [other, other])
    (tmp_path / "ner.toml").write_text(NER_CONFIG, encoding="utf-8")
    _run("run", "--models", "gazetteer", "--tasks", "ner", "--config", str(tmp_path / "ner.toml"), "--out", "ner-run")
    ner_run = tmp_path / "ner-run" / "leaderboard.json"
    code, _, err = run_harness("publish", str(ner_run), "--to", str(tmp_path / "clean.json"))
    assert (code, err) == (0, ""), err  # entity types, lengths and counts are no text of the data

    planted = _edited(
        ner_run, tmp_path / "planted.json", lambda d: d["results"][0]["fit_details"].update({" ".join(NER_SECRET): 1})
    )
    code, out, err = run_harness("publish", str(planted), "--to", str(tmp_path / "refused.json"))
    assert code == 2 and out == ""
    assert "holds text of the private split ner/train" in err and "Jones" not in err
    assert not (tmp_path / "refused.json").exists()


def test_a_published_leaderboard_keeps_every_runs_note_on_its_data(runs, run_harness, tmp_path):
    _run("run", "--models", "gazetteer", "--tasks", "ner", "--profile", "smoke", "--out", str(tmp_path / "silver"))
    target = tmp_path / "board.json"
    code, _, err = run_harness(
        "publish", str(tmp_path / "silver" / "leaderboard.json"), str(runs["2"]), "--to", str(target)
    )
    assert (code, err) == (0, ""), err
    note = load(target)["run"]["data_note"]
    assert note.count("SILVER-standard corpus") == 1 and note.count("supplied by the user") == 1
