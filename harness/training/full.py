"""Full fine-tuning of Hugging Face classifiers and token taggers: the loading and the shared
fit body every fully fine-tuned family uses (encoders, CANINE, ByT5's pooled head).

A family's ``fit`` is usually one line: ``fit_full(request, load_classifier, head_prefixes)``.
Weights load offline from ``request.weights``: safetensors only unless the user allowed pickled
weights, remote code only if they allowed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.errors import PluginError
from harness.model import FitRequest, FittedClassifier, FittedTagger, TagRequest


def load_classifier(
    weights: str, labels: tuple[str, ...], *, allow_pickle: bool = False, trust_remote_code: bool = False
) -> tuple[Any, Any, list[str]]:
    """(model, tokenizer, newly initialised parameter names), offline; safetensors unless the
    user allowed pickled weights for this model, and remote code only if they allowed it."""
    from transformers import AutoModelForSequenceClassification

    return _load(
        AutoModelForSequenceClassification,
        weights,
        labels,
        allow_pickle,
        trust_remote_code,
        problem_type="multi_label_classification",
    )


def load_tagger(
    weights: str, tag_set: tuple[str, ...], *, allow_pickle: bool = False, trust_remote_code: bool = False
) -> tuple[Any, Any, list[str]]:
    """(token-classification model with one label per tag, tokenizer, newly initialised parameter
    names), offline, under the same rules as :func:`load_classifier`."""
    from transformers import AutoModelForTokenClassification

    return _load(AutoModelForTokenClassification, weights, tag_set, allow_pickle, trust_remote_code)


def _load(
    auto_class: Any,
    weights: str,
    labels: tuple[str, ...],
    allow_pickle: bool,
    trust_remote_code: bool,
    **options: Any,
) -> tuple[Any, Any, list[str]]:
    from transformers import AutoTokenizer

    from harness.training.loop import quiet_transformers

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(weights, local_files_only=True, trust_remote_code=trust_remote_code)
        model, info = auto_class.from_pretrained(
            weights,
            local_files_only=True,
            use_safetensors=not allow_pickle,
            trust_remote_code=trust_remote_code,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            output_loading_info=True,
            **options,
        )
    return model, tokenizer, sorted(info.get("missing_keys", []))


def head_prefixes(model: Any) -> tuple[str, ...]:
    """Parameters the pre-training did not fit for this task, which ``head_lr`` applies to.

    Every top-level module outside the pre-trained body (BERT's ``classifier``, ModernBERT's
    ``head`` and ``classifier``), plus a BERT pooler.
    """
    body = model.base_model_prefix
    prefixes = [
        f"{name}."
        for name, child in model.named_children()
        if name != body and next(child.parameters(), None) is not None
    ]
    if getattr(model.base_model, "pooler", None) is not None:
        prefixes.append(f"{body}.pooler.")
    return tuple(prefixes)


def _fine_tune_full(
    request: FitRequest | TagRequest,
    labels: tuple[str, ...],
    load: Callable[..., tuple[Any, Any, list[str]]],
    prefixes_of: Callable[[Any], tuple[str, ...]],
    trainer: Callable[..., Any],
    plugin: str,
    details: Mapping[str, Any],
    needs_fast_tokenizer: bool = False,
) -> Any:
    """Seed, ``load(weights, labels, ...)`` and fully fine-tune with ``trainer``; the shared body
    of :func:`fit_full` and :func:`tag_full`."""
    from harness.training import loop as training

    if request.weights is None:
        raise PluginError(plugin, f"model {request.spec.name!r} needs local weights and none were given")
    training.seed_everything(request.seed)  # the new (token-)classification head is initialised here
    model, tokenizer, new_parameters = load(
        request.weights, labels, allow_pickle=request.allow_pickle, trust_remote_code=request.trust_remote_code
    )
    if needs_fast_tokenizer and not getattr(tokenizer, "is_fast", False):
        raise PluginError(
            plugin,
            f"model {request.spec.name!r}: token tagging needs a fast tokenizer "
            f"(character offsets); {type(tokenizer).__name__} is not one",
        )
    if isinstance(request, FitRequest):
        training.mark_problem(model, request.setup)  # loaded as multi-label; multi-class is single-label
    prefixes = prefixes_of(model)
    return trainer(
        model,
        tokenizer,
        request,
        prefixes,
        newly_initialised=new_parameters,
        head_lr_applies_to=list(prefixes),
        **details,
    )


def fit_full(
    request: FitRequest,
    load: Callable[..., tuple[Any, Any, list[str]]],
    prefixes_of: Callable[[Any], tuple[str, ...]],
    plugin: str = "encoders",
    **details: Any,
) -> FittedClassifier:
    """Fully fine-tune the model ``load`` builds from ``request.weights``; the best eval epoch is kept.

    ``load(weights, labels, allow_pickle=..., trust_remote_code=...)`` returns (model, tokenizer,
    newly initialised parameter names); ``prefixes_of(model)`` names the head for ``head_lr``.
    A sentence pair goes through the tokenizer's own pair encoding (BERT's and CANINE's
    ``[CLS] a [SEP] b [SEP]``, ByT5's ``a </s> b </s>``); ``request.setup`` sets the loss,
    the scores and what happens to long inputs (:func:`harness.training.loop.train_classifier`).
    """
    from harness.training import loop as training

    return _fine_tune_full(request, request.labels, load, prefixes_of, training.fine_tune, plugin, details)


def tag_full(
    request: TagRequest, load: Callable[..., tuple[Any, Any, list[str]]], prefixes_of: Callable[[Any], tuple[str, ...]]
) -> FittedTagger:
    """Fully fine-tune the token tagger ``load`` builds from ``request.weights`` (as :func:`fit_full`,
    with ``load(weights, tag_set, ...)``, and a fast tokenizer required); the best eval epoch
    (strict micro F1) is kept."""
    from harness.training import tagging

    return _fine_tune_full(
        request,
        tuple(request.tag_set),
        load,
        prefixes_of,
        tagging.fine_tune_tagger,
        "encoders",
        {},
        needs_fast_tokenizer=True,
    )
