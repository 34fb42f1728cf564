"""The bad-input catalogue, docs/bad-input.md: one case per row, keyed by the row's id.

Each case builds one kind of bad input in a temporary folder and runs the real command line
in-process. The test checks the exit status the row gives (2, or 0 for a warning), that stderr is
the one line the row shows (its fixed text; ``<...>`` in the doc marks the variable parts) naming
the file and the row or key, and that nothing was written. The meta-test checks that the doc's
rows and these cases are the same set, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pytest

from harness import ModelSpec, hookimpl

from . import test_inputs
from .conftest import EXAMPLES, write_split
from .test_inputs import GOOD_ROW, HEADER, probe_lines
from .test_plugins import _module
from .test_weights import EMPTY_SAFETENSORS

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"


# ------------------------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Case:
    """A command line, and what its one line on stderr must name (the file, the row or key)."""

    argv: tuple[str, ...]
    names: tuple[str, ...]
    out: Path | None = None  # the --out folder: must not exist after an error, must hold a leaderboard after a warning
    plugins: dict[str, object] | None = None
    exit: int = 2


@dataclass(frozen=True)
class Setting:
    """What a case may use: its own folder, the tiny data set, monkeypatch, and the command line
    (``run_harness``, for input that a good run makes)."""

    tmp: Path
    tiny_config: Path
    monkeypatch: pytest.MonkeyPatch
    run: Callable[..., tuple[int, str, str]]


CASES: dict[str, Callable[[Setting], Case]] = {}


def case(slug: str) -> Callable[[Callable[[Setting], Case]], Callable[[Setting], Case]]:
    def register(build: Callable[[Setting], Case]) -> Callable[[Setting], Case]:
        assert slug not in CASES, f"two cases named {slug}"
        CASES[slug] = build
        return build

    return register


def run_case(s: Setting, config: Path, *names: str, models: str = "lookup", extra: tuple[str, ...] = ()) -> Case:
    out = s.tmp / "out"
    argv = ("run", "--models", models, "--config", str(config), "--out", str(out), *extra)
    return Case(argv, names, out)


def config_file(s: Setting, body: str, name: str = "bad.toml") -> Path:
    path = s.tmp / name
    path.write_text(body, encoding="utf-8")
    return path


def tiny_plus(s: Setting, body: str) -> Path:
    """The tiny data set's config with more tables after it."""
    return config_file(s, s.tiny_config.read_text(encoding="utf-8") + "\n" + body, "harness.toml")


def from_test_inputs(build: Callable[[Path], tuple[Path, list[str]]]) -> Callable[[Setting], Case]:
    """A case from a builder of tests/test_inputs.py: it returns (config, what the line must hold)."""

    def make(s: Setting) -> Case:
        config, names = build(s.tmp)
        return run_case(s, config, *names)

    return make


for _slug, _build in {
    "missing-file": test_inputs.missing_file,
    "empty-file": test_inputs.empty_file,
    "missing-text-column": test_inputs.missing_text_column,
    "missing-label-column": test_inputs.missing_column,
    "unknown-label": test_inputs.unknown_label,
    "label-not-0-or-1": test_inputs.bad_label_value,
    "empty-text": test_inputs.empty_text,
    "not-utf8": test_inputs.not_utf8,
    "malformed-jsonl-data": test_inputs.malformed_jsonl,
    "malformed-toml": test_inputs.malformed_toml,
    "unknown-config-key": test_inputs.unknown_config_key,
    "unknown-recipe-key": test_inputs.unknown_recipe_key,
    "unknown-task-in-config": test_inputs.unknown_task_in_config,
}.items():
    case(_slug)(from_test_inputs(_build))


def train_file(s: Setting, content: str, name: str = "train.csv", table: str = "") -> Path:
    """A train split holding ``content``; ``table`` adds keys to its [tasks.indications.train]."""
    (s.tmp / name).write_text(content, encoding="utf-8")
    return config_file(s, f'[tasks.indications.train]\npath = "{name}"\n{table}')


# --- data files --------------------------------------------------------------------------------
@case("unsupported-file-type")
def _(s: Setting) -> Case:
    return run_case(s, train_file(s, f"{HEADER}\n{GOOD_ROW}\n", "train.txt"), "train.txt", "'.txt'")


@case("no-data-rows")
def _(s: Setting) -> Case:
    return run_case(s, train_file(s, f"{HEADER}\n"), "train.csv", "no data rows")


@case("jsonl-row-not-an-object")
def _(s: Setting) -> Case:
    return run_case(s, train_file(s, '["uti", 1]\n', "train.jsonl"), "train.jsonl", "line 1", "list")


@case("duplicate-id")
def _(s: Setting) -> Case:
    rows = [f"{row_id},{GOOD_ROW}" for row_id in ("A10", "A11", "A12", "A13", "A12")]
    return run_case(
        s, train_file(s, "\n".join([f"id,{HEADER}", *rows]) + "\n"), "train.csv", "rows 3 and 5", "'A12'", "column 'id'"
    )


