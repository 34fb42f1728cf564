"""Checks of a classification task's label set: spellings, ``label_map``, labels without rows.

Two label values that differ only in case or spacing (``current`` and ``Current``) would become
two classes, one of them with a handful of rows and no test support: an input error naming both
spellings, unless ``label_map`` rewrites one into the other. "Differ only in case or spacing"
is :func:`harness.scoring.evidence.normalise`, the one normalisation the train/test overlap and
the unseen-rows scores use too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from harness import InputError
from harness.errors import warn
from harness.scoring.evidence import normalise
from harness.tasks.classification.reading import RawRows


def label_map_of(table: Mapping[str, Any], where: str) -> dict[str, str]:
    """The task's ``label_map = { "written" = "label" }``, checked: a table of non-empty strings."""
    value = table.get("label_map", {})
    if not isinstance(value, Mapping) or not all(isinstance(label, str) and label.strip() for label in value.values()):
        raise InputError(where, f'expected a table "value as written" = "label", got {value!r}')
    return {written.strip(): label.strip() for written, label in value.items()}


def mapped(raw: RawRows, label_map: Mapping[str, str]) -> RawRows:
    """``raw`` with every label value that ``label_map`` names rewritten (duplicates dropped)."""
    if not label_map or raw.labels is None:
        return raw
    labels = tuple(tuple(dict.fromkeys(label_map.get(label, label) for label in row)) for row in raw.labels)
    return dataclasses.replace(raw, labels=labels)


def _toml_pair(written: str, label: str) -> str:
    return f"{json.dumps(written, ensure_ascii=False)} = {json.dumps(label, ensure_ascii=False)}"


def check_spellings(raws: Sequence[RawRows], task: str) -> None:
    """Refuse two label values, in any rows of any splits, that are equal after case-folding and
    collapsing white space: the error names both spellings, the file and a row of each."""
    first: dict[str, tuple[str, RawRows, int]] = {}
    for raw in raws:
        for row, labels in enumerate(raw.labels or (), start=1):
            for label in labels:
                key = normalise(label)
                seen = first.setdefault(key, (label, raw, row))
                if seen[0] == label:
                    continue
                other, other_raw, other_row = seen
                raise InputError(
                    str(raw.spec.path),
                    f"row {row}: label {label!r} and label {other!r} (row {other_row} of {other_raw.spec.path}) "
                    "differ only in case or spaces: write them one way, or map one to the other with "
                    f"label_map = {{ {_toml_pair(label, other)} }} in [tasks.{task}]",
                )


def check_names(labels: Sequence[str], where: str) -> None:
    """Refuse two label names (``labels = [...]``, 0/1 columns) equal after case-folding and
    collapsing white space."""
    first: dict[str, str] = {}
    for label in labels:
        other = first.setdefault(normalise(label), label)
        if other != label:
            raise InputError(
                where, f"labels {other!r} and {label!r} differ only in case or spaces: name each label one way"
            )


def check_train_positives(train: Any, labels: Sequence[str], columns: Sequence[str]) -> None:
    """A 0/1 label column with no 1 in train is a label no model can learn: refused, as
    ``labels = [...]`` listing a label no training row has is."""
    for j, label in enumerate(labels):
        if not train.y[:, j].any():
            raise InputError(
                train.source,
                f"column {columns[j]!r} (label {label!r}) has no row with 1 in train; a model cannot learn it: "
                "drop it from label_columns or add training rows",
            )


def warn_about_absent_labels(task: str, problem: str, labels: Sequence[str], tests: Sequence[Any]) -> None:
    """One warning per test set that has no row of some label: its macro F1 then averages over
    the labels present, and the absent labels' F1 shows as "–" where a model predicts none (a
    binary test set without a positive row: its F1 is 0 whatever a model predicts)."""
    for split in tests:
        absent = [label for label, rows in zip(labels, split.y.sum(axis=0)) if not rows]
        if not absent:
            continue
        if problem == "binary":
            consequence = "F1 there is 0 whatever a model predicts"
        else:
            consequence = (
                'macro F1 there averages over the labels present, and their F1 shows as "–" where a model predicts none'
            )
        warn(
            f"tasks.{task}",
            f"test set {split.name!r} has no row of label(s) {', '.join(map(repr, absent))}: {consequence}",
        )
