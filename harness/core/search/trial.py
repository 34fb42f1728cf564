"""One search trial, as Ray Tune runs it in a worker: fit on train with the trial's configuration
over the model's recipe, score on eval only, report to Tune.

A trial holds the train and eval splits and nothing else of the task: the test sets are never
sent to it (:class:`TrialJob` has no field for them). What it reports is numbers: the eval score
of each epoch (torch families, through ``FitRequest.on_epoch``) or once (classical ones), the
best so far (what the fit keeps: the loop restores its best epoch), the time, and the attempt.
Each report carries a small checkpoint of that record (no weights): when Ray runs a trial again
after its worker was lost, :func:`ray.tune.get_checkpoint` hands the record back, so the budget
shows the lost attempt's epochs and time. The fit itself starts over (a weight checkpoint per
epoch and trial would cost MiniLM 90 MB each).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.data import LabelledSplit
from harness.model import ClassificationSetup, FitRequest, ModelSpec
from harness.progress import no_progress
from harness.scoring.metrics import multilabel_report

RECORD = "trial.json"  # the checkpoint's one file


@dataclass(frozen=True)
class TrialJob:
    """What every trial of one search shares (sent once, through Ray's object store)."""

    model: ModelSpec
    labels: tuple[str, ...]
    setup: ClassificationSetup
    train: LabelledSplit
    eval: LabelledSplit
    seed: int
    recipe: Mapping[str, Any]  # trial 0's: the model's effective recipe
    device: str
    weights: str | None
    allow_pickle: bool = False
    trust_remote_code: bool = False


def eval_score(classifier: Any, job: TrialJob) -> float:
    """The task's selection metric on eval at the model's own decision rule (as the task scores eval)."""
    scores = classifier.predict_scores(list(job.eval.inputs))
    predicted = classifier.decision_rule.apply(scores)
    return float(multilabel_report(job.eval.y, predicted, job.labels)[job.setup.selection_metric])


def _earlier(checkpoint: Any) -> dict[str, Any]:
    """The record of this trial's earlier attempt (its worker was lost), or an empty one."""
    if checkpoint is None:
        return {}
    with checkpoint.as_directory() as folder:
        try:
            with open(os.path.join(folder, RECORD), encoding="utf-8") as stream:
                return json.load(stream)
        except (OSError, ValueError):
            return {}


def _placement() -> dict[str, Any]:
    """Where this trial runs: the node's address and the GPUs Ray gave it (their ids); its reports add
    ``span``, the attempt's start and its latest report in Unix seconds (did two trials overlap?)."""
    import ray

    gpus = [int(g) if str(g).isdigit() else str(g) for g in ray.get_gpu_ids()]
    return {"node": ray.util.get_node_ip_address(), "gpu_ids": gpus}


def run_trial(config: dict[str, Any], job: TrialJob) -> None:
    """Ray Tune's function trainable: one fit with ``config`` over the recipe, reported per epoch."""
    from ray import tune

    earlier = _earlier(tune.get_checkpoint())
    attempt = int(earlier.get("attempt", 0)) + 1
    spent = float(earlier.get("seconds", 0.0))  # the lost attempts' time counts in the budget
    lost = [*earlier.get("lost_epochs", []), len(earlier.get("eval_by_epoch", []))] if earlier else []
    started = time.perf_counter()
    record: dict[str, Any] = {"attempt": attempt, "lost_epochs": lost, "eval_by_epoch": []}
    where, wall_start = _placement(), time.time()

    def report(score: float, done: bool) -> None:
        record["eval_by_epoch"].append(round(score, 6))
        record["seconds"] = round(spent + time.perf_counter() - started, 3)
        best = max(record["eval_by_epoch"])
        metrics = {
            "eval_score": score,
            "eval_best": best,
            "epoch": len(record["eval_by_epoch"]),
            "attempt": attempt,
            "trial_seconds": record["seconds"],
            "done": done,
            # Ray Tune sets "done" on the last result of a trial its scheduler stopped too: this
            # one says whether the fit itself finished (harness.core.search.tuner.trial_record).
            "finished": done,
            "eval_by_epoch": list(record["eval_by_epoch"]),
            "per_epoch": per_epoch,
            "placement": {**where, "span": [round(wall_start, 3), round(time.time(), 3)]},
        }
        with tempfile.TemporaryDirectory(prefix="harness-trial-") as folder:
            with open(os.path.join(folder, RECORD), "w", encoding="utf-8") as stream:
                json.dump(record, stream)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    recipe = {**job.recipe, **config}
    planned = int(recipe.get("epochs") or 0)
    per_epoch = False  # set by the first epoch a torch loop reports
    request = FitRequest(
        spec=job.model,
        labels=job.labels,
        train=job.train,
        eval=job.eval,
        seed=job.seed,
        recipe=recipe,
        device=job.device,
        weights=job.weights,
        progress=no_progress,
        allow_pickle=job.allow_pickle,
        trust_remote_code=job.trust_remote_code,
        setup=job.setup,
        on_epoch=lambda epoch, figure: on_epoch(epoch, figure),
    )

    def on_epoch(epoch: int, figure: float) -> None:
        nonlocal per_epoch
        per_epoch = True
        report(figure, epoch >= planned)

    classifier = job.model.fit(request)
    if not record["eval_by_epoch"]:  # a classical fit: one report, at the decision rule
        report(eval_score(classifier, job), True)
