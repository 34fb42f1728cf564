"""Baselines the transformers must beat: a rule table, TF-IDF + logistic regression, and
character n-grams with gradient-boosted trees (the seed study's "regex" and "n-grams with
XGBoost" comparators, in scikit-learn).

The rule table below is also documentation: it says, in patterns, what each category means.
All patterns are matched with ``re.search`` against the lower-cased indication. It holds the
clinical terms and their common abbreviations as a clinician would list them, spelled correctly:
no pattern tolerates a misspelling, so that the probe's typo cases (and the robustness task's
variants) test the rules rather than repeat them.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import DecisionRule, ModelSpec, hookimpl
from harness.model import ClassificationSetup, FitRequest, FittedClassifier, joined

# --- the rule table -----------------------------------------------------------------------
# A named source fires on any of its patterns.
SOURCE_RULES: dict[str, tuple[str, ...]] = {
    "urinary": (
        r"\b[rc]?a?u+\.?t\.?i",
        r"urin",
        r"uro ?seps",
        r"pyelo",
        r"pyonephrosis",
        r"(?<!chole)cystitis",
        r"prostatitis",
        r"epididym",
        r"orchitis",
        r"kidney",
        r"renal(?! pt)",
        r"perinephric",
        r"\bcatheter",
        r"\bmsu\b",
    ),
    "respiratory": (
        r"\b(h|c|v|hc)\.?a\.?p\b",
        r"\b[lu]?rti\b",
        r"pneumon",
        r"\bpna\b",
        r"\bchest\b",
        r"\bresp(?!ond)",
        r"\b[ai]?e?copd\b",
        r"exac",
        r"bron+ch",
        r"empyema",
        r"aspiration",
        r"\basp\b",
        r"\blung",
        r"lobar",
        r"pleur",
        r"wheeze",
        r"\buri\b",
        r"trache",
        r"legionell",
        r"mycoplasma",
        r"\bsari\b",
        r"\bcf\b",
        r"\bcurb",
    ),
    "abdominal": (
        r"abdo",
        r"biliary",
        r"cholang",
        r"cholecyst",
        r"gall ?bladder",
        r"diverticul",
        r"appendi[cx]",
        r"peritoni",
        r"\bsbp\b",
        r"\bc\.? ?dif",
        r"difficile",
        r"\bcdi\b",
        r"colitis",
        r"diarrh",
        r"gastro",
        r"\bage\b",
        r"bowel",
        r"perforat",
        r"duoden",
        r"liver",
        r"hepat",
        r"pancrea",
        r"anastomotic",
        r"\bh\.? ?pylori",
        r"\bgi\b",
    ),
    "neurological": (
        r"meningitis",
        r"mening",
        r"encephal",
        r"brain",
        r"cerebr",
        r"ventriculitis",
        r"\bevd\b",
        r"shunt",
        r"epidural",
        r"\bcns\b",
    ),
    "skin_soft_tissue": (
        r"(?<!orbital )cellulit",
        r"\bs?ssti\b",
        r"\bssi\b",
        r"surgical site",
        r"wound",
        r"\bnec\w* ?fasc",
        r"fasciitis",
        r"fournier",
        r"gangren",
        r"(?<!corneal )(?<!duodenal )(?<!peptic )ulcer",
        r"diabetic foot(?! osteo)",
        r"\bdfi\b",
        r"\bbite",
        r"\bburn",
        r"mastitis",
        r"paronychia",
        r"pressure sore",
        r"sebaceous",
        r"eczema",
        r"impeti",
        r"erysipelas",
        r"hidradenitis",
        r"haematoma",
        r"perianal",
        r"pilonidal",
        r"\bskin\b",
        r"soft tissue",
        r"\bpeg site",
    ),
    "ent": (
        r"tonsil",
        r"quinsy",
        r"otitis",
        r"\bear\b",
        r"dental",
        r"tooth",
        r"sinusitis",
        r"mastoid",
        r"epiglott",
        r"supraglott",
        r"pharyng",
        r"\ba?om\b",
        r"\bn?oe\b",
        r"parot",
        r"sialadenitis",
        r"\bent\b",
        r"throat",
        r"laryng",
    ),
    "orthopaedic": (
        r"\bosteo",
        r"septic arth",
        r"\bpji\b",
        r"prosth(?!etic valve)",
        r"metalwork",
        r"discitis",
        r"burs",
        r"tenosynovitis",
        r"\bbone",
        r"\bjoint",
        r"\b[tu][kh]r\b",
        r"(hip|knee) replacement",
        r"infected (hip|knee)",
    ),
    "other_specific": (
        r"endocarditis",
        r"\bie\b",
        r"\bsbe\b",
        r"\bicd\b",
        r"enteric fever",
        r"\bline\b",
        r"hickman",
        r"\bpicc\b",
        r"\bcvc\b",
        r"\bport\b",
        r"crbsi",
        r"\bsab\b",
        r"(staph\w*|aureus|mrsa|mssa|e\.? ?coli|klebsiella|pseudomonas|strep\w*|enterococc\w*|gram[- ]?\s*neg\w*)"
        r" bacter",
        r"\bpid\b",
        r"pelvic inflam",
        r"salping",
        r"oophor",
        r"\btoa\b",
        r"tubo-?ovarian",
        r"endophthalmitis",
        r"orbit",
        r"conjunctivitis",
        r"\beye\b",
        r"kerat",
        r"corneal",
        r"mediastin",
        r"lyme",
        r"syphilis",
        r"\btb\b",
        r"tubercul",
        r"pacemaker",
        r"graft",
        r"chorioamnionitis",
        r"endometritis",
        r"leptospir",
        r"malaria",
        r"gonorr",
        r"chlamydia",
    ),
}
# Weak evidence of a source, used only when no named source fires ("dental abscess" is ENT).
WEAK_SOURCE_RULES: dict[str, tuple[str, ...]] = {
    "skin_soft_tissue": (r"abscess",),
    "abdominal": (r"collection",),
}
# Infection without a source, when no source fires at all. An organism alone ("MRSA") names none.
NO_SOURCE_RULES: tuple[str, ...] = (
    r"seps",
    r"septic",
    r"inf\w*ction",
    r"infectious",
    r"bactera?emia",
    r"pyrexi",
    r"fever",
    r"febrile",
    r"\bf\.?n\b",
    r"\bpuo\b",
    r"blood cultures?",
    r"neutropeni",
    r"\bneut\b",
    r"\bcrp\b",
    r"\bwcc\b",
    r"inflammatory markers",
    r"\btemp",
    r"\bsirs\b",
    r"source",
    r"\besbl\b",
    r"\bmrsa\b",
    r"pseudomonas",
    r"e\.? ?coli",
)
# Prophylaxis names a reason, not a source: it wins ("SBP prophylaxis" is prophylaxis only).
PROPHYLAXIS_RULES: tuple[str, ...] = (
    r"proph",
    r"\bppx\b",
    r"prevent",
    r"induction",
    r"decolon",
    r"^\s*for\b",
    r"\bpre[- ]?op",
    r"peri[- ]?op",
    r"\bintra[- ]?op\b",
    r"\bnof\b",
    r"(open|compound)\s+fra",
    r"\bex fix",
    r"asplenia",
    r"\bercp\b",
    r"\bfor (surgery|procedure|cabg)",
    r"surgical cover",
    r"cover for surgery",
)
# "post op" alone is cover after an operation; with a source it is a post-operative infection.
POST_OP = r"\bpost[- ]?op"
# Hedging marks uncertainty, alongside whatever source is named ("?UTI": urinary + uncertainty).
UNCERTAINTY_RULES: tuple[str, ...] = (
    r"\?",
    r"\bquery\b",
    r"possible",
    r"\bposs\b",
    r"probable",
    r"likely",
    r"presumed",
    r"suspect",
    r"\bvs\.?(?!\w)",
    r"\bversus\b",
    r"\bor\b",
    r"r/o",
    r"rule out",
    r"differential",
    r"not confirmed",
)
# not_informative ("as per micro", "see notes", "co-amoxiclav", "cont", "-") fires when nothing
# above names a source, a reason or prophylaxis.
RULE_LABELS = (*SOURCE_RULES, "no_specific_source", "prophylaxis", "uncertainty", "not_informative")


@functools.cache
def _pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def _any(patterns: tuple[str, ...], text: str) -> bool:
    return _pattern(patterns).search(text) is not None


def apply_rules(text: str) -> set[str]:
    """The categories the rule table assigns to one indication."""
    text = text.lower()
    found = {category for category, patterns in SOURCE_RULES.items() if _any(patterns, text)}
    if not found:
        found = {category for category, patterns in WEAK_SOURCE_RULES.items() if _any(patterns, text)}
    if not found and _any(NO_SOURCE_RULES, text):
        found = {"no_specific_source"}
    if _any(PROPHYLAXIS_RULES, text) or (not found and _any((POST_OP,), text)):
        found = {"prophylaxis"}
    if not found:
        found = {"not_informative"}
    if _any(UNCERTAINTY_RULES, text):
        found.add("uncertainty")
    return found


@dataclass(eq=False)
class RuleClassifier:
    labels: tuple[str, ...]
    decision_rule: DecisionRule = DecisionRule(score="rule")
    params: int = 0
    trainable_params: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def predict_scores(self, texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for i, text in enumerate(texts):
            for category in apply_rules(text):
                if category in self.labels:
                    scores[i, self.labels.index(category)] = 1.0
        return scores


def fit_regex(request: FitRequest) -> FittedClassifier:
    """Learns nothing: labels the rule table does not know score 0."""
    unknown = [label for label in request.labels if label not in RULE_LABELS]
    return RuleClassifier(request.labels, details={"labels_without_rules": unknown})


def regex_refuses(labels: tuple[str, ...], setup: ClassificationSetup) -> str | None:
    """A task whose labels are not all categories of the rule table is not one it can label."""
    if set(labels) <= set(RULE_LABELS):
        return None
    return f"its rules know only the indications task's {len(RULE_LABELS)} categories"


# --- learned baselines: one binary model per label on shared features ----------------------


@dataclass(eq=False)
class PerLabelClassifier:
    """A vectoriser (text -> features) and, per label, a binary model or a constant score.

    A label that is constant in the training data (all 0 or all 1) scores that constant.
    """

    features: Callable[[Sequence[str]], Any]
    models: list[Any]  # a fitted estimator, or a float for a constant label
    params: int
    details: dict[str, Any]
    decision_rule: DecisionRule = DecisionRule(score="probability")
    one_thread: bool = False  # run OpenMP code (boosted trees) on one thread, see one_openmp_thread

    @property
    def trainable_params(self) -> int:
        return self.params

    def predict_scores(self, texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(texts), len(self.models)), dtype=np.float64)
        if not texts:
            return scores
        x = self.features(texts)
        with one_openmp_thread() if self.one_thread else contextlib.nullcontext():
            for j, model in enumerate(self.models):
                scores[:, j] = model if isinstance(model, float) else model.predict_proba(x)[:, 1]
        return scores


@dataclass(eq=False)
class MultiClassClassifier:
    """A vectoriser and one multi-class model over the labels: scores are its class
    probabilities (each row sums to 1) and the prediction is their argmax.

    A label absent from the training data scores 0; with a single class seen, it scores 1.
    """

    features: Callable[[Sequence[str]], Any]
    model: Any | None  # None when training saw fewer than two classes
    classes: np.ndarray  # the label column of each of the model's classes, in its order
    labels: int
    params: int
    details: dict[str, Any]
    decision_rule: DecisionRule = DecisionRule(score="softmax", threshold=0.0, argmax=True)
    one_thread: bool = False

    @property
    def trainable_params(self) -> int:
        return self.params

    def predict_scores(self, texts: Sequence[str]) -> np.ndarray:
        scores = np.zeros((len(texts), self.labels), dtype=np.float64)
        if not texts or not len(self.classes):
            return scores
        if self.model is None:
            scores[:, self.classes] = 1.0
            return scores
        x = self.features(texts)
        with one_openmp_thread() if self.one_thread else contextlib.nullcontext():
            scores[:, self.classes] = self.model.predict_proba(x)
        return scores


def one_openmp_thread() -> contextlib.AbstractContextManager[Any]:
    """scikit-learn's boosted trees on small data gain little from a second core, and their
    OpenMP threads spin when the CPU is shared: measured 8x slower beside a torch job."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def fit_per_label(x: Any, y: np.ndarray, make_model: Callable[[], Any]) -> tuple[list[Any], list[int]]:
    """Fit ``make_model()`` on each label column; returns (models, indices of constant labels)."""
    models: list[Any] = []
    constant: list[int] = []
    for j in range(y.shape[1]):
        column = y[:, j]
        if len(column) == 0 or column.min() == column.max():
            models.append(float(column[0]) if len(column) else 0.0)
            constant.append(j)
        else:
            models.append(make_model().fit(x, column))
    return models, constant


