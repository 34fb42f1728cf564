"""Zero-shot classification with a local instruct model: no training, a constrained answer.

The seed studies compared fine-tuned models with zero-shot GPT-4 and in-context baselines.
Here a local instruct model reads a prompt that lists the categories and the indication, and
each category is scored by the probability the model gives its whole answer (the sum of the
answer tokens' log-probabilities): normalised over the twelve answers, that is the score, and
the decision rule predicts the single most likely category (``top_k=1``), as an answer naming
one category would.

The prompt's instruction and category list are the same for every input, so they are run
through the model once and their key/value cache is reused for every batch: each input costs
only its own tokens, the short end of the prompt and the answers. All twelve answers are read
in the same forward pass as the input: their tokens are appended after it, and an attention
mask lets each answer token see the prompt, the input and its own answer's earlier tokens only.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import ModelSpec, PluginError, hookimpl
from harness.model import DecisionRule, FitRequest, FittedClassifier
from harness.plugins.study import SMOLLM2, SMOLLM2_PARAMS
from harness.progress import ProgressFactory, no_progress

PLACEHOLDER = "\u241f"  # marks where the indication goes when the chat template is rendered

# The answer for each category of the indications task. No answer's tokens may start another's:
# the shorter one would always be at least as probable.
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
# its mass on a few answers whatever the input. Dividing by its answer distribution for
# content-free inputs removes that prior (measurements: README, "Zero-shot").
CONTENT_FREE = ("N/A", "[MASK]", " ")
RECIPE: dict[str, Any] = {
    "batch_size": 32,
    "max_length": 32,
    "answers": ANSWERS,
    "calibrate": True,
    "cpu_bf16_inference": True,
}


@dataclass(frozen=True)
class Prompt:
    """The prompt around the indication: ``prefix + lead + text + suffix``.

    The prefix stops before the whitespace that leads into the indication: byte-level BPE joins
    a word's leading space to the word (``'Ġsepsis'``), so ``lead`` is tokenised with the text,
    as it is in the whole prompt, and the prefix's cached tokens end where the text's begin.
    """

    prefix: str
    lead: str
    suffix: str

    def text_ids(self, tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
        """Each indication's tokens, truncated; the end of the prompt never is."""
        leading = [self.lead + text for text in texts]
        return tokenizer(leading, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]


def render_prompt(tokenizer: Any, answers: Mapping[str, str]) -> Prompt:
    """The prompt, with the model's chat template if it has one."""
    user = INSTRUCTION.format(categories=", ".join(answers.values()), text=PLACEHOLDER)
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = f"{SYSTEM}\n\n{user}\nCategory:"
    prefix, _, suffix = text.partition(PLACEHOLDER)
    stem = prefix.rstrip(" ")
    return Prompt(prefix=stem, lead=prefix[len(stem) :], suffix=suffix)


def answer_token_ids(tokenizer: Any, labels: Sequence[str], answers: Mapping[str, str], suffix: str) -> list[list[int]]:
    """Each label's answer as tokens, tokenised as it follows the end of the prompt."""
    missing = [label for label in labels if label not in answers]
    if missing:
        raise PluginError("zeroshot", f"no answer word for labels {missing}; set recipe.answers for them")
    tail = tokenizer.encode(suffix, add_special_tokens=False)
    ids = []
    for label in labels:
        whole = tokenizer.encode(suffix + answers[label], add_special_tokens=False)
        if whole[: len(tail)] != tail or len(whole) == len(tail):
            raise PluginError("zeroshot", f"answer {answers[label]!r} merges with the end of the prompt; reword it")
        ids.append(whole[len(tail) :])
    for (a, a_ids), (b, b_ids) in itertools.permutations(zip(labels, ids), 2):
        if b_ids[: len(a_ids)] == a_ids:
            raise PluginError(
                "zeroshot",
                f"answers {answers[a]!r} and {answers[b]!r}: the tokens of the first start the second, "
                "which could then never win; reword them",
            )
    return ids


