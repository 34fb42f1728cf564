"""The overall results table says what each number is: the eval column is the selection split
(it chose the checkpoint and the tuned thresholds), and each model is scored at its own rule."""

from __future__ import annotations

import copy
from pathlib import Path

from harness.leaderboard import load
from harness.tables import decision_rule_text
from harness.tasks.classification.tables import overall_table

MAIN = Path(__file__).parent.parent / "leaderboards" / "synthetic-cpu-default.json"


def test_each_model_shows_its_own_decision_rule():
    table = overall_table(load(MAIN), "f1_weighted", "indications")
    column = table.headers.index("Decision rule")
    rules = {row[0]: row[column] for row in table.rows}
    assert rules["regex"] == "rules"
    assert rules["smollm2-135m-zeroshot"] == "top-1"
    assert rules["minilm-l6"] == rules["tfidf-lr"] == "score ≥ 0.5"
    assert "label = score >= 0.5" not in table.caption  # not the first model's rule for every model


def test_the_rule_column_follows_the_leaderboard_not_the_first_model():
    document = load(MAIN)
    changed = copy.deepcopy(document)
    for entry in changed["results"]:
        if entry["model"] == "minilm-l6" and entry["task"] == "indications":
            entry["decision_rule"] = {"score": "sigmoid", "threshold": 0.3, "operator": ">"}
    rules = {row[0]: row for row in overall_table(changed, "f1_weighted", "indications").rows}
    column = overall_table(changed, "f1_weighted", "indications").headers.index("Decision rule")
    assert rules["minilm-l6"][column] == "score > 0.3" and rules["tfidf-lr"][column] == "score ≥ 0.5"


def test_the_eval_column_is_named_and_explained_as_the_selection_split():
    table = overall_table(load(MAIN), "f1_weighted", "indications")
    assert "Eval (selection) F1" in table.headers and "Eval F1" not in table.headers
    assert "best epoch" in table.caption and "tuned thresholds" in table.caption
    assert "held out" in table.caption


def test_rule_texts():
    assert (
        decision_rule_text({"score": "label_distribution", "threshold": 0.0, "operator": ">=", "top_k": 2}) == "top-2"
    )
    assert (
        decision_rule_text({"score": "label_distribution", "threshold": 0.2, "operator": ">=", "top_k": 1})
        == "top-1, score ≥ 0.2"
    )
    assert decision_rule_text({"score": "rule", "threshold": 0.5, "operator": ">="}) == "rules"
    assert decision_rule_text({"score": "softmax", "threshold": 0.0, "operator": ">=", "argmax": True}) == "argmax"
    assert decision_rule_text({"score": "sigmoid", "threshold": 0.5, "operator": ">="}) == "score ≥ 0.5"
