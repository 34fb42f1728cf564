"""Reading labelled text from CSV or JSONL, checking every row before anything runs.

Every problem is raised as :class:`~harness.errors.InputError` naming the file and the row
(1-based, counting data rows; the header of a CSV is not a row) or the key at fault.
A file may carry an id column (``id``, or the one named): two rows with the same id are an
error. A split read from a file keeps where each row came from (:class:`RowOrigin`: its row
numbers, its ids and how to read its text again) for the per-row predictions a run keeps in
its private run directory (docs/error-analysis.md); no leaderboard or page sees them.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import InputError


def sample_rows(size: int, limit: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded random sample of ``limit`` of ``size`` rows; None to keep them all."""
    if limit is None or size <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(size, size=limit, replace=False))


@dataclass(frozen=True, eq=False)
class RowOrigin:
    """Where a split's rows came from: each row's 0-based row in its file, its id (the split's
    ``id_column``, if any) and how to read the file's text again (``harness errors``)."""

    path: str
    format: str | None
    delimiter: str | None
    text_column: str
    text_pair_column: str | None
    rows: np.ndarray  # int64, one per row of the split
    ids: tuple[str, ...] | None = None
    id_column: str | None = None

    def take(self, rows: np.ndarray) -> RowOrigin:
        ids = None if self.ids is None else tuple(self.ids[i] for i in rows)
        return dataclasses.replace(self, rows=self.rows[rows], ids=ids)


@dataclass(frozen=True, eq=False)
class LabelledSplit:
    """One split of a classification data set: texts and a 0/1 matrix (rows x labels).

    Multi-label rows hold any number of 1s; multi-class rows exactly one (one-hot); a binary
    task has one column, its positive label. A sentence-pair task (NLI) has ``pairs``, the
    second text of each row; models read :attr:`inputs`.
    """

    name: str
    texts: tuple[str, ...]
    y: np.ndarray
    source: str  # file path, or "embedded:<file>" for the shipped synthetic data
    sha256: str
    synthetic: bool
    public: bool
    pairs: tuple[str, ...] | None = None
    origin: RowOrigin | None = None  # None for rows made in memory (a generated variant, say)

    def __len__(self) -> int:
        return len(self.texts)

    def file_rows(self) -> np.ndarray:
        """Each row's 0-based row in its file (its position here if it has no file)."""
        return self.origin.rows if self.origin is not None else np.arange(len(self), dtype=np.int64)

    @property
    def inputs(self) -> tuple[str, ...] | tuple[tuple[str, str], ...]:
        """What a model reads: the texts, or (text, text_pair) tuples for a pair task."""
        return self.texts if self.pairs is None else tuple(zip(self.texts, self.pairs))

    def sample(self, limit: int | None, seed: int) -> LabelledSplit:
        """This split, or a random sample of ``limit`` rows kept in their original order."""
        rows = sample_rows(len(self), limit, seed)
        return self if rows is None else self.take(rows)

    def take(self, rows: Sequence[int] | np.ndarray) -> LabelledSplit:
        """The split of these rows only, in the order given (its source and hash stay the file's)."""
        pairs = None if self.pairs is None else tuple(self.pairs[i] for i in rows)
        index = np.asarray(rows, dtype=np.intp)
        origin = None if self.origin is None else self.origin.take(index)
        return dataclasses.replace(
            self, texts=tuple(self.texts[i] for i in rows), y=self.y[index], pairs=pairs, origin=origin
        )

    def provenance(self, labels: Sequence[str]) -> dict[str, Any]:
        """What the leaderboard may say about this split: never its text."""
        return {
            "split": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "rows": len(self),
            "synthetic": self.synthetic,
            "public": self.public,
            "support": {label: int(n) for label, n in zip(labels, self.y.sum(axis=0))},
        }


def read_text_file(path: Path) -> tuple[str, str]:
    """Return (text, sha256) of a UTF-8 file; bad bytes are reported with their line."""
    if not path.is_file():
        raise InputError(str(path), "file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(
            str(path),
            f"line {line}: not valid UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); save the file as UTF-8",
        ) from None
    if not text.strip():
        raise InputError(str(path), "file is empty")
    return text, hashlib.sha256(raw).hexdigest()


