"""Prompted LLMs behind an OpenAI-compatible server (vLLM, TGI, ``transformers serve``, ...), declared
in the config with no code::

    [models.llama-70b]
    plugin = "openai-compatible"
    base_url = "http://127.0.0.1:8000/v1"
    model = "meta-llama/Llama-3.1-70B-Instruct"   # the name the server serves it under
    api_key_env = "LLAMA_KEY"                      # optional: the variable holding the key
    recipe = { shots = 4, demonstrations = "nearest" }

Each becomes a row of the same grid as every other model: same splits, metrics, bands and
decision. Its score per label comes from one of three modes (:mod:`.modes`), chosen at the fit
by canaries; its few-shot demonstrations come from TRAIN only (:mod:`harness.training.shots`);
its answers are cached in the run directory (:mod:`.client`), and patient text goes only to the
hosts the config allows (:mod:`.settings`). docs/served-llms.md has the whole story.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import ModelSpec, PluginError, hookimpl
from harness.model import ClassificationSetup, DecisionRule, FitRequest, Input
from harness.plugins.served import modes
from harness.plugins.served.client import PLUGIN, ContextTooLong, ResponseCache, ServedClient, cache_path
from harness.plugins.served.settings import KEYS, ServedSettings, read_settings

KIND = "openai-compatible"
FAMILY = "served"
RECIPE: dict[str, Any] = {"shots": 0, "demonstrations": "random"}
NOT = "not "
REFUSED_MULTI_LABEL = (
    "a prompted answer names one label; this multi-label task needs a yes/no question per label (not built)"
)
# Settings of the models the config declared, by name: what the start-of-run notice prints.
DECLARED: dict[str, ServedSettings] = {}


def refuses(labels: tuple[str, ...], setup: ClassificationSetup) -> str | None:
    if setup.problem == "multi-label" and not setup.single_answer_multi_label:
        return REFUSED_MULTI_LABEL
    return None


def answers_for(labels: Sequence[str], setup: ClassificationSetup) -> tuple[str, ...]:
    """Each label's answer words; a binary task answers its positive label or "not " + it."""
    if setup.problem == "binary":
        positive = setup.describe(labels[0])
        return (positive, NOT + positive)
    return tuple(setup.describe(label) for label in labels)


def rule_for(setup: ClassificationSetup) -> DecisionRule:
    """One label at most per input; an input whose scores are all 0 (an unparseable answer)
    gets none, so it counts as wrong."""
    if setup.problem == "binary":
        return DecisionRule(score="label_distribution", threshold=0.5)
    return DecisionRule(score="label_distribution", threshold=0.0, operator=">", top_k=1)


def demo_labels(y: np.ndarray, problem: str) -> np.ndarray:
    """The answer each training row is shown with: its first label; a binary negative row the
    "not" answer; -1 for a row without one (never shown)."""
    first = np.where(y.any(axis=1), y.argmax(axis=1), -1)
    return np.where(first < 0, 1, 0) if problem == "binary" else first


