"""The ``ner`` task's tables, as the third seed study prints them, built from a leaderboard document.

Per test set: strict and relaxed F1 with F1 by gold entity length (1, 2, >= 3 words); F1 per
entity type; and inference time per sentence and per million parameters, with the decoders'
cost relative to the encoders'. With several seeds, cells are mean ± sd.
"""

from __future__ import annotations

from typing import Any

from harness.scoring.ner_metrics import LENGTH_BUCKETS
from harness.tables import (
    Table,
    grouped_by_model,
    human_count,
    human_seconds,
    mean_sd_cell,
    passed_entries,
)

TASK = "ner"


def _note(document: dict[str, Any]) -> str:
    provenance = document["run"]["data"].get(TASK, [])
    silver = [p["split"] for p in provenance if p.get("synthetic")]
    return f" SILVER-standard (dictionary-labelled) splits: {', '.join(silver)}." if silver else ""


def _named(split: str) -> str:
    return "test set" if split == "test" else f"{split} test set"


def test_splits(entries: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for entry in entries:
        names.update(dict.fromkeys(n for n in entry["ner"] if n not in {"train", "eval"}))
    return list(names)


def _results(document: dict[str, Any], entries: list[dict[str, Any]], split: str) -> Table:
    grouped = grouped_by_model([e for e in entries if split in e["ner"]])

    def cell(group: list[dict[str, Any]], path: tuple[str, ...]) -> str:
        values = []
        for entry in group:
            value: Any = entry["ner"][split]
            for key in path:
                value = value[key]
            values.append(value)
        return mean_sd_cell(values)

    def rank(model: str) -> float:
        values = [e["ner"][split]["strict"]["micro"]["f1"] for e in grouped[model]]
        return -sum(values) / len(values)

    rows = []
    for model in sorted(grouped, key=rank):
        group = grouped[model]
        train = [e["cost"]["train_seconds"] for e in group]
        rows.append(
            (
                model,
                human_count(group[0]["model_info"]["params"]),
                human_seconds(sum(train) / len(train)),
                *(cell(group, ("strict", "micro", q)) for q in ("precision", "recall", "f1")),
                cell(group, ("relaxed", "micro", "f1")),
                *(cell(group, ("by_length", length, "strict", "f1")) for length in LENGTH_BUCKETS),
                *(cell(group, ("by_length", length, "relaxed", "f1")) for length in LENGTH_BUCKETS),
            )
        )
    first = next(iter(grouped.values()))[0]["ner"][split]
    gold = ", ".join(f"{length}: {first['by_length'][length]['gold']}" for length in LENGTH_BUCKETS)
    caption = (
        f"strict = type and both boundaries; relaxed = type and any overlap; by length: recall over gold "
        f"entities of that many words, precision over predicted ones (gold entities {gold}); "
        f"{first['sentences']} sentences.{_note(document)}"
    )
    headers = (
        "Model",
        "Params",
        "Training time",
        "Strict P",
        "Strict R",
        "Strict F1",
        "Relaxed F1",
        *(f"Strict F1 len {length}" for length in LENGTH_BUCKETS),
        *(f"Relaxed F1 len {length}" for length in LENGTH_BUCKETS),
    )
    return Table(f"NER ({_named(split)})", headers, tuple(rows), caption)


def _per_type(entries: list[dict[str, Any]], split: str) -> Table:
    grouped = grouped_by_model([e for e in entries if split in e["ner"]])
    types = list(next(iter(grouped.values()))[0]["ner"][split]["strict"]["per_type"])
    rows = []
    for entity in types:
        support = next(iter(grouped.values()))[0]["ner"][split]["strict"]["per_type"][entity]["gold"]
        cells = [
            f"{mean_sd_cell([e['ner'][split]['strict']['per_type'][entity]['f1'] for e in group])} / "
            f"{mean_sd_cell([e['ner'][split]['relaxed']['per_type'][entity]['f1'] for e in group])}"
            for group in grouped.values()
        ]
        rows.append((entity, str(support), *cells))
    return Table(
        f"NER per entity type ({_named(split)})", ("Type", "Gold", *grouped), tuple(rows), "strict F1 / relaxed F1"
    )


def _inference(document: dict[str, Any], entries: list[dict[str, Any]]) -> Table:
    grouped = grouped_by_model(entries)
    summary = document.get("summaries", {}).get(TASK, {}).get("inference_ratio", {})
    encoder_costs = [
        e["ner_inference"]["seconds_per_sentence_per_million_params"]
        for group in grouped.values()
        for e in group
        if _architecture(e) == "encoder" and e["ner_inference"]["seconds_per_sentence_per_million_params"]
    ]
    encoder_mean = sum(encoder_costs) / len(encoder_costs) if encoder_costs else None
    rows = []
    for model, group in grouped.items():
        per_sentence = [e["ner_inference"]["seconds_per_sentence"] for e in group]
        neural = _architecture(group[0]) is not None  # a gazetteer's entries are not weights
        per_million = [e["ner_inference"]["seconds_per_sentence_per_million_params"] for e in group] if neural else []
        per_million = [v for v in per_million if v is not None]
        mean_million = sum(per_million) / len(per_million) if per_million else None
        rows.append(
            (
                model,
                group[0]["model_info"]["family"],
                human_count(group[0]["model_info"]["params"]),
                f"{1000 * sum(per_sentence) / len(per_sentence):.2f}",
                "–" if mean_million is None else f"{1000 * mean_million:.3f}",
                "–" if mean_million is None or not encoder_mean else f"{mean_million / encoder_mean:.2f}×",
            )
        )
    ratio = summary.get("decoder_over_encoder_per_million_params")
    per_sentence_ratio = summary.get("decoder_over_encoder_seconds_per_sentence")
    caption = "encoders and decoders alike tag in one forward pass per batch of sentences (no generation)"
    if ratio is not None and per_sentence_ratio is not None:
        caption += (
            f"; decoders / encoders: {per_sentence_ratio:.1f}× the time per sentence, {ratio:.2f}× per "
            f"million parameters (the seed study's LLMs, generating tags, were 40–220× slower)"
        )
    headers = ("Model", "Family", "Params", "ms / sentence", "ms / sentence / M params", "vs encoders per param")
    return Table("NER inference cost", headers, tuple(rows), caption + f" on {document['run']['device']}")


def ner_tables(document: dict[str, Any]) -> list[Table]:
    entries = passed_entries(document["results"], TASK)
    if not entries:
        return []
    tables = []
    for split in test_splits(entries):
        tables += [_results(document, entries, split), _per_type(entries, split)]
    return [*tables, _inference(document, entries)]


def _architecture(entry: dict[str, Any]) -> str | None:
    """The model's declared architecture; leaderboards written before it was recorded name the
    encoder and decoder families instead."""
    info = entry["model_info"]
    return info.get("architecture", info["family"] if info["family"] in {"encoder", "decoder"} else None)
