"""What a model plugin declares (:class:`ModelSpec`) and what its fit returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

    from harness.data import LabelledSplit
    from harness.progress import ProgressFactory
    from harness.tagged import TaggedSplit

ScoreKind = Literal["sigmoid", "softmax", "probability", "rule", "label_distribution"]
Problem = Literal["multi-label", "multi-class", "binary"]
# One input: a text, or for a sentence-pair task (NLI) a (text, text_pair) tuple.
Input = str | tuple[str, str]
# Joins a pair for a model without a pair encoding (tf-idf, a decoder, a zero-shot prompt).
PAIR_SEPARATOR = "\n"


def joined(item: Input, separator: str = PAIR_SEPARATOR) -> str:
    """One string for an input: a text as it is, a pair as ``text + separator + text_pair``."""
    return item if isinstance(item, str) else f"{item[0]}{separator}{item[1]}"


@dataclass(frozen=True)
class ClassificationSetup:
    """What a classifier must know about its task beyond the labels.

    ``problem``: "multi-label" (any number of labels per input: sigmoid scores, a threshold);
    "multi-class" (exactly one: a softmax over the labels, prediction = argmax); "binary" (one
    label, the positive one: a sigmoid score and a threshold). Labels are a 0/1 matrix in every
    case: one-hot rows for multi-class, one column for binary.

    ``text_pairs``: inputs are (text, text_pair) tuples (sentence-pair tasks such as NLI); a
    model encodes them with its tokenizer's pair encoding, or joins them with
    :data:`PAIR_SEPARATOR` where it has none (and says so in its fit details).

    ``long_text``: what a model with a maximum input length does with a longer input:
    "truncate" (keep the start) or "chunk" (windows of its maximum length overlapping by
    ``chunk_overlap`` tokens; scores pooled over windows: max for multi-label and binary, the
    mean of the probabilities for multi-class).

    ``label_descriptions`` (label -> the words a zero-shot model answers with) and
    ``task_description`` (what is being classified, in a few words) are for prompts.
    ``single_answer_multi_label``: a zero-shot model may answer a multi-label task with one
    label per input (the seed study's way for indications, and the default); a config-defined
    multi-label task sets it false, and zero-shot skips it.
    """

    problem: Problem = "multi-label"
    text_pairs: bool = False
    long_text: Literal["truncate", "chunk"] = "truncate"
    chunk_overlap: int = 32
    label_descriptions: Mapping[str, str] = field(default_factory=dict)
    task_description: str = ""
    single_answer_multi_label: bool = True
    # What an epoch (or any recipe choice on eval) is chosen by: a key of
    # harness.scoring.metrics.multilabel_report on the 0/1 predictions ("f1_weighted",
    # "f1_macro", or "f1_micro", which is accuracy for multi-class).
    selection_metric: str = "f1_weighted"

    def describe(self, label: str) -> str:
        """The words for ``label``: its description, or its name with underscores as spaces."""
        return self.label_descriptions.get(label) or label.replace("_", " ")


@dataclass(frozen=True)
class DecisionRule:
    """How scores become labels: ``label = score <operator> threshold``.

    ``score`` says what the number is: a sigmoid of a logit, a calibrated-ish probability
    (e.g. logistic regression), a 0/1 rule output, or a distribution over the labels (a
    zero-shot model's answer). With ``top_k``, only the ``top_k`` highest-scoring labels of
    each row can be predicted (a constrained answer naming one category has ``top_k=1``).
    """

    score: ScoreKind
    threshold: float = 0.5
    operator: Literal[">=", ">"] = ">="
    top_k: int | None = None
    argmax: bool = False  # multi-class: exactly the highest-scoring label (the first on a tie)

    def apply(self, scores: np.ndarray, thresholds: Sequence[float] | None = None) -> np.ndarray:
        """0/1 predictions (int8) of the shape of ``scores``, one row per item, one column per label.

        ``thresholds``, one per column, replaces ``self.threshold`` column by column (per-class
        thresholds tuned on eval, see :mod:`harness.scoring.thresholds`); ``None`` uses ``self.threshold``
        everywhere. ``operator`` and ``top_k`` apply either way, and the ``top_k`` mask (the k
        highest scores of each row, ties at the k-th all kept) depends only on the scores, never
        on the thresholds.
        """
        if self.argmax:
            import numpy as np

            hit = np.zeros(scores.shape, dtype="int8")
            if scores.size:
                hit[np.arange(len(scores)), np.argmax(scores, axis=1)] = 1
            return hit
        cut: Any = self.threshold
        if thresholds is not None:
            import numpy as np

            cut = np.asarray(thresholds, dtype=float)
            if scores.ndim != 2 or cut.shape != (scores.shape[1],):
                raise ValueError(
                    f"thresholds of shape {cut.shape} for scores of shape {scores.shape}: need one per column"
                )
        hit = scores >= cut if self.operator == ">=" else scores > cut
        if self.top_k is not None and scores.size:
            import numpy as np

            kth = np.sort(scores, axis=1)[:, -min(self.top_k, scores.shape[1])]
            hit &= scores >= kth[:, None]  # ties at the k-th score are all kept
        return hit.astype("int8")

    def as_dict(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"score": self.score, "threshold": self.threshold, "operator": self.operator}
        if self.top_k is not None:
            rule["top_k"] = self.top_k
        if self.argmax:
            rule["argmax"] = True
        return rule


class FittedClassifier(Protocol):
    """A trained multi-label classifier, as returned by :attr:`ModelSpec.fit`.

    Optional attribute ``train_rows: Sequence[int] | None``: the rows of ``FitRequest.train``
    the fit trained on, when it trained on fewer (a CPU recipe's ``max_train_rows`` sample).
    Absent or None means all of them. Tasks read it through :func:`train_rows_of` to tell
    which test rows the model saw in training; it is never written to the leaderboard.

    Optional attribute ``last_demonstrations: Sequence[Sequence[str] | None] | None``: for a
    prompted (few-shot) model, per input of its last ``predict_scores`` call, the row ids of the
    demonstrations it was shown (None for an input shown none). The per-row predictions file of
    the run directory keeps them (docs/error-analysis.md); never the leaderboard.

    Optional attribute ``no_training_time: bool``: true for a model whose fit neither trains nor
    loads weights here (a served LLM: its fit only checks the server), whose ``train_seconds``
    are then 0.
    """

    decision_rule: DecisionRule
    params: int
    trainable_params: int
    details: Mapping[str, Any]  # e.g. best_epoch, epochs run; written to the leaderboard

    def predict_scores(self, texts: Sequence[Input]) -> np.ndarray:
        """One row per input, one column per label (in the order of ``FitRequest.labels``).

        Inputs are texts, or (text, text_pair) tuples for a sentence-pair task.
        """
        ...


def train_rows_of(classifier: Any, train_size: int) -> Sequence[int]:
    """The training rows ``classifier`` trained on: its ``train_rows``, or every row."""
    rows = getattr(classifier, "train_rows", None)
    return range(train_size) if rows is None else rows


@dataclass(frozen=True)
class FitRequest:
    """Everything a model plugin needs to train one classifier."""

    spec: ModelSpec
    labels: tuple[str, ...]
    train: LabelledSplit
    eval: LabelledSplit
    seed: int
    recipe: Mapping[str, Any]
    device: str
    weights: str | None
    progress: ProgressFactory
    allow_pickle: bool = False  # the user opted in to pickled ``.bin`` weights for this model
    trust_remote_code: bool = False  # the user opted in to this model's own modelling code
    setup: ClassificationSetup = field(default_factory=ClassificationSetup)
    # Called after each training epoch with (epoch, the set-up's selection metric on eval), by
    # fits that train in epochs (the torch loop): a search trial reports it to its scheduler,
    # which may stop the trial there. None outside a search.
    on_epoch: Callable[[int, float], None] | None = None
    # The run directory (private: the item store's, never published), where a fit may keep files
    # that let a resumed run skip work, e.g. a served model's response cache. None without one.
    run_dir: str | None = None


class FittedTagger(Protocol):
    """A trained token tagger (IOB2 tags per word), as returned by :attr:`ModelSpec.tag`."""

    params: int
    trainable_params: int
    details: Mapping[str, Any]

    def predict_tags(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One valid IOB2 tag per word of every sentence (tags from ``TagRequest.tag_set``)."""
        ...


@dataclass(frozen=True)
class TagRequest:
    """Everything a model plugin needs to train one token tagger (the ``ner`` task)."""

    spec: ModelSpec
    tag_set: tuple[str, ...]  # "O" first, then B-/I- of each entity type, e.g. ("O", "B-Chemical", "I-Chemical")
    train: TaggedSplit
    eval: TaggedSplit
    seed: int
    recipe: Mapping[str, Any]
    device: str
    weights: str | None
    progress: ProgressFactory
    allow_pickle: bool = False
    trust_remote_code: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: a family, a fine-tuning regime and how to fit it.

    ``fit`` is called at most once per (model, training task, seed); ``available`` answers
    "can this run here?" *without* importing torch, returning ``None`` or the reason it can't.
    """

    name: str
    family: str
    fine_tuning_regime: str
    fit: Callable[[FitRequest], FittedClassifier] | None  # None: the model does not classify texts
    params: int | None = None
    pretraining_domain: str = "none"
    tokenization: str = "none"
    hub_id: str | None = None
    packaged_weights: str | None = None  # "python_package/subdir" holding offline weights
    weights_file: str | None = None  # a single-file checkpoint in the weights folder, e.g. a GGUF
    needs: tuple[str, ...] = ()  # importable modules the fit needs, e.g. ("torch", "transformers")
    requires_cuda: bool = False
    markers: tuple[str, ...] = ()
    recipe: Mapping[str, Any] = field(default_factory=dict)
    # Overrides of ``recipe`` on a CPU under the default profile, so that ``--models all``
    # stays within minutes there; ``--profile full`` ignores them. Keys must be recipe keys.
    cpu_recipe: Mapping[str, Any] = field(default_factory=dict)
    study: str = ""  # where the recipe comes from, e.g. the seed study that used this model
    description: str = ""
    # Token tagging (the ``ner`` task): None if the model does not tag. Its recipe is ``recipe``
    # with ``tag_recipe`` over it and over ``cpu_recipe`` (e.g. ``max_length``, ``label_subword``),
    # then the profile's changes (:meth:`harness.core.profiles.Profile.recipe_for`).
    tag: Callable[[TagRequest], FittedTagger] | None = None
    tag_recipe: Mapping[str, Any] = field(default_factory=dict)
    # The network's shape, for comparisons across architectures (the NER cost ratio of decoders
    # to encoders): "encoder", "decoder", "encoder-decoder"; None for models without one.
    architecture: str | None = None
    # Why this model cannot take a classification task with these labels and set-up (a rule
    # table knows only its own labels; a zero-shot model answers one label), or None. Items
    # get the reason as their skip reason.
    refuses: Callable[[tuple[str, ...], ClassificationSetup], str | None] | None = None
    # What ``harness run --tune N`` searches, in the config's syntax (harness.search,
    # docs/tuning.md): recipe key -> a list of choices or {"log_uniform": [low, high]}, say.
    # Empty: the model has nothing to tune, and a tuned run uses its recipe.
    search_space: Mapping[str, Any] = field(default_factory=dict)
    # False for a model that reads no training rows (a rule table, a zero-shot prompt): a learning
    # curve (``--train-sizes``) fits it once, on the full split, and draws it as a flat line.
    trains: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.cpu_recipe) - set(self.recipe) - set(self.tag_recipe)
        if unknown:
            raise ValueError(f"model {self.name!r}: cpu_recipe keys {sorted(unknown)} are not recipe keys")
        if self.search_space:
            from harness.errors import InputError
            from harness.search import parse_space

            try:
                parse_space(self.search_space, self.recipe, f"model {self.name!r}: search_space")
            except InputError as err:
                raise ValueError(str(err)) from None

    @property
    def uses_weights(self) -> bool:
        return self.hub_id is not None or self.packaged_weights is not None

    def info(self) -> dict[str, Any]:
        """The leaderboard's ``model_info`` (measured parameter counts are added by the runner)."""
        return {
            "family": self.family,
            "fine_tuning_regime": self.fine_tuning_regime,
            "params": self.params,
            "pretraining_domain": self.pretraining_domain,
            "tokenization": self.tokenization,
            "hub_id": self.hub_id,
            "study": self.study or None,
            **({"architecture": self.architecture} if self.architecture else {}),
        }
