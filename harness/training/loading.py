"""Loading helpers the decoder families share: SmolLM2's GGUF converted once to safetensors,
the weights folder of a request, and a padding token for tokenizers that have none."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from harness.errors import PluginError
from harness.model import FitRequest, TagRequest
from harness.progress import ProgressFactory, no_progress

CACHE_ENV = "HARNESS_CACHE_DIR"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "clinical-harness")


def gguf_as_safetensors(folder: Path, gguf_file: str, progress: ProgressFactory = no_progress) -> Path:
    """A safetensors copy of ``folder/gguf_file`` (causal LM + tokenizer), converted once.

    The copy lives under ``$HARNESS_CACHE_DIR/gguf/<sha256 of the file>`` and is written to a
    temporary folder first, so an interrupted conversion never leaves a half-written model.
    """
    source = folder / gguf_file
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    target = cache_dir() / "gguf" / digest.hexdigest()[:32]
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.training.loop import quiet_transformers

    target.parent.mkdir(parents=True, exist_ok=True)
    with quiet_transformers(), _no_gguf_bars(), progress(f"converting {gguf_file} (once)", 1) as advance:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, local_files_only=True)
        # The weights are dequantised to float32 by now; drop the GGUF marker that blocks saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
        try:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            staging.rename(target)
            advance()
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent conversion that won
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _no_gguf_bars() -> Any:
    """transformers' GGUF reader draws a tqdm bar of its own, which neither its logging switch nor
    TQDM_DISABLE (read when tqdm is imported) silences; ours says what is happening instead."""
    try:
        from transformers import modeling_gguf_pytorch_utils as reader
    except ImportError:
        return contextlib.nullcontext()
    return mock.patch.object(reader, "tqdm", lambda iterable, **_: iterable)


def weights_folder(request: FitRequest | TagRequest) -> Path:
    if request.weights is None:
        raise PluginError("decoders", f"model {request.spec.name!r} needs local weights and none were given")
    folder = Path(request.weights)
    gguf = request.spec.weights_file
    if gguf and (folder / gguf).is_file() and not (folder / "config.json").is_file():
        return gguf_as_safetensors(folder, gguf, request.progress)
    return folder


def set_padding(model: Any, tokenizer: Any) -> None:
    """Give the tokenizer and the model config the same padding token (decoders have none)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise PluginError("decoders", "the tokenizer has no padding, end-of-sequence or unknown token to pad with")
    model.config.pad_token_id = tokenizer.pad_token_id