@case("missing-id-column")
def _(s: Setting) -> Case:
    config = train_file(s, f"{HEADER}\n{GOOD_ROW}\n", table='id_column = "record"\n')
    return run_case(s, config, "train.csv", "'record'")


@case("train-test-overlap")
def _(s: Setting) -> Case:
    """A warning, not an error: site_a repeats train's strings, site_b does not (so no line; it has
    a row of every label, so no line about a missing label either)."""
    write_split(s.tmp / "data" / "site_b.csv", [(f"{text} (site b)", labels) for text, labels in EXAMPLES])
    config = tiny_plus(s, '[tasks.indications.tests.site_b]\npath = "data/site_b.csv"\n')
    found = run_case(s, config, "tasks.indications", "16 of 17 rows", "'site_a'", extra=("--tasks", "indications"))
    return replace(found, exit=0)


# --- the config ------------------------------------------------------------------------------------
@case("config-not-found")
def _(s: Setting) -> Case:
    return run_case(s, s.tmp / "nowhere.toml", "nowhere.toml", "config file not found")


@case("unknown-config-table")
def _(s: Setting) -> Case:
    return run_case(s, config_file(s, "[model.lookup]\nrecipe = {}\n"), "bad.toml", ": model:", "unknown key")


@case("unknown-split-key")
def _(s: Setting) -> Case:
    config = train_file(s, f"{HEADER}\n{GOOD_ROW}\n", table='txt_column = "text"\n')
    return run_case(s, config, "bad.toml", "tasks.indications.train.txt_column", "unknown key")


@case("split-without-path")
def _(s: Setting) -> Case:
    config = config_file(s, '[tasks.indications.train]\ntext_column = "text"\n')
    return run_case(s, config, "bad.toml", "tasks.indications.train", "'path'")


@case("test-set-named-train")
def _(s: Setting) -> Case:
    config = config_file(s, '[tasks.indications.tests.train]\npath = "t.csv"\n')
    return run_case(s, config, "bad.toml", "tasks.indications.tests.train", "cannot be named")


@case("no-test-set")
def _(s: Setting) -> Case:
    config = config_file(s, "[tasks.indications]\nkeep_embedded_tests = false\n")
    return run_case(s, config, "bad.toml", "tasks.indications", "no test set")


@case("bad-evidence-setting")
def _(s: Setting) -> Case:
    tiny = s.tiny_config.read_text(encoding="utf-8")
    config = config_file(s, tiny.replace("keep_embedded_tests = false", "keep_embedded_tests = false\nalpha = 2"))
    return run_case(s, config, "bad.toml", "tasks.indications.alpha", "got 2")


@case("bad-robustness-setting")
def _(s: Setting) -> Case:
    config = tiny_plus(s, "[tasks.robustness]\nvariants = 0\n")
    return run_case(s, config, "harness.toml", "tasks.robustness.variants", extra=("--tasks", "indications,robustness"))


SERVED = '[models.remote-llm]\nplugin = "openai-compatible"\nmodel = "llama"\n'


@case("served-host-not-allowed")
def _(s: Setting) -> Case:
    body = SERVED + 'base_url = "http://10.0.0.7:8000/v1"\nallowed_hosts = ["gpu-node.local"]\n'
    return run_case(s, config_file(s, body), "bad.toml", "models.remote-llm.base_url", "'10.0.0.7'")


@case("served-key-in-config")
def _(s: Setting) -> Case:
    body = SERVED + 'base_url = "http://127.0.0.1:8000/v1"\napi_key = "sk-do-not-put-me-here"\n'
    return run_case(s, config_file(s, body), "bad.toml", "models.remote-llm.api_key", "never read")


@case("unknown-model-plugin")
def _(s: Setting) -> Case:
    body = '[models.remote-llm]\nplugin = "openai"\n'
    return run_case(s, config_file(s, body), "bad.toml", "models.remote-llm.plugin", "unknown model plugin")


@case("unknown-model-in-config")
def _(s: Setting) -> Case:
    return run_case(
        s, config_file(s, "[models.lookup-xl]\nrecipe = {}\n"), "bad.toml", "models.lookup-xl", "unknown model"
    )


@case("bad-opt-in")
def _(s: Setting) -> Case:
    return run_case(s, config_file(s, "[models.lookup]\nallow_pickle = 1\n"), "bad.toml", "models.lookup.allow_pickle")


@case("bad-class-weighting")
def _(s: Setting) -> Case:
    config = config_file(s, '[models.tfidf-lr]\nrecipe = { class_weight = "heavy" }\n')
    return run_case(s, config, "bad.toml", "models.tfidf-lr.recipe.class_weight", models="tfidf-lr")


@case("unknown-search-key")
def _(s: Setting) -> Case:
    config = config_file(s, "[models.tfidf-lr]\nsearch = { Cc = [1, 10] }\n")
    return run_case(s, config, "bad.toml", "models.tfidf-lr.search.Cc", "char_ngram_max", models="tfidf-lr")


