"""The classical baselines on multi-class, binary and sentence-pair tasks (ClassificationSetup).

Each learned baseline is checked against the same scikit-learn estimator fitted directly on the
same features: a multi-class fit must be one multinomial model over the classes, not one binary
model per label.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.data import LabelledSplit
from harness.model import ClassificationSetup, FitRequest, joined
from harness.plugins import baselines
from harness.progress import no_progress
from harness.registry import ModelRegistry

from .test_baselines import LABELS, PHRASES, SUFFIXES, make_split

CLASSES = ("urinary", "respiratory", "abdominal", "skin_soft_tissue")
MULTI_CLASS = ClassificationSetup(problem="multi-class")
QUICK = {"tfidf-lr": {}, "char-gbt": {"max_iter": 20, "max_features": 400, "features_per_label": 50}}


def one_class_split(name: str, n: int, seed: int, classes: tuple[str, ...] = CLASSES) -> LabelledSplit:
    """One category per indication, as a one-hot row over ``classes``."""
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(classes), size=n)
    texts = tuple(f"{rng.choice(PHRASES[classes[c]])}{rng.choice(SUFFIXES)}" for c in picked)
    y = np.zeros((n, len(classes)), dtype=np.int8)
    y[np.arange(n), picked] = 1
    return LabelledSplit(name, texts, y, "test", "x", True, True)


def request_for(
    name: str, labels: tuple[str, ...], train: LabelledSplit, setup: ClassificationSetup, **recipe: object
) -> FitRequest:
    registry = ModelRegistry()
    baselines.harness_add_models(registry)
    spec = registry[name]
    return FitRequest(
        spec=spec,
        labels=labels,
        train=train,
        eval=train,
        seed=0,
        recipe={**spec.recipe, **QUICK[name], **recipe},
        device="cpu",
        weights=None,
        progress=no_progress,
        setup=setup,
    )


def fit(name: str, *args, **kwargs):
    return {"tfidf-lr": baselines.fit_tfidf_lr, "char-gbt": baselines.fit_char_gbt}[name](
        request_for(name, *args, **kwargs)
    )


@pytest.fixture(scope="module")
def splits() -> tuple[LabelledSplit, LabelledSplit]:
    return one_class_split("train", 160, 1), one_class_split("test", 80, 2)


def sklearn_tfidf_lr(train: LabelledSplit, class_weight=None):
    """The multinomial logistic regression the plugin should fit, built here from scikit-learn."""
    from sklearn.linear_model import LogisticRegression

    vectoriser = baselines._word_and_char_tfidf().fit(train.texts)
    model = LogisticRegression(C=100.0, max_iter=1000, class_weight=class_weight, random_state=0)
    return vectoriser, model.fit(vectoriser.transform(train.texts), train.y.argmax(axis=1))


def test_tfidf_lr_multi_class_is_one_multinomial_model(splits) -> None:
    train, test = splits
    fitted = fit("tfidf-lr", CLASSES, train, MULTI_CLASS)
    scores = fitted.predict_scores(test.inputs)
    assert scores.shape == (len(test), len(CLASSES))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-9)
    vectoriser, model = sklearn_tfidf_lr(train)
    x = vectoriser.transform(test.texts)
    np.testing.assert_allclose(scores, model.predict_proba(x), atol=1e-6)
    predicted = fitted.decision_rule.apply(scores)
    assert (predicted.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(predicted.argmax(axis=1), model.predict(x))
    assert fitted.decision_rule.argmax and fitted.decision_rule.score == "softmax"
    assert fitted.details["problem"] == "multi-class"
    assert fitted.params == model.coef_.size + model.intercept_.size


def test_tfidf_lr_balanced_class_weight_weighs_classes(splits) -> None:
    train, test = splits
    rows = np.r_[np.flatnonzero(train.y[:, 0] == 0), np.flatnonzero(train.y[:, 0])[:6]]  # urinary made rare
    rare = LabelledSplit("train", tuple(train.texts[i] for i in rows), train.y[rows], "test", "x", True, True)
    scores = fit("tfidf-lr", CLASSES, rare, MULTI_CLASS, class_weight="balanced").predict_scores(test.texts)
    vectoriser, model = sklearn_tfidf_lr(rare, class_weight="balanced")
    np.testing.assert_allclose(scores, model.predict_proba(vectoriser.transform(test.texts)), atol=1e-6)


def test_char_gbt_multi_class_is_one_boosted_model_over_the_classes(splits) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.feature_selection import SelectKBest, chi2

    train, test = splits
    fitted = fit("char-gbt", CLASSES, train, MULTI_CLASS)
    scores = fitted.predict_scores(test.inputs)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
    vectoriser = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), max_features=400, sublinear_tf=True, dtype=np.float32
    ).fit(train.texts)
    x_train, x_test = (vectoriser.transform(s.texts).toarray() for s in (train, test))
    select = SelectKBest(chi2, k=50 * len(CLASSES)).fit(x_train, train.y.argmax(axis=1))
    trees = HistGradientBoostingClassifier(
        max_iter=20, learning_rate=0.2, max_leaf_nodes=15, min_samples_leaf=5, early_stopping=False, random_state=0
    ).fit(select.transform(x_train), train.y.argmax(axis=1))
    np.testing.assert_allclose(scores, trees.predict_proba(select.transform(x_test)), atol=1e-6)
    np.testing.assert_array_equal(
        fitted.decision_rule.apply(scores).argmax(axis=1), trees.predict(select.transform(x_test))
    )
    assert fitted.decision_rule.argmax and fitted.details["problem"] == "multi-class"


@pytest.mark.parametrize("name", QUICK)
def test_a_class_missing_from_training_scores_zero(name: str, splits) -> None:
    train, test = splits
    rows = np.flatnonzero(train.y[:, CLASSES.index("abdominal")] == 0)
    without = LabelledSplit("train", tuple(train.texts[i] for i in rows), train.y[rows], "test", "x", True, True)
    fitted = fit(name, CLASSES, without, MULTI_CLASS)
    scores = fitted.predict_scores(test.texts)
    assert np.all(scores[:, CLASSES.index("abdominal")] == 0.0)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
    assert fitted.details["constant_labels"] == ["abdominal"]
    assert fitted.predict_scores([]).shape == (0, len(CLASSES))


@pytest.mark.parametrize("name", QUICK)
def test_binary_is_the_one_column_multi_label_path(name: str) -> None:
    train, test = make_split("train", 160, 1), make_split("test", 60, 2)
    column = LABELS.index("urinary")
    one = dataclasses.replace(train, y=train.y[:, [column]])
    binary = fit(name, ("urinary",), one, ClassificationSetup(problem="binary"))
    multi_label = fit(name, ("urinary",), one, ClassificationSetup())
    scores = binary.predict_scores(test.texts)
    assert scores.shape == (len(test), 1)
    np.testing.assert_array_equal(scores, multi_label.predict_scores(test.texts))
    assert binary.decision_rule == multi_label.decision_rule and binary.decision_rule.threshold == 0.5
    assert binary.details["problem"] == "binary" and "pair_encoding" not in binary.details


@pytest.mark.parametrize("name", QUICK)
def test_sentence_pairs_are_joined_into_one_text(name: str, splits) -> None:
    train, test = splits
    hypotheses = tuple(f"day {i % 5}" for i in range(len(train)))
    paired = dataclasses.replace(train, pairs=hypotheses)
    setup = dataclasses.replace(MULTI_CLASS, text_pairs=True)
    fitted = fit(name, CLASSES, paired, setup)
    flat = dataclasses.replace(train, texts=tuple(joined(item) for item in paired.inputs))
    reference = fit(name, CLASSES, flat, MULTI_CLASS)
    pairs = [(text, "day 3") for text in test.texts]
    np.testing.assert_array_equal(fitted.predict_scores(pairs), reference.predict_scores([joined(p) for p in pairs]))
    assert fitted.details["pair_encoding"] == "joined"
    assert getattr(fitted, "length_report", None) is None  # tf-idf has no maximum input length


def test_regex_refuses_labels_outside_its_rule_table() -> None:
    registry = ModelRegistry()
    baselines.harness_add_models(registry)
    regex = registry["regex"]
    assert regex.refuses is not None
    reason = regex.refuses(("entailment", "neutral", "contradiction"), MULTI_CLASS)
    assert reason == "its rules know only the indications task's 12 categories"
    assert regex.refuses(("urinary", "sepsis"), ClassificationSetup()) == reason
    assert regex.refuses(LABELS, ClassificationSetup()) is None
    assert regex.refuses(("urinary",), ClassificationSetup(problem="binary")) is None
    assert registry["tfidf-lr"].refuses is None and registry["char-gbt"].refuses is None