def fit_multi_class(x: Any, y: np.ndarray, make_model: Callable[[], Any]) -> tuple[Any | None, np.ndarray, list[int]]:
    """Fit one ``make_model()`` on the one-hot rows' classes; returns (model or None, the
    label column of each of its classes, indices of labels that never occur in training)."""
    target = y.argmax(axis=1) if len(y) else np.zeros(0, dtype=int)
    classes = np.unique(target)
    absent = [j for j in range(y.shape[1]) if j not in classes]
    if len(classes) < 2:
        return None, classes, list(range(y.shape[1]))
    model = make_model().fit(x, target)
    return model, np.asarray(model.classes_), absent


def problem_details(setup: ClassificationSetup) -> dict[str, Any]:
    """The fit details every baseline records about its task (no maximum length: no ``long_text``)."""
    return {"problem": setup.problem, **({"pair_encoding": "joined"} if setup.text_pairs else {})}


def as_texts(inputs: Sequence[Any], setup: ClassificationSetup) -> Sequence[str]:
    """n-gram features have no pair encoding: a (text, text_pair) input is read joined."""
    return [joined(item) for item in inputs] if setup.text_pairs else inputs


def _word_and_char_tfidf(word_ngram_max: int = 2, char_ngram_max: int = 5) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    # "?" is a word here: it is how clinicians write uncertainty.
    words = TfidfVectorizer(ngram_range=(1, word_ngram_max), token_pattern=r"(?u)\b\w+\b|\?", sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, char_ngram_max), sublinear_tf=True)
    return make_union(words, chars)