@dataclass(frozen=True)
class PackedAnswers:
    """Every answer as one continuation of each input, scored in the input's forward pass.

    Each answer's tokens but its last are fed after the input (``fed``), the answers side by
    side; a fed token sees the prompt, the input and its own answer's earlier tokens
    (``sees``) and sits at the position it would have right after the input (``depth``).
    Answer token j is read from the logits at the input's last token (j = 0) or at its own
    answer's fed token j - 1: ``read_at`` indexes the last ``1 + len(fed)`` positions.
    """

    fed: Any  # (K,) token ids
    depth: Any  # (K,) offset of each fed token after the input
    sees: Any  # (K, K) bool: fed token i attends to fed token j
    read_at: Any  # (T,) for every answer token: where its logit is read
    read_token: Any  # (T,)
    read_answer: Any  # (T,) which answer it belongs to
    answers: int

    @classmethod
    def of(cls, answer_ids: Sequence[Sequence[int]]) -> PackedAnswers:
        import torch

        fed, depth, owner, read_at, read_token, read_answer = [], [], [], [], [], []
        for answer, tokens in enumerate(answer_ids):
            first = len(fed)
            for j, token in enumerate(tokens):
                read_at.append(0 if j == 0 else 1 + first + j - 1)
                read_token.append(token)
                read_answer.append(answer)
            fed += tokens[:-1]
            depth += range(len(tokens) - 1)
            owner += [answer] * (len(tokens) - 1)
        owner_t = torch.tensor(owner, dtype=torch.long)
        depth_t = torch.tensor(depth, dtype=torch.long)
        sees = (owner_t[:, None] == owner_t[None, :]) & (depth_t[None, :] <= depth_t[:, None])
        return cls(
            fed=torch.tensor(fed, dtype=torch.long),
            depth=depth_t,
            sees=sees,
            read_at=torch.tensor(read_at),
            read_token=torch.tensor(read_token),
            read_answer=torch.tensor(read_answer),
            answers=len(answer_ids),
        )

    def attention(self, real: Any, start: int) -> Any:
        """(batch, 1, queries, keys) bool mask for left-padded inputs after ``start`` cached tokens."""
        import torch

        batch, width = real.shape
        fed = len(self.fed)
        causal = torch.ones(width, width, dtype=torch.bool, device=real.device).tril()
        inputs = torch.cat([causal[None] & real[:, None, :], real.new_zeros(batch, width, fed)], dim=2)
        sees = self.sees.to(real.device).expand(batch, -1, -1)
        answers = torch.cat([real[:, None, :].expand(batch, fed, width), sees], dim=2)
        allowed = torch.cat([inputs, answers], dim=1)
        # Every query sees the whole cached prompt, so no row of the mask is empty (padding included).
        return torch.cat([real.new_ones(batch, width + fed, start), allowed], dim=2)[:, None]

    def log_probs(self, logits: Any) -> Any:
        """(batch, answers): the sum of each answer's token log-probabilities."""
        import torch

        device = logits.device
        picked = torch.log_softmax(logits.float(), dim=-1)[:, self.read_at.to(device), self.read_token.to(device)]
        total = torch.zeros(len(logits), self.answers, device=device)
        return total.index_add_(1, self.read_answer.to(device), picked)


@dataclass(eq=False)
class ZeroShotClassifier:
    """A causal LM answering with one category (implements :class:`harness.FittedClassifier`)."""

    model: Any
    tokenizer: Any
    prompt: Prompt
    prefix_ids: Any  # (1, prefix tokens)
    answers: PackedAnswers
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

        from harness.training.loop import autocast, length_grouped_batches

        scores = np.zeros((len(texts), self.answers.answers), dtype=np.float32)
        if not texts:
            return scores
        tail = self.tokenizer.encode(self.prompt.suffix, add_special_tokens=False)
        rows = [ids + tail for ids in self.prompt.text_ids(self.tokenizer, texts, self.max_length)]
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
        """The answers' probabilities after each row, normalised over the answers.

        Rows are padded on the left, so every row ends at the same position, the answers'
        fed tokens follow it, and only those last positions go through the output layer.
        """
        import torch

        width, fed = max(len(r) for r in rows), len(self.answers.fed)
        pad = self.tokenizer.pad_token_id or 0
        answer_ids = self.answers.fed.tolist()
        ids = torch.tensor([[pad] * (width - len(r)) + r + answer_ids for r in rows], device=self.device)
        real = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows], device=self.device)
        batch_cache = copy.deepcopy(cache)
        batch_cache.batch_repeat_interleave(len(rows))
        lengths = real.sum(dim=1, keepdim=True)
        positions = torch.cat(
            [(start + real.cumsum(dim=1) - 1).clamp(min=start), start + lengths + self.answers.depth.to(self.device)],
            dim=1,
        )
        mask = self.answers.attention(real, start)
        if self.model.config._attn_implementation != "sdpa":  # eager attention adds the mask to the scores
            mask = torch.zeros(mask.shape, dtype=self.model.dtype, device=self.device).masked_fill(
                ~mask, torch.finfo(self.model.dtype).min
            )
        logits = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=batch_cache,
            use_cache=True,
            logits_to_keep=1 + fed,
        ).logits
        return torch.softmax(self.answers.log_probs(logits), dim=-1).cpu().numpy()


