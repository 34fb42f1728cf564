"""``harness errors RUN_DIR``: the misclassified rows of a run, with their text, for annotators.

The run directory's per-row files (:mod:`harness.predictions`) hold no text; the text is read
again from each test set's data file, and only if that file's SHA-256 is still the one the run
scored (else one error line, exit 2): rows of a changed file would be another patient's note.
Every output starts with :data:`BANNER`: it holds patient text and must stay where the data
may be (docs/error-analysis.md).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from harness.atomic import write_atomically
from harness.core.store import ItemStore
from harness.data import read_records
from harness.errors import InputError
from harness.predictions import RowPredictions, SplitRows, read_parquet

BANNER = "CONTAINS PATIENT TEXT from the run's data: keep it where the data may be; never publish or share it"
TRAINING_SPLITS = frozenset({"train", "eval"})


@dataclass(frozen=True)
class Mistake:
    """One misclassified row of one item's test set."""

    task: str
    model: str
    seed: int
    test_set: str
    row: int
    id: str | None
    gold: tuple[str, ...]
    predicted: tuple[str, ...]
    confidence: float
    text: str


def mistake_confidence(scores: np.ndarray, gold: np.ndarray, predicted: np.ndarray, rule: Mapping[str, Any]) -> float:
    """How sure the model was of its wrong answer: under argmax the score of the label it chose;
    else the farthest any wrongly decided label's score lies on the wrong side of the threshold."""
    if rule.get("argmax"):
        return float(scores[int(np.argmax(predicted))])
    threshold = float(rule.get("threshold", 0.5))
    wrong = gold != predicted
    return float(np.max(np.where(predicted[wrong] == 1, scores[wrong] - threshold, threshold - scores[wrong])))


