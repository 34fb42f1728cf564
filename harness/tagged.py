"""Token-tagged text for the ``ner`` task: sentences of words with one IOB2 tag per word.

:class:`TaggedSplit` is what a tagging task gives a model plugin (:class:`harness.model.TagRequest`).
:func:`read_conll` and :func:`read_span_jsonl` read one from a file, checking every line first:
each problem is an :class:`~harness.errors.InputError` naming the file and the (1-based) line.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data import read_text_file, sample_rows
from harness.errors import InputError


def tag_set(types: Sequence[str]) -> tuple[str, ...]:
    """``O``, then ``B-`` and ``I-`` of each entity type, in the order given."""
    return ("O", *(f"{prefix}-{t}" for t in types for prefix in ("B", "I")))


def longest_match_tags(keys: Sequence[str], entries: Mapping[tuple[str, ...], str], longest: int) -> list[str]:
    """IOB2 tags for ``keys`` (normalised words): leftmost-longest match of up to ``longest`` words
    against ``entries`` (word tuple -> entity type); the silver labeller and the gazetteer both tag so."""
    tags = ["O"] * len(keys)
    start = 0
    while start < len(keys):
        for length in range(min(longest, len(keys) - start), 0, -1):
            entity = entries.get(tuple(keys[start : start + length]))
            if entity:
                tags[start : start + length] = [f"B-{entity}"] + [f"I-{entity}"] * (length - 1)
                start += length
                break
        else:
            start += 1
    return tags


@dataclass(frozen=True, eq=False)
class TaggedSplit:
    """One split of a tagged corpus: ``sentences[i]`` are words, ``tags[i]`` their IOB2 tags."""

    name: str
    sentences: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, ...], ...]
    source: str  # file path, or "embedded:<file>" for the shipped silver-standard data
    sha256: str
    synthetic: bool  # generated, or labelled by a program (silver), rather than by annotators
    public: bool

    def __len__(self) -> int:
        return len(self.sentences)

    def sample(self, limit: int | None, seed: int) -> TaggedSplit:
        """This split, or a random sample of ``limit`` sentences kept in their original order."""
        rows = sample_rows(len(self), limit, seed)
        if rows is None:
            return self
        return dataclasses.replace(
            self, sentences=tuple(self.sentences[i] for i in rows), tags=tuple(self.tags[i] for i in rows)
        )

    def entity_types(self) -> list[str]:
        return sorted({tag[2:] for sentence in self.tags for tag in sentence if tag != "O"})

    def provenance(self, types: Sequence[str]) -> dict[str, Any]:
        """What the leaderboard may say about this split: counts, never its words."""
        begins = Counter(tag[2:] for sentence in self.tags for tag in sentence if tag.startswith("B-"))
        return {
            "split": self.name,
            "source": self.source,
            "sha256": self.sha256,
            "rows": len(self),
            "synthetic": self.synthetic,
            "public": self.public,
            "support": {t: int(begins[t]) for t in types},  # entities (B- tags) per type
        }


def _check_tag(tag: str) -> str | None:
    """The problem with a tag, or None for ``O`` / ``B-X`` / ``I-X``."""
    if tag == "O" or (len(tag) > 2 and tag[:2] in ("B-", "I-")):
        return None
    return f"tag {tag!r} is not O, B-<type> or I-<type>"


def read_conll(
    path: Path, name: str, *, synthetic: bool = False, public: bool = False, source: str | None = None
) -> TaggedSplit:
    """Read a CoNLL-style file: one token and its IOB2 tag per line, a blank line between sentences.

    A line holding a tab is split on tabs (so a token may contain spaces), any other line on
    runs of whitespace. The token is the first column and the tag the last: a line with more
    columns (e.g. CoNLL-2003's ``word POS chunk tag``) keeps only those two. ``-DOCSTART-``
    lines are skipped and end the sentence before them. The file must be UTF-8.

    Refused, naming the file and line: a line with one column; a tag that is not ``O``,
    ``B-X`` or ``I-X``; an ``I-X`` that does not follow ``B-X`` or ``I-X`` (the file must be
    valid IOB2: a lenient reading would guess where the entity starts); an empty file; a file
    with no sentence (only ``-DOCSTART-`` lines). An empty sentence cannot occur (several
    blank lines are one break), nor can an empty or whitespace token (whitespace separates
    the columns).
    """
    text, digest = read_text_file(path)
    sentences: list[tuple[str, ...]] = []
    tags: list[tuple[str, ...]] = []
    words: list[str] = []
    labels: list[str] = []

    def end_sentence() -> None:
        if words:
            sentences.append(tuple(words))
            tags.append(tuple(labels))
            words.clear()
            labels.clear()

    # split("\n"), not splitlines(): the line numbers must be those an editor shows, and
    # splitlines() also breaks at form feeds, U+2028 and other rare separators.
    for number, line in enumerate(text.split("\n"), start=1):
        columns = [c.strip() for c in line.split("\t")] if "\t" in line else line.split()
        columns = [c for c in columns if c]
        if not columns:
            end_sentence()
            continue
        if columns[0] == "-DOCSTART-":
            end_sentence()
            continue
        if len(columns) == 1:
            raise InputError(
                str(path), f"line {number}: one column; expected a token and its tag separated by a tab or spaces"
            )
        token, tag = columns[0], columns[-1]
        problem = _check_tag(tag)
        if problem:
            raise InputError(str(path), f"line {number}: {problem}")
        if tag.startswith("I-"):
            previous = labels[-1] if labels else None
            if previous is None or previous == "O" or previous[2:] != tag[2:]:
                where = "starts a sentence" if previous is None else f"follows {previous!r}"
                raise InputError(str(path), f"line {number}: {tag!r} {where}; IOB2 needs a B-{tag[2:]} first")
        words.append(token)
        labels.append(tag)
    end_sentence()
    if not sentences:
        raise InputError(str(path), "no sentences: expected lines of a token and its tag")
    return TaggedSplit(
        name=name,
        sentences=tuple(sentences),
        tags=tuple(tags),
        source=source or str(path),
        sha256=digest,
        synthetic=synthetic,
        public=public,
    )


def token_offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token in ``text``, end exclusive, found in order.

    Each token is looked for after the end of the one before, so a tokenizer must return
    non-empty substrings of the text in their order (it may skip characters, e.g. spaces).
    Raises ValueError naming the first token (0-based) that breaks this.
    """
    offsets: list[tuple[int, int]] = []
    position = 0
    for i, token in enumerate(tokens):
        if not token:
            raise ValueError(f"token {i} is empty")
        start = text.find(token, position)
        if start < 0:
            raise ValueError(f"token {i} is not in the text after character {position}")
        position = start + len(token)
        offsets.append((start, position))
    return offsets


SPAN_KEYS = ("entities", "id", "text")
ENTITY_KEYS = ("end", "label", "start")


def _line_entities(where: str, number: int, record: dict[str, Any]) -> list[tuple[int, int, str]]:
    """The record's entities as (start, end, label) sorted by start, after checking each."""
    value = record["entities"]
    if not isinstance(value, list):
        raise InputError(where, f"line {number}: 'entities' must be a list, got {type(value).__name__}")
    size = len(record["text"])
    spans: list[tuple[int, int, str]] = []
    for k, entity in enumerate(value, start=1):
        label = f"line {number}: entity {k}"
        if not isinstance(entity, dict):
            raise InputError(where, f"{label}: expected an object with start, end and label")
        keys = set(entity)
        if keys != set(ENTITY_KEYS):
            problems = []
            if keys - set(ENTITY_KEYS):
                problems.append(f"unknown key(s) {', '.join(map(repr, sorted(keys - set(ENTITY_KEYS))))}")
            if set(ENTITY_KEYS) - keys:
                problems.append(f"missing key(s) {', '.join(map(repr, sorted(set(ENTITY_KEYS) - keys)))}")
            raise InputError(where, f"{label}: {'; '.join(problems)}; expected: {', '.join(ENTITY_KEYS)}")
        start, end, kind = entity["start"], entity["end"], entity["label"]
        # bool is an int in Python: true/false offsets are a broken export, not offsets 1/0
        if any(not isinstance(x, int) or isinstance(x, bool) for x in (start, end)):
            raise InputError(where, f"{label}: start and end must be integers, got {start!r} and {end!r}")
        if not isinstance(kind, str) or not kind or kind != kind.strip() or any(c.isspace() for c in kind):
            raise InputError(where, f"{label}: label must be a non-empty string without spaces, got {kind!r}")
        if not 0 <= start < end <= size:
            raise InputError(
                where, f"{label} (characters {start}-{end}): needs 0 <= start < end <= {size}, the text's length"
            )
        spans.append((start, end, kind))
    spans.sort()
    for (s1, e1, _), (s2, e2, _) in zip(spans, spans[1:]):
        if s2 < e1:
            raise InputError(where, f"line {number}: entities at characters {s1}-{e1} and {s2}-{e2} overlap")
    return spans


def read_span_jsonl(
    path: Path,
    name: str,
    tokenize: Callable[[str], list[str]],
    *,
    synthetic: bool = False,
    public: bool = False,
    source: str | None = None,
) -> TaggedSplit:
    """Read JSON lines of text with character-offset entities, tagging the words ``tokenize`` finds.

    Each non-blank line is one sentence: ``{"text": "...", "entities": [{"start": 0, "end": 7,
    "label": "Drug"}, ...], "id": ...}``, offsets in characters (Python string indices), end
    exclusive; ``id`` is optional, checked for duplicates and dropped. Every entity must start
    where a token of ``tokenize(text)`` starts and end where one ends: its tokens get
    ``B-label``, ``I-label``..., the others ``O``. ``tokenize`` must return non-empty
    substrings of the text in order (see :func:`token_offsets`).

    Refused, naming the file and line (and the entity's offsets, never the text): invalid
    JSON or not an object; unknown or missing keys; empty text; an entity out of range, with
    start >= end, overlapping another, or not on token boundaries; a tokenizer that loses the
    text; two lines with one id.
    """
    text, digest = read_text_file(path)
    where = str(path)
    sentences: list[tuple[str, ...]] = []
    tags: list[tuple[str, ...]] = []
    first_line: dict[str, int] = {}
    # split("\n"), not splitlines(): JSON strings may hold U+2028, which splitlines() breaks at
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(where, f"line {number}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise InputError(where, f"line {number}: expected a JSON object, got {type(record).__name__}")
        unknown = sorted(set(record) - set(SPAN_KEYS))
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise InputError(where, f"line {number}: unknown key(s) {names}; allowed: {', '.join(SPAN_KEYS)}")
        missing = [key for key in ("text", "entities") if key not in record]
        if missing:
            raise InputError(where, f"line {number}: missing key(s) {', '.join(map(repr, missing))}")
        if not isinstance(record["text"], str) or not record["text"].strip():
            raise InputError(where, f"line {number}: 'text' must be a non-empty string")
        if record.get("id") is not None:
            key = str(record["id"])  # 12 and "12" are the same id
            if key in first_line:
                raise InputError(where, f"lines {first_line[key]} and {number}: duplicate id {key!r}")
            first_line[key] = number
        spans = _line_entities(where, number, record)
        tokens = list(tokenize(record["text"]))
        if not tokens:
            raise InputError(where, f"line {number}: the tokenizer found no tokens in the text")
        try:
            offsets = token_offsets(record["text"], tokens)
        except ValueError as err:
            raise InputError(
                where, f"line {number}: {err}: the tokenizer must return pieces of the text, in order"
            ) from None
        starts = {start: i for i, (start, _) in enumerate(offsets)}
        ends = {end: i for i, (_, end) in enumerate(offsets)}
        labels = ["O"] * len(tokens)
        for start, end, kind in spans:
            if start not in starts or end not in ends:
                edge = "start" if start not in starts else "end"
                raise InputError(
                    where,
                    f"line {number}: entity at characters {start}-{end} ({kind}) does not {edge} at a token"
                    " boundary: an entity must cover whole tokens",
                )
            first, last = starts[start], ends[end]
            labels[first] = f"B-{kind}"
            for i in range(first + 1, last + 1):
                labels[i] = f"I-{kind}"
        sentences.append(tuple(tokens))
        tags.append(tuple(labels))
    # read_text_file refuses a blank file, so a file that got here holds at least one line
    return TaggedSplit(
        name=name,
        sentences=tuple(sentences),
        tags=tuple(tags),
        source=source or str(path),
        sha256=digest,
        synthetic=synthetic,
        public=public,
    )
