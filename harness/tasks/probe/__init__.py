"""The ``probe`` task: the seed study's spot-check of variant inputs, and the user's own.

It scores the classifiers fitted for a classification task (never training them again):
``indications`` by default, whose seed spot-check ships here; with ``--tasks smoking,probe``
the first classification task selected, or the one ``[tasks.probe] task = "..."`` names. Its
cases come from ``--probe-file`` (cases with a ``"task"`` key only for that task) and from
that task's own ``probe_file`` key. A case passes when the predicted label set equals the
expected set exactly. Probe inputs are public by nature, so they are written to the leaderboard.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import InputError, LoadRequest, ScoreRequest, TaskData, TaskSpec, hookimpl
from harness.data import read_text_file
from harness.tables import Table

NAME = "probe"
CASE_KEYS = {"id": str, "input": str, "expected": list, "kind": str}
OPTIONAL_KEYS = {"task": str, "input_pair": str}  # the task a case is for; a pair task's second text
SEED_TASK = "indications"  # the seed spot-check's cases name its categories


def seed_probe_path() -> Path:
    return Path(str(files("harness.tasks.probe") / "seed_spotcheck.jsonl"))


def read_probe_file(path: Path, labels: Sequence[str], task: str | None = None) -> list[dict[str, Any]]:
    """The cases of one file for ``task``: those naming it, and those naming no task."""
    import json

    text, _ = read_text_file(path)
    cases = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            case = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(str(path), f"{where}: not valid JSON ({err.msg})") from None
        if not isinstance(case, dict):
            raise InputError(str(path), f"{where}: expected a JSON object")
        for key, kind in CASE_KEYS.items():
            if not isinstance(case.get(key), kind):
                raise InputError(str(path), f"{where}: key {key!r} must be a {kind.__name__}, got {case.get(key)!r}")
        for key, kind in OPTIONAL_KEYS.items():
            if key in case and not isinstance(case[key], kind):
                raise InputError(str(path), f"{where}: key {key!r} must be a {kind.__name__}, got {case[key]!r}")
        extra = set(case) - set(CASE_KEYS) - set(OPTIONAL_KEYS)
        if extra:
            raise InputError(str(path), f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        if not case["input"].strip():
            raise InputError(str(path), f"{where}: empty input")
        if task is not None and case.get("task", task) != task:
            continue
        unknown = [label for label in case["expected"] if label not in labels]
        if unknown:
            raise InputError(
                str(path),
                f"{where}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(labels)}",
            )
        cases.append({**case, "file": path.name, "line": number})  # "line": for messages only
    return cases


def load(request: LoadRequest) -> TaskData:
    upstream = request.upstream
    labels = upstream.labels if upstream else ()
    task = request.upstream_name or SEED_TASK
    paths = [seed_probe_path()] if task == SEED_TASK else []
    paths += [
        *(Path(p) for p in (request.options.probe_file or [])),
        *(upstream.extra.get("probe_files", ()) if upstream else ()),
    ]
    pair_task = bool(upstream and upstream.setup and upstream.setup.text_pairs)
    multi_class = bool(upstream and upstream.setup and upstream.setup.problem == "multi-class")
    cases: list[dict[str, Any]] = []
    seen: dict[str, str] = {}  # id -> where it was first seen
    for path in paths:
        found = read_probe_file(path, labels, task)
        if not found:
            raise InputError(str(path), f"no probe cases for task {task!r}")
        for case in found:
            if pair_task != ("input_pair" in case):
                need = "needs" if pair_task else "has"
                raise InputError(
                    str(path),
                    f"line {case['line']}: {need} 'input_pair' but task {task!r} is "
                    f"{'a' if pair_task else 'not a'} sentence-pair task",
                )
            if multi_class and len(case["expected"]) != 1:  # argmax answers one label: [] never passes
                raise InputError(
                    str(path),
                    f"line {case['line']}: 'expected' is {case['expected']!r} but task {task!r} is multi-class: "
                    "a case expects exactly one label",
                )
            if case["id"] in seen:
                raise InputError(
                    str(path), f"line {case['line']}: duplicate probe id {case['id']!r} (also {seen[case['id']]})"
                )
            seen[case["id"]] = f"line {case['line']} of {path}"
            cases.append(case)
    provenance = tuple(
        {"probe_file": str(p), "sha256": read_text_file(p)[1], "cases": sum(c["file"] == p.name for c in cases)}
        for p in paths
    )
    if not cases:
        raise InputError(
            request.key(f"tasks.{NAME}"),
            f"no probe cases for task {task!r}: give --probe-file with cases naming it, or probe_file in [tasks.{task}]",
        )
    return TaskData(labels=labels, extra={"cases": tuple(cases)}, provenance=provenance)


def score(request: ScoreRequest) -> dict[str, Any]:
    classifier = request.fitted().classifier
    cases = request.data.extra["cases"]
    labels = request.data.labels
    inputs = [(c["input"], c["input_pair"]) if "input_pair" in c else c["input"] for c in cases]
    predicted = classifier.decision_rule.apply(classifier.predict_scores(inputs))
    results = []
    for case, row in zip(cases, predicted):
        got = [label for label, hit in zip(labels, row) if hit]
        results.append(
            {
                "id": case["id"],
                "input": case["input"],
                **({"input_pair": case["input_pair"]} if "input_pair" in case else {}),
                "kind": case["kind"],
                "expected": sorted(case["expected"]),
                "predicted": sorted(got),
                "passed": set(got) == set(case["expected"]),
            }
        )
    totals, passes = Counter(r["kind"] for r in results), Counter(r["kind"] for r in results if r["passed"])
    return {
        "cases": results,
        "pass_rate": sum(r["passed"] for r in results) / len(results),
        "by_kind": {
            kind: {"passed": passes[kind], "total": total, "pass_rate": passes[kind] / total}
            for kind, total in sorted(totals.items())
        },
    }


@hookimpl
def harness_addoption(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--probe-file",
        action="append",
        metavar="PATH",
        help="extra probe cases (JSONL: id, input, expected, kind); repeatable",
    )


@hookimpl
def harness_add_tasks(register) -> None:
    register.add(
        TaskSpec(
            name=NAME,
            description="Variant inputs (typos, hyphenation, abbreviations) scored on a classification task's "
            "classifiers (default: indications)",
            fits_on=SEED_TASK,
            load=load,
            score=score,
            config_keys=frozenset({"task"}),
            follows=True,
        )
    )


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """The ✓/✗ matrix and the pass rates."""
    from harness.tasks.probe.tables import probe_tables

    return probe_tables(document)
