"""``harness list models``: the seed's model table, whether each model runs here, and the recipes."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from harness import ModelSpec, hookimpl

from . import fakes

SEED_HEADERS = ["Model", "Params", "Pretraining domain", "Tokenization", "Fine-tuning", "Hardware"]


def _plugin() -> types.ModuleType:
    @hookimpl
    def harness_add_models(register) -> None:
        register.add(
            ModelSpec(
                "tiny-clinical",
                "encoder",
                "full",
                fakes.fit_lookup,
                params=110_000_000,
                pretraining_domain="PubMed + MIMIC-III",
                tokenization="WordPiece",
                hub_id="org/tiny-clinical",
                study="antibiotic indications (seed 000)",
                recipe={"epochs": 5, "lr": 2e-5},
                cpu_recipe={"epochs": 1},
            )
        )
        register.add(ModelSpec("big-gpu", "decoder", "QLoRA", fakes.fit_lookup, requires_cuda=True))

    return types.SimpleNamespace(harness_add_models=harness_add_models)


@pytest.fixture
def listed(run_harness, monkeypatch, tmp_path):
    """Run ``harness list models`` with the fakes and this file's models; return (code, rows by model, notes)."""
    monkeypatch.setattr("harness.core.weights.cuda_present", lambda: False)
    monkeypatch.setenv(
        "HARNESS_DISABLE_PLUGINS", "baselines,encoders,charbyte,decoders,zeroshot,gazetteer"
    )  # fakes only
    monkeypatch.setenv("HARNESS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))

    def run(*args: str):
        code, stdout, stderr = run_harness("list", "models", "--wide", *args, plugins={"listing_test": _plugin()})
        lines = stdout.splitlines()
        rows = {}
        for line in lines:
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            if line.startswith("│") and cells[0] and cells[1]:  # a row's first line (its next: the hub id)
                rows[cells[0]] = cells
        notes = [line for line in lines if line.startswith("(")]
        return code, stdout, rows, notes, stderr

    return run


def test_models_in_the_shape_of_the_seed_table(listed):
    code, stdout, rows, notes, _ = listed()
    assert code == 0
    header = next(line for line in stdout.splitlines() if "Params" in line)
    cells = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert cells == ["Model (hub id)", *SEED_HEADERS[1:], "Runs here", "Recipe from"]
    assert list(rows) == ["lookup", "broken", "gpu-only", "tiny-clinical", "big-gpu"]
    assert rows["tiny-clinical"][1:7] == ["110M", "PubMed + MIMIC-III", "WordPiece", "full", "CPU or GPU", "no (2)"]
    assert rows["tiny-clinical"][7] == "antibiotic indications (seed 000)"
    assert "org/tiny-clinical" in stdout.split("tiny-clinical", 1)[1].splitlines()[1]  # under the name
    assert rows["lookup"][5:8] == ["CPU or GPU", "yes", "–"]
    assert rows["big-gpu"][5] == "CUDA GPU"
    assert notes[1].startswith("(2) weights for org/tiny-clinical not found locally")


def test_one_note_per_distinct_reason(listed):
    _, _, rows, notes, _ = listed()
    assert rows["big-gpu"][6] == rows["gpu-only"][6] == "no (1)"
    assert notes[0] == "(1) needs a CUDA GPU; none found" and len(notes) == 2


def test_weights_found_in_the_models_dir_make_it_run(listed, tmp_path):
    folder = tmp_path / "models" / "tiny-clinical"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"\0")
    _, _, rows, notes, _ = listed()
    assert rows["tiny-clinical"][6] == "no (2)" and "set allow_pickle = true" in notes[1]
    config = tmp_path / "harness.toml"
    config.write_text("[models.tiny-clinical]\nallow_pickle = true\n")
    _, _, rows, _, _ = listed("--config", str(config))
    assert rows["tiny-clinical"][6] == "yes"


def test_recipes_table(listed):
    code, stdout, _, _, _ = listed("--recipes")
    assert code == 0
    recipes = stdout.split("Recipes", 1)[1]
    line = next(line for line in recipes.splitlines() if "tiny-clinical" in line)
    cells = [cell.strip() for cell in line.strip("│").split("│")]
    assert cells == ["tiny-clinical", "epochs=5, lr=2e-05", "epochs=1"]
    assert "epochs=3" in next(line for line in recipes.splitlines() if "lookup" in line)
    assert "Recipes" not in listed()[1]


