"""The torch token-classification loop (the ``ner`` task): one IOB2 tag per word.

Every torch tagger uses it (encoders fully fine-tuned, decoders with LoRA or QLoRA): a
``...ForTokenClassification`` model, one forward pass per sentence, never generation.

Words become sub-word tokens through a *fast* tokenizer's character offsets: the words are
joined with single spaces, tokenised with ``return_offsets_mapping=True``, and each token
belongs to the word whose characters contain its start (leading whitespace skipped: a
byte-level BPE's ``" word"`` token starts at the space, a SentencePiece ``"▁word"`` may too).
One sub-word of each word carries the word's tag, and the word's prediction is read there: its
first (recipe key ``label_subword = "first"``, the default: encoders) or its last (``"last"``:
decoders, whose causal attention lets a word's first piece see only the words before it and
that piece; " metformin" is ``Ġmet·form·in``). Other sub-words, special tokens and padding get
-100 and no loss (:func:`align`). A sentence longer than ``max_length`` tokens is cut: its words
past the cut (for ``"last"``, also a word cut after some of its pieces) get no prediction, are
tagged ``O`` and counted (``truncated_words``).

Training reuses :mod:`harness.training.loop`: the seeding, the device and precision choices, AdamW
with the head's own learning rate, the linear schedule, length-grouped batches padded only to
their longest member, the out-of-memory back-off (gradient accumulation in training, split
batches in prediction), and the best epoch's trainable weights restored at the end. The loss is
the cross-entropy over the labelled tokens; the best epoch is the one with the highest
eval strict micro F1 (exact span and type, :func:`harness.scoring.ner_metrics.ner_report`).

Decoding takes the argmax at each word's labelled token, then repairs the sequence to valid IOB2
(an ``I-X`` that continues no ``X`` entity becomes ``B-X``, :func:`repair_iob2`), so
:meth:`TorchTagger.predict_tags` always returns valid IOB2 tags from the request's tag set.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.progress import ProgressFactory, no_progress
from harness.training import loop as training, optimizer, precision
from harness.training.loop import BatchSizes, TrainingConfig

if TYPE_CHECKING:
    import torch

    from harness.model import TagRequest

IGNORE = -100  # the label of every token that carries no word's tag (cross-entropy's ignore_index)
LABEL_SUBWORDS = ("first", "last")  # which sub-word of a word carries its tag (recipe key ``label_subword``)


class SlowTokenizerError(TypeError):
    """Tagging needs a fast (Rust ``tokenizers``) tokenizer: only those report character offsets."""


# --- words -> sub-word tokens -----------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """One sentence tokenised for tagging."""

    features: dict[str, list[int]]  # input_ids, attention_mask (...), not padded
    labels: list[int]  # per token: the word's tag id on its labelled token, IGNORE elsewhere
    word_token: list[int]  # per word: the index of its labelled (first or last) token, -1 if none
    truncated: int  # words cut by ``max_length`` (no labelled token, tagged O)

    @property
    def labelled(self) -> int:
        return sum(label != IGNORE for label in self.labels)

    @property
    def untokenised(self) -> int:
        """Words before the cut that produced no token at all (e.g. characters a tokenizer drops)."""
        return sum(t < 0 for t in self.word_token) - self.truncated


def check_fast(tokenizer: Any) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise SlowTokenizerError(
            f"token tagging needs a fast tokenizer (one with character offsets); {type(tokenizer).__name__} is not: "
            "give the model a tokenizer.json, or install the `tokenizers` package so transformers can convert it"
        )


def check_label_subword(value: Any) -> str:
    if value not in LABEL_SUBWORDS:
        raise ValueError(f"label_subword must be 'first' or 'last', not {value!r}")
    return value


def label_subword_of(recipe: Mapping[str, Any]) -> str:
    """The recipe's ``label_subword`` ("first" where it has none)."""
    return check_label_subword(recipe.get("label_subword", "first"))


