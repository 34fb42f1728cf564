"""The shared torch training loop for transformer multi-label classifiers.

Every torch model family uses it (encoders now, decoders later). In order: seed python, numpy
and torch; tokenise once without padding; each epoch, batch examples of similar token length
together (batch order shuffled with the seed) and pad each batch only to its longest member;
AdamW with linear warm-up and decay, optionally with a higher learning rate for the head; BCE
on the logits (cross-entropy for a multi-class task); after each epoch, score the eval split and
keep the weights of the epoch with the best selection metric (weighted F1 by default) at sigmoid
>= 0.5 (the argmax for multi-class), restored at the end. Pairs and long inputs are read as
:mod:`harness.training.encoding` says.

On a CUDA out-of-memory error the loop halves the rows per pass and carries on: in training it
accumulates the gradients of the smaller passes into the same optimizer step (the effective
batch, the schedule and so the fit stay the same); in prediction it splits the batch. The smaller
size is kept for the rest of the fit; out of memory with one row is an error
(:class:`OutOfMemoryAtBatchOne`). The sizes used go in the fit details (:class:`BatchSizes`).

Dynamic padding matters on a CPU: indication strings are a handful of tokens. On the embedded
data, MiniLM's recipe through this loop reached its best eval epoch 11.1x sooner than the seed
study's way (every batch padded to 128 tokens, batch 8), at test weighted F1 0.9757 vs 0.9754
(benchmarks/minilm_padding.py, 2026-12-07; each fit timed to its best eval epoch).

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from harness.data import sample_rows
from harness.model import ClassificationSetup, DecisionRule, Input
from harness.progress import ProgressFactory, no_progress
from harness.scoring.metrics import multilabel_report
from harness.training.encoding import (  # re-exported: encode and fill_empty lived here
    Features as Features,
    InputEncoding,
    Windows,
    encode as encode,
    encode_inputs,
    fill_empty as fill_empty,
    pool,
)
from harness.training.optimizer import Stepper, optimizer_stepper
from harness.training.out_of_memory import (  # re-exported: the loops' public names
    BatchSizes as BatchSizes,
    OutOfMemoryAtBatchOne as OutOfMemoryAtBatchOne,
    chunks as chunks,
    free_accelerator_memory as free_accelerator_memory,
    halve_on_out_of_memory as halve_on_out_of_memory,
    is_out_of_memory as is_out_of_memory,
)
from harness.training.precision import (
    autocast,
    autocast_dtype,
    cast_for_inference,
    inference_dtype,
    logical_numel,
    precision_details,
    prepare_device,
)

if TYPE_CHECKING:
    import torch

    from harness.model import FitRequest


@dataclass(frozen=True)
class TrainingConfig:
    """The recipe keys this loop reads; other keys in a recipe are ignored here."""

    epochs: int = 5
    batch_size: int = 8
    lr: float = 2e-5
    head_lr: float | None = None  # learning rate for the head parameters; None: ``lr`` for all
    weight_decay: float = 0.01  # not applied to 1-D parameters (biases, norm scales)
    warmup_ratio: float = 0.0
    max_length: int = 64
    max_grad_norm: float | None = 1.0
    eval_batch_size: int = 64
    padding: Literal["longest", "max_length"] = "longest"  # "max_length": the seed study's way
    group_by_length: bool = True
    gradient_checkpointing: bool = False
    mixed_precision: bool = True  # CUDA only: bf16 autocast if native (not emulated), else fp16 + GradScaler
    # Predict under bf16 autocast on CPUs with native bf16 matmuls (AVX512-BF16/AMX): 1.8x faster
    # for SmolLM2 here; training stays fp32 (bf16 gave it no gain on this CPU).
    cpu_bf16_inference: bool = False
    num_threads: int | None = None  # None: torch's default
    max_train_rows: int | None = None  # train on a fixed random sample of this many rows (CPU recipes)
    # Class weighting in the loss: None (off, the seed study's way), "balanced" (each class's
    # positives weighted by negatives / positives in the training rows), or one number for all.
    # Multi-class: "balanced" weights each class's cross-entropy by n / (k x its rows).
    pos_weight: str | float | None = None

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any]) -> TrainingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in recipe.items() if key in known})


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    eval_loss: float
    eval_selection: float  # the set-up's selection metric (weighted F1 by default) on eval
    train_seconds: float

    @property
    def eval_f1_weighted(self) -> float:
        """The selection figure under the default metric, weighted F1 (older callers' name)."""
        return self.eval_selection


@dataclass(frozen=True)
class TrainingResult:
    best_epoch: int
    history: tuple[EpochRecord, ...]
    train_examples: int
    best_eval_logits: np.ndarray | None = None  # the eval split's logits at the best epoch
    train_tokens: int = 0  # tokens of every training batch of every epoch, padding included
    pos_weight: tuple[float, ...] | None = None
    batch_sizes: BatchSizes | None = None
    train_rows: tuple[int, ...] | None = None  # the train split's rows trained on (a sample); None: all
    # The eval split's scores at the best epoch, one row per input (windows pooled).
    best_eval_scores: np.ndarray | None = None
    selection_metric: str = "f1_weighted"
    problem: str = "multi-label"
    train_windows: int | None = None  # chunked long inputs: the windows trained on

    def details(self) -> dict[str, Any]:
        """JSON-serialisable summary for the leaderboard's fit details."""
        seconds = sum(r.train_seconds for r in self.history) or float("inf")
        weights = None if self.pos_weight is None else [round(w, 4) for w in self.pos_weight]
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.history),
            f"eval_{self.selection_metric}_by_epoch": [round(r.eval_selection, 6) for r in self.history],
            "eval_selection_metric": self.selection_metric,
            "eval_loss_by_epoch": [round(r.eval_loss, 6) for r in self.history],
            "train_loss_by_epoch": [round(r.train_loss, 6) for r in self.history],
            "train_examples_per_second": round(len(self.history) * self.train_examples / seconds, 2),
            "train_rows_used": self.train_examples,
            "train_tokens": self.train_tokens,
            # Multi-class weights each class's cross-entropy; the others weight positives.
            **({"class_weight": weights} if self.problem == "multi-class" else {"pos_weight": weights}),
            **({"train_windows": self.train_windows} if self.train_windows is not None else {}),
            **(self.batch_sizes.details() if self.batch_sizes is not None else {}),
        }


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No load reports or progress bars while loading: new heads are expected and go in details."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


