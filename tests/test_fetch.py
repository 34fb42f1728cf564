"""``harness fetch``: against a fake hub (a local folder behind ``snapshot_download``) and, for
``--from``, a real local mirror. Nothing here reaches the network: every test refuses it."""

from __future__ import annotations

import fnmatch
import os
import shutil
import socket
import types
from pathlib import Path

import pytest

from harness import ModelSpec, hookimpl
from harness.core.weights import MODELS_DIR_ENV, WeightOptions, find_weights, search_weights, skip_reason

from . import fakes
from .test_weights import EMPTY_SAFETENSORS

REPOS = {
    # a modern repository: safetensors, tokenizer, and formats the harness does not load
    "org/tiny-bert": {
        "config.json": "{}",
        "model.safetensors": EMPTY_SAFETENSORS.decode("ascii"),
        "tokenizer.json": "{}",
        "tokenizer_config.json": "{}",
        "vocab.txt": "[PAD]",
        "spiece.model": "sp",
        "pytorch_model.bin": "pickle",
        "flax_model.msgpack": "flax",
        "README.md": "# card",
        "onnx/model.onnx": "onnx",
        ".gitattributes": "lfs",
    },
    # an old repository with pickled weights only
    "org/old-bert": {"config.json": "{}", "pytorch_model.bin": "pickle", "vocab.txt": "[PAD]"},
    # a single GGUF checkpoint
    "org/tiny-gguf": {"tiny.Q4_1.gguf": "GGUF", "tiny.Q8_0.gguf": "GGUF", "README.md": "# card"},
}
FETCHED = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model"}

MODELS = [
    ModelSpec("tiny-bert", "encoder", "full", fakes.fit_lookup, hub_id="org/tiny-bert"),
    ModelSpec("old-bert", "encoder", "full", fakes.fit_lookup, hub_id="org/old-bert"),
    ModelSpec("tiny-gguf", "decoder", "LoRA", fakes.fit_lookup, hub_id="org/tiny-gguf", weights_file="tiny.Q4_1.gguf"),
    ModelSpec("packaged-only", "encoder", "full", fakes.fit_lookup, packaged_weights="some_package/model"),
]


@hookimpl
def harness_add_models(register) -> None:
    for model in MODELS:
        register.add(model)


PLUGIN = types.SimpleNamespace(harness_add_models=harness_add_models)


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """A fake hub: ``snapshot_download`` copies from ``tmp_path/hub/<org>/<name>``, honouring
    ``allow_patterns`` as huggingface_hub does (fnmatch on the path in the repository)."""
    root = tmp_path / "hub"
    for hub_id, files in REPOS.items():
        write_repo(root / hub_id, files)
    calls: list[dict] = []

    def snapshot_download(*, repo_id, local_dir, allow_patterns, force_download=False, **others):
        calls.append({"repo_id": repo_id, "allow_patterns": allow_patterns, "force_download": force_download})
        repo = root / repo_id
        if not repo.is_dir():
            raise FileNotFoundError(f"404 Client Error: Repository Not Found for url: https://huggingface.co/{repo_id}")
        for path in repo.rglob("*"):
            relative = path.relative_to(repo).as_posix()
            if path.is_file() and any(fnmatch.fnmatch(relative, pattern) for pattern in allow_patterns):
                (Path(local_dir) / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, Path(local_dir) / relative)
        return str(local_dir)

    monkeypatch.setattr("harness.commands.fetch.snapshot_download", snapshot_download)
    return calls


@pytest.fixture
def fetch(run_harness):
    def run(*args: str):
        return run_harness("fetch", *args, plugins={"fetch_test": PLUGIN})

    return run


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_fetch_downloads_safetensors_and_tokenizer_only_and_the_run_finds_them(fetch, hub, tmp_path, monkeypatch):
    code, stdout, _ = fetch("tiny-bert", "--to", "carry")
    assert code == 0, stdout
    models = tmp_path / "carry"
    assert files_in(models / "tiny-bert") == FETCHED
    assert [call["repo_id"] for call in hub] == ["org/tiny-bert"]
    assert os.listdir(models) == ["tiny-bert"]  # no half-written folder left behind
    assert f"export HARNESS_MODELS_DIR={models}" in stdout
    assert "1 fetched" in stdout
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    spec = MODELS[0]
    assert find_weights(spec)[0] == models / "tiny-bert" and skip_reason(spec) is None


