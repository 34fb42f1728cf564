"""Per-row predictions of one scored item: what error analysis reads, never text.

A classification item keeps, for every split it scored, each row's place in its file (0-based
row, and its id where the split has an ``id_column``), its gold and predicted labels, the
model's score per label, the decision rule that turned scores into labels and, for a prompted
model that says so, the ids of the demonstrations it was shown. The run directory stores them
as one Parquet file per item (``items/<key>.rows.parquet``, :mod:`harness.core.store`), in the
private run directory only: ids may be as private as the data, and nothing here reaches a
leaderboard, a page or ``harness publish``. ``harness errors`` joins them with the text again,
from the data file whose SHA-256 the file records (docs/error-analysis.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

SCHEMA_VERSION = 1  # of the per-row file; harness errors refuses a file of another version


@dataclass(frozen=True, eq=False)
class SplitRows:
    """One split's rows: ``gold``, ``predicted`` (0/1, int8) and ``scores`` are rows x labels."""

    split: str
    rows: np.ndarray  # int64: each row's 0-based row in its file
    gold: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray
    ids: Sequence[str] | None = None  # the split's id_column, if it has one
    # Per row, the ids of the demonstrations a prompted model was shown (None: not given).
    demonstrations: Sequence[Sequence[str] | None] | None = None
    # How to read the text again: the file's path, SHA-256, format, delimiter, text columns.
    source: Mapping[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class RowPredictions:
    """Every scored split of one item, with the labels and decision rule they share."""

    task: str
    model: str
    seed: int
    problem: str
    labels: tuple[str, ...]
    decision_rule: Mapping[str, Any]
    splits: tuple[SplitRows, ...]

    def split(self, name: str) -> SplitRows:
        for rows in self.splits:
            if rows.split == name:
                return rows
        raise KeyError(name)


def _label_lists(matrix: np.ndarray, labels: Sequence[str]) -> list[list[str]]:
    return [[labels[j] for j in np.flatnonzero(row)] for row in matrix]


def to_table(predictions: RowPredictions) -> Any:
    """A pyarrow table: one row per scored row of every split; the item's facts in its metadata."""
    import pyarrow as pa

    labels = predictions.labels
    width = len(labels)
    columns: dict[str, list[Any]] = {
        "split": [],
        "row": [],
        "id": [],
        "gold": [],
        "predicted": [],
        "scores": [],
        "demonstrations": [],
    }
    sources = {}
    for part in predictions.splits:
        n = len(part.rows)
        columns["split"] += [part.split] * n
        columns["row"] += np.asarray(part.rows, dtype=np.int64).tolist()
        columns["id"] += list(part.ids) if part.ids is not None else [None] * n
        columns["gold"] += _label_lists(part.gold, labels)
        columns["predicted"] += _label_lists(part.predicted, labels)
        columns["scores"] += np.asarray(part.scores, dtype=np.float64).reshape(n, width).tolist()
        demos = part.demonstrations
        columns["demonstrations"] += (
            [None if d is None else [str(i) for i in d] for d in demos] if demos is not None else [None] * n
        )
        if part.source is not None:
            sources[part.split] = dict(part.source)
    schema = pa.schema(
        [
            pa.field("split", pa.dictionary(pa.int8(), pa.string()), nullable=False),
            pa.field("row", pa.int64(), nullable=False),
            pa.field("id", pa.string()),
            pa.field("gold", pa.list_(pa.string()), nullable=False),
            pa.field("predicted", pa.list_(pa.string()), nullable=False),
            pa.field("scores", pa.list_(pa.float64(), width), nullable=False),
            pa.field("demonstrations", pa.list_(pa.string())),
        ],
        metadata={
            "harness.rows": json.dumps(
                {
                    "version": SCHEMA_VERSION,
                    "task": predictions.task,
                    "model": predictions.model,
                    "seed": predictions.seed,
                    "problem": predictions.problem,
                    "labels": list(labels),
                    "decision_rule": dict(predictions.decision_rule),
                    "sources": sources,
                }
            )
        },
    )
    arrays = [
        pa.array(columns["split"], type=pa.string()).dictionary_encode().cast(schema.field("split").type),
        *(pa.array(columns[f.name], type=f.type) for f in list(schema)[1:]),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_parquet(predictions: RowPredictions, stream: BinaryIO) -> None:
    import pyarrow.parquet as parquet

    parquet.write_table(to_table(predictions), stream, compression="zstd")


def read_parquet(path: Path) -> RowPredictions:
    """The per-row file read back (ValueError if it is not one, or of another version)."""
    import pyarrow.parquet as parquet

    table = parquet.read_table(path)
    raw = (table.schema.metadata or {}).get(b"harness.rows")
    if raw is None:
        raise ValueError("not a per-row predictions file (no harness.rows metadata)")
    meta = json.loads(raw)
    if meta.get("version") != SCHEMA_VERSION:
        raise ValueError(f"per-row file version {meta.get('version')!r}; this harness reads {SCHEMA_VERSION}")
    labels = tuple(meta["labels"])
    index = {label: j for j, label in enumerate(labels)}
    data = table.to_pydict()
    splits = []
    for name in dict.fromkeys(data["split"]):
        at = [i for i, s in enumerate(data["split"]) if s == name]

        def matrix(column: str, at: list[int] = at) -> np.ndarray:
            out = np.zeros((len(at), len(labels)), dtype=np.int8)
            for r, i in enumerate(at):
                for label in data[column][i]:
                    out[r, index[label]] = 1
            return out

        ids = [data["id"][i] for i in at]
        demos = [data["demonstrations"][i] for i in at]
        splits.append(
            SplitRows(
                split=name,
                rows=np.asarray([data["row"][i] for i in at], dtype=np.int64),
                gold=matrix("gold"),
                predicted=matrix("predicted"),
                scores=np.asarray([data["scores"][i] for i in at], dtype=np.float64).reshape(len(at), len(labels)),
                ids=None if all(v is None for v in ids) else tuple(ids),
                demonstrations=None if all(d is None for d in demos) else tuple(demos),
                source=meta.get("sources", {}).get(name),
            )
        )
    return RowPredictions(
        task=meta["task"],
        model=meta["model"],
        seed=meta["seed"],
        problem=meta["problem"],
        labels=labels,
        decision_rule=meta["decision_rule"],
        splits=tuple(splits),
    )