@dataclass(eq=False)
class ServedClassifier:
    """A served LLM answering with one category (implements :class:`harness.FittedClassifier`)."""

    client: ServedClient
    maker: modes.PromptMaker
    mode: str
    answers: tuple[str, ...]
    columns: int | None
    decision_rule: DecisionRule
    details: dict[str, Any]
    shots: int
    method: str
    seed: int
    train_inputs: tuple[Input, ...]
    train_labels: np.ndarray  # each training row's answer index, -1: never shown
    name: str  # the model's: its demonstrations' file in the run directory
    run_dir: str | None
    params: int | None = None  # on the server: not known here
    trainable_params: int = 0
    no_training_time: bool = True  # the fit only asks the server its canaries
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # per input (hash of it)
    walls: dict[str, float] = field(default_factory=dict)  # per predict call (hash of its inputs)
    last_demonstrations: list[list[int]] | None = None  # per input of the last call: train rows shown

    def predict_scores(self, texts: Sequence[Input]) -> np.ndarray:
        started = time.perf_counter()
        demos = self._demonstrations(texts)
        with ThreadPoolExecutor(self.client.settings.concurrency) as pool:
            answered = list(pool.map(self._score, texts, demos))
        rows = [scores for scores, _ in answered]
        # per input, the train rows it was shown (after any dropped): the per-row predictions keep them
        self.last_demonstrations = [shown for _, shown in answered]
        scores = np.array(rows, dtype=np.float32).reshape(len(texts), len(self.answers))
        self.walls[_digest(texts)] = time.perf_counter() - started
        return scores if self.columns is None else scores[:, : self.columns]

    def _demonstrations(self, texts: Sequence[Input]) -> list[list[int]]:
        from harness.training.shots import choose

        shown = np.flatnonzero(self.train_labels >= 0)
        if not self.shots or not len(shown):
            return [[] for _ in texts]
        y = np.eye(len(self.answers), dtype=np.int8)[self.train_labels[shown]]
        picked = choose(self.method, self.shots, texts, [self.train_inputs[i] for i in shown], y, self.seed)
        return [[int(shown[i]) for i in rows] for rows in picked]

    def _score(self, item: Input, rows: list[int]) -> tuple[list[float], list[int]]:
        rows, dropped = list(rows), 0
        while True:
            demos = [(self.train_inputs[r], int(self.train_labels[r])) for r in rows]
            try:
                scores, record = self._ask(item, demos)
                break
            except ContextTooLong:
                if not rows:
                    raise PluginError(PLUGIN, "an input alone is longer than the served model's context") from None
                rows.pop()  # the last demonstration goes first
                dropped += 1
        record.update(dropped=dropped, shots=len(rows))
        self.records[_digest([item])] = record
        if rows:
            from harness.training.shots import record as record_demonstrations

            record_demonstrations(self.run_dir, self.name, [item], [rows])
        return scores, rows

    def _ask(self, item: Input, demos: list[tuple[Input, int]]) -> tuple[list[float], dict[str, Any]]:
        endpoint = self.client.settings.endpoint
        parsed = True
        if self.mode == "label_logprobs":
            prompt = self.maker.prompt(item, demos)
            body = modes.label_logprobs_body(prompt, self.answers)
            value, cached = self.client.request("/completions", body, modes.extract_label_logprobs(len(prompt)))
            logprobs = np.array(value["logprobs"], dtype=float)
            scores = list(np.exp(logprobs - logprobs.max()) / np.exp(logprobs - logprobs.max()).sum())
        elif self.mode == "letter_logprobs":
            body = {**self.maker.body(item, demos), **modes.letter_logprobs_body(endpoint)}

            def extract(response: dict[str, Any]) -> dict[str, Any]:
                return {"top": modes.first_token_top(response, endpoint)}

            value, cached = self.client.request(modes.path_of(endpoint), body, extract)
            distribution = modes.letter_scores(value["top"], len(self.answers))
            parsed = distribution is not None
            scores = list(distribution) if parsed else [0.0] * len(self.answers)
        else:
            body = {**self.maker.body(item, demos), **modes.generation_body(self.client.settings, self.answers)}

            def extract(response: dict[str, Any]) -> dict[str, Any]:
                return {"text": modes.answer_text(response, endpoint)}

            value, cached = self.client.request(modes.path_of(endpoint), body, extract)
            index = modes.parse_answer(value["text"], self.answers, self.client.settings.guided == "json_schema")
            parsed = index is not None
            scores = [float(i == index) for i in range(len(self.answers))]
        usage = value.get("usage") or {}
        record = {
            "cached": cached,
            "parsed": parsed,
            "tokens_in": usage.get("in") or 0,
            "tokens_out": usage.get("out") or 0,
            "seconds": value.get("seconds", 0.0),
        }
        return scores, record

    def prompting_report(self, texts: Sequence[Input]) -> dict[str, Any]:
        """What answering ``texts`` took: the scoring mode, unparseable answers, dropped
        demonstrations, requests, tokens, latency percentiles and throughput."""
        records = [self.records[k] for k in (_digest([t]) for t in texts) if k in self.records]
        if not records:
            return {}
        latency = np.array([r["seconds"] for r in records], dtype=float)
        wall = self.walls.get(_digest(texts))
        return {
            "scoring": self.mode,
            "inputs": len(texts),
            "unparseable": sum(not r["parsed"] for r in records),
            "shots": self.shots,
            "demonstrations_dropped": sum(r["dropped"] for r in records),
            "requests": sum(not r["cached"] for r in records),
            "cached": sum(r["cached"] for r in records),
            "tokens_in": int(sum(r["tokens_in"] for r in records)),
            "tokens_out": int(sum(r["tokens_out"] for r in records)),
            "latency_p50_seconds": round(float(np.percentile(latency, 50)), 4),
            "latency_p95_seconds": round(float(np.percentile(latency, 95)), 4),
            # the server's throughput: only where every answer was requested in this run
            "inputs_per_second": round(len(texts) / wall, 3)
            if wall and not any(r["cached"] for r in records)
            else None,
        }


