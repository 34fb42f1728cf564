"""Inputs to token ids for the torch classifiers: texts or sentence pairs, truncated or chunked.

One :class:`InputEncoding` says how a fitted classifier reads its inputs, the same way in
training and prediction:

- ``pair_encoding``: a (text, text_pair) input goes through the tokenizer's own pair encoding
  (``"tokenizer"``: BERT's ``[CLS] a [SEP] b [SEP]`` with segment ids 0/1, CANINE's, ByT5's
  ``a </s> b </s>``), truncated ``longest_first``; or, for a model with no pair encoding (a
  GPT-style decoder), is joined into one text with :data:`harness.model.PAIR_SEPARATOR`
  (``"joined"``).
- ``long_text``: an input longer than ``max_length`` tokens (special tokens counted as the
  tokenizer adds them) keeps its start (``"truncate"``) or becomes overlapping windows of
  ``max_length`` tokens (``"chunk"``): each window holds ``max_length`` minus the tokenizer's
  special tokens of content, the next window starting ``chunk_overlap`` tokens before the end of
  the last. For a pair only the first text is cut into windows; the second is kept whole in
  every window (the hypothesis of an NLI pair is short, and every window must see it). A joined
  pair is one text, and is cut into windows as one. Inputs that fit give one window, the same ids
  as under ``"truncate"``.

A joined pair that fits reads exactly its joined text's ids. One that does not is cut as a
tokenizer's ``longest_first`` cuts a pair: tokens come off the end of the longer of its two texts
until it fits, and the separator stays, so the start of the premise, the separator and (most of)
a short hypothesis are read (:func:`joined_pair_features`). Cutting the joined text from its end
would drop the hypothesis, the half of an NLI pair that decides its label.

:func:`encode_inputs` returns the windows and, for each, the row of the input it came from;
:func:`pool` turns window scores into one row per input (max of the sigmoids, or the mean of
the softmax probabilities); :func:`length_report` counts what a maximum length cuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harness.model import PAIR_SEPARATOR, Input, joined

Features = list[dict[str, list[int]]]


@dataclass(frozen=True)
class InputEncoding:
    max_length: int
    pair_encoding: Literal["tokenizer", "joined"] = "tokenizer"
    long_text: Literal["truncate", "chunk"] = "truncate"
    chunk_overlap: int = 32


@dataclass(frozen=True)
class Windows:
    """Token ids of every window and ``owner[i]``, the input row window ``i`` came from."""

    features: Features
    owner: np.ndarray

    def one_per_input(self, inputs: int) -> bool:
        return len(self.features) == inputs


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> Features:
    """Token ids per text, truncated to ``max_length`` and not padded."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    return _features(tokenizer, encoded, len(texts))


def _features(tokenizer: Any, encoded: Any, rows: int, drop: tuple[str, ...] = ()) -> Features:
    keys = [key for key in encoded.keys() if key not in drop]
    features = [{key: encoded[key][i] for key in keys} for i in range(rows)]
    for feature in features:
        fill_empty(tokenizer, feature)
    return features