# --- data: tokenising, batching, padding --------------------------------------------------


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def distinct(items: Sequence[Hashable]) -> tuple[list[Any], np.ndarray]:
    """The distinct items in first-seen order, and for each item the index of its copy among them.

    Prediction scores each distinct input once: clinical test sets repeat short texts (the
    embedded indications: 4,600 eval and test rows, 3,296 distinct texts).
    """
    index: dict[Hashable, int] = {}
    inverse = np.fromiter((index.setdefault(item, len(index)) for item in items), dtype=np.int64, count=len(items))
    return list(index), inverse


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None = None, *, chunk_batches: int = 50
) -> list[np.ndarray]:
    """Indices in batches of similar length, each example exactly once.

    Without ``rng`` (prediction): sorted by length. With it (training): shuffled, cut into
    chunks of ``chunk_batches`` batches, sorted by length within each chunk, and the batch
    order shuffled, so batches differ from epoch to epoch but stay nearly pad-free.
    """
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:
        shuffled = rng.permutation(len(lengths))
        chunk = batch_size * chunk_batches
        chunks = np.split(shuffled, range(chunk, len(shuffled), chunk))
        order = np.concatenate([part[np.argsort(lengths[part], kind="stable")] for part in chunks])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Plain random batches (no length grouping), as a default trainer makes them."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def epoch_batches(lengths: Sequence[int], config: TrainingConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches of the examples with these token ``lengths``: length-grouped if the
    recipe's ``group_by_length``, else plainly shuffled (each draws from ``rng``)."""
    if config.group_by_length:
        return length_grouped_batches(lengths, config.batch_size, rng)
    return shuffled_batches(len(lengths), config.batch_size, rng)


def collate(tokenizer: Any, features: Features, config: TrainingConfig) -> dict[str, torch.Tensor]:
    if config.padding == "max_length":
        return tokenizer.pad(features, padding="max_length", max_length=config.max_length, return_tensors="pt")
    return tokenizer.pad(features, padding="longest", return_tensors="pt")


