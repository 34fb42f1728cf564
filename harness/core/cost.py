"""Measuring what an item costs: wall time, peak resident memory, peak CUDA memory."""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_PAGE = resource.getpagesize()
_STATM = Path("/proc/self/statm")


def rss_mb() -> float | None:
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE / 2**20
    except (OSError, IndexError, ValueError):  # not Linux
        return None


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    peak_cuda_mb: float | None = None


def _cuda():
    torch = sys.modules.get("torch")  # only if a plugin already imported it
    if torch is not None and torch.cuda.is_available():
        return torch.cuda
    return None


@contextmanager
def measure(interval: float = 0.05) -> Iterator[Measurement]:
    """Sample RSS in a background thread while the block runs."""
    result = Measurement(peak_rss_mb=rss_mb())
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            now = rss_mb()
            if now is not None and (result.peak_rss_mb is None or now > result.peak_rss_mb):
                result.peak_rss_mb = now

    sampler = threading.Thread(target=sample, daemon=True)
    cuda = _cuda()
    if cuda:
        cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    sampler.start()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        cuda = _cuda()
        if cuda:
            result.peak_cuda_mb = cuda.max_memory_allocated() / 2**20


def training_flops(params: int | None, trainable: int | None, tokens: int | None) -> float | None:
    """Estimated floating-point operations of training, from parameters and tokens seen.

    Per token, a forward pass costs about 2 N (N parameters), back-propagating through the
    activations another 2 N, and the gradients of the trainable weights 2 N_trainable: 6 N
    when every weight trains (Kaplan et al. 2020), about 4 N with LoRA. Evaluation passes
    between epochs and recomputation under gradient checkpointing are not counted. None
    when the fit reported no token count (classical models).
    """
    if not tokens or params is None or trainable is None:
        return None
    return float((4 * params + 2 * trainable) * tokens)
