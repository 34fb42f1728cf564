"""In-process SmolLM2 prompted zero-shot and few-shot, side by side, on fixed cuts of each task.

For each task, the full train split is the demonstrations' pool and a fixed random cut of eval
and of every test set (``--rows``, seed 0: the same rows for every configuration) is scored.
Each configuration is fitted as ``harness run`` fits ``smollm2-135m-zeroshot`` (its recipe with
the configuration's keys over it, on the CPU) and scored by the task's primary metric and macro
F1, per split. ``random`` demonstrations are drawn per seed (``--seeds``): the table gives the
mean and the spread (min-max) over seeds; zero-shot and ``nearest`` do not depend on the seed
and run once.

    python benchmarks/few_shot.py                                   # indications, 0/4/8 shots
    python benchmarks/few_shot.py --tasks example-smoking,example-ade,example-nli --rows 150
    python benchmarks/few_shot.py --tasks indications --configs answer_score   # sum against mean

Configurations are chosen on eval like any recipe: the eval column is the one to choose by; the
test columns are what the choice then gives. A JSON record of every fit goes to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = "smollm2-135m-zeroshot"
# Named lists of configurations: (recipe keys over the model's recipe, whether the seed matters)
CONFIGS: dict[str, list[tuple[dict[str, Any], bool]]] = {
    "shots": [
        ({"shots": 0}, False),
        ({"shots": 4, "demonstrations": "random"}, True),
        ({"shots": 4, "demonstrations": "nearest"}, False),
        ({"shots": 8, "demonstrations": "random"}, True),
        ({"shots": 8, "demonstrations": "nearest"}, False),
    ],
    "answer_score": [
        ({"shots": 0, "answer_score": "sum"}, False),
        ({"shots": 0, "answer_score": "mean"}, False),
    ],
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="indications")
    parser.add_argument("--configs", default="shots", choices=sorted(CONFIGS))
    parser.add_argument("--rows", type=int, default=200, help="rows of eval and of each test set (a fixed cut)")
    parser.add_argument("--seeds", default="42,43,44", help="seeds of the random demonstrations")
    parser.add_argument("--class-recall", default="prophylaxis", help="also print this label's test recall")
    parser.add_argument("--json", type=Path, help="write every fit's figures here")
    return parser.parse_args(argv)


def load_tasks(names: list[str], folder: Path):
    """Each task's data as ``harness run`` loads it (default profile, embedded data)."""
    from harness.cli import make_parser
    from harness.core.config import load_config
    from harness.core.hooks import Hooks
    from harness.core.manager import make_plugin_manager
    from harness.core.profiles import get_profile
    from harness.core.runner import build_session, load_task_data

    hooks = Hooks(make_plugin_manager())
    argv = ["run", "--models", MODEL, "--tasks", ",".join(names), "--out", str(folder), "--device", "cpu"]
    options = make_parser(hooks).parse_args(argv)
    models, tasks = hooks.models(), hooks.tasks()
    session = build_session(options, models, tasks, load_config(None, models, tasks), get_profile("default"))
    load_task_data(session, names)
    return session


def fit(session, task: str, recipe: dict[str, Any], seed: int) -> Any:
    """The prompted model fitted as ``harness run`` fits it on the CPU, ``recipe`` over its own."""
    from harness.core.weights import find_weights
    from harness.model import FitRequest
    from harness.progress import no_progress

    data, spec = session.data[task], session.models[MODEL]
    request = FitRequest(
        spec=spec,
        labels=tuple(data.labels),
        train=data.splits["train"],
        eval=data.splits["eval"],
        seed=seed,
        recipe={**session.recipe(spec, task), **recipe},
        device="cpu",
        weights=str(find_weights(spec, session.config.weight_options(MODEL))[0]),
        progress=no_progress,
        setup=data.setup,
    )
    return spec.fit(request)


def fit_and_score(session, task: str, recipe: dict[str, Any], seed: int, rows: int) -> dict[str, Any]:
    from harness.scoring.metrics import problem_report

    data = session.data[task]
    setup = data.setup
    started = time.perf_counter()
    classifier = fit(session, task, recipe, seed)
    fitted = time.perf_counter() - started
    problem = setup.problem if setup else "multi-label"
    primary = data.extra.get("primary_metric", "f1_weighted")
    out: dict[str, Any] = {"fit_seconds": round(fitted, 1), "splits": {}}
    for name in ("eval", *data.test_splits):
        split = data.splits[name].sample(rows, seed=0)
        started = time.perf_counter()
        scores = classifier.predict_scores(list(split.inputs))
        seconds = time.perf_counter() - started
        report = problem_report(problem, split.y, classifier.decision_rule.apply(scores), scores, data.labels)
        out["splits"][name] = {
            "rows": len(split),
            "of": len(data.splits[name]),
            "primary": report[primary] if primary in report else report["f1_macro"],
            "f1_macro": report.get("f1_macro"),
            "per_class_recall": {k: v["recall"] for k, v in report.get("per_class", {}).items()},
            "seconds_per_input": seconds / max(len(split), 1),
        }
    out["primary_metric"] = primary
    out["labels"] = list(data.labels)
    out["dropped"] = classifier.details.get("demonstrations_dropped", 0)
    return out