# --- prediction ---------------------------------------------------------------------------


def predict_logits(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    config: TrainingConfig,
    device: str,
    progress: ProgressFactory = no_progress,
    description: str = "predict",
    sizes: BatchSizes | None = None,
) -> np.ndarray:
    """Logits (texts x labels) in the order of ``texts``, batched by length.

    A batch that runs out of GPU memory is split into halves (and so on, down to one row);
    ``sizes.eval`` starts the passes at that size and is lowered to the size that fitted, so a
    caller that keeps ``sizes`` does not hit the error again. Without it: the recipe's size.
    """
    features = encode(tokenizer, texts, config.max_length)
    return features_logits(model, tokenizer, features, config, device, progress, description, sizes)


def features_logits(
    model: Any,
    tokenizer: Any,
    features: Features,
    config: TrainingConfig,
    device: str,
    progress: ProgressFactory = no_progress,
    description: str = "predict",
    sizes: BatchSizes | None = None,
) -> np.ndarray:
    """Logits (rows x labels) of already tokenised rows, as :func:`predict_logits`."""
    sizes = sizes if sizes is not None else BatchSizes.from_config(config)
    logits = np.zeros((len(features), model.config.num_labels), dtype=np.float32)
    batches = length_grouped_batches([len(f["input_ids"]) for f in features], config.eval_batch_size)
    dtype = inference_dtype(device, config)

    def predict_part(part: np.ndarray) -> None:
        inputs = collate(tokenizer, [features[i] for i in part], config).to(device)
        with autocast(device, dtype):
            logits[part] = model(**inputs).logits.float().cpu().numpy()

    model.eval()
    predict_in_batches(batches, sizes, predict_part, progress, description)
    return logits


def predict_in_batches(
    batches: Sequence[np.ndarray],
    sizes: BatchSizes,
    predict_part: Callable[[np.ndarray], None],
    progress: ProgressFactory = no_progress,
    description: str = "predict",
) -> None:
    """``predict_part(rows)`` over every batch under ``torch.inference_mode``, each batch in passes
    of ``sizes.eval`` rows: a pass that runs out of GPU memory is split into halves (down to one
    row) and ``sizes.eval`` is lowered to the size that fitted, for this and later batches.

    Shared by every prediction loop (classification logits, token tags); ``predict_part`` stores
    its results itself, so a retried batch simply overwrites what a failed pass wrote.
    """
    import torch

    def run(rows: np.ndarray, size: int) -> None:
        for part in chunks(rows, size):
            predict_part(part)

    with torch.inference_mode(), progress(description, len(batches)) as advance:
        for rows in batches:
            _, sizes.eval, retries = halve_on_out_of_memory(
                lambda size, rows=rows: run(rows, size), sizes.eval, len(rows), "prediction"
            )
            sizes.retries += retries
            advance()


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)  # overflow-free


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True, initial=-np.inf))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def bce_with_logits(logits: np.ndarray, targets: np.ndarray) -> float:
    logits = logits.astype(np.float64)
    return float(np.mean(np.logaddexp(0.0, logits) - targets * logits)) if logits.size else 0.0


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of the logits against each one-hot row's class (its argmax)."""
    if not logits.size:
        return 0.0
    logits = logits.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(logits)), targets.argmax(axis=1)]))


def is_multi_class(setup: ClassificationSetup) -> bool:
    return setup.problem == "multi-class"


def input_encoding(config: TrainingConfig, setup: ClassificationSetup, pair_encoding: str) -> InputEncoding:
    return InputEncoding(config.max_length, pair_encoding, setup.long_text, setup.chunk_overlap)  # type: ignore[arg-type]


def window_scores(logits: np.ndarray, windows: Windows, inputs: int, setup: ClassificationSetup) -> np.ndarray:
    """One row of scores per input: the sigmoid (softmax for multi-class) of each window's
    logits, pooled over an input's windows by the max (the mean for multi-class)."""
    scores = softmax(logits) if is_multi_class(setup) else sigmoid(logits)
    if windows.one_per_input(inputs):
        return scores
    return pool(scores, windows.owner, inputs, "mean" if is_multi_class(setup) else "max")