def align(
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    max_length: int,
    tags: Sequence[Sequence[str]] | None = None,
    tag_ids: Mapping[str, int] | None = None,
    label_subword: str = "first",
) -> list[Alignment]:
    """Tokenise ``sentences`` (each a sequence of words) and give each word's first or last
    token (``label_subword``) its tag.

    Without ``tags`` (prediction) every label is IGNORE. A tag missing from ``tag_ids`` or a
    sentence whose tags do not match its words one to one is a ValueError.
    """
    check_fast(tokenizer)
    check_label_subword(label_subword)
    for sentence in sentences:
        if isinstance(sentence, str):
            raise TypeError("a sentence is a sequence of words, not a string: split it into words first")
    ids = tag_id_rows(sentences, tags, tag_ids) if tags is not None else None
    if not sentences:
        return []
    texts = [" ".join(words) for words in sentences]
    encoded = tokenizer(
        texts, truncation=True, max_length=max_length, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    keys = [key for key in encoded.keys() if key not in ("offset_mapping", "special_tokens_mask")]
    out = []
    for i, words in enumerate(sentences):
        features = {key: list(encoded[key][i]) for key in keys}
        offsets, special = encoded["offset_mapping"][i], encoded["special_tokens_mask"][i]
        first, last, last_end = _word_tokens(texts[i], words, offsets, special)
        hit_limit = len(features["input_ids"]) >= max_length
        starts = np.cumsum([0, *(len(w) + 1 for w in words[:-1])]) if words else np.array([], dtype=int)
        cut = {w for w, t in enumerate(first) if t < 0 and hit_limit and starts[w] >= last_end}
        chosen = first
        if label_subword == "last":
            # The word the cut runs through has lost its last piece (its first may be all it kept).
            ends = starts + np.array([len(w) for w in words], dtype=int)
            cut |= {w for w, t in enumerate(last) if t >= 0 and hit_limit and ends[w] > last_end}
            chosen = [-1 if w in cut else t for w, t in enumerate(last)]
        truncated = len(cut)
        labels = [IGNORE] * len(features["input_ids"])
        if ids is not None:
            for w, t in enumerate(chosen):
                if t >= 0:
                    labels[t] = ids[i][w]
        if training.fill_empty(tokenizer, features):
            labels = [IGNORE]
        out.append(Alignment(features, labels, chosen, truncated))
    return out


def _word_tokens(
    text: str, words: Sequence[str], offsets: Sequence[tuple[int, int]], special: Sequence[int]
) -> tuple[list[int], list[int], int]:
    """(per word, the index of its first token or -1; of its last token or -1; the end of the
    last content token)."""
    owner = np.full(len(text), -1, dtype=np.int64)  # character -> word
    start = 0
    for w, word in enumerate(words):
        owner[start : start + len(word)] = w
        start += len(word) + 1
    first, last = [-1] * len(words), [-1] * len(words)
    last_end = 0
    for t, ((begin, end), is_special) in enumerate(zip(offsets, special)):
        if is_special:
            continue
        while begin < end and text[begin].isspace():  # BPE's " word" / SentencePiece's "▁word"
            begin += 1
        if begin >= end:  # a token of whitespace only (e.g. SmolLM2's lone "Ġ" before a digit)
            continue
        last_end = max(last_end, end)
        w = int(owner[begin])
        if w >= 0:
            if first[w] < 0:
                first[w] = t
            last[w] = t
    return first, last, last_end


def tag_id_rows(
    sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], tag_ids: Mapping[str, int] | None
) -> list[list[int]]:
    """Each sentence's tags as ids; ValueError naming the sentence for a tag outside the tag set
    or a sentence whose tags do not match its words one to one."""
    if tag_ids is None:
        raise ValueError("align: tags need tag_ids")
    if len(tags) != len(sentences):
        raise ValueError(f"{len(tags)} tag sequences for {len(sentences)} sentences")
    rows = []
    for i, (words, sentence_tags) in enumerate(zip(sentences, tags)):
        if len(sentence_tags) != len(words):
            raise ValueError(f"sentence {i}: {len(words)} words but {len(sentence_tags)} tags")
        unknown = [tag for tag in sentence_tags if tag not in tag_ids]
        if unknown:
            raise ValueError(f"sentence {i}: tag {unknown[0]!r} is not in the tag set {sorted(tag_ids)}")
        rows.append([tag_ids[tag] for tag in sentence_tags])
    return rows


def pad_labels(labels: Sequence[Sequence[int]], width: int, side: str) -> np.ndarray:
    """Labels padded with IGNORE to ``width`` on the tokenizer's padding side."""
    out = np.full((len(labels), width), IGNORE, dtype=np.int64)
    for row, values in enumerate(labels):
        if side == "left":
            out[row, width - len(values) :] = values
        else:
            out[row, : len(values)] = values
    return out