def _csv_records(path: Path, text: str, delimiter: str = ",") -> tuple[list[str], list[dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = list(reader.fieldnames or [])
    try:
        records = list(reader)
    except csv.Error as err:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise InputError(str(path), f"line {reader.line_num}: malformed {kind} ({err})") from None
    return columns, records


def _jsonl_records(path: Path, text: str) -> tuple[list[str], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(str(path), f"line {number}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise InputError(str(path), f"line {number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
        columns.update(dict.fromkeys(record))
    return list(columns), records


def _parquet_records(path: Path) -> tuple[list[str], list[dict[str, Any]], str]:
    if not path.is_file():
        raise InputError(str(path), "file not found")
    raw = path.read_bytes()
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise InputError(str(path), "reading Parquet needs pyarrow: pip install pyarrow") from None
    if raw[:4] != b"PAR1" or raw[-4:] != b"PAR1":
        raise InputError(str(path), "not a Parquet file (no PAR1 magic bytes); check the file or set format")
    try:
        table = parquet.read_table(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises its own error types for damaged files
        raise InputError(str(path), f"unreadable Parquet file ({type(err).__name__}: {err})") from None
    return list(table.column_names), table.to_pylist(), hashlib.sha256(raw).hexdigest()


# The files of rows read_records reads, by ending; ``format`` names one of FORMATS instead.
FORMAT_OF_SUFFIX = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
RECORD_SUFFIXES = frozenset(FORMAT_OF_SUFFIX)
FORMATS = ("csv", "tsv", "jsonl", "parquet")


def read_records(
    path: Path, format: str | None = None, delimiter: str | None = None
) -> tuple[list[str], list[dict[str, Any]], str]:
    """Read a CSV, TSV, JSON-lines or Parquet file into records: by its ending, or ``format``.
    ``delimiter`` replaces a CSV's comma or a TSV's tab (what Excel writes in much of Europe is
    ``;``); JSON lines and Parquet have none and ignore it."""
    if format is None:
        suffix = path.suffix.lower()
        if suffix not in FORMAT_OF_SUFFIX:
            raise InputError(
                str(path), f"unsupported file type {suffix!r}: use .csv, .tsv, .jsonl or .parquet (or set format)"
            )
        format = FORMAT_OF_SUFFIX[suffix]
    if format == "parquet":
        columns, records, digest = _parquet_records(path)
    else:
        text, digest = read_text_file(path)
        if format == "jsonl":
            columns, records = _jsonl_records(path, text)
        else:
            columns, records = _csv_records(path, text, delimiter or ("\t" if format == "tsv" else ","))
    if not records:
        raise InputError(str(path), "no data rows")
    return columns, records, digest


def label_value(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip() in {"0", "1"}:
        return int(value.strip())
    return None


def check_unique_ids(path: Path, records: Sequence[Mapping[str, Any]], id_column: str) -> None:
    """Two rows with one id mean a file joined or exported twice: its rows would count twice.
    Blank ids are not ids (an export may leave some empty) and are not compared."""
    first_row: dict[str, int] = {}
    for row, record in enumerate(records, start=1):
        value = record.get(id_column)
        if value is None or not str(value).strip():
            continue
        key = str(value)  # a JSONL id may be a number: 12 and "12" are the same id
        if key in first_row:
            raise InputError(
                str(path), f"rows {first_row[key]} and {row}: duplicate id {key!r} in column {id_column!r}"
            )
        first_row[key] = row


def load_split(
    name: str,
    path: Path,
    labels: Sequence[str],
    *,
    text_column: str = "text",
    label_columns: Mapping[str, str] | None = None,
    id_column: str | None = None,
    source: str | None = None,
    synthetic: bool = False,
    public: bool = False,
) -> LabelledSplit:
    """Load one split; ``label_columns`` maps category -> column (default: same name).

    ``id_column`` names a column whose values must be unique (default: ``id`` if the file has
    one; a named column must exist). The ids are checked and kept in the split's origin.
    """
    columns_for = {label: label for label in labels}
    for label, column in (label_columns or {}).items():
        if label not in columns_for:
            raise InputError(
                str(path), f"label_columns names unknown label {label!r}; known labels: {', '.join(labels)}"
            )
        columns_for[label] = column
    columns, records, digest = read_records(path)
    if id_column is None and "id" in columns:
        id_column = "id"
    required = [text_column, *columns_for.values(), *([id_column] if id_column else [])]
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(
            str(path), f"missing column(s) {', '.join(map(repr, missing))}; the file has {', '.join(columns)}"
        )
    if id_column:
        check_unique_ids(path, records, id_column)
    texts: list[str] = []
    y = np.zeros((len(records), len(labels)), dtype=np.int8)
    for row, record in enumerate(records, start=1):
        text = record.get(text_column)
        if not isinstance(text, str) or not text.strip():
            raise InputError(str(path), f"row {row}: empty or missing text in column {text_column!r}")
        texts.append(text)
        for j, label in enumerate(labels):
            value = label_value(record.get(columns_for[label]))
            if value is None:
                raise InputError(
                    str(path),
                    f"row {row}: column {columns_for[label]!r} must be 0 or 1, got {record.get(columns_for[label])!r}",
                )
            y[row - 1, j] = value
    return LabelledSplit(
        name=name,
        texts=tuple(texts),
        y=y,
        source=source or str(path),
        sha256=digest,
        synthetic=synthetic,
        public=public,
        origin=row_origin(path, None, None, text_column, None, records, id_column),
    )


def row_origin(
    path: Path,
    format: str | None,
    delimiter: str | None,
    text_column: str,
    text_pair_column: str | None,
    records: Sequence[Mapping[str, Any]],
    id_column: str | None,
) -> RowOrigin:
    """Every record's row number and id, and how to read the file's text again."""
    ids = None
    if id_column:
        ids = tuple("" if record.get(id_column) is None else str(record.get(id_column)) for record in records)
    return RowOrigin(
        path=str(Path(path).resolve()),
        format=format,
        delimiter=delimiter,
        text_column=text_column,
        text_pair_column=text_pair_column,
        rows=np.arange(len(records), dtype=np.int64),
        ids=ids,
        id_column=id_column,
    )