def predictions(scores: np.ndarray, setup: ClassificationSetup) -> np.ndarray:
    """0/1 predictions: the argmax for multi-class, sigmoid >= 0.5 otherwise."""
    return decision_rule(setup).apply(scores)


def decision_rule(setup: ClassificationSetup) -> DecisionRule:
    if is_multi_class(setup):
        return DecisionRule(score="softmax", threshold=0.0, argmax=True)
    return DecisionRule(score="sigmoid")


# --- training -----------------------------------------------------------------------------


def snapshot_trainable(model: Any) -> dict[str, torch.Tensor]:
    """A CPU copy of the trainable parameters: all that training changes (LoRA: the adapters)."""
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


def restore_trainable(model: Any, saved: Mapping[str, torch.Tensor]) -> None:
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in saved:
                parameter.copy_(saved[name])


def pos_weights(config: TrainingConfig, y: np.ndarray) -> np.ndarray | None:
    """Per-class weights of positive examples in the loss, from the recipe's ``pos_weight``.

    "balanced" gives negatives / positives per class in the training rows (1 for a class
    with no positive row, where there is nothing to up-weight).
    """
    setting = config.pos_weight
    if setting is None:
        return None
    if setting == "balanced":
        positives = y.sum(axis=0).astype(float)
        return np.where(positives > 0, (len(y) - positives) / np.maximum(positives, 1), 1.0)
    if isinstance(setting, int | float) and not isinstance(setting, bool) and setting > 0:
        return np.full(y.shape[1], float(setting))
    raise ValueError(f"recipe pos_weight must be 'balanced' or a positive number, not {setting!r}")


def class_weights(config: TrainingConfig, y: np.ndarray) -> np.ndarray | None:
    """Multi-class: per-class weights of the cross-entropy from the recipe's ``pos_weight``.

    "balanced" gives n / (k x the class's rows), scikit-learn's ``class_weight="balanced"``
    (1 for a class with no row, which no loss term reaches). A number up-weights positives of a
    sigmoid; a softmax has no positives apart from its class, so it is refused.
    """
    setting = config.pos_weight
    if setting is None:
        return None
    if setting != "balanced":
        raise ValueError(f"recipe pos_weight for a multi-class task must be 'balanced' or None, not {setting!r}")
    counts = y.sum(axis=0).astype(float)
    return np.where(counts > 0, len(y) / (y.shape[1] * np.maximum(counts, 1)), 1.0)


@dataclass(frozen=True)
class _EpochTotals:
    loss: float
    tokens: int


def _train_epoch(
    model: Any,
    tokenizer: Any,
    features: Features,
    targets: np.ndarray,
    batches: list[np.ndarray],
    stepper: Stepper,
    config: TrainingConfig,
    device: str,
    advance: Callable[[int], None],
    sizes: BatchSizes,
    pos_weight: np.ndarray | None = None,
    multi_class: bool = False,
) -> _EpochTotals:
    """One pass over ``batches``, one optimizer step per batch, each batch in passes of
    ``sizes.micro`` rows (lowered, for this and later batches, when a pass runs out of memory).
    ``pos_weight``: the class weights of the cross-entropy when ``multi_class``."""
    import torch

    dtype = autocast_dtype(device, config)
    weight = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32, device=device)

    def backward(part: np.ndarray, share: float) -> tuple[float, int]:
        return _backward(
            model, tokenizer, features, targets, part, share, config, device, dtype, weight, stepper, multi_class
        )

    model.train()
    return accumulated_epoch(batches, stepper, sizes, backward, advance)