def check_prompt_split(tokenizer: Any, prompt: Prompt, prefix_ids: list[int], text: str = "sepsis") -> None:
    """Cached prefix + text + suffix must be the whole prompt's tokens, or every input is misread."""
    pieces = prefix_ids + prompt.text_ids(tokenizer, [text], 10_000)[0]
    pieces += tokenizer.encode(prompt.suffix, add_special_tokens=False)
    whole = tokenizer.encode(prompt.prefix + prompt.lead + text + prompt.suffix, add_special_tokens=False)
    if pieces != whole:
        raise PluginError("zeroshot", "this tokenizer splits the prompt differently in pieces than whole")


def fit_zero_shot(request: FitRequest) -> FittedClassifier:
    """No training: load the model, render the prompt, tokenise the answers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.training.loading import set_padding, weights_folder
    from harness.training.loop import (
        TrainingConfig,
        count_parameters,
        dtype_summary,
        inference_dtype,
        quiet_transformers,
        seed_everything,
    )

    seed_everything(request.seed)
    folder = weights_folder(request)
    answers = dict(request.recipe.get("answers", ANSWERS))
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, trust_remote_code=request.trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            local_files_only=True,
            use_safetensors=not request.allow_pickle,
            trust_remote_code=request.trust_remote_code,
        )
    set_padding(model, tokenizer)
    model.to(request.device).eval()
    prompt = render_prompt(tokenizer, answers)
    prefix_ids = tokenizer(prompt.prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
    check_prompt_split(tokenizer, prompt, prefix_ids[0].tolist())
    answer_ids = answer_token_ids(tokenizer, request.labels, answers, prompt.suffix)
    params, _ = count_parameters(model)
    dtype = inference_dtype(request.device, TrainingConfig.from_recipe(request.recipe))
    classifier = ZeroShotClassifier(
        model=model,
        tokenizer=tokenizer,
        prompt=prompt,
        prefix_ids=prefix_ids,
        answers=PackedAnswers.of(answer_ids),
        device=request.device,
        batch_size=int(request.recipe.get("batch_size", 32)),
        max_length=int(request.recipe.get("max_length", 32)),
        autocast_dtype=dtype,
        params=params,
        details={
            "prompt_prefix_tokens": int(prefix_ids.shape[1]),
            "answer_tokens": {
                label: tokenizer.convert_ids_to_tokens(ids) for label, ids in zip(request.labels, answer_ids)
            },
            "trained": False,
            "autocast": str(dtype),
            "trainable_dtype": None,  # nothing is trained: the whole model is frozen
            "frozen_dtype": dtype_summary(model.parameters()),
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
    register.add(
        ModelSpec(
            name="smollm2-135m-zeroshot",
            family="decoder",
            architecture="decoder",
            fine_tuning_regime="zero-shot (constrained answer)",
            fit=fit_zero_shot,
            tag=None,  # answers with a category; tagging tokens would need training
            params=SMOLLM2_PARAMS,
            **SMOLLM2,
            needs=("torch", "transformers", "gguf"),
            markers=("transformer", "decoder", "zeroshot", "slow"),
            recipe=RECIPE,
            study="seed 000 / 001 (zero-shot GPT-4 and in-context baselines), with a local model",
            description="SmolLM2-135M-Instruct answering with one category, no training: the zero-shot baseline "
            "that runs offline.",
        )
    )
