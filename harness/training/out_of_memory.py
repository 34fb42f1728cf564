"""Running out of GPU memory: halve the rows per pass and carry on, down to one row.

The classification loop (:mod:`harness.training.loop`) and the tagging loop (:mod:`harness.training.tagging`)
both run their passes through :func:`halve_on_out_of_memory`; :class:`BatchSizes` remembers the
sizes that fitted, so that later passes (and later predictions of the fitted model) start there.
torch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from harness.training.loop import TrainingConfig

T = TypeVar("T")


class OutOfMemoryAtBatchOne(RuntimeError):
    """Out of GPU memory with one row per pass: there is no smaller batch to fall back on."""


@dataclass
class BatchSizes:
    """The rows per pass a fit runs at, halved on out-of-memory errors and kept halved.

    Mutable and shared on purpose: the training passes, the eval passes and, through the
    fitted :class:`TorchClassifier`, the later test-set predictions all start from the sizes
    that last fitted in memory, rather than failing at the recipe's sizes again.
    """

    batch: int  # the recipe's batch_size: rows per optimizer step, never changed
    micro: int  # rows per forward/backward pass in training; the gradients of a batch accumulate
    eval: int  # rows per forward pass in prediction
    retries: int = 0  # out-of-memory errors recovered from

    @classmethod
    def from_config(cls, config: TrainingConfig) -> BatchSizes:
        return cls(batch=config.batch_size, micro=config.batch_size, eval=config.eval_batch_size)

    def details(self) -> dict[str, int]:
        """The fit-details keys; without an out-of-memory error: batch_size, batch_size, 1, eval, 0."""
        return {
            "batch_size": self.batch,
            "micro_batch_size": self.micro,
            "gradient_accumulation_steps": math.ceil(self.batch / self.micro),
            "eval_batch_size_used": self.eval,
            "out_of_memory_retries": self.retries,
        }


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is the accelerator running out of memory (not a bug to re-raise).

    ``torch.cuda.OutOfMemoryError`` (in CPU builds too); other backends and older torch raise a
    plain RuntimeError saying "out of memory" (e.g. "MPS backend out of memory").
    """
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(err, oom)) or (isinstance(err, RuntimeError) and "out of memory" in str(err))


def free_accelerator_memory() -> None:
    """Hand the allocator's cached blocks back, so the retry at a smaller size can use them."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


_HINTS = {
    "training": "try a shorter max_length, gradient_checkpointing = true or a larger GPU",
    "prediction": "try a shorter max_length or a larger GPU",
}


def halve_on_out_of_memory(
    run: Callable[[int], T], size: int, rows: int, stage: str, cleanup: Callable[[], None] = lambda: None
) -> tuple[T, int, int]:
    """``run(size)`` over ``rows`` rows, retried at half the rows per pass on each out-of-memory
    error down to one row; returns (its result, the size that fitted, the errors recovered from).

    ``cleanup`` runs before each retry (e.g. dropping half-accumulated gradients). Any other
    error propagates unchanged; out of memory at one row raises :class:`OutOfMemoryAtBatchOne`
    naming ``stage`` ("training" or "prediction").
    """
    retries = 0
    while True:
        try:
            return run(size), size, retries
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            failure = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        # Retry out of the except block: by now the exception, its traceback and the activations
        # its frames held are gone, so empty_cache can actually return that memory.
        cleanup()
        free_accelerator_memory()
        tried = min(size, rows)
        if tried <= 1:
            raise OutOfMemoryAtBatchOne(
                f"CUDA out of memory even at batch size 1 ({stage}); {_HINTS.get(stage, 'try a larger GPU')}. "
                f"Last error: {failure}"
            )
        size, retries = (tried + 1) // 2, retries + 1  # ceil: 3 rows that failed are retried as 2 + 1


def chunks(rows: np.ndarray, size: int) -> list[np.ndarray]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
