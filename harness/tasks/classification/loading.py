"""A classification task's ``[tasks.NAME]`` table, checked and loaded into :class:`~harness.TaskData`.

A preset (``indications``, the embedded examples) is the same kind of task with some keys
given: its labels, its embedded files, its evidence settings. The user's table goes over the
preset's. See docs/your-own-task.md for every key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import InputError, LoadRequest, TaskData
from harness.errors import warn
from harness.model import ClassificationSetup
from harness.scoring.evidence import overlap_report
from harness.tasks.classification.labels import (
    check_names,
    check_spellings,
    check_train_positives,
    label_map_of,
    mapped,
    warn_about_absent_labels,
)
from harness.tasks.classification.reading import (
    INHERITED_KEYS,
    SPLIT_KEYS,
    binary_rows,
    binary_values,
    read_rows,
    split_spec,
    to_split,
)

PROBLEMS = ("multi-label", "multi-class", "binary")
# primary_metric: the names a user writes -> the key of the comparisons (harness.scoring.stats).
# Accuracy is micro F1 for one-hot rows; a binary task's single column makes every average its F1.
PRIMARY_METRICS = {
    "multi-label": {"f1_weighted": "f1_weighted", "f1_macro": "f1_macro", "f1_micro": "f1_micro"},
    "multi-class": {"f1_macro": "f1_macro", "f1_weighted": "f1_weighted", "accuracy": "f1_micro"},
    "binary": {"f1": "f1_weighted"},
}
DEFAULT_PRIMARY = {"multi-label": "f1_weighted", "multi-class": "f1_macro", "binary": "f1"}
EVIDENCE_KEYS = {
    "bootstrap_resamples": "resamples",
    "bootstrap_seed": "bootstrap_seed",
    "permutations": "permutations",
    "alpha": "alpha",
    "reference_test": "reference_test",
}
TASK_KEYS = frozenset(
    {
        "kind",
        "description",
        "problem",
        "labels",
        "label_name",
        "train",
        "eval",
        "tests",
        "keep_embedded_tests",
        "long_text",
        "chunk_overlap",
        "label_descriptions",
        "task_description",
        "primary_metric",
        "probe_file",
        "label_map",
        "learning_curve_tolerance",
        *INHERITED_KEYS,
        *EVIDENCE_KEYS,
    }
)


@dataclass(frozen=True)
class EvidenceSettings:
    """How uncertainty is estimated (the task's keys of the same names)."""

    resamples: int = 1000  # bootstrap resamples per interval
    bootstrap_seed: int = 0  # the same seed gives the same intervals, bit for bit
    permutations: int = 10_000  # per paired test; the smallest p-value is 1 / (permutations + 1)
    alpha: float = 0.05  # family-wise, after Holm, for the bands
    reference_test: str | None = None  # site shift is every other test set minus this one
    metric: str = "f1_weighted"  # what the intervals, comparisons and bands are of (a stats key)


@dataclass(frozen=True)
class Preset:
    """What a preset task fixes: its table (under the user's), its embedded files, and extras.

    ``embedded`` maps a split to its file; those splits are read with ``table``'s columns and
    are synthetic and public. ``embedded_tests`` stay beside the user's tests unless
    ``keep_embedded_tests = false``.
    """

    table: Mapping[str, Any] = field(default_factory=dict)
    embedded: Mapping[str, Path] = field(default_factory=dict)
    embedded_tests: tuple[str, ...] = ()
    terms: Any = None  # clinical terms for the tokenisation analysis (harness.scoring.tokenisation)
    single_answer_multi_label: bool = False
    note: str = ""  # what results on its embedded (synthetic) data must say
    base: Path | None = None  # relative paths of the preset's table are relative to this folder


def _where(request: LoadRequest, name: str, key: str | None = None) -> str:
    return request.key(f"tasks.{name}" + (f".{key}" if key else ""))


def _choice(
    request: LoadRequest, table: Mapping[str, Any], name: str, key: str, allowed: Sequence[str], default: str
) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise InputError(_where(request, name, key), f"unknown {key} {value!r}; use one of {', '.join(allowed)}")
    return value


def _strings(request: LoadRequest, name: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(_where(request, name, key), f"expected a list of non-empty strings, got {value!r}")
    if len(set(value)) != len(value):
        raise InputError(_where(request, name, key), "lists a label twice")
    return value


def evidence_settings(request: LoadRequest, name: str, tests: list[str], metric: str) -> EvidenceSettings:
    table, values = request.table, {}
    for key, field_name in EVIDENCE_KEYS.items():
        if key not in table:
            continue
        value, where = table[key], _where(request, name, key)
        if key == "alpha":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise InputError(where, f"expected a number between 0 and 1, got {value!r}")
        elif key == "reference_test":
            if value not in tests:
                raise InputError(where, f"unknown test set {value!r}; the test sets: {', '.join(tests)}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "bootstrap_seed" else 1):
            raise InputError(
                where, f"expected a {'non-negative' if key == 'bootstrap_seed' else 'positive'} integer, got {value!r}"
            )
        values[field_name] = value
    if "reference_test" not in values and "internal" in tests:
        values["reference_test"] = "internal"
    return EvidenceSettings(metric=metric, **values)


class _Splits:
    """Builds each split's :class:`SplitSpec` from the preset's, the task's and its own keys."""

    def __init__(self, request: LoadRequest, name: str, preset: Preset) -> None:
        self.request, self.name, self.preset = request, name, preset
        user = request.table
        self.defaults = {k: v for k, v in {**preset.table, **user}.items() if k in INHERITED_KEYS}
        train = user.get("train")
        self.train_keys = (
            {k: v for k, v in train.items() if k in INHERITED_KEYS - {"synthetic", "public"}}
            if isinstance(train, Mapping)
            else {}
        )

    def user(self, split: str, value: Any, where: str):
        table: Mapping[str, Any] = {"path": value} if isinstance(value, str) else value
        if not isinstance(table, Mapping):
            raise InputError(where, "expected a path or a table with 'path'")
        for key in table:
            if key not in SPLIT_KEYS:
                raise InputError(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(SPLIT_KEYS))}")
        if not isinstance(table.get("path"), str):
            raise InputError(where, "missing 'path'")
        merged = {**self.defaults, **(self.train_keys if split != "train" else {}), **table}
        return split_spec(split, merged, where, self.request.resolve(table["path"]))

    def embedded(self, split: str):
        path = self.preset.embedded[split]
        table = {k: v for k, v in self.preset.table.items() if k in INHERITED_KEYS}
        table.update(synthetic=True, public=True)
        return split_spec(split, table, _where(self.request, self.name), path, source=f"embedded:{path.name}")


def _specs(request: LoadRequest, name: str, preset: Preset) -> dict[str, Any]:
    splits = _Splits(request, name, preset)
    table, specs = request.table, {}
    for split in ("train", "eval"):
        if split in table:
            specs[split] = splits.user(split, table[split], _where(request, name, split))
        elif split in preset.embedded:
            specs[split] = splits.embedded(split)
        else:
            raise InputError(_where(request, name, split), f"missing: give the {split} file (a path or a table)")
    if table.get("keep_embedded_tests", True):
        for split in preset.embedded_tests:
            specs[split] = splits.embedded(split)
    tests = table.get("tests", {})
    if not isinstance(tests, Mapping):
        raise InputError(_where(request, name, "tests"), f"expected tables [tasks.{name}.tests.NAME]")
    for split, value in tests.items():
        where = _where(request, name, f"tests.{split}")
        if split in {"train", "eval"}:
            raise InputError(where, "a test set cannot be named train or eval")
        specs[split] = splits.user(split, value, where)
    if not any(split not in {"train", "eval"} for split in specs):
        raise InputError(_where(request, name), f"no test set left: add [tasks.{name}.tests.NAME]")
    return specs


def _label_columns(request: LoadRequest, name: str, specs: dict[str, Any], labels: list[str] | None):
    """0/1 columns: a table label -> column fills the other labels with their own names (in
    label order); a list gives the columns in label order, or is the label set."""
    import dataclasses

    fixed = labels
    for split, spec in specs.items():
        columns = spec.label_columns
        if columns is None:
            continue
        where = f"{spec.where}.label_columns"
        if isinstance(columns, Mapping):
            if fixed is None:
                fixed = list(columns)
                check_names(fixed, where)
            unknown = [label for label in columns if label not in fixed]
            if unknown:
                raise InputError(
                    str(spec.path),
                    f"label_columns names unknown label {unknown[0]!r}; known labels: {', '.join(fixed)}",
                )
            ordered = [columns.get(label, label) for label in fixed]
        else:
            if fixed is None:
                fixed = list(columns)
                check_names(fixed, where)
            if len(columns) != len(fixed):
                raise InputError(where, f"a list needs {len(fixed)} columns, one per label")
            ordered = list(columns)
        specs[split] = dataclasses.replace(spec, label_columns=ordered)
    return fixed


def load(request: LoadRequest, name: str, preset: Preset) -> TaskData:
    """Read, check and return the task's data; nothing runs before every split has passed."""
    table = {**preset.table, **request.table}
    problem = _choice(request, table, name, "problem", PROBLEMS, "multi-label")
    labels = _strings(request, name, "labels", table["labels"]) if "labels" in table else None
    if labels is not None:
        check_names(labels, _where(request, name, "labels"))
    label_map = label_map_of(table, _where(request, name, "label_map"))
    specs = _specs(request, name, preset)
    for spec in specs.values():
        _check_format_keys(request, name, problem, spec)
    if problem == "multi-label":
        labels = _label_columns(request, name, specs, labels)
    if label_map and any(spec.label_columns is not None for spec in specs.values()):
        raise InputError(
            _where(request, name, "label_map"), "rewrites label_column values; 0/1 columns are named by label_columns"
        )
    raws = {split: mapped(read_rows(spec, problem), label_map) for split, spec in specs.items()}
    check_spellings(list(raws.values()), name)
    pairs = {split for split, raw in raws.items() if raw.pairs is not None}
    if pairs and pairs != set(raws):
        lacking = sorted(set(raws) - pairs)[0]
        raise InputError(specs[lacking].where, "text_pair_column: every split of a pair task needs one")
    if problem == "binary":
        positive = specs["train"].positive_label
        if positive is not None:
            binary_values(list(raws.values()), positive)
        raws = {split: binary_rows(raw, positive) for split, raw in raws.items()}
        label_name = table.get("label_name", specs["train"].label_column)
        if not isinstance(label_name, str) or not label_name:
            raise InputError(_where(request, name, "label_name"), f"expected a non-empty string, got {label_name!r}")
        labels = [label_name]
        data_labels: Sequence[str] = ("positive",)
    else:
        labels = _labels_from_train(request, name, raws["train"], labels)
        data_labels = labels
    splits = {split: to_split(raw, data_labels) for split, raw in raws.items()}
    if raws["train"].matrix is not None:
        check_train_positives(splits["train"], labels, specs["train"].label_columns)
    tests = [split for split in splits if split not in {"train", "eval"}]
    primary = _choice(request, table, name, "primary_metric", list(PRIMARY_METRICS[problem]), DEFAULT_PRIMARY[problem])
    setup = ClassificationSetup(
        problem=problem,
        text_pairs=bool(pairs),
        long_text=_choice(request, table, name, "long_text", ("truncate", "chunk"), "truncate"),
        chunk_overlap=_chunk_overlap(request, name, table),
        label_descriptions=_descriptions(request, name, table, labels),
        task_description=_task_description(request, name, table),
        single_answer_multi_label=preset.single_answer_multi_label,
        selection_metric=PRIMARY_METRICS[problem][primary],
    )
    _warn_about_overlap(name, splits["train"], [splits[split] for split in tests])
    warn_about_absent_labels(name, problem, labels, [splits[split] for split in tests])
    synthetic = any(split.synthetic for split in splits.values())
    return TaskData(
        labels=tuple(labels),
        splits=splits,
        extra={
            "evidence": evidence_settings(request, name, tests, PRIMARY_METRICS[problem][primary]),
            "primary_metric": primary,
            "terms": preset.terms,
            "probe_files": _probe_files(request, name, table, preset),
            "learning_curve_tolerance": _tolerance(request, name, table),
        },
        provenance=tuple(split.provenance(labels) for split in splits.values()),
        note=(preset.note or _synthetic_note(name, splits)) if synthetic else "",
        setup=setup,
    )


def _synthetic_note(name: str, splits: Mapping[str, Any]) -> str:
    marked = ", ".join(split.name for split in splits.values() if split.synthetic)
    return (
        f"Results on SYNTHETIC data: the {name} task's {marked} data are marked synthetic; they show how "
        "the models compare on that data, not how they perform on real clinical text."
    )


def _check_format_keys(request: LoadRequest, name: str, problem: str, spec: Any) -> None:
    if problem != "multi-label" and spec.label_columns is not None:
        raise InputError(
            f"{spec.where}.label_columns",
            f"a {problem} task has one label column: use label_column (0/1 columns are for multi-label)",
        )
    if problem != "binary" and spec.positive_label is not None:
        raise InputError(f"{spec.where}.positive_label", f"only a binary task has a positive label, not {problem}")


def _labels_from_train(request: LoadRequest, name: str, train: Any, fixed: list[str] | None) -> list[str]:
    if train.labels is None:  # 0/1 columns: the labels are the columns'
        return list(fixed or [])
    seen = sorted({label for row in train.labels for label in row})
    if fixed is None:
        if not seen:
            raise InputError(str(train.spec.path), "no row has a label")
        return seen
    absent = [label for label in fixed if label not in seen]
    if absent:
        raise InputError(
            _where(request, name, "labels"),
            f"label {absent[0]!r} has no row in train ({train.spec.path}); a model cannot learn it: "
            "drop it from labels or add training rows",
        )
    return fixed


def _chunk_overlap(request: LoadRequest, name: str, table: Mapping[str, Any]) -> int:
    value = table.get("chunk_overlap", 32)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(_where(request, name, "chunk_overlap"), f"expected a non-negative integer, got {value!r}")
    return value


def _descriptions(request: LoadRequest, name: str, table: Mapping[str, Any], labels: Sequence[str]) -> dict[str, str]:
    value = table.get("label_descriptions", {})
    where = _where(request, name, "label_descriptions")
    if not isinstance(value, Mapping):
        raise InputError(where, 'expected a table label = "words the model answers with"')
    for label, words in value.items():
        if label not in labels:
            raise InputError(f"{where}.{label}", f"unknown label; the task's labels: {', '.join(labels)}")
        if not isinstance(words, str) or not words.strip():
            raise InputError(f"{where}.{label}", f"expected non-empty words, got {words!r}")
    return dict(value)


def _tolerance(request: LoadRequest, name: str, table: Mapping[str, Any]) -> float:
    """How close to a full-data score a learning curve's answer must come (--train-sizes)."""
    value = table.get("learning_curve_tolerance", 0.01)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        where = _where(request, name, "learning_curve_tolerance")
        raise InputError(
            where, f"expected a number between 0 and 1 (a difference in the primary metric), got {value!r}"
        )
    return float(value)


def _task_description(request: LoadRequest, name: str, table: Mapping[str, Any]) -> str:
    value = table.get("task_description", "")
    if not isinstance(value, str):
        raise InputError(_where(request, name, "task_description"), f"expected a string, got {value!r}")
    return value


def _probe_files(request: LoadRequest, name: str, table: Mapping[str, Any], preset: Preset) -> tuple[Path, ...]:
    value = table.get("probe_file")
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InputError(_where(request, name, "probe_file"), f"expected a path or a list of paths, got {value!r}")
    from_user = "probe_file" in request.table
    base = None if from_user else preset.base
    return tuple((base / v) if base else request.resolve(v) for v in values)


def _warn_about_overlap(name: str, train: Any, tests: list[Any]) -> None:
    """One warning per test set holding strings that occur verbatim in train. Not an error:
    clinical text repeats, so real data overlaps too; but a memorising model looks better on
    those rows than it is, and the leaderboard scores the unseen rows apart. Counts only."""
    report = overlap_report(keys(train), {split.name: keys(split) for split in tests})
    for split, counts in report.items():
        if counts["rows_in_train"]:
            warn(
                f"tasks.{name}",
                f"{counts['rows_in_train']:,} of {counts['rows']:,} rows of test set {split!r} "
                f"({counts['distinct_in_train']:,} distinct strings) also occur verbatim in train; "
                "see the train/test overlap table",
            )


def keys(split: Any) -> tuple[str, ...]:
    """What "seen in train" compares: the text, or for a pair both texts."""
    if split.pairs is None:
        return split.texts
    return tuple(f"{a}\u241e{b}" for a, b in zip(split.texts, split.pairs))
