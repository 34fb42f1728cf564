"""Small deterministic model plugins for testing the core without training anything real."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness import DecisionRule, FitRequest, ModelSpec, hookimpl

FIT_CALLS: list[tuple[str, int]] = []
FIT_ROWS: list[tuple[str, int, int]] = []  # (model, seed, training rows it was given)


@dataclass
class Lookup:
    """Predicts the labels of the training string it contains (longest match), else nothing."""

    table: dict[str, np.ndarray]
    width: int
    decision_rule: DecisionRule = DecisionRule("rule")
    params: int = 0
    trainable_params: int = 0
    details: dict = field(default_factory=dict)

    def predict_scores(self, texts):
        out = np.zeros((len(texts), self.width))
        for i, text in enumerate(texts):
            hits = [key for key in self.table if key in text.lower()]
            if hits:
                out[i] = self.table[max(hits, key=len)]
        return out


def fit_lookup(request: FitRequest) -> Lookup:
    FIT_CALLS.append((request.spec.name, request.seed))
    FIT_ROWS.append((request.spec.name, request.seed, len(request.train)))
    table = {text.lower(): row.astype(float) for text, row in zip(request.train.texts, request.train.y)}
    return Lookup(table, len(request.labels), details={"seed": request.seed, "recipe": dict(request.recipe)})


def fit_broken(request: FitRequest):
    FIT_CALLS.append((request.spec.name, request.seed))
    raise RuntimeError("deliberate failure in fit")


@hookimpl
def harness_add_models(register) -> None:
    register.add(ModelSpec("lookup", "fake", "memorise", fit_lookup, params=0, markers=("fake",), recipe={"epochs": 3}))
    register.add(ModelSpec("broken", "fake", "memorise", fit_broken, markers=("fake",)))
    register.add(ModelSpec("gpu-only", "fake", "memorise", fit_lookup, requires_cuda=True, markers=("gpu",)))