def test_pickled_weights_only_with_allow_pickle(fetch, hub, tmp_path, monkeypatch):
    code, stdout, _ = fetch("old-bert", "--to", "carry")
    assert code == 1
    assert "old-bert FAILED" in stdout and "--allow-pickle" in stdout
    assert not (tmp_path / "carry" / "old-bert").exists()
    assert "pytorch_model*.bin" not in hub[0]["allow_patterns"]

    code, stdout, _ = fetch("old-bert", "--to", "carry", "--allow-pickle")
    assert code == 0, stdout
    folder = tmp_path / "carry" / "old-bert"
    assert files_in(folder) == {"config.json", "pytorch_model.bin", "vocab.txt"}
    assert "set allow_pickle = true for old-bert" in stdout
    # the run, too, needs the opt-in in the config
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "carry"))
    assert "set allow_pickle = true" in skip_reason(MODELS[1])
    assert skip_reason(MODELS[1], WeightOptions(allow_pickle=True)) is None


def test_allow_pickle_fetches_the_bin_next_to_safetensors(fetch, hub, tmp_path):
    code, stdout, _ = fetch("tiny-bert", "--to", "carry", "--allow-pickle")
    assert code == 0
    assert files_in(tmp_path / "carry" / "tiny-bert") == FETCHED | {"pytorch_model.bin"}
    assert "set allow_pickle" not in stdout  # safetensors are there: no opt-in needed


def test_single_file_checkpoint(fetch, hub, tmp_path):
    code, _, _ = fetch("tiny-gguf", "--to", "carry")
    assert code == 0
    assert files_in(tmp_path / "carry" / "tiny-gguf") == {"tiny.Q4_1.gguf"}  # not the other quantisation
    assert search_weights(MODELS[2], models_dir=tmp_path / "carry").folder == tmp_path / "carry" / "tiny-gguf"


def test_already_present_is_skipped_unless_forced(fetch, hub, tmp_path):
    assert fetch("tiny-bert", "--to", "carry")[0] == 0
    (tmp_path / "carry" / "tiny-bert" / "mine.txt").write_text("kept")
    code, stdout, _ = fetch("tiny-bert", "--to", "carry")
    assert code == 0 and "already present" in stdout and len(hub) == 1
    assert (tmp_path / "carry" / "tiny-bert" / "mine.txt").exists()
    code, stdout, _ = fetch("tiny-bert", "--to", "carry", "--force")
    assert code == 0 and hub[-1]["force_download"] is True
    assert files_in(tmp_path / "carry" / "tiny-bert") == FETCHED  # replaced, not merged
    assert sorted(os.listdir(tmp_path / "carry")) == ["tiny-bert"]


def test_a_folder_without_weights_is_not_overwritten(fetch, hub, tmp_path):
    folder = tmp_path / "carry" / "tiny-bert"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    code, stdout, _ = fetch("tiny-bert", "--to", "carry")
    assert code == 1 and "--force" in stdout
    assert files_in(folder) == {"notes.txt"}


def test_default_folder_is_models_dir_else_models(fetch, hub, tmp_path, monkeypatch):
    assert fetch("tiny-bert")[0] == 0
    assert (tmp_path / "models" / "tiny-bert" / "model.safetensors").is_file()
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "elsewhere"))
    code, stdout, _ = fetch("tiny-bert")
    assert code == 0 and (tmp_path / "elsewhere" / "tiny-bert" / "model.safetensors").is_file()
    assert f"export HARNESS_MODELS_DIR={tmp_path / 'elsewhere'}" in stdout


def test_unknown_model_is_a_usage_error(fetch, hub):
    code, stdout, stderr = fetch("tiny-bert", "tiny-bret")
    assert code == 2 and stdout == "" and hub == []
    (line,) = stderr.strip().splitlines()
    assert "unknown model(s) tiny-bret" in line and "tiny-bert" in line.split("known:")[1]