@case("bad-search-entry")
def _(s: Setting) -> Case:
    config = config_file(s, "[models.tfidf-lr]\nsearch = { C = 5 }\n")
    return run_case(s, config, "bad.toml", "models.tfidf-lr.search.C", "set it in recipe", models="tfidf-lr")


@case("bad-search-range")
def _(s: Setting) -> Case:
    config = config_file(s, "[models.tfidf-lr]\nsearch = { C = { log_uniform = [0, 10] } }\n")
    return run_case(s, config, "bad.toml", "models.tfidf-lr.search.C.log_uniform", "low > 0", models="tfidf-lr")


@case("bad-search-choice")
def _(s: Setting) -> Case:
    config = config_file(s, '[models.tfidf-lr]\nsearch = { class_weight = ["none", "heavy"] }\n')
    return run_case(s, config, "bad.toml", "models.tfidf-lr.search.class_weight", "'heavy'", models="tfidf-lr")


@case("recipe-outside-search-space")
def _(s: Setting) -> Case:
    config = config_file(s, "[models.char-gbt]\nsearch = { learning_rate = { int = [1, 3] } }\n")
    return run_case(
        s, config, "bad.toml", "models.char-gbt.search.learning_rate", "0.2", models="char-gbt", extra=("--tune", "2")
    )


@case("bad-tune-budget")
def _(s: Setting) -> Case:
    return command_line(s, "--models", "lookup", "--tune-time", "20 minutes", names=("--tune-time", "'20 minutes'"))


@case("unknown-resource")
def _(s: Setting) -> Case:
    config = config_file(s, "[models.lookup]\nresources = { gpu = 1 }\n")
    return run_case(s, config, "bad.toml", "models.lookup.resources.gpu", "unknown resource")


@case("bad-resource-amount")
def _(s: Setting) -> Case:
    config = config_file(s, "[models.lookup]\nresources = { gpus = 1.5 }\n")
    return run_case(s, config, "bad.toml", "models.lookup.resources.gpus", "1.5")


# --- the command line --------------------------------------------------------------------------
def command_line(s: Setting, *argv: str, names: tuple[str, ...]) -> Case:
    out = s.tmp / "out"
    return Case(("run", "--config", str(s.tiny_config), "--out", str(out), *argv), names, out)


@case("unknown-model-name")
def _(s: Setting) -> Case:
    return command_line(s, "--models", "lookup,lokup", names=("lokup", "known:"))


@case("unknown-task-name")
def _(s: Setting) -> Case:
    return command_line(s, "--models", "lookup", "--tasks", "indicatons", names=("indicatons", "known:"))


@case("bad-selection-expression")
def _(s: Setting) -> Case:
    return command_line(s, "--models", "lookup", "-k", "lookup and", names=("'lookup and'",))


# --- --train-sizes (learning curves; the tiny data set has 32 training rows and 12 labels) ----------
def sizes(s: Setting, text: str, *names: str, tasks: str = "indications") -> Case:
    return command_line(s, "--models", "lookup", "--tasks", tasks, f"--train-sizes={text}", names=names)


@case("train-sizes-unparseable")
def _(s: Setting) -> Case:
    return sizes(s, "100,lots", "--train-sizes '100,lots'", "'lots'")


@case("train-sizes-zero")
def _(s: Setting) -> Case:
    return sizes(s, "0,16", "--train-sizes '0,16'", "0 is not a size")


@case("train-sizes-negative")
def _(s: Setting) -> Case:
    return sizes(s, "-8,16", "--train-sizes '-8,16'", "-8 is not a size")


@case("train-sizes-fraction-out-of-range")
def _(s: Setting) -> Case:
    return sizes(s, "0.5,1.5", "1.5 is not a size", "between 0 and 1")


@case("train-sizes-duplicated")
def _(s: Setting) -> Case:
    return sizes(s, "16,24,16", "16 is given twice")


@case("train-sizes-same-rows")
def _(s: Setting) -> Case:
    return sizes(s, "16,32,all", "all and 32 are both 32 rows", "task 'indications'")


@case("train-sizes-mixed")
def _(s: Setting) -> Case:
    return sizes(s, "0.5,16", "mixes a fraction (0.5) and a count (16)")


@case("train-sizes-larger-than-train")
def _(s: Setting) -> Case:
    return sizes(s, "16,64", "64 is more rows", "task 'indications' has (32)")


@case("train-sizes-too-small-for-labels")
def _(s: Setting) -> Case:
    return sizes(s, "4,16", "4 rows of task 'indications'", "(seed 42)", "is in none of them", "at least 11 rows")


@case("train-sizes-tagging-task")
def _(s: Setting) -> Case:
    return sizes(s, "100,all", "task 'ner' tags tokens", "drop ner from --tasks", tasks="ner")


@case("train-sizes-no-training-task")
def _(s: Setting) -> Case:
    return sizes(s, "16,all", "no selected task trains a classifier", "probe", tasks="probe")