# --- IOB2 -------------------------------------------------------------------------------------


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Valid IOB2: an ``I-X`` that does not continue an entity of type ``X`` becomes ``B-X``."""
    out: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def entity_types(tag_set: Sequence[str]) -> list[str]:
    """The entity types of an IOB2 tag set, in its order."""
    return [tag[2:] for tag in tag_set if tag.startswith("B-")]


def decode(word_logits: np.ndarray, tag_set: Sequence[str]) -> list[str]:
    """Argmax per word (a word without logits, NaN rows, is ``O``), repaired to valid IOB2."""
    if not len(word_logits):
        return []
    known = ~np.isnan(word_logits).any(axis=1)
    best = np.where(known, np.nan_to_num(word_logits, nan=-np.inf).argmax(axis=1), 0)
    return repair_iob2([tag_set[i] if k else "O" for i, k in zip(best, known)])


def word_cross_entropy(
    word_logits: Sequence[np.ndarray], gold: Sequence[Sequence[str]], tag_ids: Mapping[str, int]
) -> float:
    """Mean cross-entropy over the words that have logits (the eval split's loss)."""
    total, count = 0.0, 0
    for logits, tags in zip(word_logits, gold):
        known = ~np.isnan(logits).any(axis=1) if len(logits) else np.zeros(0, dtype=bool)
        if not known.any():
            continue
        rows = logits[known].astype(np.float64)
        target = np.array([tag_ids[t] for t, k in zip(tags, known) if k])
        peak = rows.max(axis=1)
        log_z = peak + np.log(np.exp(rows - peak[:, None]).sum(axis=1))
        total += float((log_z - rows[np.arange(len(rows)), target]).sum())
        count += len(rows)
    return total / count if count else 0.0


# --- the model: batches in, per-word logits out ------------------------------------------------


def collate_tagged(
    tokenizer: Any, aligned: Sequence[Alignment], config: TrainingConfig
) -> tuple[dict[str, torch.Tensor], np.ndarray]:
    """(padded inputs, labels padded the same way), the batch padded to its longest row."""
    inputs = training.collate(tokenizer, [a.features for a in aligned], config)
    labels = pad_labels([a.labels for a in aligned], inputs["input_ids"].shape[1], tokenizer.padding_side)
    return inputs, labels


def predict_word_logits(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    config: TrainingConfig,
    device: str,
    progress: ProgressFactory = no_progress,
    description: str = "predict",
    sizes: BatchSizes | None = None,
    label_subword: str = "first",
) -> tuple[list[np.ndarray], int]:
    """(per sentence, its words' logits at their first or last token (``label_subword``), words x
    tags, NaN rows for words without one; the words cut by ``max_length``), in length-grouped
    batches with dynamic padding.

    Out of GPU memory, a batch is split as :func:`harness.training.loop.predict_in_batches` does.
    """
    sizes = sizes if sizes is not None else BatchSizes.from_config(config)
    aligned = align(tokenizer, sentences, config.max_length, label_subword=label_subword)
    labels = model.config.num_labels
    out = [np.full((len(words), labels), np.nan, dtype=np.float32) for words in sentences]
    batches = training.length_grouped_batches([len(a.features["input_ids"]) for a in aligned], config.eval_batch_size)
    dtype = precision.inference_dtype(device, config)
    left = tokenizer.padding_side == "left"

    def predict_part(part: np.ndarray) -> None:
        import torch

        inputs, _ = collate_tagged(tokenizer, [aligned[i] for i in part], config)
        inputs = inputs.to(device)
        width = inputs["input_ids"].shape[1]
        with precision.autocast(device, dtype):
            logits = model(**inputs).logits
        rows, columns, owners = [], [], []
        for row, i in enumerate(part):
            shift = width - len(aligned[i].features["input_ids"]) if left else 0
            for w, t in enumerate(aligned[i].word_token):
                if t >= 0:
                    rows.append(row)
                    columns.append(t + shift)
                    owners.append((i, w))
        if not rows:
            return
        picked = logits[torch.as_tensor(rows, device=logits.device), torch.as_tensor(columns, device=logits.device)]
        values = picked.float().cpu().numpy()
        for (i, w), value in zip(owners, values):
            out[i][w] = value

    model.eval()
    training.predict_in_batches(batches, sizes, predict_part, progress, description)
    return out, sum(a.truncated for a in aligned)


# --- training ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagEpoch:
    epoch: int
    train_loss: float
    eval_loss: float
    eval_f1_strict: float
    train_seconds: float


@dataclass(frozen=True)
class TaggingResult:
    best_epoch: int
    history: tuple[TagEpoch, ...]
    train_rows: int
    train_tokens: int  # tokens of every training batch of every epoch, padding included
    train_words: int
    truncated_words: int  # training words past max_length (no loss, no prediction)
    eval_truncated_words: int
    untokenised_words: int  # training words that produced no token at all
    batch_sizes: BatchSizes
    best_eval_tags: list[list[str]] | None = None  # the eval split's predictions at the best epoch

    def details(self) -> dict[str, Any]:
        seconds = sum(r.train_seconds for r in self.history) or float("inf")
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.history),
            "eval_f1_strict_by_epoch": [round(r.eval_f1_strict, 6) for r in self.history],
            "eval_loss_by_epoch": [round(r.eval_loss, 6) for r in self.history],
            "train_loss_by_epoch": [round(r.train_loss, 6) for r in self.history],
            "train_sentences_per_second": round(len(self.history) * self.train_rows / seconds, 2),
            "train_rows_used": self.train_rows,
            "train_words": self.train_words,
            "train_tokens": self.train_tokens,
            "truncated_words": self.truncated_words,
            "eval_truncated_words": self.eval_truncated_words,
            "untokenised_words": self.untokenised_words,
            **self.batch_sizes.details(),
        }


