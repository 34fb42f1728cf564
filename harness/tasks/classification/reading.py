"""Reading a classification task's splits: any labels, three problems, four file formats.

A split is read in two steps. :func:`read_rows` reads one file's texts (and text pairs) and
each row's labels as strings, checking the file alone; :func:`to_split` then turns those
strings into the 0/1 matrix of the task's label set, once the set is known (it comes from the
train split unless ``labels`` fixes it). Every problem is an :class:`~harness.errors.InputError`
naming the file and the row (1-based data rows) or the config key.

Label formats (``label_column`` or ``label_columns``):

* one column, one label per row: multi-class, or binary;
* one column, several labels split by ``label_separator`` (default ``";"``): multi-label; an
  empty cell is a row with no label;
* one 0/1 column per label (``label_columns``): multi-label, as the indications files.

A binary column holds 0/1, true/false or yes/no, or any two values of which
``positive_label`` names the positive one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import FORMATS, LabelledSplit, RowOrigin, check_unique_ids, label_value, read_records, row_origin
from harness.errors import InputError

# Keys of a split's table ([tasks.NAME.train], [tasks.NAME.tests.NAME]); every one but
# ``path`` may also sit at the task's level, as the default of every split.
SPLIT_KEYS = frozenset(
    {
        "path",
        "format",
        "text_column",
        "text_pair_column",
        "label_column",
        "label_columns",
        "label_separator",
        "positive_label",
        "id_column",
        "delimiter",
        "synthetic",
        "public",
    }
)
INHERITED_KEYS = SPLIT_KEYS - {"path"}
TRUE_WORDS, FALSE_WORDS = frozenset({"1", "true", "yes"}), frozenset({"0", "false", "no"})


@dataclass(frozen=True)
class SplitSpec:
    """One split's file and columns, its keys checked (``where`` names its config key)."""

    name: str
    path: Path
    where: str
    format: str | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str | None = None
    label_columns: Mapping[str, str] | Sequence[str] | None = None
    label_separator: str = ";"
    positive_label: str | None = None
    id_column: str | None = None
    delimiter: str | None = None  # of a CSV or TSV file: "," and tab by default
    synthetic: bool = False
    public: bool = False
    source: str | None = None  # what provenance calls the file ("embedded:..."); default its path


def split_spec(name: str, table: Mapping[str, Any], where: str, path: Path, source: str | None = None) -> SplitSpec:
    """A :class:`SplitSpec` from a split's merged keys, each key's type checked."""
    values: dict[str, Any] = {}
    for key in ("format", "text_column", "text_pair_column", "label_column", "positive_label", "id_column"):
        if key in table:
            if not isinstance(table[key], str) or not table[key]:
                raise InputError(f"{where}.{key}", f"expected a non-empty string, got {table[key]!r}")
            values[key] = table[key]
    if "label_separator" in table:
        separator = table["label_separator"]
        if not isinstance(separator, str) or not separator:
            raise InputError(f"{where}.label_separator", f"expected a non-empty string, got {separator!r}")
        values["label_separator"] = separator
    if "delimiter" in table:
        delimiter = table["delimiter"]
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
            raise InputError(f"{where}.delimiter", f'expected one character (e.g. ";" or "\\t"), got {delimiter!r}')
        values["delimiter"] = delimiter
    if values.get("format") not in (None, *FORMATS):
        raise InputError(f"{where}.format", f"unknown format {values['format']!r}; use one of {', '.join(FORMATS)}")
    for key in ("synthetic", "public"):
        if key in table:
            if not isinstance(table[key], bool):
                raise InputError(f"{where}.{key}", f"expected true or false, got {table[key]!r}")
            values[key] = table[key]
    columns = table.get("label_columns")
    if columns is not None:
        good_list = isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        good_table = isinstance(columns, Mapping) and all(isinstance(c, str) for c in columns.values())
        if not (good_list or good_table) or not columns:
            raise InputError(f"{where}.label_columns", 'expected a list of columns or a table label = "column"')
        values["label_columns"] = columns
    if "label_column" in values and columns is not None:
        raise InputError(f"{where}.label_columns", "give label_column or label_columns, not both")
    return SplitSpec(name=name, path=path, where=where, source=source, **values)


