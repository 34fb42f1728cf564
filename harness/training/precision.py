"""Devices and precision for the torch loops: where a model trains and predicts, in which dtypes.

Trainable weights are always fp32; mixed precision comes from autocast (bf16 on a GPU that
computes it natively, else fp16 with a gradient scaler; fp32 on a CPU). A CPU with AVX512-BF16
or AMX predicts under bf16 autocast, with its linear layers cast to bf16 once
(:func:`cast_for_inference`). Moved out of :mod:`harness.training.loop`, which both loops share.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from harness.training.loop import TrainingConfig


def prepare_device(model: Any, device: str, config: TrainingConfig) -> None:
    """Move ``model`` to ``device`` and set its training precision (:func:`set_training_precision`).

    Both training loops (classification, tagging) call this before building the optimizer.
    """
    import torch

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matmuls: free speed on Ampere+
        torch.backends.cudnn.allow_tf32 = True
    model.to(device)
    set_training_precision(model, device, autocast_dtype(device, config))
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def set_training_precision(model: Any, device: str, autocast: torch.dtype | None) -> None:
    """Every trainable parameter in fp32; a half-precision frozen body in the autocast dtype.

    transformers loads a checkpoint in the dtype its config declares, so a bf16 checkpoint
    would train bf16 weights: an AdamW step below half a bf16 ulp leaves a weight unchanged.
    Mixed precision comes from autocast, never from the stored weights. Frozen floating
    tensors (a LoRA body, buffers) stored in bf16/fp16 stay in half precision only on a GPU that
    trains under autocast, cast once to its dtype (half the memory of fp32; autocast computes
    in that dtype anyway); otherwise they become fp32, as nothing would compute in half. An
    fp32 body is never lowered, and 4-bit weights (integer storage) are left alone.
    """
    import torch

    keep_half = device.startswith("cuda") and autocast is not None
    frozen_dtype = autocast if keep_half else torch.float32
    for parameter in model.parameters():
        if not parameter.is_floating_point() or parameter.dtype == torch.float32:
            continue
        if parameter.requires_grad:
            parameter.data = parameter.data.to(torch.float32)
        elif parameter.dtype in (torch.bfloat16, torch.float16) and parameter.dtype != frozen_dtype:
            parameter.data = parameter.data.to(frozen_dtype)
    for buffer in model.buffers():
        if buffer.dtype in (torch.bfloat16, torch.float16) and buffer.dtype != frozen_dtype:
            buffer.data = buffer.data.to(frozen_dtype)


def dtype_summary(parameters: Iterable[Any]) -> str | None:
    """The storage dtypes of ``parameters``, most parameters first ("nf4+float32"); None if none.

    A bitsandbytes 4-bit weight counts as its quantisation type (nf4, fp4), not its uint8 storage.
    """
    counts: dict[str, int] = {}
    for parameter in parameters:
        state = getattr(parameter, "quant_state", None)
        name = getattr(state, "quant_type", None) or str(parameter.dtype).removeprefix("torch.")
        counts[name] = counts.get(name, 0) + logical_numel(parameter)
    return "+".join(sorted(counts, key=lambda name: (-counts[name], name))) or None


def precision_details(model: Any, device: str, config: TrainingConfig) -> dict[str, Any]:
    """The fit-details keys of a trained model's precision, read from its parameters."""
    parameters = list(model.parameters())
    autocast = autocast_dtype(device, config)
    return {
        "trainable_dtype": dtype_summary(p for p in parameters if p.requires_grad),
        "frozen_dtype": dtype_summary(p for p in parameters if not p.requires_grad),
        "autocast_dtype": None if autocast is None else str(autocast).removeprefix("torch."),
        "gradient_scaler": uses_gradient_scaler(device, config),
    }


def cuda_has_bf16() -> bool:
    """Whether the GPU computes bf16 natively (Ampere and later).

    torch's ``is_bf16_supported()`` says yes by default on a V100 or T4 too, where bf16 is only
    emulated (and slow): there the loop must take fp16 with a gradient scaler instead.
    """
    import torch

    return torch.cuda.is_bf16_supported(including_emulation=False)


def autocast_dtype(device: str, config: TrainingConfig) -> torch.dtype | None:
    """bf16 where the GPU computes it natively, else fp16; None (fp32) on the CPU."""
    import torch

    if not device.startswith("cuda") or not config.mixed_precision:
        return None
    return torch.bfloat16 if cuda_has_bf16() else torch.float16


def uses_gradient_scaler(device: str, config: TrainingConfig) -> bool:
    """fp16 gradients underflow without a GradScaler; bf16 and fp32 need none."""
    import torch

    return autocast_dtype(device, config) == torch.float16


def autocast(device: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=dtype)


def inference_dtype(device: str, config: TrainingConfig) -> torch.dtype | None:
    """The autocast dtype for prediction: the training one, or bf16 on a CPU that has it."""
    import torch

    if device == "cpu" and config.cpu_bf16_inference and cpu_has_bf16():
        return torch.bfloat16
    return autocast_dtype(device, config)


def cast_for_inference(model: Any, device: str, dtype: torch.dtype | None) -> int:
    """Store each plain ``nn.Linear``'s weight and bias in ``dtype`` once, for a model that only
    predicts from now on, on a CPU, under autocast to ``dtype``. Returns the layers cast.

    CPU autocast casts every fp32 weight to bf16 on every forward (a copy of the whole model
    per batch: 29% of SmolLM2's zero-shot prediction time in torch.profiler). Storing the
    cast once feeds the same bf16 values to the same kernels, so predictions stay
    bit-identical (tests/test_cpu_fast_paths.py). Each cast layer gets new parameters, so a
    weight tied to an embedding (SmolLM2's output layer) leaves the embedding in fp32. Quantised
    layers (bitsandbytes' subclasses of ``nn.Linear``) and GPUs are left alone; so is a model
    that predicts in fp32 (``dtype`` None).
    """
    import torch

    if device != "cpu" or dtype is None:
        return 0
    cast = 0
    for module in model.modules():
        if type(module) is not torch.nn.Linear or module.weight.dtype != torch.float32:
            continue
        module.weight = torch.nn.Parameter(module.weight.detach().to(dtype), requires_grad=False)
        if module.bias is not None:
            module.bias = torch.nn.Parameter(module.bias.detach().to(dtype), requires_grad=False)
        cast += 1
    return cast


def cpu_has_bf16() -> bool:
    import torch

    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(probe and probe()) or bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def logical_numel(parameter: Any) -> int:
    state = getattr(parameter, "quant_state", None)
    return math.prod(state.shape) if state is not None else parameter.numel()