def fit_tfidf_lr(request: FitRequest) -> FittedClassifier:
    """One logistic regression per label; for a multi-class task, one multinomial one."""
    from sklearn.linear_model import LogisticRegression

    recipe, setup = request.recipe, request.setup
    multi_class = setup.problem == "multi-class"
    texts = as_texts(request.train.inputs, setup)
    vectoriser = _word_and_char_tfidf(recipe.get("word_ngram_max", 2), recipe.get("char_ngram_max", 5)).fit(texts)
    x = vectoriser.transform(texts)

    def make_model() -> Any:
        return LogisticRegression(
            C=recipe["C"],
            max_iter=recipe["max_iter"],
            class_weight=recipe.get("class_weight"),
            solver="lbfgs" if multi_class else "liblinear",  # liblinear is one-vs-rest only
            random_state=request.seed,
        )

    def features(inputs: Sequence[Any]) -> Any:
        return vectoriser.transform(as_texts(inputs, setup))

    if multi_class:
        model, classes, constant = fit_multi_class(x, request.train.y, make_model)
        params = 0 if model is None else model.coef_.size + model.intercept_.size
        details = {"features": int(x.shape[1]), "constant_labels": [request.labels[j] for j in constant]}
        details |= problem_details(setup)
        return MultiClassClassifier(features, model, classes, len(request.labels), params, details)
    models, constant = fit_per_label(x, request.train.y, make_model)
    params = sum(m.coef_.size + m.intercept_.size if not isinstance(m, float) else 1 for m in models)
    details = {"features": int(x.shape[1]), "constant_labels": [request.labels[j] for j in constant]}
    details |= problem_details(setup)
    return PerLabelClassifier(features if setup.text_pairs else vectoriser.transform, models, params, details)


