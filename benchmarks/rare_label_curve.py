"""A learning curve with a rare label: what the smallest sizes hold (docs/learning-curves.md).

The embedded indications data with one label cut down to a few training rows (default: the
rarest, ``neurological``, kept in 5 of its 68 rows; the other 63 rows dropped from train; eval and
the test sets untouched). The script first asks for a size below what every label needs and
prints the one-line refusal; then runs ``harness run --train-sizes`` with tf-idf + logistic
regression and prints, per size: the rare label's rows in the subset of each seed, its share
against its share of all of train, its F1 on the internal test set and the weighted F1.

    python benchmarks/rare_label_curve.py                      # 5 rows of neurological, seed 42
    python benchmarks/rare_label_curve.py --seeds 1,2,3 --sizes 12,25,50,100,200,400,800,all

About 2 minutes on 2 busy CPU cores (tf-idf is the fast model; the fits of MiniLM would be many).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "harness" / "tasks" / "indications" / "data"


def rare_train(folder: Path, label: str, keep: int) -> tuple[Path, int, int]:
    """Train with only the first ``keep`` rows holding ``label``; returns (file, rows, label rows)."""
    with (DATA / "indications_train.csv").open(encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fields, rows = reader.fieldnames, list(reader)
    kept, seen = [], 0
    for row in rows:
        if row[label] == "1":
            seen += 1
            if seen > keep:
                continue
        kept.append(row)
    path = folder / "train.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    return path, len(kept), min(seen, keep)


def harness(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="neurological")
    parser.add_argument("--keep", type=int, default=5, help="training rows of the label kept (default 5)")
    parser.add_argument("--sizes", default="12,25,50,100,200,400,800,all")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--model", default="tfidf-lr")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        train, rows, label_rows = rare_train(tmp, options.label, options.keep)
        config = tmp / "rare.toml"
        config.write_text(f'[tasks.indications]\ntrain = "{train.name}"\n', encoding="utf-8")
        print(f"train: {rows:,} rows; {options.label}: {label_rows} rows ({label_rows / rows:.2%})")
        common = ("run", "--models", options.model, "--tasks", "indications", "--config", str(config))
        refused = harness(*common, "--seeds", options.seeds, "--train-sizes", "5,100", "--out", str(tmp / "no"))
        print(f"--train-sizes 5,100 -> exit {refused.returncode}: {refused.stderr.strip()}")
        out = tmp / "run"
        done = harness(*common, "--seeds", options.seeds, "--train-sizes", options.sizes, "--out", str(out))
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
            return done.returncode
        document = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
        curve = document["summaries"]["indications"]["learning_curve"]
        per_item = {
            (r.get("train_rows", curve["train_rows"]), r["seed"]): r
            for r in document["results"]
            if r["model"] == options.model and r["status"] == "passed"
        }
        print(
            f"\n{'size':>6} {'rows':>6} {options.label + ' rows':>18} {'share':>8} {'x full share':>12} "
            f"{options.label + ' F1 (internal)':>26} {'weighted F1 (internal)':>22}"
        )
        full_share = label_rows / rows
        for subset in curve["subsets"]:
            counts = [by_label[options.label] for by_label in subset["label_rows"].values()]
            share = sum(counts) / len(counts) / subset["rows"]
            items = [per_item[subset["rows"], int(seed)] for seed in subset["label_rows"]]
            f1 = [i["metrics"]["internal"]["per_class"][options.label]["f1"] for i in items]
            weighted = [i["metrics"]["internal"]["f1_weighted"] for i in items]
            print(
                f"{subset['size']:>6} {subset['rows']:>6} {'/'.join(map(str, counts)):>18} {share:>8.2%} "
                f"{share / full_share:>12.1f} {'/'.join(f'{v:.2f}' for v in f1):>26} "
                f"{'/'.join(f'{v:.3f}' for v in weighted):>22}"
            )
        print(f"\n(one value per seed: {options.seeds}; measured with other jobs beside it where the cores are shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