def describe(recipe: dict[str, Any]) -> str:
    shots = recipe.get("shots", 0)
    words = "zero-shot" if not shots else f"{shots}-shot {recipe.get('demonstrations', 'random')}"
    return words + (f", answer_score {recipe['answer_score']}" if "answer_score" in recipe else "")


def spread(values: list[float]) -> str:
    """One value, or the mean over seeds and [min-max]."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def markdown(record: dict[str, Any], task: str) -> str:
    """One task's table from a record this script wrote (docs/hooks/figures.py renders it too)."""
    fits = [f for f in record["fits"] if f["task"] == task]
    if not fits:
        raise KeyError(f"no fits of task {task!r} in the record")
    tests = [name for name in fits[0]["runs"][0]["splits"] if name != "eval"]
    metric = fits[0]["runs"][0]["primary_metric"].replace("_", " ")
    recall = record.get("class_recall") if record.get("class_recall") in fits[0]["runs"][0]["labels"] else None
    macro = fits[0]["runs"][0]["primary_metric"] == "f1_weighted"  # macro F1 beside weighted F1 only
    header = ["recipe", f"eval {metric}", *(f"{t} {metric}" for t in tests)] + (
        [f"{tests[0]} macro F1"] if macro else []
    )
    header += [f"{recall} recall ({tests[0]})"] if recall else []
    header.append(f"s/input ({tests[0]})")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for fit in fits:
        runs = fit["runs"]
        row = [describe(fit["recipe"]), spread([r["splits"]["eval"]["primary"] for r in runs])]
        row += [spread([r["splits"][t]["primary"] for r in runs]) for t in tests]
        if macro:
            row.append(spread([r["splits"][tests[0]]["f1_macro"] for r in runs]))
        if recall:
            row.append(spread([r["splits"][tests[0]]["per_class_recall"][recall] for r in runs]))
        row.append(f"{statistics.mean(r['splits'][tests[0]]['seconds_per_input'] for r in runs):.2f}")
        lines.append("| " + " | ".join(row) + " |")
    rows = fits[0]["runs"][0]["splits"]
    scored = ", ".join(f"{rows[name]['rows']} of {rows[name]['of']} {name} rows" for name in ("eval", *tests))
    seeds = max(len(f["seeds"]) for f in fits)
    data = "SYNTHETIC data" if fits[0]["synthetic"] else "the user's data"
    spread_note = f"random demonstrations: mean [min-max] over {seeds} seeds; " if seeds > 1 else ""
    lines.append("")
    lines.append(
        f"_{task} ({data}): {scored} scored (a fixed sample, seed 0); train's {fits[0]['train_rows']} "
        f"rows the demonstrations' pool; {spread_note}{record['machine']}, {record['load']}, "
        f"{record['date']}, commit {record['commit']}_"
    )
    return "\n".join(lines) + "\n"


def machine_record() -> dict[str, str]:
    import subprocess

    from harness.core.hardware import describe_machine, hardware_text

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    load = os.getloadavg()[0]
    return {
        "machine": hardware_text(describe_machine()),
        "load": f"load average {load:.1f} at the start",
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit.stdout.strip() or "unknown",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    names = [t for t in args.tasks.split(",") if t]
    seeds = [int(s) for s in args.seeds.split(",")]
    record: dict[str, Any] = {**machine_record(), "class_recall": args.class_recall, "fits": []}
    start_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        session = load_tasks(names, Path(tmp))
        for task in names:
            train_rows = len(session.data[task].splits["train"])
            for recipe, seeded in CONFIGS[args.configs]:
                chosen = seeds if seeded else seeds[:1]
                runs = [fit_and_score(session, task, recipe, seed, args.rows) for seed in chosen]
                synthetic = all(split.synthetic for split in session.data[task].splits.values())
                record["fits"].append(
                    {
                        "task": task,
                        "synthetic": synthetic,
                        "recipe": recipe,
                        "seeds": chosen,
                        "train_rows": train_rows,
                        "runs": runs,
                    }
                )
                print(f"{task}: {describe(recipe)} done", file=sys.stderr, flush=True)
                record["load"] = f"load average {start_load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
                if args.json:  # written as it goes: a long grid keeps what it has
                    args.json.write_text(json.dumps(record, indent=1), encoding="utf-8")
            print(markdown(record, task), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