@dataclass(frozen=True)
class RawRows:
    """One file's rows: texts, pairs and each row's labels as strings (or a 0/1 matrix)."""

    spec: SplitSpec
    texts: tuple[str, ...]
    pairs: tuple[str, ...] | None
    labels: tuple[tuple[str, ...], ...] | None  # per row, for label_column
    matrix: np.ndarray | None  # rows x label_columns, for 0/1 columns
    sha256: str
    origin: RowOrigin | None = None  # each row's file row and id (harness errors reads the text back)


def _text(spec: SplitSpec, record: Mapping[str, Any], column: str, row: int) -> str:
    text = record.get(column)
    if not isinstance(text, str) or not text.strip():
        raise InputError(str(spec.path), f"row {row}: empty or missing text in column {column!r}")
    return text


def _cell_labels(spec: SplitSpec, value: Any, row: int, problem: str) -> tuple[str, ...]:
    column = spec.label_column
    if problem == "binary":
        return _binary(spec, value, row)
    if value is None or (isinstance(value, float) and value != value):  # missing, or NaN from Parquet
        value = ""
    if isinstance(value, list):  # a JSONL row may hold a list of labels
        parts = [str(v).strip() for v in value]
        if problem == "multi-class" and len([p for p in parts if p]) > 1:
            raise InputError(
                str(spec.path),
                f"row {row}: column {column!r} holds a list of {len(parts)} labels {value!r}; a multi-class row has "
                'exactly one (use problem = "multi-label" for several)',
            )
    else:
        text = str(value).strip()
        parts = [p.strip() for p in text.split(spec.label_separator)] if problem == "multi-label" else [text]
        if problem == "multi-class" and spec.label_separator in text:
            several = [p.strip() for p in text.split(spec.label_separator) if p.strip()]
            if len(several) > 1:
                raise InputError(
                    str(spec.path),
                    f"row {row}: column {column!r} holds several labels {text!r}; a multi-class row has exactly "
                    'one (use problem = "multi-label" for several)',
                )
    parts = [p for p in parts if p]
    if problem == "multi-class" and not parts:
        raise InputError(str(spec.path), f"row {row}: empty label in column {column!r}; a multi-class row has one")
    return tuple(dict.fromkeys(parts))


def _binary(spec: SplitSpec, value: Any, row: int) -> tuple[str, ...]:
    """``("positive",)`` for a positive row, ``()`` for a negative one; other values raise, except
    that with ``positive_label`` every value is kept as written (checked across splits later)."""
    column = spec.label_column
    if spec.positive_label is not None:
        text = "" if value is None else str(value).strip()
        if not text:
            raise InputError(str(spec.path), f"row {row}: empty label in column {column!r}")
        return (text,)
    if isinstance(value, bool):
        return ("positive",) if value else ()
    number = label_value(value)
    if number is not None:
        return ("positive",) if number else ()
    word = str(value).strip().lower() if isinstance(value, str) else None
    if word in TRUE_WORDS:
        return ("positive",)
    if word in FALSE_WORDS:
        return ()
    raise InputError(
        str(spec.path),
        f"row {row}: binary column {column!r} must hold 0/1, true/false or yes/no, got {value!r} "
        "(or set positive_label to the positive value)",
    )