def test_models_without_hub_weights_have_nothing_to_fetch(fetch, hub, tmp_path):
    code, stdout, _ = fetch("lookup", "packaged-only", "--to", "carry")
    assert code == 0 and hub == []
    assert "lookup NOTHING TO FETCH (it uses no pretrained weights)" in stdout
    assert "packaged-only NOTHING TO FETCH (its weights ship in the Python package some_package)" in stdout
    assert "export" not in stdout


def test_a_failed_download_fails_that_model_only(fetch, hub, tmp_path):
    MODELS.append(ModelSpec("gone", "encoder", "full", fakes.fit_lookup, hub_id="org/gone"))
    try:
        code, stdout, _ = fetch("gone", "tiny-bert", "--to", "carry")
    finally:
        MODELS.pop()
    assert code == 1
    assert "gone FAILED (FileNotFoundError: 404 Client Error: Repository Not Found" in stdout
    assert "1 fetched, 1 failed" in stdout
    assert sorted(os.listdir(tmp_path / "carry")) == [".gone.partial", "tiny-bert"]  # kept for a retry


def test_a_damaged_download_is_not_put_in_place(fetch, hub, tmp_path):
    """A safetensors file cut short (its header promises more bytes than it has) fails the fetch
    naming the file; nothing lands where the run looks, and a forced fetch of a good copy works."""
    repo = tmp_path / "hub" / "org" / "tiny-bert"
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    (repo / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    code, stdout, _ = fetch("tiny-bert", "--to", "carry")
    assert code == 1
    assert "tiny-bert FAILED (damaged download:" in stdout and "model.safetensors" in stdout
    assert "fetch again with --force" in stdout, stdout
    assert not (tmp_path / "carry" / "tiny-bert").exists()
    (repo / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    code, stdout, _ = fetch("tiny-bert", "--to", "carry", "--force")
    assert code == 0 and "tiny-bert FETCHED" in stdout
    assert (tmp_path / "carry" / "tiny-bert" / "model.safetensors").stat().st_size == 8 + len(header) + 16


# --- --from: a local mirror, for real -----------------------------------------------------------


def test_from_a_mirror_laid_out_as_on_the_hub(fetch, tmp_path, monkeypatch):
    mirror = tmp_path / "usb"
    for hub_id, files in REPOS.items():
        write_repo(mirror / hub_id, files)
    code, stdout, _ = fetch(
        "tiny-bert", "old-bert", "tiny-gguf", "--from", str(mirror), "--to", "models", "--allow-pickle"
    )
    assert code == 0, stdout
    models = tmp_path / "models"
    assert files_in(models / "tiny-bert") == FETCHED | {"pytorch_model.bin"}  # no .gitattributes, card, onnx
    assert files_in(models / "old-bert") == {"config.json", "pytorch_model.bin", "vocab.txt"}
    assert files_in(models / "tiny-gguf") == {"tiny.Q4_1.gguf"}
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    assert skip_reason(MODELS[0]) is None and skip_reason(MODELS[2]) is None


def test_from_a_folder_an_earlier_fetch_filled(fetch, hub, tmp_path):
    assert fetch("tiny-bert", "--to", "usb")[0] == 0
    code, _, _ = fetch("tiny-bert", "--from", "usb", "--to", "local")
    assert code == 0 and len(hub) == 1  # the second came from the mirror, not the hub
    assert files_in(tmp_path / "local" / "tiny-bert") == FETCHED


def test_from_a_mirror_without_the_model(fetch, tmp_path):
    (tmp_path / "usb").mkdir()
    code, stdout, _ = fetch("tiny-bert", "--from", "usb", "--to", "models")
    assert code == 1
    assert "not in the mirror" in stdout and "usb/org/tiny-bert" in stdout and "usb/tiny-bert" in stdout


def test_from_a_missing_folder_is_a_usage_error(fetch, tmp_path):
    code, _, stderr = fetch("tiny-bert", "--from", "nowhere")
    assert code == 2 and "--from nowhere" in stderr
