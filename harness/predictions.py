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


def _label_lists(matrix: np.ndarray, labels: Sequence[str]) -> Any:
    """Each row's labels (its 1s) as a list<string> array, built from offsets (no Python loop)."""
    import pyarrow as pa

    hits = np.asarray(matrix, dtype=bool)
    _, columns = np.nonzero(hits)  # row-major: each row's labels in label order
    offsets = np.concatenate([[0], np.cumsum(hits.sum(axis=1))]).astype(np.int32)
    values = pa.array(np.asarray(labels, dtype=object)[columns].tolist(), type=pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values)


def to_table(predictions: RowPredictions) -> Any:
    """A pyarrow table: one row per scored row of every split; the item's facts in its metadata."""
    import pyarrow as pa

    labels = predictions.labels
    width = len(labels)
    parts = predictions.splits
    names = [part.split for part in parts]
    split_index = np.repeat(np.arange(len(parts), dtype=np.int8), [len(part.rows) for part in parts])
    ids: list[Any] = []
    demonstrations: list[Any] = []
    for part in parts:
        size = len(part.rows)
        ids += list(part.ids) if part.ids is not None else [None] * size
        demos = part.demonstrations
        demonstrations += (
            [None if d is None else [str(i) for i in d] for d in demos] if demos is not None else [None] * size
        )

    def stacked(field: str, dtype: Any) -> np.ndarray:
        arrays = [np.asarray(getattr(part, field), dtype=dtype).reshape(len(part.rows), width) for part in parts]
        return np.concatenate(arrays) if arrays else np.zeros((0, width), dtype=dtype)

    scores = stacked("scores", np.float64)
    sources = {part.split: dict(part.source) for part in parts if part.source is not None}
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
        pa.DictionaryArray.from_arrays(pa.array(split_index, type=pa.int8()), pa.array(names, type=pa.string())),
        pa.array(np.concatenate([np.asarray(p.rows, dtype=np.int64) for p in parts]) if parts else [], type=pa.int64()),
        pa.array(ids, type=pa.string()),
        _label_lists(stacked("gold", np.int8), labels),
        _label_lists(stacked("predicted", np.int8), labels),
        pa.FixedSizeListArray.from_arrays(pa.array(scores.ravel(), type=pa.float64()), width),
        pa.array(demonstrations, type=pa.list_(pa.string())),
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
    width = len(labels)
    splits_column = table.column("split").combine_chunks()
    if hasattr(splits_column, "dictionary"):
        names = [splits_column.dictionary[int(i)].as_py() for i in splits_column.indices.to_numpy(zero_copy_only=False)]
    else:
        names = splits_column.to_pylist()
    names = np.asarray(names, dtype=object)
    rows = table.column("row").to_numpy()
    scores = table.column("scores").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
    gold, predicted = _matrix(table.column("gold"), labels), _matrix(table.column("predicted"), labels)
    ids = table.column("id").to_pylist()
    demos = table.column("demonstrations").to_pylist()
    splits = []
    for name in dict.fromkeys(names.tolist()):
        at = np.flatnonzero(names == name)
        part_ids = [ids[i] for i in at]
        part_demos = [demos[i] for i in at]
        splits.append(
            SplitRows(
                split=name,
                rows=rows[at].astype(np.int64),
                gold=gold[at],
                predicted=predicted[at],
                scores=scores[at].astype(np.float64),
                ids=None if all(v is None for v in part_ids) else tuple(part_ids),
                demonstrations=None if all(d is None for d in part_demos) else tuple(part_demos),
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


def _matrix(column: Any, labels: Sequence[str]) -> np.ndarray:
    """A list<string> column of label names as a 0/1 matrix (rows x labels)."""
    array = column.combine_chunks()
    offsets = array.offsets.to_numpy()
    index = {label: j for j, label in enumerate(labels)}
    columns = np.asarray([index[v] for v in array.flatten().to_pylist()], dtype=np.intp)
    out = np.zeros((len(array), len(labels)), dtype=np.int8)
    out[np.repeat(np.arange(len(array)), np.diff(offsets)), columns] = 1
    return out