@pytest.mark.parametrize("extra", [["--recipes"], ["--wide"], ["minilm-l6"]])
def test_model_options_only_go_with_models(run_harness, extra):
    code, stdout, stderr = run_harness("list", "tasks", *extra)
    flag = extra[0] if extra[0].startswith("--") else f"names ({extra[0]})"
    assert code == 2 and stdout == "" and stderr.startswith("harness: error: ")
    assert stderr.strip().endswith(f"{flag} go{'es' if flag.startswith('--') else ''} with `harness list models`")


def test_the_short_roster_fits_80_columns_without_breaking_a_word(run_harness, monkeypatch):
    """A new user's first command: one line per model at 100 columns, and at 80 no word is cut
    (only the fine-tuning regime wraps, between words)."""
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager

    from . import fakes

    specs = list(Hooks(make_plugin_manager({"fakes": fakes})).models().values())
    words = {word for spec in specs for word in (spec.family + " " + spec.fine_tuning_regime).split()}
    for columns, most_lines in (("80", None), ("100", 1)):
        monkeypatch.setenv("COLUMNS", columns)
        code, stdout, _ = run_harness("list", "models", plugins={})
        assert code == 0
        lines = stdout.splitlines()
        assert all(len(line) <= int(columns) for line in lines)
        rows = lines[lines.index(next(line for line in lines if line.split()[:2] == ["Model", "Family"])) + 2 :]
        for spec in specs:
            row = next(line for line in rows if line.split() and line.split()[0] == spec.name)
            assert spec.family in row.split()
        cells = {cell for line in rows for cell in line.split()}
        wrapped = [word for word in words if word not in cells and not any(word in line for line in rows)]
        assert wrapped == []
        if most_lines:  # every model's row is one line: the next line is another model or the end
            names = {spec.name for spec in specs}
            end = next(index for index, line in enumerate(rows) if not line.strip())
            body = rows[:end]
            assert len(body) == len(specs) and {line.split()[0] for line in body} == names
        assert "harness list models NAME" in stdout


def test_reasons_are_grouped_by_kind_with_their_fix(listed, run_harness):
    code, stdout, stderr = run_harness("list", "models", plugins={"listing_test": _plugin()})
    assert code == 0
    note = next(line for line in stdout.splitlines() if line.startswith("(") and "needs a CUDA GPU" in line)
    assert "gpu-only, big-gpu" in note and "→ run on a machine with a CUDA GPU" in note
    row = next(line for line in stdout.splitlines() if line.split()[:1] == ["big-gpu"])
    assert row.split()[-2:] == ["no", note[:3]]


def test_one_models_card_has_every_field_and_the_full_reason(listed, run_harness):
    code, stdout, _ = run_harness("list", "models", "tiny-clinical", plugins={"listing_test": _plugin()})
    assert code == 0
    fields = dict(line.strip().split("  ", 1) for line in stdout.splitlines()[1:])
    fields = {key: value.strip() for key, value in fields.items()}
    assert fields["hub id"] == "org/tiny-clinical" and fields["params"] == "110M"
    assert fields["recipe"] == "epochs=5, lr=2e-05" and fields["on a CPU (--profile default)"] == "epochs=1"
    assert fields["runs here"].startswith("no: weights for org/tiny-clinical not found locally")
    assert "lookup" not in stdout


def test_an_unknown_model_name_is_one_line(run_harness):
    code, stdout, stderr = run_harness("list", "models", "no-such-model")
    assert code == 2 and stdout == ""
    assert "unknown model(s) no-such-model" in stderr and len(stderr.strip().splitlines()) == 1


def test_markup_like_text_is_printed_as_is(run_harness):
    @hookimpl
    def harness_add_models(register) -> None:
        register.add(ModelSpec("bracket", "encoder", "full", fakes.fit_lookup, tokenization="[CLS] WordPiece [red]"))

    plugin = types.SimpleNamespace(harness_add_models=harness_add_models)
    for view in (["--wide"], ["bracket"]):
        code, stdout, _ = run_harness("list", "models", *view, plugins={"bracket_plugin": plugin})
        assert code == 0 and "[CLS] WordPiece [red]" in stdout


def test_seed_table_columns_are_the_seeds():
    # The seed study's model table as its note prints it (cells run together), lines 25-33 of
    # shared/seeds/000_a9ba46bdef66b2a4.txt, kept in the repository so the test runs on every clone.
    seed = Path(__file__).parent / "data" / "seed_study_models_table.txt"
    header = seed.read_text(encoding="utf-8").splitlines()[0]
    assert header == "".join(SEED_HEADERS).replace("domain", "Domain")