@case("bad-learning-curve-tolerance")
def _(s: Setting) -> Case:
    tiny = s.tiny_config.read_text(encoding="utf-8")
    body = tiny.replace("keep_embedded_tests = false", "keep_embedded_tests = false\nlearning_curve_tolerance = 1.5")
    return run_case(s, config_file(s, body), "bad.toml", "tasks.indications.learning_curve_tolerance", "got 1.5")


@case("ray-not-installed")
def _(s: Setting) -> Case:
    s.monkeypatch.setitem(sys.modules, "ray", None)  # importing it raises ImportError, as without Ray
    return command_line(s, "--models", "lookup", "--executor", "ray", names=("--executor ray", "clinical-harness[ray]"))


@case("bad-ray-address")
def _(s: Setting) -> Case:
    return command_line(s, "--executor", "ray", "--ray-address", "head-node", names=("--ray-address", "'head-node'"))


@case("no-ray-cluster-at-address")
def _(s: Setting) -> Case:
    return command_line(s, "--executor", "ray", "--ray-address", "127.0.0.1:1", names=("127.0.0.1:1", "ray start"))


@case("ray-address-without-ray-executor")
def _(s: Setting) -> Case:
    return command_line(s, "--ray-address", "auto", names=("--ray-address", "--executor ray"))


# --- probe files ----------------------------------------------------------------------------------
PROBE_CASE = {"id": "mine-1", "input": "uti", "expected": ["urinary"], "kind": "own"}


def probe_case(s: Setting, lines: list[str], *names: str) -> Case:
    probe = probe_lines(s.tmp, "\n".join(lines) + "\n")
    return command_line(
        s,
        "--models",
        "lookup",
        "--tasks",
        "indications,probe",
        "--probe-file",
        str(probe),
        names=("probe.jsonl", *names),
    )


def probe_json(**changes: object) -> str:
    return json.dumps({**PROBE_CASE, **changes})


@case("malformed-probe-jsonl")
def _(s: Setting) -> Case:
    return probe_case(s, [probe_json(), '{"id": "mine-2", "input": "cap"'], "line 2", "JSON")


@case("probe-unknown-category")
def _(s: Setting) -> Case:
    return probe_case(s, [probe_json(expected=["kidney"])], "line 1", "'kidney'")


@case("probe-bad-value")
def _(s: Setting) -> Case:
    return probe_case(s, [probe_json(expected="urinary")], "line 1", "'expected'")


@case("probe-unknown-key")
def _(s: Setting) -> Case:
    return probe_case(s, [probe_json(note="check")], "line 1", "note")


@case("probe-empty-input")
def _(s: Setting) -> Case:
    return probe_case(s, [probe_json(input="  ")], "line 1", "empty input")


@case("duplicate-probe-id")
def _(s: Setting) -> Case:
    return probe_case(s, [probe_json(), probe_json(input="cap")], "'mine-1'")


# --- the ner task's files -----------------------------------------------------------------------------
NER_TRAIN = "aspirin\tB-Chemical\ntreats\tO\nheadache\tB-Disease\n"


def ner_case(s: Setting, name: str, content: str, *names: str) -> Case:
    """The ``ner`` task with a good train/eval split and the test set ``name`` holding ``content``."""
    (s.tmp / "train.conll").write_text(NER_TRAIN, encoding="utf-8")
    (s.tmp / name).write_text(content, encoding="utf-8")
    config = config_file(
        s,
        '[tasks.ner]\ntrain = "train.conll"\neval = "train.conll"\nkeep_embedded_tests = false\n'
        f'[tasks.ner.tests.ward]\npath = "{name}"\n',
    )
    return run_case(s, config, name, *names, models="gazetteer", extra=("--tasks", "ner"))


@case("ner-not-iob2")
def _(s: Setting) -> Case:
    return ner_case(s, "bad.conll", NER_TRAIN.replace("B-Disease", "I-Disease"), "line 3", "'I-Disease'")


@case("ner-unknown-entity-type")
def _(s: Setting) -> Case:
    return ner_case(s, "gene.conll", "gene\tB-Gene\n", "'Gene'")


@case("ner-span-off-token-boundary")
def _(s: Setting) -> Case:
    line = {"text": "aspirin treats", "entities": [{"start": 0, "end": 5, "label": "Chemical"}]}
    return ner_case(s, "off.jsonl", json.dumps(line) + "\n", "line 1", "0-5")


@case("ner-jsonl-unknown-key")
def _(s: Setting) -> Case:
    return ner_case(s, "key.jsonl", json.dumps({"text": "aspirin", "spans": []}) + "\n", "line 1", "'spans'")


