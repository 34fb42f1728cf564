"""Character- and byte-level encoders (CANINE-S, ByT5-small), fully fine-tuned as classifiers.

These are the seed study's two tokenizer-free models. Neither needs a vocabulary file:
CANINE reads Unicode code points, ByT5 reads UTF-8 bytes (id = byte + 3).

- ``canine-s``: ``CanineForSequenceClassification`` (its pooled [CLS] state through a new
  linear classifier), as :mod:`harness.plugins.encoders` fits BERT.
- ``byt5-small``: ByT5 is an encoder-decoder; only its encoder is used, loaded from the full
  checkpoint (the decoder weights are skipped), and :class:`T5EncoderClassifier` puts a new
  linear ``head`` on the attention-masked mean of the encoder's last hidden states.

A sentence pair goes through each tokenizer's own pair encoding: CANINE's ``[CLS] a [SEP] b
[SEP]``; ByT5's ``a </s> b </s>`` (T5 marks the end of each segment with its end-of-sequence
byte; the encoder then sees where the first text stops, which joining with a newline would
leave to a byte that also occurs inside notes). A multi-class task sets ``problem_type`` to
single-label (:func:`harness.training.full.fit_full`).

Both load offline only (``local_files_only``), safetensors unless the user allowed pickled
weights, and train with the shared loop of :mod:`harness.training.loop`. torch and transformers are
imported when a model is fitted, never when this plugin is imported (``harness list`` stays
fast); :class:`T5EncoderClassifier` is therefore built on first access.

Parameter counts are exact counts of the classification models with a 12-label head, built
on the meta device from the published configurations (google/canine-s and google/byt5-small
config.json): ``sum(p.numel() for p in model.parameters())``. The runner records the count it
measures.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from harness import ModelSpec, hookimpl
from harness.model import FitRequest, FittedClassifier
from harness.plugins.study import ENCODER_SPACE, SEED_000, SEED_RECIPE
from harness.training.full import fit_full, head_prefixes

_TORCH = ("torch", "transformers")


def _label_options(labels: tuple[str, ...]) -> dict[str, Any]:
    return {
        "num_labels": len(labels),
        "problem_type": "multi_label_classification",
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }


# --- CANINE --------------------------------------------------------------------------------


def load_canine(
    weights: str, labels: tuple[str, ...], *, allow_pickle: bool = False, trust_remote_code: bool = False
) -> tuple[Any, Any, list[str]]:
    """(model, tokenizer, newly initialised parameter names), offline.

    The tokenizer is built without files: google/canine-s ships no vocabulary, only the
    default special code points that ``CanineTokenizer()`` already uses.
    """
    from transformers import CanineForSequenceClassification

    from harness.training.loop import quiet_transformers

    with quiet_transformers():
        model, info = CanineForSequenceClassification.from_pretrained(
            weights,
            local_files_only=True,
            use_safetensors=not allow_pickle,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
            **_label_options(labels),
        )
    return model, _canine_tokenizer(), sorted(info.get("missing_keys", []))


@cache
def _canine_tokenizer() -> Any:
    """One shared instance: building it maps all of Unicode (~1.7 s here); it holds no state."""
    from transformers import CanineTokenizer

    return CanineTokenizer()


# --- ByT5 ----------------------------------------------------------------------------------


@cache
def _t5_encoder_classifier() -> type:
    """Build the class on first use: defining it needs torch and transformers."""
    import torch
    from torch import nn
    from transformers import T5EncoderModel, initialization
    from transformers.modeling_outputs import SequenceClassifierOutput

    class T5EncoderClassifier(T5EncoderModel):
        """A T5 encoder with a linear ``head`` on its attention-masked mean hidden state.

        A ``transformers`` model like any other: ``from_pretrained`` on a full T5/ByT5
        checkpoint loads the encoder (``shared``, ``encoder``), skips the decoder and LM head,
        and initialises ``head``; ``save_pretrained`` / ``from_pretrained`` round-trip the
        fine-tuned classifier. ``config.num_labels`` is the number of labels.
        """

        _keys_to_ignore_on_load_unexpected = [r"decoder", r"lm_head"]

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.dropout = nn.Dropout(config.classifier_dropout or 0.0)
            self.head = nn.Linear(config.d_model, config.num_labels)
            self.post_init()

        def _init_weights(self, module: Any) -> None:
            super()._init_weights(module)
            # The generic init would draw the head with std = initializer_factor (1.0 for T5):
            # logits in the tens. Scale it as T5's own classification head does.
            if module is getattr(self, "head", None):
                initialization.normal_(module.weight, mean=0.0, std=self.config.d_model**-0.5)
                initialization.zeros_(module.bias)

        def forward(
            self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None, **_: Any
        ) -> SequenceClassifierOutput:
            hidden = super().forward(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            if attention_mask is None:
                attention_mask = torch.ones(hidden.shape[:2], device=hidden.device)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return SequenceClassifierOutput(logits=self.head(self.dropout(pooled)))

    # Importable by name (``harness.plugins.charbyte.T5EncoderClassifier``, see ``__getattr__``).
    T5EncoderClassifier.__module__ = __name__
    T5EncoderClassifier.__qualname__ = "T5EncoderClassifier"
    return T5EncoderClassifier


def __getattr__(name: str) -> Any:
    if name == "T5EncoderClassifier":
        return _t5_encoder_classifier()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_byt5(
    weights: str, labels: tuple[str, ...], *, allow_pickle: bool = False, trust_remote_code: bool = False
) -> tuple[Any, Any, list[str]]:
    """(model, tokenizer, newly initialised parameter names), offline.

    ``weights`` is a full ByT5 checkpoint (``T5ForConditionalGeneration``) or a fitted
    :class:`T5EncoderClassifier`; ``ByT5Tokenizer()`` needs no files.
    """
    from transformers import ByT5Tokenizer

    from harness.training.loop import quiet_transformers

    with quiet_transformers():
        model, info = _t5_encoder_classifier().from_pretrained(
            weights,
            local_files_only=True,
            use_safetensors=not allow_pickle,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
            **_label_options(labels),
        )
    return model, ByT5Tokenizer(), sorted(info.get("missing_keys", []))


def _without_fp16(request: FitRequest) -> tuple[FitRequest, str | None]:
    """T5 models were pre-trained in bf16 and overflow to inf/NaN in fp16 (transformers
    issues #9295, #10956). On a GPU without native bf16 (e.g. a V100), train ByT5 in fp32."""
    import dataclasses

    from harness.training.precision import cuda_has_bf16

    recipe = dict(request.recipe)
    if request.device.startswith("cuda") and recipe.get("mixed_precision", True) and not cuda_has_bf16():
        recipe["mixed_precision"] = False
        return dataclasses.replace(request, recipe=recipe), "fp32: this GPU has no bf16 and T5 overflows in fp16"
    return request, None


# --- fitting -------------------------------------------------------------------------------


def fit_canine(request: FitRequest) -> FittedClassifier:
    """Fully fine-tune CANINE at ``request.weights``; the best eval epoch is kept."""
    return fit_full(request, load_canine, head_prefixes, plugin="charbyte")


def fit_byt5(request: FitRequest) -> FittedClassifier:
    """Fully fine-tune the ByT5 encoder at ``request.weights`` with a mean-pooled head."""
    request, precision_note = _without_fp16(request)
    extra = {"precision": precision_note} if precision_note else {}
    return fit_full(request, load_byt5, lambda model: ("head.",), plugin="charbyte", **extra)


# --- the roster ----------------------------------------------------------------------------


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add(
        ModelSpec(
            name="canine-s",
            family="character-level",
            architecture="encoder",
            fine_tuning_regime="full",
            fit=fit_canine,
            # Counted as in the module docstring. The seed study's table says 121M; its
            # 528 MB fp32 checkpoint on the hub holds 132M, as counted here.
            params=132_092_172,
            pretraining_domain="Wikipedia (104 languages)",
            tokenization="Character (Unicode code points)",
            hub_id="google/canine-s",
            needs=_TORCH,
            markers=("transformer", "slow"),
            recipe=SEED_RECIPE,
            search_space=ENCODER_SPACE,
            study=SEED_000,
            description="CANINE-S (subword-loss pre-training), 12 layers over 4x downsampled characters; 132M "
            "parameters (the seed study's table says 121M); 0.65 eval F1 there, predicting only the frequent "
            "categories.",
        )
    )
    register.add(
        ModelSpec(
            name="byt5-small",
            family="byte-level",
            architecture="encoder",
            fine_tuning_regime="full",
            fit=fit_byt5,
            # Counted as in the module docstring: the 12-layer encoder (217,657,472) plus the
            # 12-label head. The seed study's 300M is the whole encoder-decoder (299,072,512).
            params=217_675_148,
            pretraining_domain="mC4 (multilingual web)",
            tokenization="Byte (UTF-8)",
            hub_id="google/byt5-small",
            needs=_TORCH,
            markers=("transformer", "slow"),
            recipe=SEED_RECIPE,
            search_space=ENCODER_SPACE,
            study=SEED_000,
            description="ByT5-small's encoder (218M of its 300M parameters; the decoder is not used) with a "
            "mean-pooled linear head; 0.18 eval F1 in the seed study.",
        )
    )