def fit_char_gbt(request: FitRequest) -> FittedClassifier:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.feature_selection import SelectKBest, chi2
    from sklearn.pipeline import make_pipeline

    recipe, setup = request.recipe, request.setup
    multi_class = setup.problem == "multi-class"
    texts = as_texts(request.train.inputs, setup)
    vectoriser = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), max_features=recipe["max_features"], sublinear_tf=True, dtype=np.float32
    ).fit(texts)

    def features(inputs: Sequence[Any]) -> np.ndarray:
        return vectoriser.transform(as_texts(inputs, setup)).toarray()

    # One multi-class model's trees serve every class, so they get every class's share of n-grams.
    selected = recipe["features_per_label"] * (len(request.labels) if multi_class else 1)

    def make_model() -> Any:
        # scikit-learn's trees are not sparsity-aware as XGBoost is: each label's trees see only
        # the n-grams most associated with it (chi2), which makes them ~10x faster.
        select = SelectKBest(chi2, k=min(selected, len(vectoriser.vocabulary_)))
        trees = HistGradientBoostingClassifier(
            max_iter=recipe["max_iter"],
            learning_rate=recipe["learning_rate"],
            max_leaf_nodes=recipe["max_leaf_nodes"],
            min_samples_leaf=recipe["min_samples_leaf"],
            early_stopping=False,
            random_state=request.seed,
            class_weight=recipe.get("class_weight"),
        )
        return make_pipeline(select, trees)

    if multi_class:
        with one_openmp_thread():
            model, classes, constant = fit_multi_class(features(request.train.inputs), request.train.y, make_model)
        params = 0 if model is None else tree_nodes(model)
        details = {"features": len(vectoriser.vocabulary_), "constant_labels": [request.labels[j] for j in constant]}
        details |= problem_details(setup)
        return MultiClassClassifier(features, model, classes, len(request.labels), params, details, one_thread=True)
    with one_openmp_thread():
        models, constant = fit_per_label(features(request.train.inputs), request.train.y, make_model)
    params = sum(1 if isinstance(m, float) else tree_nodes(m) for m in models)
    details = {"features": len(vectoriser.vocabulary_), "constant_labels": [request.labels[j] for j in constant]}
    details |= problem_details(setup)
    return PerLabelClassifier(features, models, params, details, one_thread=True)


