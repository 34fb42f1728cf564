"""The tagging baseline the transformers must beat: a gazetteer of the training split's entities.

Fitting collects every entity's words (lower-cased) with its most frequent type; tagging marks
the longest listed word sequence at each position, left to right, so that "type 2 diabetes
mellitus" wins over "diabetes". It learns no context: a word listed as an entity is one
everywhere, and nothing unlisted is ever found, which is what makes it a useful floor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import ModelSpec, hookimpl
from harness.model import TagRequest
from harness.scoring.ner_metrics import entity_spans
from harness.tagged import longest_match_tags


@dataclass
class Gazetteer:
    """Implements :class:`harness.model.FittedTagger`."""

    entries: dict[tuple[str, ...], str]  # lower-cased words -> entity type
    longest: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> int:
        return len(self.entries)

    trainable_params = params

    def tag(self, words: Sequence[str]) -> list[str]:
        return longest_match_tags([w.lower() for w in words], self.entries, self.longest)

    def predict_tags(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [self.tag(words) for words in sentences]


def fit_gazetteer(request: TagRequest) -> Gazetteer:
    seen: dict[tuple[str, ...], Counter[str]] = {}
    for words, tags in zip(request.train.sentences, request.train.tags):
        for entity, start, end in entity_spans(tags):
            key = tuple(w.lower() for w in words[start:end])
            seen.setdefault(key, Counter())[entity] += 1
    # Ties between types go to the alphabetically first, so that the fit does not depend on order.
    entries = {key: min(counts, key=lambda t: (-counts[t], t)) for key, counts in seen.items()}
    ambiguous = sum(len(counts) > 1 for counts in seen.values())
    longest = max((len(key) for key in entries), default=0)
    return Gazetteer(entries, longest, {"entries": len(entries), "ambiguous_entries": ambiguous, "longest": longest})


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add(
        ModelSpec(
            name="gazetteer",
            family="baseline",
            fine_tuning_regime="dictionary",
            fit=None,
            tag=fit_gazetteer,
            tokenization="whole words (the corpus's tokens)",
            markers=("baseline",),
            description="Longest-match lookup of the training split's entity strings; no context.",
        )
    )