def accumulated_epoch(
    batches: Sequence[np.ndarray],
    stepper: Stepper,
    sizes: BatchSizes,
    backward: Callable[[np.ndarray, float], tuple[float, int]],
    advance: Callable[[int], None],
    weight_of: Callable[[np.ndarray], float] = len,
) -> _EpochTotals:
    """One optimizer step per batch, each batch in passes of ``sizes.micro`` rows (lowered, for
    this and later batches, when a pass runs out of GPU memory).

    ``backward(rows, share)`` runs forward and backward over ``rows`` with its mean loss scaled by
    ``share`` and returns (that unscaled mean loss, the tokens of the padded pass). A pass's share
    is ``weight_of(its rows) / weight_of(the batch's rows)``: rows for a per-row loss (the default),
    labelled tokens for a per-token one, so the summed gradient is the gradient of the whole batch's
    mean loss, as if it had run in one pass. The epoch's loss is the mean over that weight.
    Shared by every training loop (classification, token tagging).
    """

    def accumulate(rows: np.ndarray, size: int) -> tuple[float, int]:
        stepper.zero_grad()  # a retry starts over: a failed pass may have left partial gradients
        loss_sum, tokens, total = 0.0, 0, weight_of(rows)
        for part in chunks(rows, size):
            part_weight = weight_of(part)
            loss, part_tokens = backward(part, part_weight / total if total else 0.0)
            loss_sum, tokens = loss_sum + loss * part_weight, tokens + part_tokens
        return loss_sum, tokens

    total_loss, total_weight, tokens = 0.0, 0.0, 0
    for rows in batches:
        (loss_sum, batch_tokens), sizes.micro, retries = halve_on_out_of_memory(
            lambda size, rows=rows: accumulate(rows, size), sizes.micro, len(rows), "training", stepper.zero_grad
        )
        sizes.retries += retries
        stepper.step()
        total_loss += loss_sum
        total_weight += weight_of(rows)
        tokens += batch_tokens
        advance(1)
    return _EpochTotals(total_loss / max(1, total_weight), tokens)


def _backward(
    model: Any,
    tokenizer: Any,
    features: Features,
    targets: np.ndarray,
    rows: np.ndarray,
    share: float,
    config: TrainingConfig,
    device: str,
    dtype: torch.dtype | None,
    weight: torch.Tensor | None,
    stepper: Stepper,
    multi_class: bool = False,
) -> tuple[float, int]:
    """Forward and backward over ``rows`` with the loss scaled by ``share``; returns (the
    unscaled mean loss, the tokens of the padded pass). Its tensors die with this frame."""
    import torch
    import torch.nn.functional as F

    inputs = collate(tokenizer, [features[i] for i in rows], config).to(device)
    labels = torch.as_tensor(targets[rows], dtype=torch.float32, device=device)
    with autocast(device, dtype):
        logits = model(**inputs).logits
    if multi_class:
        # A plain mean over rows of the weighted terms (torch's weighted mean divides by the
        # weights instead), so passes accumulate to the whole batch's mean exactly.
        classes = labels.argmax(dim=1)
        loss = F.cross_entropy(logits.float(), classes, weight=weight, reduction="none").mean()
    else:
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels, pos_weight=weight)
    stepper.backward(loss * share)
    return loss.item(), int(inputs["input_ids"].numel())


