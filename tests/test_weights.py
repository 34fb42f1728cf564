"""The offline weights search: each place in order, precedence, the pickle opt-in, and a run that
never touches the network."""

from __future__ import annotations

import os
import socket
import struct
import sys
import types
from pathlib import Path

import pytest

from harness import ModelSpec, hookimpl
from harness.core.weights import MODELS_DIR_ENV, WeightOptions, find_weights, search_weights, skip_reason

from . import fakes
from .conftest import read_leaderboard

HUB_ID = "org/tiny-bert"
PACKAGE = "fake_weights_pkg"


def spec(**changes) -> ModelSpec:
    fields = {"hub_id": HUB_ID, "packaged_weights": f"{PACKAGE}/model"}
    return ModelSpec("tiny-bert", "fake", "full", fakes.fit_lookup, **{**fields, **changes})


# The smallest valid safetensors file: an 8-byte header length, then the header "{}" (no tensors).
# The weights found are checked from their headers, so a dummy must be well formed.
EMPTY_SAFETENSORS = struct.pack("<Q", 2) + b"{}"


def hf_folder(folder: Path, *, weights: str | None = "model.safetensors", config: bool = True) -> Path:
    """A Hugging Face model folder: config.json and a (dummy) weights file."""
    folder.mkdir(parents=True, exist_ok=True)
    if config:
        (folder / "config.json").write_text('{"model_type": "bert"}')
    if weights:
        (folder / weights).write_bytes(EMPTY_SAFETENSORS if weights.endswith(".safetensors") else b"\0" * 8)
    return folder