def tree_nodes(pipeline: Any) -> int:
    """Every tree node holds one fitted number (a threshold or a leaf value)."""
    return sum(len(tree.nodes) for trees in pipeline[-1]._predictors for tree in trees)


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add(
        ModelSpec(
            name="regex",
            family="baseline",
            fine_tuning_regime="rules",
            fit=fit_regex,
            refuses=regex_refuses,
            trains=False,  # its table is hand-written: training rows change nothing
            params=0,
            tokenization="regular expressions",
            markers=("baseline",),
            description="A hand-written keyword table (plugins/baselines.py); learns nothing.",
        )
    )
    register.add(
        ModelSpec(
            name="tfidf-lr",
            family="baseline",
            fine_tuning_regime="classical",
            fit=fit_tfidf_lr,
            tokenization="word 1-2 + char 2-5 n-grams",
            markers=("baseline",),
            recipe={"C": 100.0, "max_iter": 1000, "class_weight": None, "word_ngram_max": 2, "char_ngram_max": 5},
            search_space={
                "C": {"log_uniform": [0.01, 1000.0]},
                "class_weight": [None, "balanced"],
                "word_ngram_max": [1, 2, 3],
                "char_ngram_max": [3, 4, 5, 6],
            },
            description="TF-IDF word and character n-grams, one logistic regression per label "
            "(one multinomial one for a multi-class task).",
        )
    )
    register.add(
        ModelSpec(
            name="char-gbt",
            family="baseline",
            fine_tuning_regime="classical",
            fit=fit_char_gbt,
            tokenization="char 2-4 n-grams",
            markers=("baseline",),
            recipe={
                "max_features": 3000,
                "features_per_label": 512,
                "max_iter": 100,
                "learning_rate": 0.2,
                "max_leaf_nodes": 15,
                "min_samples_leaf": 5,
                "class_weight": None,
            },
            search_space={
                "max_iter": {"int": [50, 300]},
                "learning_rate": {"log_uniform": [0.03, 0.3]},
                "max_leaf_nodes": [7, 15, 31],
                "min_samples_leaf": [2, 5, 10, 20],
                "class_weight": [None, "balanced"],
            },
            description="TF-IDF character n-grams, boosted trees per label, or one multi-class model "
            "(cf. the seed's n-grams + XGBoost).",
        )
    )
