"""Zero-shot classification with a local instruct model: no training, a constrained answer.

The seed studies compared fine-tuned models with zero-shot GPT-4 and in-context baselines.
Here a local instruct model reads a prompt that lists the categories and the indication,
and we read its next-token distribution restricted to the first token of each category's
answer word: a softmax over those twelve logits is the score, and the decision rule predicts
the single most likely category (``top_k=1``), as an answer naming one category would.

The prompt's instruction and category list are the same for every input, so they are run
through the model once and their key/value cache is reused for every batch: each input costs
only its own tokens and the short end of the prompt (a few tokens), not the whole prompt.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import PluginError, hookimpl
from harness.model import DecisionRule, FitRequest, FittedClassifier
from harness.progress import ProgressFactory, no_progress

PLACEHOLDER = "\u241f"  # marks where the indication goes when the chat template is rendered

# The answer word for each category of the indications task; the first tokens must differ.
ANSWERS: dict[str, str] = {
    "urinary": "urinary",
    "respiratory": "respiratory",
    "abdominal": "abdominal",
    "neurological": "neurological",
    "skin_soft_tissue": "skin",
    "ent": "ENT",
    "orthopaedic": "bone",
    "other_specific": "other",
    "no_specific_source": "no specific source",
    "prophylaxis": "prophylaxis",
    "uncertainty": "uncertain",
    "not_informative": "not informative",
}
SYSTEM = "You sort the free-text indications of hospital antibiotic prescriptions by infection source."
INSTRUCTION = (
    "Answer with one category: {categories}.\n"
    "'no specific source' means infection or sepsis without a site; 'uncertain' means the prescriber "
    "was unsure; 'not informative' means the text gives no indication.\n"
    "Indication: {text}"
)
# Contextual calibration (Zhao et al., 2021, "Calibrate before use"): a small model puts most of
# its mass on a few answer words whatever the input. Dividing by its answer distribution for
# content-free inputs removes that prior. Measured on 640 synthetic internal-test rows with
# SmolLM2-135M: weighted F1 0.01 uncalibrated (every row answered "no"), 0.34 calibrated.
CONTENT_FREE = ("N/A", "[MASK]", " ")
RECIPE: dict[str, Any] = {
    "batch_size": 32, "max_length": 32, "answers": ANSWERS, "calibrate": True, "cpu_bf16_inference": True,
}


def render_prompt(tokenizer: Any, answers: Mapping[str, str]) -> tuple[str, str]:
    """(prefix, suffix) around the indication, with the model's chat template if it has one."""
    user = INSTRUCTION.format(categories=", ".join(answers.values()), text=PLACEHOLDER)
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = f"{SYSTEM}\n\n{user}\nCategory:"
    prefix, _, suffix = text.partition(PLACEHOLDER)
    return prefix, suffix


def answer_token_ids(tokenizer: Any, labels: Sequence[str], answers: Mapping[str, str]) -> list[int]:
    """The first token of each label's answer word; they must all differ to be told apart."""
    missing = [label for label in labels if label not in answers]
    if missing:
        raise PluginError("zeroshot", f"no answer word for labels {missing}; set recipe.answers for them")
    ids = [tokenizer.encode(answers[label], add_special_tokens=False)[0] for label in labels]
    clashes = {tokenizer.decode([i]) for i in ids if ids.count(i) > 1}
    if clashes:
        raise PluginError("zeroshot", f"answer words share a first token ({', '.join(sorted(clashes))}); reword them")
    return ids


