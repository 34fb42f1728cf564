"""``harness fetch``: download weights on a connected machine, to carry into an offline one.

The only command that may reach the network, and only without ``--from DIR``. Each model lands
in ``DIR/<name>``: where ``harness run`` looks when ``HARNESS_MODELS_DIR=DIR``. A download is
made in ``DIR/.<name>.partial`` (an interrupted one resumes there), checked with the run's own
weights search, then moved into place.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.core.weights import FETCH_AGAIN, MODELS_DIR_ENV, WeightOptions, check_weight_files, search_weights
from harness.errors import HarnessError, InputError, UsageError
from harness.model import ModelSpec

# Besides the weights, a Hugging Face folder needs its config and tokenizer: *.json (config,
# tokenizer.json, special tokens), vocab.txt / merges.txt, SentencePiece *.model files.
SUPPORT_PATTERNS = ("*.json", "*.txt", "*.model", "tokenizer*")
SAFETENSORS_PATTERNS = ("*.safetensors",)
PICKLED_PATTERNS = ("pytorch_model*.bin",)  # only with --allow-pickle

Source = Callable[[ModelSpec, Path, list[str]], None]
"""Puts the files of a model that match the patterns into a folder (the hub, or a local mirror)."""

Status = Literal["fetched", "present", "nothing", "failed"]


@dataclass(frozen=True)
class Fetched:
    """What became of one model: its status, and a message saying where or why."""

    status: Status
    message: str


class FetchFailed(Exception):
    """A model could not be fetched; the message says why and what to do."""


def default_models_dir() -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV) or "models")


def allow_patterns(spec: ModelSpec, allow_pickle: bool) -> list[str]:
    patterns = [*SAFETENSORS_PATTERNS, *SUPPORT_PATTERNS]
    if spec.weights_file:
        patterns.append(spec.weights_file)
    if allow_pickle:
        patterns.extend(PICKLED_PATTERNS)
    return patterns


# --- sources ----------------------------------------------------------------------------------


def snapshot_download(**kwargs: object) -> str:
    """``huggingface_hub.snapshot_download``, imported when used (it comes with transformers but is
    not a core dependency). Tests replace this name with a fake hub."""
    try:
        from huggingface_hub import snapshot_download as download
    except ImportError:
        raise UsageError(
            "fetching from the hub needs huggingface_hub: pip install huggingface_hub (or use --from DIR)"
        ) from None
    return download(**kwargs)


def hub_source(force: bool) -> Source:
    def download(spec: ModelSpec, folder: Path, patterns: list[str]) -> None:
        try:
            snapshot_download(repo_id=spec.hub_id, local_dir=folder, allow_patterns=patterns, force_download=force)
        except HarnessError:
            raise
        except Exception as err:  # network, authentication, a missing repository: this model fails
            raise FetchFailed(_hub_problem(spec, err)) from err

    return download


def _hub_problem(spec: ModelSpec, err: Exception) -> str:
    first_line = (str(err).strip().splitlines() or [""])[0]
    problem = f"{type(err).__name__}: {first_line}"
    if type(err).__name__ == "GatedRepoError":
        problem += f" (accept the licence at https://huggingface.co/{spec.hub_id}, then `hf auth login`)"
    elif os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        problem += " (HF_HUB_OFFLINE is set in this shell: unset it to fetch)"
    return problem


def mirror_folder(root: Path, spec: ModelSpec) -> Path:
    """A model's folder in a local mirror: ``root/<hub id>`` (as the hub lays it out), else
    ``root/<name>`` (as ``harness fetch --to root`` did)."""
    candidates = [root / spec.hub_id] if spec.hub_id else []
    candidates.append(root / spec.name)
    found = next((c for c in candidates if c.is_dir()), None)
    if found is None:
        raise FetchFailed(f"not in the mirror (looked for {' and '.join(map(str, candidates))})")
    return found


def mirror_source(root: Path) -> Source:
    """Copies from a local folder (a mounted drive, a share), honouring the patterns as the hub does."""
    from harness.progress import rich_progress

    def copy(spec: ModelSpec, folder: Path, patterns: list[str]) -> None:
        source = mirror_folder(root, spec)
        files = [path for path in _files(source) if _matches(path.relative_to(source).as_posix(), patterns)]
        with rich_progress(f"copying {spec.name}", len(files)) as advance:
            for path in files:
                target = folder / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)  # follows symlinks: a Hugging Face cache snapshot works too
                advance()

    return copy


def _files(folder: Path) -> list[Path]:
    """Every file under ``folder``, hidden ones (``.cache/``, ``.git/``) left out."""
    found = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(parent) / name for name in sorted(names) if not name.startswith("."))
    return found


def _matches(relative: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)  # as huggingface_hub matches


# --- one model --------------------------------------------------------------------------------


def fetch_model(spec: ModelSpec, models_dir: Path, source: Source, allow_pickle: bool, force: bool) -> Fetched:
    if not spec.hub_id:
        if spec.packaged_weights:
            package = spec.packaged_weights.split("/")[0]
            return Fetched("nothing", f"its weights ship in the Python package {package}")
        return Fetched("nothing", "it uses no pretrained weights")
    options = WeightOptions(allow_pickle=allow_pickle)
    dest = models_dir / spec.name
    present = search_weights(spec, options, models_dir=models_dir)
    if present.folder == dest and not force:
        return Fetched("present", f"already present in {dest} (--force fetches it again)")
    if dest.exists() and not force:  # never replace what someone put there without being asked
        pickled = present.pickled_only == dest
        holds = "only pickled weights (--allow-pickle)" if pickled else "no weights the harness can use"
        return Fetched("failed", f"{dest} exists but holds {holds}; move it away or fetch with --force")
    staging = models_dir / f".{spec.name}.partial"
    if force:
        shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)
    try:
        source(spec, staging, allow_patterns(spec, allow_pickle))
    except FetchFailed as err:
        return Fetched("failed", str(err))
    fetched = search_weights(spec, WeightOptions(path=str(staging), allow_pickle=allow_pickle))
    if fetched.folder is None:
        hint = "" if allow_pickle else " (if the repository has only pytorch_model.bin, fetch with --allow-pickle)"
        return Fetched("failed", f"no usable weights among the files fetched into {staging}{hint}")
    try:  # a download cut short, or a mirror with a damaged file: say so now, not in the offline run
        check_weight_files(fetched.folder, spec)
    except InputError as err:
        problem = err.problem.removesuffix(f"; {FETCH_AGAIN}")
        return Fetched("failed", f"damaged download: {err.where}: {problem}; fetch again with --force")
    _replace(dest, staging)
    found = search_weights(spec, options, models_dir=models_dir)
    if found.folder != dest:  # the run's own search must find what was fetched
        return Fetched("failed", f"fetched into {dest}, but the weights search does not find it there")
    note = ""
    if search_weights(spec, WeightOptions(path=str(dest))).pickled_only:
        note = f"; only pickled weights: set allow_pickle = true for {spec.name} in your config"
    return Fetched("fetched", f"{_size(dest)} in {dest}{note}")


def _replace(dest: Path, staging: Path) -> None:
    """Move the checked download into place; an old folder (--force) goes only once it has."""
    old = None
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
    staging.rename(dest)
    if old is not None:
        shutil.rmtree(old)


def _size(folder: Path) -> str:
    files = _files(folder)
    size = sum(path.stat().st_size for path in files) / 1024**2
    return f"{len(files)} files, {size:.1f} MB"


# --- the command ------------------------------------------------------------------------------


def fetch_models(options: argparse.Namespace, hooks) -> int:
    """``harness fetch NAME... [--to DIR] [--from DIR] [--allow-pickle] [--force]``; exit 1 if one failed."""
    from rich.markup import escape

    from harness.report.render import make_console

    models = hooks.models()
    names = list(dict.fromkeys(options.names))
    unknown = [name for name in names if name not in models]
    if unknown:
        raise UsageError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(models.names())}")
    if options.mirror is not None and not options.mirror.is_dir():
        raise UsageError(f"--from {options.mirror}: no such folder")
    models_dir = (options.to or default_models_dir()).absolute()
    source = mirror_source(options.mirror) if options.mirror is not None else hub_source(options.force)
    origin = f"the mirror {options.mirror}" if options.mirror is not None else "the Hugging Face hub"
    out = make_console()
    out.rule("harness fetch")
    out.print(f"fetching {len(names)} model(s) from {escape(origin)} into {escape(str(models_dir))}", soft_wrap=True)
    results = []
    style = {"fetched": "green", "present": "green", "nothing": "dim", "failed": "red"}
    for name in names:
        spec = models[name]
        if spec.hub_id:
            out.print(f"[dim]fetching[/] {escape(name)} ({escape(spec.hub_id)}) ...")
        result = fetch_model(spec, models_dir, source, options.allow_pickle, options.force)
        results.append(result)
        label = result.status.upper() if result.status != "nothing" else "NOTHING TO FETCH"
        out.print(f"{escape(name)} [{style[result.status]}]{label}[/] ({escape(result.message)})", soft_wrap=True)
    counts = {status: sum(r.status == status for r in results) for status in style}
    summary = ", ".join(
        f"{n} {status.replace('present', 'already present')}"
        for status, n in counts.items()
        if n and status != "nothing"
    )
    out.rule(summary or "nothing fetched", style="red" if counts["failed"] else "green")
    if counts["fetched"] or counts["present"]:
        out.print("Point the harness at this folder, here or wherever you carry it:")
        out.print(f"  export {MODELS_DIR_ENV}={escape(str(models_dir))}", soft_wrap=True)
    return 1 if counts["failed"] else 0
