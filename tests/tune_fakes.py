"""Fake models for the search's tests (``harness run --tune``). Their trials run in Ray workers, so
they talk to the test through files in ``$HARNESS_TEST_DIR`` (Ray passes ``HARNESS_*`` on).

* ``knob``: its recipe's ``skill`` (0..1) is the share of rows it gets right (which rows: a hash of
  the text, the same in every process), reached after its last epoch; each epoch is reported
  (``FitRequest.on_epoch``), so ASHA can stop it. Every fit appends a line to ``fits.jsonl``: its
  skill, whether it ran in a trial, and the names of every ``LabelledSplit`` alive in its process
  (a trial must hold train and eval only). ``$HARNESS_TEST_PAUSE`` seconds of sleep per epoch.
* ``knob-killed``: as ``knob``, but a trial kills its own worker (SIGKILL, as the OOM killer would):
  the recipe's trial on its first attempt only, every other trial on every attempt.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness import DecisionRule, FitRequest, ModelSpec, hookimpl
from harness.data import LabelledSplit

RECIPE = {"skill": 0.2, "epochs": 3}
SPACE = {"skill": {"uniform": [0.0, 1.0]}}


def _folder() -> Path:
    return Path(os.environ["HARNESS_TEST_DIR"])


def _log(line: dict) -> None:
    with (_folder() / "fits.jsonl").open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(line) + "\n")


def _right(text: str, skill: float) -> bool:
    return zlib.crc32(text.encode("utf-8")) / 2**32 < skill


@dataclass
class Knob:
    skill: float
    table: dict[str, np.ndarray]
    width: int
    decision_rule: DecisionRule = DecisionRule("rule")
    params: int = 1
    trainable_params: int = 1
    details: dict = field(default_factory=dict)

    def predict_scores(self, texts):
        out = np.zeros((len(texts), self.width))
        for i, text in enumerate(texts):
            if _right(text, self.skill) and text in self.table:
                out[i] = self.table[text]
        return out


def fit_knob(request: FitRequest) -> Knob:
    skill, epochs = float(request.recipe["skill"]), int(request.recipe["epochs"])
    in_trial = request.on_epoch is not None
    splits = sorted({obj.name for obj in gc.get_objects() if isinstance(obj, LabelledSplit)})
    _log({"skill": skill, "trial": in_trial, "pid": os.getpid(), "splits": splits, "event": "start"})
    # It has seen every split's rows (a fake: it scores the rows it is told about).
    table = {text: row.astype(float) for text, row in zip(request.train.texts, request.train.y)}
    table.update({text: row.astype(float) for text, row in zip(request.eval.texts, request.eval.y)})
    knob = Knob(skill, table, len(request.labels), details={"recipe": dict(request.recipe)})
    pause = float(os.environ.get("HARNESS_TEST_PAUSE", "0"))
    for epoch in range(1, epochs + 1):
        time.sleep(pause)
        if epoch == epochs:  # Tune stops a trial at its last epoch's report: nothing after it runs
            _log({"skill": skill, "trial": in_trial, "event": "done"})
        if request.on_epoch is not None:
            reached = Knob(skill * epoch / epochs, table, len(request.labels))
            predicted = reached.decision_rule.apply(reached.predict_scores(list(request.eval.texts)))
            from harness.scoring.metrics import multilabel_report

            request.on_epoch(epoch, multilabel_report(request.eval.y, predicted, request.labels)["f1_weighted"])
    return knob


def fit_knob_killed(request: FitRequest) -> Knob:
    skill = float(request.recipe["skill"])
    if request.on_epoch is not None:
        marker = _folder() / f"killed-{skill}"
        if skill != RECIPE["skill"] or not marker.exists():
            marker.write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)
    return fit_knob(request)


@hookimpl
def harness_add_models(register) -> None:
    for name, fit in (("knob", fit_knob), ("knob-killed", fit_knob_killed)):
        register.add(ModelSpec(name, "fake", "memorise", fit, markers=("fake",), recipe=RECIPE, search_space=SPACE))
