"""The character- and byte-level plugin (CANINE-S, ByT5-small).

The real weights are not on this machine, so every fit here runs on a tiny, randomly
initialised configuration of the real architecture classes (``CanineModel``,
``T5ForConditionalGeneration``) saved to disk as safetensors, as the hub checkpoints are.
The helpers at the top are shared with tests/test_encoder_families.py.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import PluginError
from harness.core.weights import MODELS_DIR_ENV, skip_reason
from harness.data import LabelledSplit
from harness.model import FitRequest, ModelSpec
from harness.plugins import charbyte
from harness.progress import no_progress
from harness.registry import ModelRegistry

from .test_baselines import LABELS, make_split

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from harness.training import loop as training  # noqa: E402  (needs torch to be useful)

# One epoch at a learning rate a tiny random model moves with; recipe keys as a user overrides them.
TINY_RECIPE = {"lr": 3e-3, "head_lr": None, "epochs": 1, "batch_size": 8, "warmup_ratio": 0.0, "max_length": 32}


# --- helpers shared with test_encoder_families.py -------------------------------------------


def request_for(spec: ModelSpec, weights: Path | None, splits, **options: object) -> FitRequest:
    """A FitRequest for the real ``spec`` on tiny data, with TINY_RECIPE over the spec's recipe."""
    train, eval_ = splits[0], splits[1]
    return FitRequest(
        spec=spec,
        labels=LABELS,
        train=train,
        eval=eval_,
        seed=0,
        recipe={**spec.recipe, **TINY_RECIPE},
        device="cpu",
        weights=str(weights) if weights else None,
        progress=no_progress,
        **options,
    )


def saved_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def changed_tensors(model, before: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """(moved, unchanged): the model's tensors found in the checkpoint ``before`` (matched by
    name, the body prefix dropped), split by whether training changed them."""
    prefix = f"{model.base_model_prefix}."
    moved, kept = [], []
    for name, parameter in model.named_parameters():
        key = name.removeprefix(prefix)
        if key in before:
            (kept if torch.equal(parameter.detach().cpu(), before[key]) else moved).append(name)
    assert len(moved) + len(kept) > 5, "parameter names should match the checkpoint's"
    return moved, kept


def check_fitted(
    fitted: training.TorchClassifier, folder: Path, test: LabelledSplit, unused: tuple[str, ...] = ()
) -> None:
    """Training ran and moved every checkpoint tensor outside ``unused`` (and none inside it);
    scores are one probability per label."""
    losses = fitted.details["train_loss_by_epoch"]
    assert len(losses) == 1 and math.isfinite(losses[0]) and losses[0] > 0
    moved, kept = changed_tensors(fitted.model, saved_weights(folder))
    assert moved and not [n for n in kept if not n.startswith(unused)], "tensors training did not move"
    assert not [n for n in moved if n.startswith(unused)], "tensors off the classification path moved"
    scores = fitted.predict_scores(test.texts)
    assert scores.shape == (len(test), len(LABELS)) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1)) and scores.std() > 0
    assert fitted.params == fitted.trainable_params == sum(p.numel() for p in fitted.model.parameters())


def check_round_trip(fitted: training.TorchClassifier, load, tmp_path: Path, texts) -> None:
    """save_pretrained, then the plugin's own loader: nothing new to initialise, same logits."""
    fitted.model.save_pretrained(tmp_path, safe_serialization=True)
    fitted.tokenizer.save_pretrained(tmp_path)
    model, tokenizer, new = load(str(tmp_path), LABELS)
    assert new == []
    config = training.TrainingConfig.from_recipe(TINY_RECIPE)
    before = training.predict_logits(fitted.model, fitted.tokenizer, texts, config, "cpu")
    after = training.predict_logits(model, tokenizer, texts, config, "cpu")
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert model.config.id2label[0] == LABELS[0] and model.config.problem_type == "multi_label_classification"