def train_classifier(
    model: Any, tokenizer: Any, request: FitRequest, head_prefixes: Sequence[str] = (), pair_encoding: str = "tokenizer"
) -> TrainingResult:
    """Fine-tune ``model`` (a ``...ForSequenceClassification``) in place; return its history.

    ``head_prefixes`` name the parameters that get ``head_lr`` (e.g. ``("classifier.",)``);
    ``pair_encoding`` is how the model reads a sentence pair (:mod:`harness.training.encoding`).
    The loss follows ``request.setup``: BCE on the logits (multi-label, binary), cross-entropy
    against each one-hot row's class (multi-class); a chunked input trains every window with
    its row's labels. The best epoch is chosen by ``setup.selection_metric`` on the eval split.
    On return the model holds the weights of the best epoch and is in eval mode.
    """

    config = TrainingConfig.from_recipe(request.recipe)
    setup = request.setup
    multi_class = is_multi_class(setup)
    encoding = input_encoding(config, setup, pair_encoding)
    seed_everything(request.seed)
    prepare_device(model, request.device, config)
    train = request.train.sample(config.max_train_rows, request.seed)
    sampled = sample_rows(len(request.train), config.max_train_rows, request.seed)  # the rows ``train`` holds
    rows = None if sampled is None else tuple(int(i) for i in sampled)
    weights = class_weights(config, train.y) if multi_class else pos_weights(config, train.y)
    windows = encode_inputs(tokenizer, train.inputs, encoding)
    features = windows.features
    targets = train.y if windows.one_per_input(len(train)) else train.y[windows.owner]
    eval_windows = encode_inputs(tokenizer, request.eval.inputs, encoding)
    eval_targets = request.eval.y[eval_windows.owner]
    lengths = [len(f["input_ids"]) for f in features]
    rng = np.random.default_rng(request.seed)
    stepper = optimizer_stepper(model, config, request.device, head_prefixes, len(features))
    sizes = BatchSizes.from_config(config)

    history: list[EpochRecord] = []
    tokens = 0
    best: tuple[float, int, dict[str, torch.Tensor], np.ndarray, np.ndarray] | None = None
    for epoch in range(1, config.epochs + 1):
        batches = epoch_batches(lengths, config, rng)
        started = time.perf_counter()
        with request.progress(f"epoch {epoch}/{config.epochs}", len(batches)) as advance:
            totals = _train_epoch(
                model,
                tokenizer,
                features,
                targets,
                batches,
                stepper,
                config,
                request.device,
                advance,
                sizes,
                weights,
                multi_class,
            )
        tokens += totals.tokens
        seconds = time.perf_counter() - started
        logits = features_logits(
            model,
            tokenizer,
            eval_windows.features,
            config,
            request.device,
            request.progress,
            f"eval {epoch}/{config.epochs}",
            sizes,
        )
        scores = window_scores(logits, eval_windows, len(request.eval), setup)
        figure = selection_figure(request.eval.y, scores, request.labels, setup)
        # The eval loss is over windows, as the training loss is (one per input unless chunked).
        loss = cross_entropy(logits, eval_targets) if multi_class else bce_with_logits(logits, eval_targets)
        history.append(EpochRecord(epoch, totals.loss, loss, figure, seconds))
        if best is None or figure > best[0]:  # ties keep the earlier epoch
            best = (figure, epoch, snapshot_trainable(model), logits, scores)
        if request.on_epoch is not None:  # a search trial: its scheduler may stop the fit here
            request.on_epoch(epoch, figure)
    if best is not None:
        restore_trainable(model, best[2])
    model.eval()
    used = None if weights is None else tuple(float(w) for w in weights)
    chunked = None if windows.one_per_input(len(train)) else len(features)
    common: dict[str, Any] = {
        "train_tokens": tokens,
        "pos_weight": used,
        "batch_sizes": sizes,
        "train_rows": rows,
        "selection_metric": setup.selection_metric,
        "problem": setup.problem,
        "train_windows": chunked,
    }
    if best is None:
        return TrainingResult(0, tuple(history), len(train), **common)
    one_row_each = eval_windows.one_per_input(len(request.eval))
    logits_of_rows = best[3] if one_row_each else None  # windows' logits are not one row per input
    return TrainingResult(best[1], tuple(history), len(train), logits_of_rows, best_eval_scores=best[4], **common)


def selection_figure(
    y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str], setup: ClassificationSetup
) -> float:
    """The set-up's selection metric of the 0/1 predictions (argmax, or sigmoid >= 0.5)."""
    predicted = predictions(scores, setup) if is_multi_class(setup) else scores >= 0.5
    return multilabel_report(y_true, predicted, labels)[setup.selection_metric]


def weighted_f1(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str], threshold: float = 0.5) -> float:
    return multilabel_report(y_true, scores >= threshold, labels)["f1_weighted"]


def count_parameters(model: Any) -> tuple[int, int]:
    """(all parameters, trainable parameters), counting a 4-bit weight by its logical shape
    (bitsandbytes packs two 4-bit values into each stored byte)."""
    params = list(model.parameters())
    return sum(logical_numel(p) for p in params), sum(p.numel() for p in params if p.requires_grad)