# --- weights ---------------------------------------------------------------------------------------
def safetensors_bytes(tensors: dict[str, tuple[int, int]], data: int) -> bytes:
    """A safetensors file: F32 tensors at the given data offsets, followed by ``data`` bytes."""
    header = {
        name: {"dtype": "F32", "shape": [(end - begin) // 4], "data_offsets": [begin, end]}
        for name, (begin, end) in tensors.items()
    }
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * data


def weights_case(s: Setting, files: dict[str, bytes | None], *names: str, model: str = "minilm-l6") -> Case:
    """A real model (``[models.NAME] weights``) pointed at a folder holding ``files``, and a
    config.json unless ``files`` maps it to None."""
    folder = s.tmp / "weights"
    folder.mkdir()
    for name, content in {"config.json": b'{"model_type": "bert"}', **files}.items():
        if content is not None:
            (folder / name).write_bytes(content)
    config = tiny_plus(s, f'[models.{model}]\nweights = "weights"\n')
    return run_case(s, config, *names, models=model, extra=("--tasks", "indications"))


@case("truncated-weights")
def _(s: Setting) -> Case:
    # a download cut short: the header promises 4,000 bytes of data, 1,200 arrived
    cut = safetensors_bytes({"embeddings.weight": (0, 4000)}, 1200)
    return weights_case(s, {"model.safetensors": cut}, "model.safetensors", "4,000", "1,200")


@case("weights-not-safetensors")
def _(s: Setting) -> Case:
    page = b"<html><body>502 Bad Gateway</body></html>"  # a proxy's error page, saved as the weights
    return weights_case(s, {"model.safetensors": page}, "model.safetensors", "b'<html><b'")


@case("corrupt-weights-header")
def _(s: Setting) -> Case:
    broken = struct.pack("<Q", 30) + b'{"embeddings.weight": {"dtype"' + b"\0" * 64  # the JSON cut off
    return weights_case(s, {"model.safetensors": broken}, "model.safetensors", "not JSON")


@case("missing-weight-shard")
def _(s: Setting) -> Case:
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    files = {
        "model.safetensors.index.json": json.dumps(index).encode(),
        "model-00001-of-00002.safetensors": EMPTY_SAFETENSORS,
    }
    return weights_case(s, files, "model.safetensors.index.json", "'model-00002-of-00002.safetensors'")


@case("not-a-gguf-file")
def _(s: Setting) -> Case:
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager

    gguf = Hooks(make_plugin_manager()).models()["smollm2-135m-lora"].weights_file
    return weights_case(
        s, {"config.json": None, gguf: b"<html>404 Not Found</html>"}, gguf, "GGUF", model="smollm2-135m-lora"
    )


# --- leaderboards ------------------------------------------------------------------------------------
@case("leaderboard-schema")
def _(s: Setting) -> Case:
    made = s.tmp / "made"
    code, _, stderr = s.run(
        "run", "--models", "lookup", "--tasks", "indications", "--config", str(s.tiny_config), "--out", str(made)
    )
    assert code == 0, stderr
    document = json.loads((made / "leaderboard.json").read_text(encoding="utf-8"))
    del document["run"]["seeds"]
    path = s.tmp / "board.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return Case(("validate", str(path)), ("board.json", "run", "'seeds'"))


@case("leaderboard-not-json")
def _(s: Setting) -> Case:
    path = s.tmp / "board.json"
    path.write_text('{"schema_version": 1,\n "run": }\n', encoding="utf-8")
    return Case(("validate", str(path)), ("board.json", "line 2"))


# --- plugins -------------------------------------------------------------------------------------------
def plugin_case(name: str, **hooks: object) -> Case:
    return Case(("list", "models"), (f"'{name}'",), plugins={name: _module(name, **hooks)})


@case("plugin-unknown-hook")
def _(s: Setting) -> Case:
    @hookimpl
    def harness_add_model(register):  # the hook is harness_add_models
        pass

    found = plugin_case("typo_plugin", harness_add_model=harness_add_model)
    return replace(found, names=(*found.names, "'harness_add_model'"))


@case("plugin-bad-signature")
def _(s: Setting) -> Case:
    @hookimpl
    def harness_add_models(registry):  # the argument is called 'register'
        pass

    found = plugin_case("sig_plugin", harness_add_models=harness_add_models)
    return replace(found, names=(*found.names, "harness_add_models", "registry"))


@case("plugin-duplicate-model")
def _(s: Setting) -> Case:
    @hookimpl
    def harness_add_models(register):
        register.add(ModelSpec("lookup", "fake", "memorise", fit=lambda request: None))

    found = plugin_case("dup_plugin", harness_add_models=harness_add_models)
    return replace(found, names=(*found.names, "'lookup'", "'fakes'"))


@case("plugin-broken-entry-point")
def _(s: Setting) -> Case:
    (s.tmp / "broken_plugin.py").write_text("raise ImportError('needs a library that is not installed')\n")
    dist = s.tmp / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[harness]\nbroken = broken_plugin\n")
    s.monkeypatch.syspath_prepend(str(s.tmp))
    return Case(("list", "models"), ("'broken'", "broken_plugin", "not installed"))


# --- a classification task of your own (issue 14) ---------------------------------------------
SMOKING_ROWS = "id,note,status\nr1,current smoker,current\nr2,quit in 2009,former\nr3,never smoked,never\n"


def own_task(s: Setting, keys: str = "", files: dict[str, str | bytes] | None = None, tail: str = "") -> Path:
    """A config with [tasks.smoking], a multi-class task on three small CSVs (changed by ``files``)."""
    written = {"train.csv": SMOKING_ROWS, "eval.csv": SMOKING_ROWS, "test.csv": SMOKING_ROWS, **(files or {})}
    for name, content in written.items():
        path = s.tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    body = (
        '[tasks.smoking]\nkind = "classification"\nproblem = "multi-class"\n'
        'train = { path = "train.csv", text_column = "note", label_column = "status" }\n'
        f'eval = "eval.csv"\n{keys}[tasks.smoking.tests.internal]\npath = "test.csv"\n{tail}'
    )
    return config_file(s, body)


def own_case(s: Setting, config: Path, *names: str, tasks: str = "smoking") -> Case:
    return run_case(s, config, *names, models="tfidf-lr", extra=("--tasks", tasks))


@case("unknown-task-kind")
def _(s: Setting) -> Case:
    config = config_file(s, '[tasks.smoking]\nkind = "regression"\n')
    return own_case(s, config, "bad.toml", "tasks.smoking.kind", "'regression'")


@case("unknown-problem")
def _(s: Setting) -> Case:
    config = own_task(s).read_text().replace('"multi-class"', '"multiclass"')
    return own_case(s, config_file(s, config), "bad.toml", "tasks.smoking.problem", "'multiclass'")


@case("bad-task-name")
def _(s: Setting) -> Case:
    config = own_task(s).read_text().replace("tasks.smoking", "tasks.Smoking")
    return own_case(s, config_file(s, config), "bad.toml", "tasks.Smoking", "lower-case", tasks="indications")


@case("unknown-task-key")
def _(s: Setting) -> Case:
    return own_case(s, own_task(s, 'label_colum = "status"\n'), "bad.toml", "tasks.smoking.label_colum", "unknown key")


@case("no-label-column-named")
def _(s: Setting) -> Case:
    config = own_task(s).read_text().replace(', label_column = "status"', "")
    return own_case(s, config_file(s, config), "bad.toml", "tasks.smoking.train", "label_column")


@case("label-column-missing")
def _(s: Setting) -> Case:
    config = own_task(s, files={"eval.csv": SMOKING_ROWS.replace(",status", ",smoking")})
    return own_case(s, config, "eval.csv", "missing column", "'status'")


@case("several-labels-in-multi-class")
def _(s: Setting) -> Case:
    config = own_task(s, files={"train.csv": SMOKING_ROWS.replace("quit in 2009,former", "quit,former;current")})
    return own_case(s, config, "train.csv", "row 2", "'former;current'")


@case("unseen-test-label")
def _(s: Setting) -> Case:
    config = own_task(s, files={"test.csv": SMOKING_ROWS.replace("never smoked,never", "passive smoke,passive")})
    return own_case(s, config, "test.csv", "row 3", "'passive'")


@case("labels-not-in-train")
def _(s: Setting) -> Case:
    config = own_task(s, 'labels = ["current", "former", "never", "unknown"]\n')
    return own_case(s, config, "bad.toml", "tasks.smoking.labels", "'unknown'", "train.csv")


@case("label-description-of-unknown-label")
def _(s: Setting) -> Case:
    config = own_task(s, 'label_descriptions = { currant = "current smoker" }\n')
    return own_case(s, config, "bad.toml", "tasks.smoking.label_descriptions.currant", "unknown label")


@case("unknown-primary-metric")
def _(s: Setting) -> Case:
    return own_case(s, own_task(s, 'primary_metric = "f1"\n'), "bad.toml", "tasks.smoking.primary_metric", "'f1'")


@case("unknown-format")
def _(s: Setting) -> Case:
    config = own_task(s).read_text().replace('eval = "eval.csv"', 'eval = { path = "eval.csv", format = "xlsx" }')
    return own_case(s, config_file(s, config), "bad.toml", "tasks.smoking.eval.format", "'xlsx'")


BINARY = "id,sentence,ade\nr1,rash on amoxicillin,yes\nr2,amoxicillin for CAP,no\nr3,AKI after gentamicin,yes\n"


def binary_task(s: Setting, rows: str, keys: str = "") -> Path:
    for name in ("train.csv", "eval.csv", "test.csv"):
        (s.tmp / name).write_text(BINARY if name != "test.csv" else rows, encoding="utf-8")
    return config_file(
        s,
        '[tasks.ade]\nkind = "classification"\nproblem = "binary"\n'
        f'train = {{ path = "train.csv", text_column = "sentence", label_column = "ade" }}\n{keys}'
        'eval = "eval.csv"\n[tasks.ade.tests.internal]\npath = "test.csv"\n',
    )


@case("binary-value-not-yes-or-no")
def _(s: Setting) -> Case:
    config = binary_task(s, BINARY.replace("for CAP,no", "for CAP,maybe"))
    return own_case(s, config, "test.csv", "row 2", "'maybe'", tasks="ade")


@case("binary-third-value")
def _(s: Setting) -> Case:
    rows = BINARY.replace(",yes", ",ade").replace(",no", ",none")
    config = binary_task(s, rows.replace("gentamicin,ade", "gentamicin,unsure"), 'positive_label = "ade"\n')
    for name in ("train.csv", "eval.csv"):
        (s.tmp / name).write_text(rows, encoding="utf-8")
    return own_case(s, config, "test.csv", "row 3", "'unsure'", tasks="ade")


@case("empty-text-pair")
def _(s: Setting) -> Case:
    good = '{"premise": "CXR shows consolidation", "hypothesis": "pneumonia", "label": "entailment"}\n'
    bad = '{"premise": "afebrile", "hypothesis": " ", "label": "neutral"}\n'
    for name, content in {"train.jsonl": good + bad, "eval.jsonl": good, "test.jsonl": good}.items():
        (s.tmp / name).write_text(content, encoding="utf-8")
    config = config_file(
        s,
        '[tasks.nli]\nkind = "classification"\nproblem = "multi-class"\ntext_column = "premise"\n'
        'text_pair_column = "hypothesis"\nlabel_column = "label"\ntrain = "train.jsonl"\neval = "eval.jsonl"\n'
        '[tasks.nli.tests.internal]\npath = "test.jsonl"\n',
    )
    return own_case(s, config, "train.jsonl", "row 2", "'hypothesis'", tasks="nli")


@case("not-parquet")
def _(s: Setting) -> Case:
    config = own_task(
        s, files={"site_b.parquet": SMOKING_ROWS}, tail='[tasks.smoking.tests.site_b]\npath = "site_b.parquet"\n'
    )
    return own_case(s, config, "site_b.parquet", "not a Parquet file")


@case("probe-without-cases-for-task")
def _(s: Setting) -> Case:
    return own_case(s, own_task(s), "tasks.probe", "'smoking'", "--probe-file", tasks="smoking,probe")


@case("follow-unknown-task")
def _(s: Setting) -> Case:
    config = own_task(s, tail='[tasks.robustness]\ntask = "smokin"\n')
    return own_case(s, config, "bad.toml", "tasks.robustness.task", "'smokin'", tasks="smoking,robustness")


# --- labels and input shapes of a task of your own (issue 22) ----------------------------------
@case("label-spellings-differ")
def _(s: Setting) -> Case:
    config = own_task(s, files={"eval.csv": SMOKING_ROWS + "r4,smokes daily,Current\n"})  # 'current' capitalised
    return own_case(s, config, "eval.csv", "row 4", "'Current'", "'current'", "row 1 of", "train.csv", "label_map")


@case("label-names-differ-in-case")
def _(s: Setting) -> Case:
    config = own_task(s, 'labels = ["current", "former", "never", "Never"]\n')
    return own_case(s, config, "bad.toml", "tasks.smoking.labels", "'never'", "'Never'")


@case("bad-label-map")
def _(s: Setting) -> Case:
    config = own_task(s, "label_map = { Current = 1 }\n")
    return own_case(s, config, "bad.toml", "tasks.smoking.label_map", "'Current': 1")


@case("no-positive-in-train-column")
def _(s: Setting) -> Case:
    (s.tmp / "train.csv").write_text("note,urinary,respiratory\nuti,1,0\npyelo,1,0\n", encoding="utf-8")
    (s.tmp / "test.csv").write_text("note,urinary,respiratory\ncap,0,1\n", encoding="utf-8")
    config = config_file(
        s,
        '[tasks.sources]\nkind = "classification"\nproblem = "multi-label"\ntext_column = "note"\n'
        'label_columns = ["urinary", "respiratory"]\ntrain = "train.csv"\neval = "train.csv"\n'
        '[tasks.sources.tests.internal]\npath = "test.csv"\n',
    )
    return own_case(s, config, "train.csv", "'respiratory'", "no row with 1", tasks="sources")


@case("list-of-labels-in-multi-class")
def _(s: Setting) -> Case:
    rows = [
        {"note": "current smoker", "status": "current"},
        {"note": "quit, restarted", "status": ["former", "current"]},
    ]
    (s.tmp / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = own_task(s).read_text().replace('path = "train.csv"', 'path = "train.jsonl"')
    return own_case(s, config_file(s, config), "train.jsonl", "row 2", "list of 2 labels", "['former', 'current']")


@case("probe-multi-class-expects-one-label")
def _(s: Setting) -> Case:
    probe = s.tmp / "probe.jsonl"
    probe.write_text(json.dumps({"id": "s-1", "input": "smokes", "expected": [], "kind": "own"}) + "\n")
    config = own_task(s, 'probe_file = "probe.jsonl"\n')
    return own_case(s, config, "probe.jsonl", "line 1", "'expected' is []", "multi-class", tasks="smoking,probe")


@case("bad-delimiter")
def _(s: Setting) -> Case:
    config = own_task(s).read_text().replace('label_column = "status"', 'label_column = "status", delimiter = ";;"')
    return own_case(s, config_file(s, config), "bad.toml", "tasks.smoking.train.delimiter", "';;'")


@case("semicolon-separated-csv")
def _(s: Setting) -> Case:
    config = own_task(s, files={"train.csv": SMOKING_ROWS.replace(",", ";")})
    return own_case(s, config, "train.csv", "'note'", "semicolon-separated", "tasks.smoking.train.delimiter")


@case("test-set-lacks-a-label")
def _(s: Setting) -> Case:
    """A warning: the test set (no string of it in train, so no overlap line) has no 'never' row."""
    config = own_task(s, files={"test.csv": "id,note,status\nt1,smokes 20 a day,current\nt2,stopped 1999,former\n"})
    found = own_case(s, config, "tasks.smoking", "test set 'internal'", "'never'")
    return replace(found, exit=0)


@case("errors-data-changed")
def _(s: Setting) -> Case:
    """harness errors reads text only from the file the run scored: a changed file is refused."""
    made = s.tmp / "made"
    code, _, stderr = s.run(
        "run", "--models", "lookup", "--tasks", "indications", "--config", str(s.tiny_config), "--out", str(made)
    )
    assert code == 0, stderr
    site = s.tiny_config.parent / "data" / "site_a.csv"
    site.write_text(site.read_text(encoding="utf-8") + "uti again,1,0,0,0,0,0,0,0,0,0,0,0\n", encoding="utf-8")
    return Case(("errors", str(made)), ("site_a.csv", "changed since the run"))


@case("publish-private-page")
def _(s: Setting) -> Case:
    """A page of harness show --private holds patient text: publish refuses it as an input."""
    made = s.tmp / "made"
    code, _, stderr = s.run(
        "run", "--models", "lookup", "--tasks", "indications", "--config", str(s.tiny_config), "--out", str(made)
    )
    assert code == 0, stderr
    page = s.tmp / "errors.html"
    code, _, stderr = s.run("show", str(made), "--format", "html", "--private", "--output", str(page))
    assert code == 0, stderr
    return Case(("publish", str(page), "--to", str(s.tmp / "board.json")), ("errors.html", "private page"))


@case("bad-privacy-setting")
def _(s: Setting) -> Case:
    return run_case(s, tiny_plus(s, "[privacy]\nmin_cell_count = -1\n"), "privacy.min_cell_count", "-1")


# ------------------------------------------------------------------------------------ the doc
@dataclass(frozen=True)
class Row:
    slug: str
    example: str  # what the user sees, with <...> for the parts that vary
    exit: int

    def pattern(self) -> re.Pattern[str]:
        fixed = re.split(r"<[^<>]+>", self.example)
        return re.compile(".+?".join(map(re.escape, fixed)))


@cache
def doc_rows() -> dict[str, Row]:
    """The catalogue table: ``| `slug` | what is wrong | `example` | exit |`` rows."""
    rows: dict[str, Row] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[a-z0-9-]+`", cells[0]):
            continue
        slug, example = cells[0].strip("`"), cells[2]
        assert slug not in rows, f"{slug} twice in {DOC.name}"
        assert example.startswith("`") and example.endswith("`"), f"{slug}: the example is not one code span"
        rows[slug] = Row(slug, example.strip("`"), int(cells[3]))
    return rows


def test_the_catalogue_and_the_cases_are_the_same_set():
    assert set(doc_rows()) == set(CASES)


@pytest.mark.parametrize("slug", list(CASES))
def test_bad_input(slug, run_harness, tmp_path, tiny_config, monkeypatch):
    setting = Setting(tmp_path, tiny_config, monkeypatch, run_harness)
    made = CASES[slug](setting)
    code, stdout, stderr = run_harness(*made.argv, plugins=made.plugins)
    assert code == made.exit, stderr
    lines = stderr.strip().splitlines()
    if made.exit == 2:
        (line,) = lines  # one line, and it is the error: no warning, no traceback
        assert line.startswith("harness: error: ")
        assert stdout == ""
        assert made.out is None or not made.out.exists()  # nothing half-written
    else:
        assert not any(other.startswith("harness: error:") for other in lines)
        (line,) = [other for other in lines if other.startswith("harness: warning: ")]  # one test set overlaps
        assert (made.out / "leaderboard.json").is_file()  # the run went on to the end
    for name in made.names:
        assert name in line, f"{name!r} not in {line!r}"
    row = doc_rows().get(slug)
    assert row is not None, f"{DOC.name} has no row {slug!r}; the case printed {line!r}"
    assert row.exit == code
    assert row.pattern().fullmatch(line), f"{line!r} does not have the shape of the doc's {row.example!r}"
