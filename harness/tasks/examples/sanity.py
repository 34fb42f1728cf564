"""Sanity figures for the example data: TF-IDF + logistic regression macro-F1 per test split.

A learnable example scores well above chance and below 1.0.  For the sentence pairs, the model
reads premise words, hypothesis words and premise x hypothesis word pairs (a linear model on
the two bags alone cannot compare them); a hypothesis-only model shows what the hypothesis
alone gives away.  Run::

    python -m harness.tasks.examples.sanity
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from . import generate

FOLDER = Path(__file__).resolve().parent


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in handle]
        return list(csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ","))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def pair_features(row: dict) -> list[str]:
    """The lexicalised features of the SNLI paper's baseline (Bowman et al. 2015), in short.

    Premise and hypothesis words, every (premise word, hypothesis word) pair, and the words of
    each premise sentence that shares a content word with the hypothesis ("ruled", "out").
    """
    premise, hypothesis = _words(row["premise"]), _words(row["hypothesis"])
    content = {w for w in hypothesis if len(w) > 3}
    overlap = [w for s in re.split(r"[.;]", row["premise"]) if content & set(_words(s)) for w in _words(s)]
    return (
        [f"p:{w}" for w in premise]
        + [f"h:{w}" for w in hypothesis]
        + [f"x:{p}|{h}" for p in set(premise) for h in set(hypothesis)]
        + [f"o:{w}" for w in overlap]
    )


def hypothesis_features(row: dict) -> list[str]:
    return [f"h:{w}" for w in _words(row["hypothesis"])]


def macro_f1(train: list[dict], test: list[dict], label_column: str, features) -> float:
    """Fit TF-IDF (word 1-2 grams, or ``features`` of a row) + logistic regression on ``train``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    if isinstance(features, str):  # the text column
        vectorizer, x_train, x_test = (
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            [r[features] for r in train],
            [r[features] for r in test],
        )
    else:
        vectorizer, x_train, x_test = TfidfVectorizer(analyzer=features, sublinear_tf=True), train, test
    model = LogisticRegression(max_iter=2000, C=10.0).fit(
        vectorizer.fit_transform(x_train), [r[label_column] for r in train]
    )
    predicted = model.predict(vectorizer.transform(x_test))
    return float(f1_score([r[label_column] for r in test], predicted, average="macro"))


def main() -> int:
    for name, module in generate.EXAMPLES.items():
        train = read_rows(generate.data_path(FOLDER, name, "train"))
        label_column = module.COLUMNS[-1]
        text = pair_features if name == "example-nli" else module.COLUMNS[1]
        for split in list(module.SPLITS)[2:]:
            test = read_rows(generate.data_path(FOLDER, name, split))
            line = f"{name} {split}: macro-F1 {macro_f1(train, test, label_column, text):.3f}"
            if name == "example-nli":
                line += f" (hypothesis only {macro_f1(train, test, label_column, hypothesis_features):.3f})"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
