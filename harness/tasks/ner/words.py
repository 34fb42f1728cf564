"""The NER corpus's word rule: how text is split into the words tags belong to. The task reads
span JSONL with it at run time, and the corpus builder (generate.py) wrote the embedded files
with it."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+(?:[-'\u2019]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into word and punctuation tokens (the rule used for every file of the task).

    >>> tokenize("Depo-Provera gave me migraines (bad ones).")
    ['Depo-Provera', 'gave', 'me', 'migraines', '(', 'bad', 'ones', ')', '.']
    """
    return _TOKEN.findall(text)


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each token of ``tokenize(text)``, in order."""
    return [m.span() for m in _TOKEN.finditer(text)]