def empty_weight_search(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the weights search at empty folders; return the models folder."""
    models, cache = tmp_path / "models", tmp_path / "hf-cache"
    models.mkdir()
    cache.mkdir()
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return models


# --- fixtures ---------------------------------------------------------------------------------


def registered() -> ModelRegistry:
    registry = ModelRegistry()
    charbyte.harness_add_models(registry)
    return registry


@pytest.fixture(scope="module")
def splits() -> tuple[LabelledSplit, LabelledSplit, LabelledSplit]:
    return make_split("train", 64, 1), make_split("eval", 16, 3), make_split("test", 24, 2)


@pytest.fixture(scope="module")
def tiny_canine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CanineModel (the real class; 1 layer, 32 wide), saved like google/canine-s:
    body weights only, no tokenizer files."""
    from transformers import CanineConfig, CanineModel

    folder = tmp_path_factory.mktemp("tiny-canine")
    config = CanineConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_hash_functions=4,
        num_hash_buckets=64,
        max_position_embeddings=64,
        local_transformer_stride=8,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    CanineModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def tiny_byt5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random T5ForConditionalGeneration with ByT5's vocabulary and gated-GELU blocks
    (the real class; encoder *and* decoder, as google/byt5-small is saved), no tokenizer files."""
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-byt5")
    config = T5Config(
        vocab_size=384,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=1,
        num_heads=4,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        dropout_rate=0.0,
    )
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    return folder


MODELS = {  # name -> (fixture, loader, newly initialised parameters, head_lr prefixes)
    "canine-s": (
        "tiny_canine",
        charbyte.load_canine,
        ["classifier.bias", "classifier.weight"],
        ["classifier.", "canine.pooler."],
    ),
    "byt5-small": ("tiny_byt5", charbyte.load_byt5, ["head.bias", "head.weight"], ["head."]),
}
# CANINE's sequence classifier reads the pooled [CLS] of the downsampled sequence: its
# upsampling to characters (projection + final character encoder) gets no gradient.
UNUSED = {"canine-s": ("canine.projection.", "canine.final_char_encoder."), "byt5-small": ()}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request, splits) -> tuple[str, Path, training.TorchClassifier]:
    name = request.param
    folder = request.getfixturevalue(MODELS[name][0])
    spec = registered()[name]
    return name, folder, spec.fit(request_for(spec, folder, splits))


# --- tokenizers ---------------------------------------------------------------------------------


def test_canine_tokenizer_needs_no_files_and_reads_code_points(tiny_canine: Path) -> None:
    _, tokenizer, _ = charbyte.load_canine(str(tiny_canine), LABELS)
    assert not any(tiny_canine.glob("*token*")) and not any(tiny_canine.glob("*vocab*"))
    ids = tokenizer("?uti é")["input_ids"]
    assert ids == [0xE000, *map(ord, "?uti é"), 0xE001]  # [CLS] code points [SEP] (private-use area)
    assert tokenizer.pad_token_id == 0


def test_byt5_tokenizer_needs_no_files_and_reads_utf8_bytes(tiny_byt5: Path) -> None:
    _, tokenizer, _ = charbyte.load_byt5(str(tiny_byt5), LABELS)
    assert not any(tiny_byt5.glob("*token*")) and not any(tiny_byt5.glob("*vocab*"))
    text = "?uti é"
    assert tokenizer(text)["input_ids"] == [b + 3 for b in text.encode("utf-8")] + [tokenizer.eos_token_id]
    assert len(tokenizer(text)["input_ids"]) == len(text) + 2  # "é" is two bytes, then </s>
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1)


# --- fitting ----------------------------------------------------------------------------------


def test_fit_trains_and_scores(fitted, splits) -> None:
    name, folder, model = fitted
    check_fitted(model, folder, splits[2], UNUSED[name])
    _, _, new, prefixes = MODELS[name]
    assert model.details["newly_initialised"] == new
    assert model.details["head_lr_applies_to"] == prefixes


def test_save_and_reload_gives_the_same_logits(fitted, splits, tmp_path: Path) -> None:
    name, _, model = fitted
    check_round_trip(model, MODELS[name][1], tmp_path, splits[2].texts)


def test_byt5_loads_only_the_encoder_of_the_full_checkpoint(tiny_byt5: Path) -> None:
    model, _, new = charbyte.load_byt5(str(tiny_byt5), LABELS)
    checkpoint = saved_weights(tiny_byt5)
    assert any(k.startswith("decoder.") for k in checkpoint)  # a full encoder-decoder was saved
    names = {n for n, _ in model.named_parameters()}
    assert not any(n.startswith(("decoder.", "lm_head.")) for n in names)
    assert new == ["head.bias", "head.weight"]
    for name, parameter in model.named_parameters():
        if name in checkpoint:
            assert torch.equal(parameter, checkpoint[name]), name
    assert model.config.num_labels == len(LABELS)
    # Scaled like T5's own classification head (d_model ** -0.5 = 0.18), not the generic std 1.0.
    assert 0.1 < model.head.weight.std().item() < 0.3 and torch.all(model.head.bias == 0)


def test_byt5_head_pools_only_real_tokens(tiny_byt5: Path) -> None:
    """A text's logits are the same alone and padded beside a longer text."""
    model, tokenizer, _ = charbyte.load_byt5(str(tiny_byt5), LABELS)
    model.eval()
    alone = model(**tokenizer(["uti"], return_tensors="pt")).logits
    batch = tokenizer(["uti", "chest infection - day 2 of 7"], padding=True, return_tensors="pt")
    assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1]  # really padded
    with torch.no_grad():
        np.testing.assert_allclose(model(**batch).logits[0].numpy(), alone[0].detach().numpy(), atol=1e-5)


def test_the_classifier_class_is_importable_by_name(tiny_byt5: Path) -> None:
    from harness.plugins.charbyte import T5EncoderClassifier

    model, _, _ = charbyte.load_byt5(str(tiny_byt5), LABELS)
    assert type(model) is T5EncoderClassifier
    where = f"{T5EncoderClassifier.__module__}.{T5EncoderClassifier.__qualname__}"
    assert where == "harness.plugins.charbyte.T5EncoderClassifier"
    with pytest.raises(AttributeError):
        charbyte.NoSuchClass  # noqa: B018


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_without_weights_says_so(name: str, splits) -> None:
    spec = registered()[name]
    with pytest.raises(PluginError, match="needs local weights"):
        spec.fit(request_for(spec, None, splits))