def _digest(texts: Sequence[Input]) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()


def fit_served(name: str, settings: ServedSettings, request: FitRequest) -> ServedClassifier:
    """No training: choose the scoring mode by canaries; keep train for the demonstrations."""
    from harness.training.shots import METHODS

    setup = request.setup
    reason = refuses(request.labels, setup)
    if reason:
        raise PluginError(PLUGIN, reason)
    shots, method = int(request.recipe.get("shots", 0)), request.recipe.get("demonstrations", "random")
    if method not in METHODS or shots < 0:
        raise PluginError(
            PLUGIN, f"recipe: shots >= 0 and demonstrations in {', '.join(METHODS)}; got {shots}, {method!r}"
        )
    answers = answers_for(request.labels, setup)
    client = ServedClient(settings, ResponseCache(cache_path(request.run_dir, name)))
    mode, refused = modes.choose_mode(client, settings, len(answers))
    task = setup.task_description or "this text"
    maker = modes.PromptMaker(answers, task, settings.endpoint, letters=mode == "letter_logprobs")
    details = {
        "trained": False,
        "served_model": settings.model,
        "host": settings.host,
        "endpoint": settings.endpoint,
        "scoring": mode,
        "scoring_refused": refused,  # why each earlier mode was not used (its canary's answer)
        "shots": shots,
        "demonstrations": method,
        "problem": setup.problem,
    }
    return ServedClassifier(
        client=client,
        maker=maker,
        mode=mode,
        answers=answers,
        columns=1 if setup.problem == "binary" else None,
        decision_rule=rule_for(setup),
        details=details,
        shots=shots,
        method=method,
        seed=request.seed,
        train_inputs=tuple(request.train.inputs),
        train_labels=demo_labels(request.train.y, setup.problem),
        name=name,
        run_dir=request.run_dir,
    )


def declare(name: str, table: Mapping[str, Any], where: str) -> ModelSpec:
    """The model a ``[models.NAME] plugin = "openai-compatible"`` table declares."""
    settings = read_settings(table, where)
    DECLARED[name] = settings
    return ModelSpec(
        name=name,
        family=FAMILY,
        architecture="decoder",
        fine_tuning_regime=f"prompted (served, {settings.endpoint} endpoint)",
        fit=lambda request: fit_served(name, settings, request),
        refuses=refuses,
        trains=False,
        needs=("httpx",),
        markers=("served", "prompted", "decoder"),
        recipe=RECIPE,
        description=f"{settings.model} served at {settings.host}, prompted (docs/served-llms.md)",
    )


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add_kind(KIND, declare, KEYS)


@hookimpl
def harness_collection_finished(session: Any, items: list[Any]) -> None:
    """Before the first request: which host receives how many texts of which split."""
    lines: list[str] = []
    for name, settings in DECLARED.items():
        tasks = sorted({i.task.name for i in items if i.model.name == name and i.skip_reason is None})
        for task in tasks:
            data = session.data.get(task)
            if data is None:
                continue
            counts = ", ".join(f"{split} {len(rows)}" for split, rows in data.splits.items())
            if "train" in data.splits:
                counts += " (of train, at most 300 rows are scored)"
            shots = session.recipe(session.models[name], session.tasks[task].fits_on).get("shots", 0)
            more = f"; plus {shots} demonstrations per input drawn from train" if shots else ""
            lines.append(f"harness: {name} sends {task} texts to {settings.host}: {counts}{more}")
    if lines:
        print("\n".join(lines), file=sys.stderr)
