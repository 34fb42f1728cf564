"""The ``probe`` task: the seed study's spot-check of variant inputs, and the user's own.

It scores the classifiers fitted for ``indications`` (never training them again). A case
passes when the predicted label set equals the expected set exactly. Probe inputs are
public by nature, so they are written to the leaderboard.
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


def seed_probe_path() -> Path:
    return Path(str(files("harness.tasks.probe") / "seed_spotcheck.jsonl"))


def read_probe_file(path: Path, labels: Sequence[str]) -> list[dict[str, Any]]:
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
        extra = set(case) - set(CASE_KEYS)
        if extra:
            raise InputError(str(path), f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        if not case["input"].strip():
            raise InputError(str(path), f"{where}: empty input")
        unknown = [label for label in case["expected"] if label not in labels]
        if unknown:
            raise InputError(
                str(path),
                f"{where}: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(labels)}",
            )
        cases.append({**case, "file": path.name, "line": number})  # "line": for messages only
    if not cases:
        raise InputError(str(path), "no probe cases")
    return cases


def load(request: LoadRequest) -> TaskData:
    labels = request.upstream.labels if request.upstream else ()
    paths = [seed_probe_path(), *(Path(p) for p in (request.options.probe_file or []))]
    cases: list[dict[str, Any]] = []
    seen: dict[str, str] = {}  # id -> where it was first seen
    for path in paths:
        for case in read_probe_file(path, labels):
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
    return TaskData(labels=labels, extra={"cases": tuple(cases)}, provenance=provenance)


def score(request: ScoreRequest) -> dict[str, Any]:
    classifier = request.fitted().classifier
    cases = request.data.extra["cases"]
    labels = request.data.labels
    predicted = classifier.decision_rule.apply(classifier.predict_scores([c["input"] for c in cases]))
    results = []
    for case, row in zip(cases, predicted):
        got = [label for label, hit in zip(labels, row) if hit]
        results.append(
            {
                "id": case["id"],
                "input": case["input"],
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
            description="Variant inputs (typos, hyphenation, abbreviations) scored on the indications classifiers",
            fits_on="indications",
            load=load,
            score=score,
        )
    )


@hookimpl
def harness_tables(document: dict[str, Any]) -> list[Table]:
    """The ✓/✗ matrix and the pass rates."""
    from harness.tasks.probe.tables import probe_tables

    return probe_tables(document)