@dataclass(eq=False)
class ZeroShotClassifier:
    """A causal LM answering with one category (implements :class:`harness.FittedClassifier`)."""

    model: Any
    tokenizer: Any
    prefix_ids: Any  # (1, prefix tokens)
    suffix: str
    answer_ids: list[int]
    device: str
    batch_size: int
    max_length: int
    autocast_dtype: Any  # None (fp32) or a torch dtype for autocast
    params: int
    details: dict[str, Any]
    progress: ProgressFactory = no_progress
    prior: np.ndarray | None = None  # answer distribution for content-free inputs (calibration)
    trainable_params: int = 0
    decision_rule: DecisionRule = DecisionRule(score="label_distribution", threshold=0.0, top_k=1)

    def prefix_cache(self) -> Any:
        import torch

        with torch.inference_mode():
            return self.model(input_ids=self.prefix_ids.to(self.device), use_cache=True).past_key_values

    def predict_scores(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from harness.training import autocast, length_grouped_batches

        scores = np.zeros((len(texts), len(self.answer_ids)), dtype=np.float32)
        if not texts:
            return scores
        # The indication is truncated, the end of the prompt never is.
        bodies = self.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=self.max_length)
        tail = self.tokenizer.encode(self.suffix, add_special_tokens=False)
        rows = [ids + tail for ids in bodies["input_ids"]]
        cache = self.prefix_cache()
        start = self.prefix_ids.shape[1]
        batches = length_grouped_batches([len(r) for r in rows], self.batch_size)
        self.model.eval()
        with (
            torch.inference_mode(),
            autocast(self.device, self.autocast_dtype),
            self.progress("zero-shot", len(batches)) as advance,
        ):
            for batch in batches:
                scores[batch] = self._answer_distribution([rows[i] for i in batch], cache, start)
                advance()
        if self.prior is not None:
            scores /= self.prior
            scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def _answer_distribution(self, rows: list[list[int]], cache: Any, start: int) -> np.ndarray:
        """Softmax over the answer tokens after each row, the rows following the cached prompt.

        Rows are padded on the left, so every row's answer comes at the last position and only
        that position goes through the output layer (``logits_to_keep=1``).
        """
        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        batch_cache = copy.deepcopy(cache)
        batch_cache.batch_repeat_interleave(len(rows))
        attention = torch.cat([torch.ones(len(rows), start, dtype=mask.dtype, device=self.device), mask], dim=1)
        positions = (start + mask.cumsum(dim=1) - 1).clamp(min=start)  # real tokens continue the prompt
        logits = self.model(
            input_ids=ids, attention_mask=attention, position_ids=positions, past_key_values=batch_cache,
            use_cache=True, logits_to_keep=1,
        ).logits[:, -1, self.answer_ids].float()
        return torch.softmax(logits, dim=-1).cpu().numpy()


def fit_zero_shot(request: FitRequest) -> FittedClassifier:
    """No training: load the model, render the prompt, find the answer tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.plugins.decoders import set_padding, weights_folder
    from harness.training import TrainingConfig, count_parameters, inference_dtype, quiet_transformers, seed_everything

    seed_everything(request.seed)
    folder = weights_folder(request)
    answers = dict(request.recipe.get("answers", ANSWERS))
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, trust_remote_code=request.trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, use_safetensors=not request.allow_pickle,
            trust_remote_code=request.trust_remote_code,
        )
    set_padding(model, tokenizer)
    model.to(request.device).eval()
    prefix, suffix = render_prompt(tokenizer, answers)
    prefix_ids = tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
    answer_ids = answer_token_ids(tokenizer, request.labels, answers)
    params, _ = count_parameters(model)
    dtype = inference_dtype(request.device, TrainingConfig.from_recipe(request.recipe))
    classifier = ZeroShotClassifier(
        model=model,
        tokenizer=tokenizer,
        prefix_ids=prefix_ids,
        suffix=suffix,
        answer_ids=answer_ids,
        device=request.device,
        batch_size=int(request.recipe.get("batch_size", 32)),
        max_length=int(request.recipe.get("max_length", 32)),
        autocast_dtype=dtype,
        params=params,
        details={
            "prompt_prefix_tokens": int(prefix_ids.shape[1]),
            "answer_tokens": {label: tokenizer.decode([i]) for label, i in zip(request.labels, answer_ids)},
            "trained": False,
            "autocast": str(dtype),
        },
        progress=request.progress,
    )
    if request.recipe.get("calibrate", True):
        classifier.prior = classifier.predict_scores(CONTENT_FREE).mean(axis=0)
        classifier.details["calibration"] = {
            "content_free_inputs": list(CONTENT_FREE),
            "prior": {label: round(float(p), 4) for label, p in zip(request.labels, classifier.prior)},
        }
    return classifier


@hookimpl
def harness_add_models(register: Any) -> None:
    from harness.plugins.decoders import smollm2_spec

    spec = smollm2_spec("smollm2-135m-zeroshot", "zero-shot (constrained answer)", fit_zero_shot, RECIPE, {})
    register.add(
        dataclasses.replace(
            spec,
            params=134_515_008,
            tag=None,  # answers with a category; tagging tokens would need training
            needs=("torch", "transformers", "gguf"),
            markers=("transformer", "decoder", "zeroshot", "slow"),
            study="seed 000 / 001 (zero-shot GPT-4 and in-context baselines), with a local model",
            description="SmolLM2-135M-Instruct answering with one category, no training: the zero-shot baseline "
            "that runs offline.",
        )
    )
