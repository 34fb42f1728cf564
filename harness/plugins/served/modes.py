"""The prompt, and the three ways a served model's answer becomes a score per label.

* ``label_logprobs``: each label's answer is appended to the prompt and the server returns the
  prompt's token log-probabilities (vLLM's completions with ``echo`` and ``logprobs``); a
  label's score is the sum over its answer's tokens, normalised over the labels (softmax), as
  the in-process zero-shot model scores it.
* ``letter_logprobs``: the options are listed as letters (A., B., ...) and the server returns
  only the ``top_logprobs`` of the one token it generates; a label's score is the probability of
  its letter (any spelling whose stripped text is the letter), normalised over the letters.
  No letter among the top tokens: the answer is unparseable.
* ``generation``: temperature 0, at most ``max_tokens`` tokens (``guided`` adds vLLM's
  ``guided_choice`` or a JSON schema), parsed strictly: the whole answer, stripped of
  surrounding whitespace and one final full stop, must be one label's answer (case aside). A
  parsed answer scores 1 for its label; an unparseable one scores 0 for every label, so that no
  label is predicted and the row counts as wrong; it is counted, never dropped.

Which is used is chosen at the fit by canaries (:func:`canary`): prompts whose continuation is
known, proving that the server really returns what the mode reads.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import PluginError
from harness.model import Input, joined

LETTERS = string.ascii_uppercase
MODES = ("label_logprobs", "letter_logprobs", "generation")
CANARY_STEM = "The capital of France is"
CANARY_KNOWN, CANARY_UNLIKELY = " Paris", " banana"
SYSTEM = "You classify texts into the categories you are given."


@dataclass(frozen=True)
class PromptMaker:
    """Builds one input's request body for a mode, with its demonstrations."""

    answers: tuple[str, ...]  # each label's answer words, in label order
    task: str
    endpoint: str  # "chat" or "completions"
    letters: bool = False  # options as letters (letter_logprobs)

    def instruction(self) -> str:
        if self.letters:
            options = "\n".join(f"{LETTERS[i]}. {a}" for i, a in enumerate(self.answers))
            return f"Classify {self.task}. Answer with the letter of one option.\n{options}"
        return f"Classify {self.task}. Answer with one of: {', '.join(self.answers)}."

    def answer_of(self, label_index: int) -> str:
        return LETTERS[label_index] if self.letters else self.answers[label_index]

    def messages(self, item: Input, demos: Sequence[tuple[Input, int]]) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": f"{SYSTEM}\n{self.instruction()}"}]
        for text, label in demos:
            turns.append({"role": "user", "content": f"Text: {joined(text)}"})
            turns.append({"role": "assistant", "content": self.answer_of(label)})
        turns.append({"role": "user", "content": f"Text: {joined(item)}"})
        return turns

    def prompt(self, item: Input, demos: Sequence[tuple[Input, int]]) -> str:
        shown = "".join(f"Text: {joined(t)}\nAnswer: {self.answer_of(label)}\n\n" for t, label in demos)
        return f"{self.instruction()}\n\n{shown}Text: {joined(item)}\nAnswer:"

    def body(self, item: Input, demos: Sequence[tuple[Input, int]]) -> dict[str, Any]:
        if self.endpoint == "chat":
            return {"messages": self.messages(item, demos)}
        return {"prompt": self.prompt(item, demos)}


def path_of(endpoint: str) -> str:
    return "/chat/completions" if endpoint == "chat" else "/completions"


# --- label_logprobs -----------------------------------------------------------------------


def label_logprobs_body(prompt: str, answers: Sequence[str]) -> dict[str, Any]:
    return {
        "prompt": [f"{prompt} {a}" for a in answers],
        "max_tokens": 1,
        "temperature": 0,
        "echo": True,
        "logprobs": 0,
    }


def continuation_logprob(choice: Mapping[str, Any], start: int) -> float:
    """The sum of the log-probabilities of the prompt tokens at or after character ``start``
    (the generated token, the last, left out), from a completions choice with ``echo``."""
    logprobs = choice.get("logprobs") or {}
    offsets, values = logprobs.get("text_offset") or [], logprobs.get("token_logprobs") or []
    if len(offsets) < 2 or len(offsets) != len(values):
        raise ValueError("no prompt log-probabilities in the answer")
    picked = [v for offset, v in list(zip(offsets, values))[:-1] if offset >= start]
    if not picked or any(v is None or not math.isfinite(v) or v > 0 for v in picked):
        raise ValueError("the answer's prompt log-probabilities are missing or not log-probabilities")
    return float(sum(picked))


def extract_label_logprobs(start: int) -> Any:
    def extract(response: dict[str, Any]) -> dict[str, Any]:
        choices = sorted(response.get("choices") or [], key=lambda c: c.get("index", 0))
        return {"logprobs": [continuation_logprob(c, start) for c in choices]}

    return extract


# --- letter_logprobs ----------------------------------------------------------------------