@dataclass(eq=False)
class TorchClassifier:
    """A fine-tuned transformer classifier (implements :class:`harness.FittedClassifier`)."""

    model: Any
    tokenizer: Any
    config: TrainingConfig
    device: str
    params: int
    trainable_params: int
    details: dict[str, Any]
    progress: ProgressFactory = no_progress
    decision_rule: DecisionRule = DecisionRule(score="sigmoid")

    # The eval split was predicted with the best weights during training: scoring it again
    # reuses those scores (an LLM on a CPU takes seconds per hundred rows).
    known: tuple[tuple[Input, ...], np.ndarray] | None = None
    # The sizes the fit ended at (None: the recipe's). Kept here rather than in the frozen
    # config, and shared with the training run: test sets then start at the eval batch size
    # that fitted, instead of running out of memory at the recipe's size once per test set.
    batch_sizes: BatchSizes | None = None
    train_rows: tuple[int, ...] | None = None  # see FittedClassifier: the rows a sampled fit trained on
    setup: ClassificationSetup = ClassificationSetup()
    pair_encoding: str = "tokenizer"  # how a sentence pair is read (harness.training.encoding)
    weights_cast: bool = False  # whether its linear layers are stored in the prediction dtype yet

    def remember(self, inputs: Sequence[Input], scores: np.ndarray | None) -> TorchClassifier:
        if scores is not None:
            self.known = (tuple(inputs), scores)
        return self

    @property
    def encoding(self) -> InputEncoding:
        return input_encoding(self.config, self.setup, self.pair_encoding)

    def predict_scores(self, texts: Sequence[Input]) -> np.ndarray:
        """Sigmoid scores (softmax probabilities for multi-class), one row per input; a chunked
        input's windows pooled (see :func:`window_scores`)."""
        if self.known is not None and tuple(texts) == self.known[0]:
            return self.known[1].copy()  # a caller may write into its scores
        unique, inverse = distinct(texts)
        if len(unique) < len(texts):  # a repeated input is scored once
            return self.predict_scores(unique)[inverse]
        if not self.weights_cast:  # training is over: the weights never change again
            cast_for_inference(self.model, self.device, inference_dtype(self.device, self.config))
            self.weights_cast = True
        if self.batch_sizes is None:
            self.batch_sizes = BatchSizes.from_config(self.config)
        retries = self.batch_sizes.retries
        windows = encode_inputs(self.tokenizer, texts, self.encoding)
        logits = features_logits(
            self.model,
            self.tokenizer,
            windows.features,
            self.config,
            self.device,
            self.progress,
            sizes=self.batch_sizes,
        )
        if self.batch_sizes.retries != retries:  # the runner copies these after each item: it sees the change
            self.details.update(self.batch_sizes.details())
        return window_scores(logits, windows, len(texts), self.setup)

    def length_report(self, inputs: Sequence[Input]) -> dict[str, Any]:
        """What the recipe's ``max_length`` cuts from ``inputs`` (harness.training.encoding)."""
        from harness.training.encoding import length_report

        return length_report(self.tokenizer, inputs, self.encoding)


def mark_problem(model: Any, setup: ClassificationSetup) -> None:
    """Set the config's ``problem_type`` for the set-up (what transformers' own loss would use;
    the loop computes its own): single-label for multi-class, multi-label otherwise."""
    model.config.problem_type = "single_label_classification" if is_multi_class(setup) else "multi_label_classification"


def setup_details(setup: ClassificationSetup, pair_encoding: str) -> dict[str, Any]:
    """The fit-details keys of the set-up: the problem, the pair encoding (pair tasks only),
    what happens to long inputs."""
    return {
        "problem": setup.problem,
        **({"pair_encoding": pair_encoding} if setup.text_pairs else {}),
        "long_text": setup.long_text,
    }


def fine_tune(
    model: Any,
    tokenizer: Any,
    request: FitRequest,
    head_prefixes: Sequence[str] = (),
    pair_encoding: str = "tokenizer",
    **details: Any,
) -> TorchClassifier:
    """Train with :func:`train_classifier` and wrap the result for the runner.

    ``details`` (e.g. newly initialised parameter names) are added to the fit's details.
    """
    result = train_classifier(model, tokenizer, request, head_prefixes, pair_encoding)
    params, trainable = count_parameters(model)
    config = TrainingConfig.from_recipe(request.recipe)
    classifier = TorchClassifier(
        model=model,
        tokenizer=tokenizer,
        config=config,
        device=request.device,
        params=params,
        trainable_params=trainable,
        details={
            **result.details(),
            **precision_details(model, request.device, config),
            **setup_details(request.setup, pair_encoding),
            **details,
        },
        progress=request.progress,
        decision_rule=decision_rule(request.setup),
        batch_sizes=result.batch_sizes,
        train_rows=result.train_rows,
        setup=request.setup,
        pair_encoding=pair_encoding,
    )
    return classifier.remember(request.eval.inputs, result.best_eval_scores)
