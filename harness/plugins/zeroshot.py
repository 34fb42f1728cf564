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

Other tasks (``FitRequest.setup``, issue 14) get a prompt of the same shape from
:func:`task_wording`: "Classify {task_description}. Answer with one of: {answers}." and the
input as "Text: ..." or, for a sentence pair, "Premise: {text}" and "Hypothesis: {text_pair}"
(each text cut to ``max_length`` tokens). Answers are ``setup.describe(label)``:

* multi-class: one answer per label; the score is the answer distribution, the prediction its
  argmax;
* binary: the positive label's words against "not " + them; the score is the normalised
  probability of the positive answer, predicted at 0.5;
* multi-label: only with ``single_answer_multi_label`` (one answer per input, top-1, as for
  indications); otherwise the model refuses the task, as it would need a yes/no question per
  label.

The indications categories with no ``label_descriptions`` keep the prompt above and the
recipe's ``answers`` exactly. Contextual calibration applies to every task. Inputs longer than
``max_length`` tokens are always truncated (``long_text = "chunk"`` is not built here).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import ModelSpec, PluginError, hookimpl
from harness.model import ClassificationSetup, DecisionRule, FitRequest, FittedClassifier, Input
from harness.plugins.study import SMOLLM2, SMOLLM2_PARAMS
from harness.progress import ProgressFactory, no_progress

PLACEHOLDER = "\u241f"  # marks where the indication goes when the chat template is rendered
PAIR_PLACEHOLDER = "\u241e"  # and where a sentence pair's second text goes

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


@dataclass(frozen=True)
class Wording:
    """What the prompt says: a system message, the user's instruction (with ``{categories}``,
    ``{text}`` and, for pairs, ``{text_pair}``) and, without a chat template, the cue that the
    answer follows."""

    system: str
    instruction: str
    cue: str


INDICATIONS_WORDING = Wording(SYSTEM, INSTRUCTION, "Category:")
TASK_SYSTEM = "You classify texts into the categories you are given."
TASK_INSTRUCTION = "Classify {task}. Answer with one of: {{categories}}.\n"
TEXT_INPUT = "Text: {text}"
PAIR_INPUT = "Premise: {text}\nHypothesis: {text_pair}"
NOT = "not "  # a binary task's negative answer: "not " + the positive label's words
REFUSED_MULTI_LABEL = (
    "a zero-shot answer names one label; this multi-label task needs a yes/no question per label (not built)"
)


def is_indications(labels: Sequence[str], setup: ClassificationSetup) -> bool:
    """Today's task: the indications categories (any of them), multi-label, in the recipe's words."""
    return (
        setup.problem == "multi-label"
        and not setup.text_pairs
        and not setup.label_descriptions
        and set(labels) <= set(ANSWERS)
    )


def zero_shot_refuses(labels: tuple[str, ...], setup: ClassificationSetup) -> str | None:
    """One answer per input cannot label a multi-label task, unless the task says it may."""
    if setup.problem == "multi-label" and not setup.single_answer_multi_label and not is_indications(labels, setup):
        return REFUSED_MULTI_LABEL
    return None


def task_wording(setup: ClassificationSetup) -> Wording:
    """The prompt's words for a task other than indications."""
    task = (setup.task_description or "this text").replace("{", "{{").replace("}", "}}")  # formatted again later
    item = PAIR_INPUT if setup.text_pairs else TEXT_INPUT
    return Wording(TASK_SYSTEM, TASK_INSTRUCTION.format(task=task) + item, "Answer:")


def task_answers(labels: Sequence[str], setup: ClassificationSetup) -> dict[str, str]:
    """Answer name -> its words: each label's description; for a binary task, the positive
    label's and its negation (named ``"not " + label``)."""
    if setup.problem == "binary":
        (positive,) = labels
        return {positive: setup.describe(positive), NOT + positive: NOT + setup.describe(positive)}
    return {label: setup.describe(label) for label in labels}


def decision_rule_for(setup: ClassificationSetup) -> DecisionRule:
    if setup.problem == "multi-class":
        return DecisionRule(score="label_distribution", threshold=0.0, argmax=True)
    if setup.problem == "binary":
        return DecisionRule(score="label_distribution", threshold=0.5)
    return DecisionRule(score="label_distribution", threshold=0.0, top_k=1)