def first_token_top(response: dict[str, Any], endpoint: str) -> dict[str, float]:
    """token -> log-probability among the generated first token's top alternatives."""
    choice = (response.get("choices") or [{}])[0]
    logprobs = choice.get("logprobs") or {}
    if endpoint == "chat":
        content = logprobs.get("content") or []
        tops = content[0].get("top_logprobs") if content else None
        return {t["token"]: float(t["logprob"]) for t in tops or []}
    tops = logprobs.get("top_logprobs") or []
    return {str(k): float(v) for k, v in (tops[0] or {}).items()} if tops else {}


def letter_logprobs_body(endpoint: str) -> dict[str, Any]:
    if endpoint == "chat":
        return {"max_tokens": 1, "temperature": 0, "logprobs": True, "top_logprobs": 20}
    return {"max_tokens": 1, "temperature": 0, "logprobs": 20}


def letter_scores(top: Mapping[str, float], labels: int) -> np.ndarray | None:
    """Each option's probability from its letter's, normalised; None if no letter is there."""
    mass = np.zeros(labels)
    for token, logprob in top.items():
        letter = token.strip()
        if len(letter) == 1 and letter in LETTERS[:labels]:
            mass[LETTERS.index(letter)] += math.exp(logprob)
    return mass / mass.sum() if mass.sum() > 0 else None


# --- generation ---------------------------------------------------------------------------


def generation_body(settings: Any, answers: Sequence[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"max_tokens": settings.max_tokens, "temperature": 0}
    if settings.guided == "choice":
        body["guided_choice"] = list(answers)
    elif settings.guided == "json_schema":
        schema = {"type": "object", "properties": {"answer": {"enum": list(answers)}}, "required": ["answer"]}
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    return body


def answer_text(response: dict[str, Any], endpoint: str) -> str:
    choice = (response.get("choices") or [{}])[0]
    if endpoint == "chat":
        return (choice.get("message") or {}).get("content") or ""
    return choice.get("text") or ""


def parse_answer(text: str, answers: Sequence[str], json_schema: bool = False) -> int | None:
    """The label index the answer names, strictly; None if it names none (or several)."""
    if json_schema:
        try:
            value = json.loads(text)
        except ValueError:
            return None
        text = value.get("answer", "") if isinstance(value, dict) and isinstance(value.get("answer"), str) else ""
    cleaned = text.strip()
    if cleaned.endswith("."):
        cleaned = cleaned[:-1].strip()
    hits = [i for i, a in enumerate(answers) if a.casefold() == cleaned.casefold()]
    return hits[0] if len(hits) == 1 else None


# --- canaries -----------------------------------------------------------------------------


def canary(client: Any, mode: str, endpoint: str) -> str | None:
    """None if the server answers ``mode``'s request with what the mode reads; else why not."""
    try:
        if mode == "label_logprobs":
            if endpoint != "completions":
                return 'prompt log-probabilities need endpoint = "completions"'
            body = label_logprobs_body(CANARY_STEM, [CANARY_KNOWN.strip(), CANARY_UNLIKELY.strip()])
            value, _ = client.request("/completions", body, extract_label_logprobs(len(CANARY_STEM)))
            known, unlikely = value["logprobs"]
            if not known > unlikely:
                return f"the known continuation scored {known:.2f}, not above the unlikely one's {unlikely:.2f}"
            return None
        if mode == "letter_logprobs":
            question = "Which letter comes first in the alphabet? Answer with the letter of one option.\nA. A\nB. Z"
            body = dict(letter_logprobs_body(endpoint))
            if endpoint == "chat":
                body["messages"] = [{"role": "user", "content": question}]
            else:
                body["prompt"] = f"{question}\nAnswer:"

            def extract(response: dict[str, Any]) -> dict[str, Any]:
                return {"top": first_token_top(response, endpoint)}

            value, _ = client.request(path_of(endpoint), body, extract)
            if letter_scores(value["top"], 2) is None:
                return "the answer has no top_logprobs with a letter in them"
            return None
    except PluginError as err:
        return str(err)
    except (ValueError, KeyError, TypeError, IndexError) as err:
        return str(err) or type(err).__name__
    return None


def choose_mode(client: Any, settings: Any, labels: int) -> tuple[str, dict[str, str]]:
    """The scoring mode (the configured one, or the first whose canary passes) and why each
    earlier one was not used."""
    refused: dict[str, str] = {}
    wanted = MODES if settings.scoring == "auto" else (settings.scoring,)
    for mode in wanted:
        if mode == "letter_logprobs" and labels > len(LETTERS):
            refused[mode] = f"{labels} labels: more than {len(LETTERS)} letters"
            continue
        reason = None if mode == "generation" else canary(client, mode, settings.endpoint)
        if reason is None:
            return mode, refused
        refused[mode] = reason
    raise PluginError(
        "served", f"scoring = {settings.scoring!r}, but the server's answer fails its canary: {refused[wanted[-1]]}"
    )