class TextSource:
    """Each data file's text column, read once, and only if its SHA-256 is the run's."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def texts(self, source: Mapping[str, Any] | None, test_set: str) -> list[str]:
        if not source or not source.get("path"):
            raise InputError(test_set, "the run kept no data file for this test set: its text cannot be shown")
        path = source["path"]
        if path not in self._texts:
            columns, records, digest = read_records(Path(path), source.get("format"), source.get("delimiter"))
            if digest != source["sha256"]:
                raise InputError(
                    path,
                    f"changed since the run (SHA-256 {digest[:12]}…, the run scored {source['sha256'][:12]}…); "
                    "harness errors shows text only from the file the run scored",
                )
            text, pair = source["text_column"], source.get("text_pair_column")
            self._texts[path] = [
                str(r.get(text, "")) + (f" ‖ {r.get(pair, '')}" if pair else "") for r in records
            ]  # fmt: skip
        return self._texts[path]


def load_runs(run_dir: Path) -> list[RowPredictions]:
    """Every per-row file of the run directory, read back."""
    store = ItemStore(run_dir)
    if not store.exists():
        raise InputError(str(run_dir), "not a run directory (no items/ folder)")
    files = store.row_files()
    if not files:
        raise InputError(str(run_dir / "items"), "no per-row predictions: run this harness version into it again")
    runs = []
    for path in files:
        try:
            runs.append(read_parquet(path))
        except (OSError, ValueError) as err:
            raise InputError(str(path), f"unreadable per-row file ({err})") from None
    return runs


def selected(
    runs: Sequence[RowPredictions], model: str | None, test_set: str | None
) -> list[tuple[RowPredictions, SplitRows]]:
    """The test sets (not train or eval) of the chosen model and test set, each name checked."""
    models = sorted({r.model for r in runs})
    if model is not None and model not in models:
        raise InputError("--model", f"no per-row predictions of {model!r}; the run has {', '.join(models)}")
    pairs = [(r, s) for r in runs for s in r.splits if s.split not in TRAINING_SPLITS]
    names = sorted({s.split for _, s in pairs})
    if test_set is not None and test_set not in names:
        raise InputError("--test-set", f"no test set {test_set!r}; the run has {', '.join(names)}")
    return [(r, s) for r, s in pairs if (model is None or r.model == model) and (test_set in (None, s.split))]


def check_label(option: str, label: str | None, runs: Sequence[RowPredictions]) -> None:
    known = sorted({label for r in runs for label in r.labels})
    if label is not None and label not in known:
        raise InputError(option, f"unknown label {label!r}; the run's labels: {', '.join(known)}")


def _names(matrix_row: np.ndarray, labels: Sequence[str]) -> tuple[str, ...]:
    return tuple(labels[j] for j in np.flatnonzero(matrix_row))


def mistakes(
    chosen: Iterable[tuple[RowPredictions, SplitRows]],
    texts: TextSource,
    true: str | None = None,
    pred: str | None = None,
) -> list[Mistake]:
    """The misclassified rows, most confident first (then by model, test set and row)."""
    out = []
    for run, rows in chosen:
        wrong = np.flatnonzero((rows.gold != rows.predicted).any(axis=1))
        if not len(wrong):
            continue
        text = texts.texts(rows.source, rows.split)
        for i in wrong:
            gold, predicted = _names(rows.gold[i], run.labels), _names(rows.predicted[i], run.labels)
            if (true is not None and true not in gold) or (pred is not None and pred not in predicted):
                continue
            out.append(
                Mistake(
                    task=run.task,
                    model=run.model,
                    seed=run.seed,
                    test_set=rows.split,
                    row=int(rows.rows[i]),
                    id=None if rows.ids is None else rows.ids[i],
                    gold=gold,
                    predicted=predicted,
                    confidence=mistake_confidence(rows.scores[i], rows.gold[i], rows.predicted[i], run.decision_rule),
                    text=text[int(rows.rows[i])],
                )
            )
    return sorted(out, key=lambda m: (-m.confidence, m.model, m.test_set, m.row))


def disagreements(
    runs: Sequence[RowPredictions], model: str, other: str, test_set: str | None, texts: TextSource
) -> list[dict[str, Any]]:
    """Rows on which ``model`` and ``other`` predict differently (same task, test set, seed), and
    who was right."""
    mine = {(r.task, s.split, r.seed): (r, s) for r, s in selected(runs, model, test_set)}
    theirs = {(r.task, s.split, r.seed): (r, s) for r, s in selected(runs, other, test_set)}
    out = []
    for key in sorted(set(mine) & set(theirs)):
        (run, a), (_, b) = mine[key], theirs[key]
        at = {int(row): i for i, row in enumerate(b.rows)}
        text = texts.texts(a.source, a.split)
        for i, row in enumerate(a.rows):
            j = at.get(int(row))
            if j is None or (a.predicted[i] == b.predicted[j]).all():
                continue
            right_a, right_b = (a.predicted[i] == a.gold[i]).all(), (b.predicted[j] == b.gold[j]).all()
            out.append(
                {
                    "task": key[0],
                    "test_set": key[1],
                    "seed": key[2],
                    "row": int(row),
                    "id": None if a.ids is None else a.ids[i],
                    "gold": ";".join(_names(a.gold[i], run.labels)),
                    model: ";".join(_names(a.predicted[i], run.labels)),
                    other: ";".join(_names(b.predicted[j], run.labels)),
                    "right": model if right_a else other if right_b else "neither",
                    "text": text[int(row)],
                }
            )
    return out


def as_records(found: Sequence[Mistake]) -> list[dict[str, Any]]:
    return [
        {
            "model": m.model,
            "task": m.task,
            "test_set": m.test_set,
            "seed": m.seed,
            "row": m.row,
            "id": m.id,
            "gold": ";".join(m.gold),
            "predicted": ";".join(m.predicted),
            "confidence": round(m.confidence, 4),
            "text": m.text,
        }
        for m in found
    ]


def write(records: Sequence[Mapping[str, Any]], fmt: str, stream: TextIO) -> None:
    """The banner first, whatever the format: csv a ``#`` comment line, jsonl a first object
    ``{"notice": ...}``, a table its first line."""
    columns = list(records[0]) if records else ["model", "test_set", "row", "text"]
    if fmt == "jsonl":
        stream.write(json.dumps({"notice": BANNER}) + "\n")
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        stream.write(f"# {BANNER}\n{buffer.getvalue()}")
    else:
        from tabulate import tabulate

        stream.write(f"!! {BANNER} !!\n")
        rows = [[("" if v is None else v) for v in record.values()] for record in records]
        stream.write(tabulate(rows, headers=columns, tablefmt="simple", disable_numparse=True) + "\n")
        stream.write(f"{len(records)} row(s)\n")


def most_confident(run_dir: Path, per_group: int) -> list[dict[str, Any]]:
    """For the private page: per model, task and test set, its ``per_group`` most confident
    mistakes, with their text (the data files' SHA-256 checked as for ``harness errors``)."""
    found = mistakes(selected(load_runs(run_dir), None, None), TextSource())
    groups: dict[tuple[str, str, str], list[Mistake]] = {}
    for mistake in found:  # most confident first already
        group = groups.setdefault((mistake.model, mistake.task, mistake.test_set), [])
        if len(group) < per_group:
            group.append(mistake)
    return [
        {"model": model, "task": task, "test_set": test_set, "rows": rows}
        for (model, task, test_set), rows in sorted(groups.items())
    ]


def show_errors(options: Any, stream: TextIO | None = None) -> None:
    runs = load_runs(options.run_dir)
    check_label("--true", options.true, runs)
    check_label("--pred", options.pred, runs)
    texts = TextSource()
    if options.vs is not None:
        if options.model is None:
            raise InputError("--vs", "name the other model with --model MODEL")
        if options.true is not None or options.pred is not None:
            raise InputError("--vs", "lists every row the two models disagree on: drop --true and --pred")
        selected(runs, options.vs, None)  # checks the name
        records = disagreements(runs, options.model, options.vs, options.test_set, texts)
    else:
        records = as_records(
            mistakes(selected(runs, options.model, options.test_set), texts, options.true, options.pred)
        )
    output = getattr(options, "output", None)
    if output is None:
        write(records, options.format, stream or sys.stdout)
        return
    buffer = io.StringIO()
    write(records, options.format, buffer)
    try:  # private: 0600, as mkstemp makes it; a shell's `>` would give the umask's mode
        write_atomically(Path(output), lambda out: out.write(buffer.getvalue().encode("utf-8")))
    except OSError as err:
        raise InputError(str(output), f"cannot write: {err.strerror or err}") from None
    print(f"harness: {len(records)} row(s) with patient text written to {output} (readable by you only)")