def fill_empty(tokenizer: Any, feature: dict[str, list[int]]) -> bool:
    """Give an empty row one unknown token in place (True if it was empty).

    A decoder adds no special tokens, so a text its tokenizer drops entirely (e.g. only
    characters outside its vocabulary) would give an empty row, which no model can run on.
    """
    if feature["input_ids"]:
        return False
    filler = next(
        (t for t in (tokenizer.unk_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None), 0
    )
    for key in feature:
        feature[key] = [filler] if key == "input_ids" else [1 if key == "attention_mask" else 0]
    return True


def _split(inputs: Sequence[Input], encoding: InputEncoding) -> tuple[list[str], list[str] | None]:
    """(first texts, second texts or None): pairs joined where the model has no pair encoding."""
    pairs = sum(not isinstance(item, str) for item in inputs)
    if not pairs:
        return list(inputs), None  # type: ignore[arg-type]
    if pairs != len(inputs):
        raise ValueError(f"inputs mix {len(inputs) - pairs} texts with {pairs} sentence pairs; a task has one kind")
    if encoding.pair_encoding == "joined":
        return [joined(item) for item in inputs], None
    return [item[0] for item in inputs], [item[1] for item in inputs]


def encode_inputs(tokenizer: Any, inputs: Sequence[Input], encoding: InputEncoding) -> Windows:
    """The windows of ``inputs`` (one per input unless chunked) and the row each came from."""
    firsts, seconds = _split(inputs, encoding)
    if encoding.long_text == "chunk" and firsts:
        return _chunk(tokenizer, firsts, seconds, encoding)
    if seconds is None and encoding.pair_encoding == "joined" and inputs and not isinstance(inputs[0], str):
        features = joined_pair_features(tokenizer, inputs, encoding.max_length)  # type: ignore[arg-type]
    elif seconds is None:
        features = encode(tokenizer, firsts, encoding.max_length)
    else:
        encoded = tokenizer(firsts, seconds, truncation="longest_first", max_length=encoding.max_length)
        features = _features(tokenizer, encoded, len(firsts))
    return Windows(features, np.arange(len(features)))


def joined_pair_features(tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int) -> Features:
    """Token ids of each pair joined with :data:`harness.model.PAIR_SEPARATOR`, at most
    ``max_length`` with special tokens: the joined text's own ids where they fit, else the two
    texts' ids cut ``longest_first`` around the separator's (see the module's docstring)."""
    texts = [joined(pair) for pair in pairs]
    whole = tokenizer(texts, truncation=False)
    separator = tokenizer(PAIR_SEPARATOR, add_special_tokens=False)["input_ids"]
    room = max_length - tokenizer.num_special_tokens_to_add(pair=False) - len(separator)
    frame = special_tokens_around(tokenizer) if room >= 2 else None  # once, not per long pair
    features: Features = []
    for row, pair in enumerate(pairs):
        feature = {key: list(whole[key][row]) for key in whole.keys()}
        if len(feature["input_ids"]) > max_length:
            if frame is None or not set(feature) <= {"input_ids", "attention_mask", "token_type_ids"}:
                (feature,) = encode(tokenizer, [texts[row]], max_length)  # keep the joined text's start
            else:
                first, second = (tokenizer(text, add_special_tokens=False)["input_ids"] for text in pair)
                keep_first, keep_second = longest_first(len(first), len(second), room)
                ids = [*frame[0], *first[:keep_first], *separator, *second[:keep_second], *frame[1]]
                feature = {key: [0] * len(ids) for key in feature} | {
                    "input_ids": ids,
                    "attention_mask": [1] * len(ids),
                }
        fill_empty(tokenizer, feature)
        features.append(feature)
    return features


def special_tokens_around(tokenizer: Any) -> tuple[list[int], list[int]] | None:
    """The ids a tokenizer puts before and after one text's own (a decoder's BOS, say); None if
    its special tokens do not frame the text that way."""
    probe = "a"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    framed = tokenizer(probe)["input_ids"]
    for start in range(len(framed) - len(bare) + 1):
        if framed[start : start + len(bare)] == bare:
            return framed[:start], framed[start + len(bare) :]
    return None


def longest_first(first: int, second: int, room: int) -> tuple[int, int]:
    """How many tokens of each of two texts a ``longest_first`` cut to ``room`` tokens keeps, as a
    fast (Rust) tokenizer cuts a pair: the shorter whole if it fits in half the room (the longer
    gets the rest), else half the room each, the odd token to the longer (the second on a tie)."""
    if first + second <= room:
        return first, second
    shorter, longer = min(first, second), max(first, second)
    longer = max(shorter, room - shorter) if shorter <= room else shorter
    if shorter + longer > room:
        shorter, longer = room // 2, room // 2 + room % 2
    return (longer, shorter) if first > second else (shorter, longer)


def _chunk(tokenizer: Any, firsts: list[str], seconds: list[str] | None, encoding: InputEncoding) -> Windows:
    """Windows by the tokenizer's own overflow (a fast tokenizer), else by slicing the ids."""
    length, overlap = encoding.max_length, encoding.chunk_overlap
    content = length - tokenizer.num_special_tokens_to_add(pair=seconds is not None)
    if overlap < 0 or overlap >= content:
        raise ValueError(
            f"chunk_overlap {overlap} must be at least 0 and below the {content} content tokens a window holds"
        )
    if getattr(tokenizer, "is_fast", False):
        pair = {} if seconds is None else {"text_pair": seconds}
        encoded = tokenizer(
            firsts,
            **pair,
            truncation="only_first" if seconds is not None else True,
            max_length=length,
            stride=overlap,
            return_overflowing_tokens=True,
        )
        owner = np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64)
        return Windows(_features(tokenizer, encoded, len(owner), drop=("overflow_to_sample_mapping",)), owner)
    features: Features = []
    owners: list[int] = []
    for row, first in enumerate(firsts):
        ids = tokenizer(first, add_special_tokens=False)["input_ids"]
        pair_ids = None if seconds is None else tokenizer(seconds[row], add_special_tokens=False)["input_ids"]
        room = content - (0 if pair_ids is None else len(pair_ids))
        if room <= overlap:
            raise ValueError(
                f"the second text of row {row} leaves {room} tokens per window, not more than chunk_overlap"
            )
        for start in window_starts(len(ids), room, overlap):
            window = tokenizer.prepare_for_model(ids[start : start + room], pair_ids, add_special_tokens=True)
            feature = {key: list(window[key]) for key in tokenizer.model_input_names if key in window}
            fill_empty(tokenizer, feature)
            features.append(feature)
            owners.append(row)
    return Windows(features, np.asarray(owners, dtype=np.int64))