def strict_micro_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], types: Sequence[str]) -> float:
    from harness.scoring.ner_metrics import ner_report

    return float(ner_report(gold, predicted, types)["strict"]["micro"]["f1"])


def train_tagger(model: Any, tokenizer: Any, request: TagRequest, head_prefixes: Sequence[str] = ()) -> TaggingResult:
    """Fine-tune ``model`` (a ``...ForTokenClassification`` with ``len(request.tag_set)`` labels)
    in place; on return it holds the best epoch's weights and is in eval mode."""
    import torch
    import torch.nn.functional as F

    config = TrainingConfig.from_recipe(request.recipe)
    subword = label_subword_of(request.recipe)
    tag_set = tuple(request.tag_set)
    tag_ids = {tag: i for i, tag in enumerate(tag_set)}
    types = entity_types(tag_set)
    if model.config.num_labels != len(tag_set):
        raise ValueError(f"the model has {model.config.num_labels} labels for a tag set of {len(tag_set)}")
    training.seed_everything(request.seed)
    precision.prepare_device(model, request.device, config)
    train = request.train.sample(config.max_train_rows, request.seed)
    aligned = align(tokenizer, train.sentences, config.max_length, train.tags, tag_ids, label_subword=subword)
    tag_id_rows(request.eval.sentences, request.eval.tags, tag_ids)  # bad eval tags fail before training
    labelled = np.array([a.labelled for a in aligned], dtype=np.int64)
    lengths = [len(a.features["input_ids"]) for a in aligned]
    rng = np.random.default_rng(request.seed)
    stepper = optimizer.optimizer_stepper(model, config, request.device, head_prefixes, len(aligned))
    sizes = BatchSizes.from_config(config)
    dtype = precision.autocast_dtype(request.device, config)
    device = request.device

    def backward(rows: np.ndarray, share: float) -> tuple[float, int]:
        inputs, labels = collate_tagged(tokenizer, [aligned[i] for i in rows], config)
        inputs = inputs.to(device)
        target = torch.as_tensor(labels, device=device)
        with precision.autocast(device, dtype):
            logits = model(**inputs).logits
        count = int((target != IGNORE).sum())
        summed = F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), ignore_index=IGNORE, reduction="sum")
        loss = summed / max(1, count)  # a pass without labelled tokens: zero loss, zero gradient
        stepper.backward(loss * share)
        return loss.item(), int(inputs["input_ids"].numel())

    history: list[TagEpoch] = []
    tokens, eval_truncated = 0, 0
    best: tuple[float, int, dict[str, torch.Tensor], list[list[str]]] | None = None
    for epoch in range(1, config.epochs + 1):
        batches = training.epoch_batches(lengths, config, rng)
        started = time.perf_counter()
        model.train()
        with request.progress(f"epoch {epoch}/{config.epochs}", len(batches)) as advance:
            totals = training.accumulated_epoch(
                batches, stepper, sizes, backward, advance, weight_of=lambda rows: float(labelled[rows].sum())
            )
        tokens += totals.tokens
        seconds = time.perf_counter() - started
        word_logits, eval_truncated = predict_word_logits(
            model,
            tokenizer,
            request.eval.sentences,
            config,
            device,
            request.progress,
            f"eval {epoch}/{config.epochs}",
            sizes,
            subword,
        )
        predicted = [decode(logits, tag_set) for logits in word_logits]
        f1 = strict_micro_f1(request.eval.tags, predicted, types)
        eval_loss = word_cross_entropy(word_logits, request.eval.tags, tag_ids)
        history.append(TagEpoch(epoch, totals.loss, eval_loss, f1, seconds))
        if best is None or f1 > best[0]:  # ties keep the earlier epoch
            best = (f1, epoch, training.snapshot_trainable(model), predicted)
    if best is not None:
        training.restore_trainable(model, best[2])
    model.eval()
    return TaggingResult(
        best_epoch=best[1] if best is not None else 0,
        history=tuple(history),
        train_rows=len(aligned),
        train_tokens=tokens,
        train_words=sum(len(words) for words in train.sentences),
        truncated_words=sum(a.truncated for a in aligned),
        eval_truncated_words=eval_truncated,
        untokenised_words=sum(a.untokenised for a in aligned),
        batch_sizes=sizes,
        best_eval_tags=best[3] if best is not None else None,
    )