def hf_cache_snapshot(cache: Path, hub_id: str, revision: str, files: dict[str, bytes], main: bool = True) -> Path:
    """The layout huggingface_hub writes: files in blobs/, symlinked from snapshots/<revision>/."""
    repo = cache / ("models--" + hub_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, content in files.items():
        blob = repo / "blobs" / f"{revision}-{name}"
        blob.write_bytes(content)
        (snapshot / name).symlink_to(blob)
    if main:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
    return snapshot


COMPLETE = {"config.json": b"{}", "model.safetensors": b"\0"}


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Empty stand-ins for every place the search looks in."""
    models, cache, site = tmp_path / "models", tmp_path / "hf-cache", tmp_path / "site"
    for folder in (models, cache, site):
        folder.mkdir()
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.syspath_prepend(str(site))
    return types.SimpleNamespace(models=models, cache=cache, site=site, root=tmp_path)


def install_package(site: Path) -> Path:
    """A package holding weights; importing it would fail, so the search must not import it."""
    package = site / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('the weights search imported the package')\n")
    return hf_folder(package / "model")


# --- each place ---------------------------------------------------------------------------------


def test_nothing_found_names_every_place_looked_in(places) -> None:
    reason = skip_reason(spec())
    assert reason == (
        f"weights for {HUB_ID} not found locally (looked in: {places.models / 'tiny-bert'}; "
        f"Hugging Face cache ({places.cache}); Python package {PACKAGE})"
    )


def test_models_dir(places) -> None:
    folder = hf_folder(places.models / "tiny-bert")
    assert find_weights(spec()) == (folder, [str(folder)])
    assert skip_reason(spec()) is None


def test_hf_cache_uses_the_snapshot_refs_main_names(places) -> None:
    hf_cache_snapshot(places.cache, HUB_ID, "0000old", COMPLETE, main=False)
    current = hf_cache_snapshot(places.cache, HUB_ID, "ffffnew", COMPLETE)
    assert search_weights(spec()).folder == current


def test_hf_cache_falls_back_to_a_complete_snapshot(places) -> None:
    complete = hf_cache_snapshot(places.cache, HUB_ID, "aaaa", COMPLETE, main=False)
    hf_cache_snapshot(places.cache, HUB_ID, "bbbb", {"config.json": b"{}"})  # refs/main: an interrupted download
    assert search_weights(spec()).folder == complete


def test_packaged_weights_are_found_without_importing_the_package(places) -> None:
    folder = install_package(places.site)
    assert search_weights(spec()).folder == folder
    assert PACKAGE not in sys.modules


@pytest.mark.parametrize(
    "files",
    [{"config.json": "{}"}, {"model.safetensors": ""}, {"config.json": "{}", "model.onnx": ""}],
    ids=["config-only", "weights-without-config", "onnx"],
)
def test_incomplete_folders_do_not_count(places, files) -> None:
    folder = places.models / "tiny-bert"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_text(content)
    assert search_weights(spec()).folder is None


@pytest.mark.parametrize("weights", ["model.safetensors.index.json", "adapter_model.safetensors"])
def test_sharded_and_adapter_safetensors_count(places, weights) -> None:
    folder = hf_folder(places.models / "tiny-bert", weights=weights)
    assert search_weights(spec()).folder == folder


def test_single_file_gguf_checkpoint(places) -> None:
    gguf = spec(weights_file="tiny.Q4_1.gguf", packaged_weights=f"{PACKAGE}/")
    package = places.site / PACKAGE
    package.mkdir()
    (package / "tiny.Q4_1.gguf").write_bytes(b"GGUF")  # no config.json: the GGUF is the whole model
    assert search_weights(gguf).folder == package
    assert search_weights(spec(packaged_weights=f"{PACKAGE}/")).folder is None  # without weights_file: nothing
    in_models_dir = places.models / "tiny-bert"
    in_models_dir.mkdir()
    (in_models_dir / "tiny.Q4_1.gguf").write_bytes(b"GGUF")
    assert search_weights(gguf).folder == in_models_dir


# --- precedence ---------------------------------------------------------------------------------


def test_each_place_wins_over_the_ones_after_it(places) -> None:
    explicit = hf_folder(places.root / "explicit")
    in_models_dir = hf_folder(places.models / "tiny-bert")
    cached = hf_cache_snapshot(places.cache, HUB_ID, "abcd", COMPLETE)
    packaged = install_package(places.site)
    order = [(explicit, WeightOptions(path=str(explicit))), (in_models_dir, None), (cached, None), (packaged, None)]
    for folder, options in order:
        assert search_weights(spec(), options).folder == folder
        (folder / "config.json").unlink()  # gone: the next place answers
    assert search_weights(spec()).folder is None


def test_an_explicit_path_is_the_only_place_looked_in(places) -> None:
    hf_folder(places.models / "tiny-bert")
    missing = str(places.root / "typo")
    found = search_weights(spec(), WeightOptions(path=missing))
    assert found.folder is None and found.looked == [missing]
    assert skip_reason(spec(), WeightOptions(path=missing)) == (
        f"weights for {HUB_ID} not found locally (looked in: {missing})"
    )


def test_without_models_dir_the_cache_is_first(places, monkeypatch) -> None:
    monkeypatch.delenv(MODELS_DIR_ENV)
    cached = hf_cache_snapshot(places.cache, HUB_ID, "abcd", COMPLETE)
    assert find_weights(spec()) == (cached, [f"Hugging Face cache ({places.cache})"])


# --- pickled weights ----------------------------------------------------------------------------


def test_pickled_weights_count_only_with_the_opt_in(places) -> None:
    folder = hf_folder(places.models / "tiny-bert", weights="pytorch_model.bin")
    assert skip_reason(spec()) == (
        f"only pickled pytorch_model.bin found in {folder}; "
        "set allow_pickle = true for this model in the config to load it"
    )
    assert search_weights(spec(), WeightOptions(allow_pickle=True)).folder == folder
    assert skip_reason(spec(), WeightOptions(allow_pickle=True)) is None


def test_a_pickled_folder_is_passed_over_for_safetensors_later_in_the_order(places) -> None:
    pickled = hf_folder(places.models / "tiny-bert", weights="pytorch_model.bin")
    cached = hf_cache_snapshot(places.cache, HUB_ID, "abcd", COMPLETE)
    assert search_weights(spec()).folder == cached
    assert search_weights(spec(), WeightOptions(allow_pickle=True)).folder == pickled  # the order holds


def test_safetensors_next_to_a_pickle_need_no_opt_in(places) -> None:
    folder = hf_folder(places.models / "tiny-bert", weights="pytorch_model.bin")
    (folder / "model.safetensors").write_bytes(EMPTY_SAFETENSORS)
    assert skip_reason(spec()) is None


# --- through the command line -------------------------------------------------------------------


FIT_REQUESTS: list = []


def fit_recording(request):
    FIT_REQUESTS.append(request)
    return fakes.fit_lookup(request)


def _plugin(**models: ModelSpec) -> types.ModuleType:
    module = types.ModuleType("weights_test_plugin")
    seen: dict[str, str | None] = {}

    @hookimpl
    def harness_add_models(register) -> None:
        seen["HF_HUB_OFFLINE"] = os.environ.get("HF_HUB_OFFLINE")
        for model in models.values():
            register.add(model)

    module.harness_add_models = harness_add_models
    module.seen = seen
    return module


def needs_weights(name: str = "needs-weights") -> ModelSpec:
    return ModelSpec(name, "fake", "memorise", fit_recording, hub_id=f"org/{name}", markers=("fake",))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Any connection or DNS lookup fails the test (and is recorded, in case something swallows it)."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture
def online_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE unset, and restored after the test."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "placeholder")  # so that delenv records the value to restore
        monkeypatch.delenv(name)


def test_run_never_touches_the_network_and_skips_missing_weights(
    run_harness, places, no_network, online_shell, tmp_path
):
    plugin = _plugin(model=needs_weights())
    FIT_REQUESTS.clear()
    code, stdout, _ = run_harness(
        "run",
        "--models",
        "needs-weights,lookup",
        "--tasks",
        "indications",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path / "run"),
        plugins={"weights_test": plugin},
    )
    assert code == 0, stdout
    results = {item["model"]: item for item in read_leaderboard(tmp_path / "run")["results"]}
    assert results["needs-weights"]["status"] == "skipped"
    assert results["needs-weights"]["reason"].startswith("weights for org/needs-weights not found locally")
    assert results["lookup"]["status"] == "passed"
    assert FIT_REQUESTS == [] and no_network == []
    # set for the whole process, before any plugin's hook ran
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert plugin.seen["HF_HUB_OFFLINE"] == "1"


def test_run_keeps_the_users_own_offline_setting(run_harness, online_shell, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    code, _, _ = run_harness("run", "--models", "lookup", "--tasks", "indications", "--collect-only")
    assert code == 0
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_other_commands_leave_the_environment_alone(run_harness, online_shell):
    code, _, _ = run_harness("list", "plugins")
    assert code == 0
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "harness.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_config_opt_ins_reach_the_search_and_the_fit(run_harness, places, no_network, tmp_path):
    pickled = hf_folder(places.models / "needs-weights", weights="pytorch_model.bin")
    plugin = {"weights_test": _plugin(model=needs_weights())}
    argv = ("run", "--models", "needs-weights", "--tasks", "indications", "--profile", "smoke")

    FIT_REQUESTS.clear()
    code, _, _ = run_harness(*argv, "--out", str(tmp_path / "refused"), plugins=plugin)
    (item,) = read_leaderboard(tmp_path / "refused")["results"]
    assert code == 0 and item["status"] == "skipped"
    assert item["reason"].startswith(f"only pickled pytorch_model.bin found in {pickled}; set allow_pickle = true")
    assert FIT_REQUESTS == []

    config = _config(tmp_path, "[models.needs-weights]\nallow_pickle = true\ntrust_remote_code = true\n")
    code, _, _ = run_harness(*argv, "--config", str(config), "--out", str(tmp_path / "allowed"), plugins=plugin)
    (item,) = read_leaderboard(tmp_path / "allowed")["results"]
    assert code == 0 and item["status"] == "passed"
    (request,) = FIT_REQUESTS
    assert (request.weights, request.allow_pickle, request.trust_remote_code) == (str(pickled), True, True)


def test_opt_ins_are_off_unless_given(run_harness, places, tmp_path):
    hf_folder(places.models / "needs-weights")
    FIT_REQUESTS.clear()
    code, _, _ = run_harness(
        "run",
        "--models",
        "needs-weights",
        "--tasks",
        "indications",
        "--profile",
        "smoke",
        "--out",
        str(tmp_path / "run"),
        plugins={"weights_test": _plugin(model=needs_weights())},
    )
    (request,) = FIT_REQUESTS
    assert code == 0 and (request.allow_pickle, request.trust_remote_code) == (False, False)


def test_weights_in_the_config_are_relative_to_it(run_harness, places, tmp_path):
    folder = hf_folder(tmp_path / "mine" / "bert")
    config = _config(tmp_path, '[models.needs-weights]\nweights = "mine/bert"\n')
    FIT_REQUESTS.clear()
    code, _, _ = run_harness(
        "run",
        "--models",
        "needs-weights",
        "--tasks",
        "indications",
        "--profile",
        "smoke",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "run"),
        plugins={"weights_test": _plugin(model=needs_weights())},
    )
    (request,) = FIT_REQUESTS
    assert code == 0 and request.weights == str(folder)


def test_config_weights_paths(tmp_path, monkeypatch):
    from harness.core.config import RunConfig

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = RunConfig(
        path=tmp_path / "conf" / "harness.toml",
        models={
            "relative": {"weights": "w/bert"},
            "home": {"weights": "~/w"},
            "absolute": {"weights": "/srv/w"},
        },
    )
    assert config.weights_for("relative") == str(tmp_path / "conf" / "w" / "bert")
    assert config.weights_for("home") == str(tmp_path / "home" / "w")
    assert config.weights_for("absolute") == "/srv/w"
    assert config.weight_options("unlisted") == WeightOptions()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("allow_pickle = 1", ["harness.toml", "models.lookup.allow_pickle", "true or false", "1"]),
        ('trust_remote_code = "yes"', ["harness.toml", "models.lookup.trust_remote_code", "true or false", "'yes'"]),
        ("weights = 3", ["harness.toml", "models.lookup.weights", "a string"]),
        ("allow_pickles = true", ["harness.toml", "models.lookup.allow_pickles", "unknown key", "allow_pickle"]),
    ],
)
def test_bad_opt_in_names_file_and_key(run_harness, tmp_path, body, expected):
    config = _config(tmp_path, f"[models.lookup]\n{body}\n")
    out = tmp_path / "o"
    code, stdout, stderr = run_harness("run", "--models", "lookup", "--config", str(config), "--out", str(out))
    assert code == 2 and stdout == ""
    (line,) = stderr.strip().splitlines()
    for fragment in expected:
        assert fragment in line
    assert not out.exists()


def test_list_gives_broken_weights_as_the_reason_and_goes_on(run_harness, places):
    """A run stops on broken weights (tests/test_bad_input_catalogue.py); the listing, where one
    looks for why a model cannot run, says it in that model's row and lists the others."""
    folder = hf_folder(places.models / "needs-weights")
    (folder / "model.safetensors").write_bytes(EMPTY_SAFETENSORS[:-1])  # the last byte never arrived
    code, stdout, _ = run_harness("list", "models", plugins={"weights_test": _plugin(model=needs_weights())})
    assert code == 0
    assert "model.safetensors: truncated" in stdout and "lookup" in stdout