def window_starts(tokens: int, room: int, overlap: int) -> range:
    """Where each window of ``room`` tokens starts, stepping ``room - overlap``; one window
    (start 0) for a text that fits, the last window ending at or past the text's end."""
    step = room - overlap
    count = 1 if tokens <= room else 1 + -(-(tokens - room) // step)
    return range(0, count * step, step)


def pool(scores: np.ndarray, owner: np.ndarray, inputs: int, how: Literal["max", "mean"]) -> np.ndarray:
    """One row per input from its windows' rows: the max or the mean, column by column."""
    if how == "max":
        pooled = np.full((inputs, scores.shape[1]), -np.inf, dtype=scores.dtype)
        np.maximum.at(pooled, owner, scores)
        return pooled
    pooled = np.zeros((inputs, scores.shape[1]), dtype=np.float64)
    np.add.at(pooled, owner, scores)
    return (pooled / np.bincount(owner, minlength=inputs)[:, None]).astype(scores.dtype)


def length_report(tokenizer: Any, inputs: Sequence[Input], encoding: InputEncoding) -> dict[str, Any]:
    """How many inputs are longer than ``max_length`` tokens (special tokens counted), the tokens
    beyond it summed over inputs (what truncation drops), and the windows the model reads."""
    firsts, seconds = _split(inputs, encoding)
    if not firsts:
        lengths = np.zeros(0, dtype=np.int64)
    else:
        pair = {} if seconds is None else {"text_pair": seconds}
        lengths = np.asarray([len(ids) for ids in tokenizer(firsts, **pair, truncation=False)["input_ids"]])
    over = np.maximum(lengths - encoding.max_length, 0)
    windows = len(encode_inputs(tokenizer, inputs, encoding).features) if encoding.long_text == "chunk" else len(firsts)
    return {
        "max_tokens": encoding.max_length,
        "inputs": len(firsts),
        "truncated": int((over > 0).sum()),
        "tokens_cut": int(over.sum()),
        "long_text": encoding.long_text,
        "windows": windows,
    }