@dataclass(eq=False)
class TorchTagger:
    """A fine-tuned token tagger (implements :class:`harness.model.FittedTagger`)."""

    model: Any
    tokenizer: Any
    config: TrainingConfig
    device: str
    tag_set: tuple[str, ...]
    params: int
    trainable_params: int
    details: dict[str, Any]
    progress: ProgressFactory = no_progress
    label_subword: str = "first"  # the sub-word it was trained at, and is read at
    # The sizes the fit ended at, shared with the training run (see TorchClassifier).
    batch_sizes: BatchSizes = field(kw_only=True)
    # The eval split was tagged with the best weights during training: tagging it again reuses
    # those tags (an LLM on a CPU takes tens of milliseconds per sentence). Test splits, whose
    # inference time the task records, are always predicted.
    known: tuple[tuple[tuple[str, ...], ...], list[list[str]]] | None = None

    def remember(self, sentences: Sequence[Sequence[str]], tags: list[list[str]] | None) -> TorchTagger:
        if tags is not None:
            self.known = (_key(sentences), tags)
        return self

    def predict_word_logits(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, words x tags logits at each word's labelled token (NaN: none)."""
        retries = self.batch_sizes.retries
        logits, truncated = predict_word_logits(
            self.model,
            self.tokenizer,
            sentences,
            self.config,
            self.device,
            self.progress,
            sizes=self.batch_sizes,
            label_subword=self.label_subword,
        )
        if truncated:
            self.details["predicted_truncated_words"] = self.details.get("predicted_truncated_words", 0) + truncated
        if self.batch_sizes.retries != retries:  # the runner copies details after each item: it sees the change
            self.details.update(self.batch_sizes.details())
        return logits

    def predict_tags(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One valid IOB2 tag (from ``tag_set``) per word; words past ``max_length`` tokens are ``O``."""
        if self.known is not None and len(sentences) == len(self.known[0]) and _key(sentences) == self.known[0]:
            return [list(tags) for tags in self.known[1]]
        return [decode(logits, self.tag_set) for logits in self.predict_word_logits(sentences)]


def _key(sentences: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(words) for words in sentences)


def fine_tune_tagger(
    model: Any, tokenizer: Any, request: TagRequest, head_prefixes: Sequence[str] = (), **details: Any
) -> TorchTagger:
    """Train with :func:`train_tagger` and wrap the result for the runner; ``details`` (e.g.
    newly initialised parameter names) are added to the fit's details."""
    result = train_tagger(model, tokenizer, request, head_prefixes)
    params, trainable = training.count_parameters(model)
    tagger = TorchTagger(
        model=model,
        tokenizer=tokenizer,
        config=TrainingConfig.from_recipe(request.recipe),
        device=request.device,
        tag_set=tuple(request.tag_set),
        params=params,
        trainable_params=trainable,
        details={
            **result.details(),
            "label_subword": label_subword_of(request.recipe),
            **precision.precision_details(model, request.device, TrainingConfig.from_recipe(request.recipe)),
            **details,
        },
        progress=request.progress,
        label_subword=label_subword_of(request.recipe),
        batch_sizes=result.batch_sizes,
    )
    return tagger.remember(request.eval.sentences, result.best_eval_tags)
