"""The ``ner`` task: biomedical named entity recognition as per-word IOB2 tagging.

As the third seed study (encoders vs LLMs for biomedical NER), every model tags each word with
one forward pass: encoders and decoders alike are token classifiers here, so the comparison of
their cost is per forward pass, not per generated tag. Scores are strict F1 (type and both
boundaries) and relaxed F1 (type and any overlap), micro and per type, and by gold entity length
(1, 2, >= 3 words); inference time is recorded per sentence and per million parameters.

Default data is the embedded SILVER-standard corpus (``harness/tasks/ner/data/ner_*.conll``: drugs.com
reviews and ICD-10-CM descriptions labelled by dictionary matching, see harness/tasks/ner/README.md).
``[tasks.ner]`` points any split at CoNLL files (one word and its tag per line) or JSONL with
character spans (``{"text": ..., "entities": [{"start", "end", "label"}]}``) — BC5CDR,
NCBI-disease or your own corpus.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import InputError, LoadRequest, ScoreRequest, TaskData, TaskSpec, hookimpl
from harness.scoring.ner_metrics import ner_report
from harness.tables import Table
from harness.tagged import TaggedSplit, read_conll, read_span_jsonl
from harness.task import SummaryRequest, gather_splits

NAME = "ner"
EMBEDDED_SPLITS = ("train", "eval", "test")
SPLIT_KEYS = frozenset({"path", "format", "synthetic", "public"})
FORMATS = {
    ".conll": "conll",
    ".txt": "conll",
    ".tsv": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
}
SILVER_NOTE = (
    "NER results on the embedded SILVER-standard corpus: real public text (drugs.com reviews, ICD-10-CM "
    "descriptions) labelled by dictionary matching, not by annotators; it rewards agreeing with the "
    "dictionaries, mistakes included."
)
# Scoring the training split only shows over- or under-fitting: a fixed sample is enough.
TRAIN_SCORE_SENTENCES = 300


def embedded_path(split: str) -> Path:
    return Path(str(files("harness.tasks.ner") / "data" / f"ner_{split}.conll"))


def _tokenize(text: str) -> list[str]:
    from harness.tasks.ner.words import tokenize  # the corpus's own rule, for JSONL input

    return tokenize(text)


def _read(name: str, path: Path, fmt: str, *, synthetic: bool, public: bool, source: str | None = None) -> TaggedSplit:
    if fmt == "conll":
        return read_conll(path, name, synthetic=synthetic, public=public, source=source)
    return read_span_jsonl(path, name, _tokenize, synthetic=synthetic, public=public, source=source)


def _user_split(name: str, table: Mapping[str, Any], where: str, request: LoadRequest) -> TaggedSplit:
    path = request.resolve(table["path"])
    fmt = table.get("format", FORMATS.get(path.suffix.lower()))
    if fmt not in {"conll", "jsonl"}:
        raise InputError(f"{where}.format", f'say format = "conll" or "jsonl" (the file ends in {path.suffix!r})')
    return _read(
        name, path, fmt, synthetic=bool(table.get("synthetic", False)), public=bool(table.get("public", False))
    )


def _embedded(name: str) -> TaggedSplit:
    path = embedded_path(name)
    return _read(name, path, "conll", synthetic=True, public=True, source=f"embedded:{path.name}")


def load(request: LoadRequest) -> TaskData:
    splits: dict[str, TaggedSplit] = gather_splits(
        request,
        NAME,
        lambda name, table, where: _user_split(name, table, where, request),
        _embedded,
        ("test",),
        SPLIT_KEYS,
    )
    types = splits["train"].entity_types()
    if not types:
        raise InputError(splits["train"].source, "no entity in the training split")
    for split in splits.values():
        unknown = sorted(set(split.entity_types()) - set(types))
        if unknown:
            raise InputError(
                split.source,
                f"entity type(s) {', '.join(map(repr, unknown))} never occur in train "
                f"({', '.join(types)}); a model cannot learn them",
            )
    silver = any(s.synthetic for s in splits.values())
    return TaskData(
        labels=tuple(types),
        splits=splits,
        provenance=tuple(split.provenance(types) for split in splits.values()),
        note=SILVER_NOTE if silver else "",
    )


def _scored(split: TaggedSplit) -> TaggedSplit:
    return split.sample(TRAIN_SCORE_SENTENCES, seed=0) if split.name == "train" else split


def score(request: ScoreRequest) -> dict[str, Any]:
    """Every split's strict and relaxed F1 (micro, per type, by entity length) and, on the test
    sets, the inference time per sentence and per million parameters."""
    tagger = request.fitted().classifier
    data, types = request.data, request.data.labels
    metrics, sentences, seconds = {}, 0, 0.0
    for name, full in data.splits.items():
        split = _scored(full)
        started = time.perf_counter()
        predicted = tagger.predict_tags([list(words) for words in split.sentences])
        if name in data.test_splits:
            seconds += time.perf_counter() - started
            sentences += len(split)
        metrics[name] = ner_report(split.tags, predicted, types)
    per_sentence = seconds / sentences if sentences else None
    millions = tagger.params / 1e6 if tagger.params else None
    return {
        "ner": metrics,
        "ner_inference": {
            "sentences": sentences,
            "seconds": seconds,
            "seconds_per_sentence": per_sentence,
            "seconds_per_sentence_per_million_params": (
                per_sentence / millions if per_sentence is not None and millions else None
            ),
        },
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(request: SummaryRequest) -> dict[str, Any]:
    """Decoders against encoders: how much longer a sentence takes, overall and per parameter.

    The seed study generated tags with its LLMs and found them 40-220x slower than encoders;
    here both tag in one forward pass, so the cost per parameter should be of the same order.
    """
    groups: dict[str, list[dict[str, Any]]] = {"encoder": [], "decoder": []}
    for item in request.items:
        family = item.model_info.get("architecture")
        inference = item.fields.get("ner_inference", {})
        if family in groups and inference.get("seconds_per_sentence") is not None:
            groups[family].append({"model": item.model, "seed": item.seed, **inference})
    encoders, decoders = groups["encoder"], groups["decoder"]
    ratio: dict[str, Any] = {
        "encoders": sorted({e["model"] for e in encoders}),
        "decoders": sorted({d["model"] for d in decoders}),
    }
    for key, field_name in (
        ("seconds_per_sentence", "seconds_per_sentence"),
        ("per_million_params", "seconds_per_sentence_per_million_params"),
    ):
        enc = _mean([e[field_name] for e in encoders if e[field_name] is not None])
        dec = _mean([d[field_name] for d in decoders if d[field_name] is not None])
        ratio[f"decoder_over_encoder_{key}"] = dec / enc if enc and dec is not None else None
    return {"inference_ratio": ratio}


@hookimpl
def harness_add_tasks(register) -> None:
    register.add(
        TaskSpec(
            name=NAME,
            description="Biomedical NER: per-word IOB2 tags (Chemical, Disease on the embedded silver corpus)",
            fits_on=NAME,
            load=load,
            score=score,
            summarise=summarise,
            kind="tagging",
            config_keys=frozenset({"train", "eval", "tests", "keep_embedded_tests"}),
        )
    )


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """Strict and relaxed F1, by entity length and type, and inference cost."""
    from harness.tasks.ner.tables import ner_tables

    return ner_tables(document)