# --- safetensors by default -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_pickled_weights_load_only_when_allowed(name: str, request, splits, tmp_path: Path) -> None:
    """A folder with only pytorch_model.bin is refused, by the loader and by the fit, unless the
    user allowed pickled weights."""
    from transformers import AutoConfig

    fixture, load, _, _ = MODELS[name]
    source = request.getfixturevalue(fixture)
    weights = saved_weights(source)
    AutoConfig.from_pretrained(source).save_pretrained(tmp_path)
    torch.save(weights, tmp_path / "pytorch_model.bin")
    with pytest.raises(OSError, match="model.safetensors"):
        load(str(tmp_path), LABELS)
    spec = registered()[name]
    with pytest.raises(OSError, match="model.safetensors"):
        spec.fit(request_for(spec, tmp_path, splits))  # FitRequest.allow_pickle defaults to False
    model, _, _ = load(str(tmp_path), LABELS, allow_pickle=True)
    prefix = f"{model.base_model_prefix}."
    loaded = {n.removeprefix(prefix): p for n, p in model.named_parameters()}
    shared = [n for n in weights if n in loaded]
    assert shared and all(torch.equal(loaded[n], weights[n]) for n in shared)
    allowed = spec.fit(request_for(spec, tmp_path, splits, allow_pickle=True))  # the fit passes the opt-in on
    assert math.isfinite(allowed.details["train_loss_by_epoch"][0])


# --- precision on a GPU -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "bf16", "mixed"), [("cuda", False, False), ("cuda", True, True), ("cpu", False, True)]
)
def test_byt5_avoids_fp16_only(device: str, bf16: bool, mixed: bool, splits, monkeypatch) -> None:
    """T5 overflows in fp16: on a GPU without bf16 it trains in fp32; elsewhere the recipe stands."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    spec = registered()["byt5-small"]
    request = FitRequest(
        spec=spec,
        labels=LABELS,
        train=splits[0],
        eval=splits[1],
        seed=0,
        recipe=spec.recipe,
        device=device,
        weights="unused",
        progress=no_progress,
    )
    adjusted, note = charbyte._without_fp16(request)
    assert training.TrainingConfig.from_recipe(adjusted.recipe).mixed_precision is mixed
    assert (note is not None) is (not mixed)
    assert "mixed_precision" not in spec.recipe  # the shared recipe is not modified


# --- the registered specs ---------------------------------------------------------------------


def test_registered_specs() -> None:
    registry = registered()
    assert registry.names() == ["canine-s", "byt5-small"]
    expected = {
        "canine-s": ("character-level", "google/canine-s", "Character (Unicode code points)", charbyte.fit_canine),
        "byt5-small": ("byte-level", "google/byt5-small", "Byte (UTF-8)", charbyte.fit_byt5),
    }
    for name, (family, hub_id, tokenization, fit) in expected.items():
        spec = registry[name]
        assert (spec.family, spec.hub_id, spec.tokenization, spec.fit) == (family, hub_id, tokenization, fit)
        assert spec.fine_tuning_regime == "full" and spec.study == "antibiotic indications (seed 000)"
        assert spec.recipe == charbyte.SEED_RECIPE and spec.markers == ("transformer", "slow")
        assert spec.needs == ("torch", "transformers") and not spec.requires_cuda


def published_counts() -> dict[str, int]:
    """Parameter counts of the real architectures with a 12-label head, built on the meta device
    from the published config.json values."""
    from transformers import CanineConfig, CanineForSequenceClassification, T5Config

    canine = CanineConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=16384,
        num_hash_functions=8,
        num_hash_buckets=16384,
        downsampling_rate=4,
        upsampling_kernel_size=4,
        local_transformer_stride=128,
        type_vocab_size=16,
        num_labels=12,
    )
    byt5 = T5Config(
        vocab_size=384,
        d_model=1472,
        d_kv=64,
        d_ff=3584,
        num_layers=12,
        num_decoder_layers=4,
        num_heads=6,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        relative_attention_num_buckets=32,
        num_labels=12,
    )
    with torch.device("meta"):
        models = {"canine-s": CanineForSequenceClassification(canine), "byt5-small": charbyte.T5EncoderClassifier(byt5)}
    return {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}


def test_parameter_counts_match_the_real_architectures() -> None:
    registry = registered()
    assert {name: registry[name].params for name in registry.names()} == published_counts()


def test_without_weights_the_models_are_skipped_here(monkeypatch, tmp_path: Path, tiny_canine: Path) -> None:
    models = empty_weight_search(monkeypatch, tmp_path)
    registry = registered()
    for spec in registry.values():
        reason = skip_reason(spec)
        assert reason is not None and f"weights for {spec.hub_id} not found locally" in reason
    # ... and a safetensors folder under $HARNESS_MODELS_DIR/<name> is enough to run.
    (models / "canine-s").symlink_to(tiny_canine, target_is_directory=True)
    assert skip_reason(registry["canine-s"]) is None


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = (
        "import sys, harness.plugins.charbyte as c; c.harness_add_models; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