RECIPE: dict[str, Any] = {
    "batch_size": 32,
    "max_length": 32,
    "answers": ANSWERS,
    "calibrate": True,
    # How an answer of several tokens is scored: "sum" of its tokens' log-probabilities (the
    # answer's probability) or "mean" (per token: length-normalised); choose on eval
    "answer_score": "sum",
    "cpu_bf16_inference": True,
    # Few-shot: demonstrations from train before the input (harness.training.shots); 0: zero-shot
    "shots": 0,
    "demonstrations": "random",
}


@dataclass(frozen=True)
class Prompt:
    """The prompt around the indication: ``prefix + lead + text + suffix``.

    The prefix stops before the whitespace that leads into the indication: byte-level BPE joins
    a word's leading space to the word (``'Ġsepsis'``), so ``lead`` is tokenised with the text,
    as it is in the whole prompt, and the prefix's cached tokens end where the text's begin.

    A sentence pair's prompt is ``prefix + lead + text + between + pair_lead + text_pair +
    suffix``, split the same way; each text is truncated on its own. The first text's trailing
    whitespace is dropped, so that it cannot merge with the newline that ``between`` starts with.
    """

    prefix: str
    lead: str
    suffix: str
    between: str = ""
    pair_lead: str = ""

    def text_ids(self, tokenizer: Any, texts: Sequence[Input], max_length: int) -> list[list[int]]:
        """Each input's tokens, truncated; the end of the prompt never is."""
        if not self.between:
            leading = [self.lead + text for text in texts]
            return tokenizer(leading, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
        firsts, seconds = self.pair_pieces(tokenizer, texts, max_length)
        middle = tokenizer.encode(self.between, add_special_tokens=False)
        return [first + middle + second for first, second in zip(firsts, seconds)]

    def pair_pieces(self, tokenizer: Any, pairs: Sequence[Any], max_length: int | None) -> tuple[list, list]:
        """Each pair's first and second text as tokens (truncated to ``max_length`` if given)."""
        cut = {"truncation": True, "max_length": max_length} if max_length else {}
        firsts = tokenizer([self.lead + a.rstrip() for a, _ in pairs], add_special_tokens=False, **cut)
        seconds = tokenizer([self.pair_lead + b for _, b in pairs], add_special_tokens=False, **cut)
        return firsts["input_ids"], seconds["input_ids"]

    def length_report(self, tokenizer: Any, texts: Sequence[Input], max_length: int) -> dict[str, Any]:
        """How many inputs are longer than ``max_length`` tokens (for a pair: either text) and
        how many tokens truncation drops."""
        if self.between:
            firsts, seconds = self.pair_pieces(tokenizer, texts, None)
            over = [max(len(a) - max_length, 0) + max(len(b) - max_length, 0) for a, b in zip(firsts, seconds)]
        else:
            ids = tokenizer([self.lead + text for text in texts], add_special_tokens=False)["input_ids"]
            over = [max(len(row) - max_length, 0) for row in ids]
        return {
            "max_tokens": max_length,
            "inputs": len(texts),
            "truncated": sum(1 for cut in over if cut),
            "tokens_cut": sum(over),
            "long_text": "truncate",
            "windows": len(texts),
        }


def render_prompt(tokenizer: Any, answers: Mapping[str, str], wording: Wording = INDICATIONS_WORDING) -> Prompt:
    """The prompt, with the model's chat template if it has one."""
    user = wording.instruction.format(
        categories=", ".join(answers.values()), text=PLACEHOLDER, text_pair=PAIR_PLACEHOLDER
    )
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": wording.system}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = f"{wording.system}\n\n{user}\n{wording.cue}"
    prefix, _, suffix = text.partition(PLACEHOLDER)
    stem = prefix.rstrip(" ")
    if PAIR_PLACEHOLDER not in suffix:
        return Prompt(prefix=stem, lead=prefix[len(stem) :], suffix=suffix)
    between, _, suffix = suffix.partition(PAIR_PLACEHOLDER)
    middle = between.rstrip(" ")
    return Prompt(stem, prefix[len(stem) :], suffix, between=middle, pair_lead=between[len(middle) :])


def answer_token_ids(
    tokenizer: Any, labels: Sequence[str], answers: Mapping[str, str], suffix: str, where: str = ""
) -> list[list[int]]:
    """Each label's answer as tokens, tokenised as it follows the end of the prompt.

    ``where`` names the setting a user rewords them in (e.g. " in label_descriptions").
    """
    missing = [label for label in labels if label not in answers]
    if missing:
        raise PluginError("zeroshot", f"no answer word for labels {missing}; set recipe.answers for them")
    tail = tokenizer.encode(suffix, add_special_tokens=False)
    ids = []
    for label in labels:
        whole = tokenizer.encode(suffix + answers[label], add_special_tokens=False)
        if whole[: len(tail)] != tail or len(whole) == len(tail):
            raise PluginError(
                "zeroshot", f"answer {answers[label]!r} merges with the end of the prompt; reword it{where}"
            )
        ids.append(whole[len(tail) :])
    for (a, a_ids), (b, b_ids) in itertools.permutations(zip(labels, ids), 2):
        if b_ids[: len(a_ids)] == a_ids:
            raise PluginError(
                "zeroshot",
                f"answers {answers[a]!r} and {answers[b]!r}: the tokens of the first start the second, "
                f"which could then never win; reword them{where}",
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
    mean: bool = False  # score each answer by its tokens' mean log-probability, not their sum

    @classmethod
    def of(cls, answer_ids: Sequence[Sequence[int]], mean: bool = False) -> PackedAnswers:
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
            mean=mean,
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
        """(batch, answers): the sum of each answer's token log-probabilities (``mean``: their mean)."""
        import torch

        device = logits.device
        picked = torch.log_softmax(logits.float(), dim=-1)[:, self.read_at.to(device), self.read_token.to(device)]
        total = torch.zeros(len(logits), self.answers, device=device)
        total.index_add_(1, self.read_answer.to(device), picked)
        if self.mean:
            total /= torch.bincount(self.read_answer, minlength=self.answers).to(device)
        return total


@dataclass(eq=False)
class Demonstrations:
    """Few-shot: ``shots`` training rows shown before each input, inside the user's message.

    Each demonstration is the input's own lead-in (``marker``, e.g. "Indication:") left in the
    cached prefix, then the row as the prompt reads an input (``lead + text``; for a sentence
    pair ``lead + text + between + pair_lead + text_pair``) and ``"\n" + cue + " " + answer +
    "\n" + marker``, so that the input follows the last one as it follows the instruction in a
    zero-shot prompt. Demonstrations
    that would take the prompt past the model's context are dropped from the end (counted).
    """

    shots: int
    method: str
    seed: int
    texts: tuple[Input, ...]  # the training rows that may be shown
    rows: tuple[int, ...]  # their row numbers in train
    answers: np.ndarray  # each one's answer index
    answer_words: tuple[str, ...]
    cue: str
    marker: str
    prompt: Prompt
    context: int  # the model's maximum positions
    model_name: str
    run_dir: str | None
    dropped: int = 0
    last_shown: list[list[int]] = field(default_factory=list)  # per input of the last call: train rows shown

    def token_rows(
        self, tokenizer: Any, texts: Sequence[Input], max_length: int, room: Sequence[int]
    ) -> list[list[int]]:
        """Each input's demonstrations as tokens, at most ``room[i]`` of them for input i."""
        from harness.training.shots import choose, record

        y = np.eye(len(self.answer_words), dtype=np.int8)[self.answers]
        picked = choose(self.method, self.shots, texts, self.texts, y, self.seed)
        pieces: dict[int, list[int]] = {}
        out, shown = [], []
        for chosen, budget in zip(picked, room):
            ids: list[int] = []
            kept = []
            for index in chosen:
                if index not in pieces:
                    text = self.prompt.text_ids(tokenizer, [self.texts[index]], max_length)[0]
                    tail = f"\n{self.cue} {self.answer_words[self.answers[index]]}\n{self.marker}"
                    pieces[index] = text + tokenizer.encode(tail, add_special_tokens=False)
                if len(ids) + len(pieces[index]) > budget:
                    self.dropped += len(chosen) - len(kept)  # this one and every later one
                    break
                ids += pieces[index]
                kept.append(self.rows[index])
            out.append(ids)
            shown.append(kept)
        record(self.run_dir, self.model_name, texts, shown)
        self.last_shown = shown
        return out


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
    columns: int | None = None  # the first answers that are labels (binary: 1, the positive one); None: all
    cached_prefix: Any = None  # the prompt's key/value cache (see prefix_cache)
    demonstrations: Demonstrations | None = None  # few-shot (recipe shots > 0)

    @property
    def last_demonstrations(self) -> list[list[int]] | None:
        """Per input of the last call, the train rows shown (the per-row predictions keep them)."""
        return None if self.demonstrations is None else self.demonstrations.last_shown

    def prefix_cache(self) -> Any:
        """The shared prompt's key/value cache, computed once (outside autocast: fp32 on a CPU)."""
        import torch

        if self.cached_prefix is None:
            with torch.inference_mode():
                ids = self.prefix_ids.to(self.device)
                self.cached_prefix = self.model(input_ids=ids, use_cache=True).past_key_values
        return self.cached_prefix

    def cast_for_inference(self) -> None:
        """Keep the prefix cache as computed, then store the linear layers in the autocast
        dtype once instead of autocast casting them for every batch (same predictions)."""
        from harness.training.precision import cast_for_inference

        self.prefix_cache()
        cast_for_inference(self.model, self.device, self.autocast_dtype)

    def predict_scores(self, texts: Sequence[Input]) -> np.ndarray:
        """Each answer's probability, normalised over the answers (and calibrated); a binary
        task gets only the positive answer's column."""
        scores = self._answer_scores(texts)
        return scores if self.columns is None else scores[:, : self.columns]

    def length_report(self, texts: Sequence[Input]) -> dict[str, Any]:
        return self.prompt.length_report(self.tokenizer, texts, self.max_length)

    def _answer_scores(self, texts: Sequence[Input]) -> np.ndarray:
        import torch

        from harness.training.loop import distinct, length_grouped_batches
        from harness.training.precision import autocast

        scores = np.zeros((len(texts), self.answers.answers), dtype=np.float32)
        if not texts:
            return scores
        tail = self.tokenizer.encode(self.prompt.suffix, add_special_tokens=False)
        rows = [ids + tail for ids in self.prompt.text_ids(self.tokenizer, texts, self.max_length)]
        cache = self.prefix_cache()
        start = self.prefix_ids.shape[1]
        if self.demonstrations is not None:
            shown = self.demonstrations
            room = [shown.context - start - len(self.answers.fed) - len(row) for row in rows]
            demos = shown.token_rows(self.tokenizer, texts, self.max_length, room)
            rows = [demo + row for demo, row in zip(demos, rows)]
            self.details["demonstrations_dropped"] = shown.dropped
        unique, inverse = distinct([tuple(row) for row in rows])  # a repeated prompt is scored once
        rows = [list(row) for row in unique]
        scores = np.zeros((len(rows), self.answers.answers), dtype=np.float32)
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
        scores = scores[inverse]
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
    item: Input = (text, text) if prompt.between else text
    pieces = prefix_ids + prompt.text_ids(tokenizer, [item], 10_000)[0]
    pieces += tokenizer.encode(prompt.suffix, add_special_tokens=False)
    middle = prompt.between + prompt.pair_lead + text if prompt.between else ""
    whole = tokenizer.encode(prompt.prefix + prompt.lead + text + middle + prompt.suffix, add_special_tokens=False)
    if pieces != whole:
        raise PluginError("zeroshot", "this tokenizer splits the prompt differently in pieces than whole")


def fit_zero_shot(request: FitRequest) -> FittedClassifier:
    """No training: load the model, render the prompt, tokenise the answers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.training.loading import set_padding, weights_folder
    from harness.training.loop import TrainingConfig, count_parameters, quiet_transformers, seed_everything
    from harness.training.precision import dtype_summary, inference_dtype

    setup = request.setup
    reason = zero_shot_refuses(request.labels, setup)
    if reason:
        raise PluginError("zeroshot", reason)
    seed_everything(request.seed)
    folder = weights_folder(request)
    if is_indications(request.labels, setup):  # today's prompt and the recipe's answers, unchanged
        answers, wording, where = dict(request.recipe.get("answers", ANSWERS)), INDICATIONS_WORDING, ""
        keys = request.labels
    else:
        answers, wording, where = task_answers(request.labels, setup), task_wording(setup), " in label_descriptions"
        keys = tuple(answers)
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
    prompt = render_prompt(tokenizer, answers, wording)
    prefix_ids = tokenizer(prompt.prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
    check_prompt_split(tokenizer, prompt, prefix_ids[0].tolist())
    answer_ids = answer_token_ids(tokenizer, keys, answers, prompt.suffix, where)
    params, _ = count_parameters(model)
    dtype = inference_dtype(request.device, TrainingConfig.from_recipe(request.recipe))
    classifier = ZeroShotClassifier(
        model=model,
        tokenizer=tokenizer,
        prompt=prompt,
        prefix_ids=prefix_ids,
        answers=PackedAnswers.of(answer_ids, mean=answer_score(request.recipe) == "mean"),
        device=request.device,
        batch_size=int(request.recipe.get("batch_size", 32)),
        max_length=int(request.recipe.get("max_length", 32)),
        autocast_dtype=dtype,
        params=params,
        details={
            "prompt_prefix_tokens": int(prefix_ids.shape[1]),
            "answer_tokens": {label: tokenizer.convert_ids_to_tokens(ids) for label, ids in zip(keys, answer_ids)},
            "trained": False,
            "autocast": str(dtype),
            "trainable_dtype": None,  # nothing is trained: the whole model is frozen
            "frozen_dtype": dtype_summary(model.parameters()),
            "answer_score": answer_score(request.recipe),
            "problem": setup.problem,
            **({"pair_encoding": "joined"} if setup.text_pairs else {}),
            "long_text": "truncate",
        },
        progress=request.progress,
        decision_rule=decision_rule_for(setup),
        columns=1 if setup.problem == "binary" else None,
    )
    classifier.demonstrations = demonstrations_for(request, prompt, wording, tuple(answers[k] for k in keys), model)
    if classifier.demonstrations is not None:
        classifier.details.update(
            shots=classifier.demonstrations.shots, demonstrations=classifier.demonstrations.method
        )
    classifier.cast_for_inference()
    if request.recipe.get("calibrate", True):
        content_free = [(c, c) for c in CONTENT_FREE] if setup.text_pairs else list(CONTENT_FREE)
        classifier.prior = classifier._answer_scores(content_free).mean(axis=0)
        classifier.details["calibration"] = {
            "content_free_inputs": list(CONTENT_FREE),
            "prior": {label: round(float(p), 4) for label, p in zip(keys, classifier.prior)},
        }
    return classifier


def answer_score(recipe: Mapping[str, Any]) -> str:
    """The recipe's ``answer_score``: "sum" (the answer's log-probability) or "mean" (per token)."""
    score = recipe.get("answer_score", "sum")
    if score not in ("sum", "mean"):
        raise PluginError("zeroshot", f"recipe: answer_score is 'sum' or 'mean'; got {score!r}")
    return str(score)


def demonstrations_for(
    request: FitRequest, prompt: Prompt, wording: Wording, answer_words: tuple[str, ...], model: Any
) -> Demonstrations | None:
    """The recipe's few-shot demonstrations (``shots``, ``demonstrations``), or None for zero-shot."""
    from harness.training.shots import METHODS

    shots, method = int(request.recipe.get("shots", 0)), request.recipe.get("demonstrations", "random")
    if method not in METHODS or shots < 0:
        raise PluginError(
            "zeroshot", f"recipe: shots >= 0 and demonstrations in {', '.join(METHODS)}; got {shots}, {method!r}"
        )
    if shots == 0:
        return None
    y = np.asarray(request.train.y)
    if request.setup.problem == "binary":
        answers = np.where(y[:, 0] > 0, 0, 1)  # the positive answer, or "not " + it
    else:
        answers = np.where(y.any(axis=1), y.argmax(axis=1), -1)  # the first label; none: never shown
    rows = np.flatnonzero(answers >= 0)
    return Demonstrations(
        shots=shots,
        method=method,
        seed=request.seed,
        texts=tuple(request.train.inputs[i] for i in rows),
        rows=tuple(int(i) for i in rows),
        answers=answers[rows],
        answer_words=answer_words,
        cue=wording.cue,
        marker=prompt.prefix.rsplit("\n", 1)[-1],
        prompt=prompt,
        context=int(getattr(model.config, "max_position_embeddings", 2048)),
        model_name=request.spec.name,
        run_dir=request.run_dir,
    )


@hookimpl
def harness_add_models(register: Any) -> None:
    register.add(
        ModelSpec(
            name="smollm2-135m-zeroshot",
            family="decoder",
            architecture="decoder",
            fine_tuning_regime="zero-shot (constrained answer)",
            fit=fit_zero_shot,
            refuses=zero_shot_refuses,
            trains=False,  # a prompt: it reads no training rows
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