def read_rows(spec: SplitSpec, problem: str) -> RawRows:
    """Read one split's file, checking its columns and every row on their own."""
    columns, records, digest = read_records(spec.path, spec.format, spec.delimiter)
    id_column = spec.id_column or ("id" if "id" in columns else None)
    label_columns: list[str] = []
    if spec.label_columns is not None:
        label_columns = list(
            spec.label_columns.values() if isinstance(spec.label_columns, Mapping) else spec.label_columns
        )
    elif spec.label_column is None:
        raise InputError(spec.where, "name the labels: label_column (one column) or label_columns (0/1 columns)")
    required = [spec.text_column, *([spec.text_pair_column] if spec.text_pair_column else [])]
    required += [spec.label_column] if spec.label_column else label_columns
    required += [id_column] if id_column else []
    missing = [c for c in required if c not in columns]
    if missing:
        hint = ""
        if spec.delimiter is None and any(";" in column for column in columns):
            key = spec.where.rsplit(": ", 1)[-1]  # the key, without the config file before it
            hint = (
                f'; the header looks semicolon-separated: set {key}.delimiter = ";" (or delimiter in the task\'s table)'
            )
        raise InputError(
            str(spec.path),
            f"missing column(s) {', '.join(map(repr, missing))}; the file has {', '.join(columns)}{hint}",
        )
    if id_column:
        check_unique_ids(spec.path, records, id_column)
    texts = tuple(_text(spec, record, spec.text_column, row) for row, record in enumerate(records, start=1))
    origin = row_origin(
        spec.path, spec.format, spec.delimiter, spec.text_column, spec.text_pair_column, records, id_column
    )
    pairs = None
    if spec.text_pair_column:
        pairs = tuple(_text(spec, record, spec.text_pair_column, row) for row, record in enumerate(records, start=1))
    if spec.label_column:
        labels = tuple(
            _cell_labels(spec, record.get(spec.label_column), row, problem) for row, record in enumerate(records, 1)
        )
        return RawRows(spec, texts, pairs, labels, None, digest, origin)
    matrix = np.zeros((len(records), len(label_columns)), dtype=np.int8)
    for row, record in enumerate(records, start=1):
        for j, column in enumerate(label_columns):
            value = label_value(record.get(column))
            if value is None:
                raise InputError(
                    str(spec.path), f"row {row}: column {column!r} must be 0 or 1, got {record.get(column)!r}"
                )
            matrix[row - 1, j] = value
    return RawRows(spec, texts, pairs, None, matrix, digest, origin)


def to_split(raw: RawRows, labels: Sequence[str]) -> LabelledSplit:
    """The split as a 0/1 matrix over ``labels``; a label outside them names file, row and label."""
    spec = raw.spec
    if raw.matrix is not None:
        y = raw.matrix
    else:
        index = {label: j for j, label in enumerate(labels)}
        y = np.zeros((len(raw.texts), len(labels)), dtype=np.int8)
        for row, row_labels in enumerate(raw.labels or (), start=1):
            for label in row_labels:
                if label not in index:
                    raise InputError(
                        str(spec.path),
                        f"row {row}: label {label!r} is not one of the task's labels ({', '.join(labels)}); "
                        "a label must occur in train (or be listed in labels = [...])",
                    )
                y[row - 1, index[label]] = 1
    return LabelledSplit(
        name=spec.name,
        texts=raw.texts,
        y=y,
        source=spec.source or str(spec.path),
        sha256=raw.sha256,
        synthetic=spec.synthetic,
        public=spec.public,
        pairs=raw.pairs,
        origin=raw.origin,
    )


def binary_values(raws: Sequence[RawRows], positive: str) -> None:
    """With ``positive_label``: every split's column holds the positive value and at most one
    other; rewrites nothing, raises at the first row holding a third value."""
    seen: list[str] = []
    for raw in raws:
        for row, (value,) in enumerate(raw.labels or (), start=1):
            if value not in seen:
                seen.append(value)
                others = [v for v in seen if v != positive]
                if len(others) > 1:
                    raise InputError(
                        str(raw.spec.path),
                        f"row {row}: binary column {raw.spec.label_column!r} holds a third value {value!r} "
                        f"(seen: {', '.join(map(repr, seen[:-1]))}; positive_label = {positive!r})",
                    )
    if positive not in seen:
        raise InputError(
            raws[0].spec.where, f"positive_label {positive!r} occurs in no row of column {raws[0].spec.label_column!r}"
        )


def binary_rows(raw: RawRows, positive: str | None) -> RawRows:
    """Binary rows as ``("positive",)`` / ``()`` whatever the column wrote."""
    if positive is None or raw.labels is None:
        return raw
    labels = tuple(("positive",) if value == positive else () for (value,) in raw.labels)
    return dataclasses.replace(raw, labels=labels)
