"""Collecting the grid of items (model x task x seed) and selecting with -k / -m, as pytest does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.errors import UsageError
from harness.model import ModelSpec
from harness.task import TaskSpec


@dataclass(frozen=True)
class Item:
    """One cell of the grid. ``skip_reason`` is set when it cannot run here. ``train_rows`` is
    set for a learning curve's subset fit (``--train-sizes``): the fit trains on that many rows of
    its training split (:mod:`harness.core.train_sizes`); None is all of them."""

    model: ModelSpec
    task: TaskSpec
    seed: int
    skip_reason: str | None = None
    train_rows: int | None = None

    @property
    def name(self) -> str:
        size = "" if self.train_rows is None else f"-train{self.train_rows}"
        return f"{self.task.name}[{self.model.name}-seed{self.seed}{size}]"

    @property
    def markers(self) -> frozenset[str]:
        return frozenset(self.model.markers) | frozenset(self.task.markers)

    @property
    def keywords(self) -> tuple[str, ...]:
        """What ``-k`` matches against (case-insensitive substrings), as pytest's keywords."""
        m, t = self.model, self.task
        size = () if self.train_rows is None else (f"train{self.train_rows}",)
        return (self.name, t.name, m.name, m.family, m.fine_tuning_regime, f"seed{self.seed}", *size, *self.markers)

    @property
    def fit_key(self) -> tuple[str, str, int, int | None]:
        """Items with the same key share one fitted classifier."""
        return (self.model.name, self.task.fits_on, self.seed, self.train_rows)


# --- -k / -m expressions ----------------------------------------------------------------
# expr := and_expr ("or" and_expr)* ; and_expr := not_expr ("and" not_expr)* ;
# not_expr := "not" not_expr | "(" expr ")" | ident

_TOKEN = re.compile(r"\s*(\(|\)|[\w:+\-.\[\]\\/]+)")


def _tokenize(expression: str) -> list[str]:
    tokens, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if not match:
            raise UsageError(f"bad expression {expression!r}: unexpected {expression[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
        while position < len(expression) and expression[position].isspace():
            position += 1
    return tokens


def compile_expression(expression: str) -> Callable[[Callable[[str], bool]], bool]:
    """Parse a -k/-m expression into a function of an identifier matcher."""
    tokens = _tokenize(expression)
    if not tokens:
        raise UsageError("empty -k/-m expression")
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal position
        token = peek()
        if token is None or (expected is not None and token != expected):
            raise UsageError(f"bad expression {expression!r}: expected {expected or 'a name'}, got {token or 'end'}")
        position += 1
        return token

    def parse_or():
        terms = [parse_and()]
        while peek() == "or":
            take()
            terms.append(parse_and())
        return lambda match: any(term(match) for term in terms)

    def parse_and():
        terms = [parse_not()]
        while peek() == "and":
            take()
            terms.append(parse_not())
        return lambda match: all(term(match) for term in terms)

    def parse_not():
        token = peek()
        if token == "not":
            take()
            inner = parse_not()
            return lambda match: not inner(match)
        if token == "(":
            take("(")
            inner = parse_or()
            take(")")
            return inner
        if token in {")", "and", "or", None}:
            raise UsageError(f"bad expression {expression!r}: expected a name, got {token or 'end'}")
        ident = take()
        return lambda match: match(ident)

    tree = parse_or()
    if peek() is not None:
        raise UsageError(f"bad expression {expression!r}: unexpected {peek()!r}")
    return tree


def keyword_matches(expression: str, item: Item) -> bool:
    words = [k.lower() for k in item.keywords]
    return compile_expression(expression)(lambda ident: any(ident.lower() in w for w in words))


def marker_matches(expression: str, item: Item) -> bool:
    return compile_expression(expression)(lambda ident: ident in item.markers)


# --- the grid ---------------------------------------------------------------------------


def cannot_do(model: ModelSpec, task: TaskSpec) -> str | None:
    """Why ``model`` cannot take part in ``task`` at all (whatever the machine), or None."""
    if task.kind == "tagging" and model.tag is None:
        return "does not tag tokens (it classifies whole texts)"
    if task.kind == "classification" and model.fit is None:
        return "does not classify whole texts (it tags tokens)"
    return None


def pick(requested: str, known: Sequence[str], kind: str) -> list[str]:
    """Resolve ``all`` or a comma list of names, failing with the known names listed."""
    if requested.strip() == "all":
        return list(known)
    names = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UsageError(f"unknown {kind}(s) {', '.join(unknown) or repr(requested)}; known: {', '.join(known)}")
    return list(dict.fromkeys(names))


def collect(
    models: Iterable[ModelSpec],
    tasks: Iterable[TaskSpec],
    seeds: Sequence[int],
    skip_reason: Callable[[ModelSpec], str | None],
    keyword: str | None = None,
    markers: str | None = None,
    refusal: Callable[[ModelSpec, TaskSpec], str | None] = lambda model, task: None,
    train_rows: Mapping[str, Sequence[int]] | None = None,
    curve_followers: bool = False,
) -> tuple[list[Item], int]:
    """Return (selected items, number deselected). Seed-major, then model, then training size
    (smallest first, the full split last), then task, so a model's fit is used by all its tasks
    back to back and can then be released.

    ``refusal(model, task)`` says why a model cannot take that task's data (its labels or
    problem), e.g. a rule table that knows only its own labels. ``train_rows`` maps a training
    task to its learning curve's subset sizes (``--train-sizes``): each model that trains gets an
    item per size; a task that scores another's fits (the probe) follows the full fit only,
    unless ``curve_followers``."""
    models, tasks = list(models), list(tasks)
    train_rows = train_rows or {}
    if keyword:
        compile_expression(keyword)  # fail on a bad expression even when the grid is empty
    if markers:
        compile_expression(markers)
    reasons = {m.name: skip_reason(m) for m in models}
    why = {(m.name, t.name): cannot_do(m, t) or refusal(m, t) or reasons[m.name] for m in models for t in tasks}

    def sizes(model: ModelSpec, task: TaskSpec) -> tuple[int | None, ...]:
        follows = task.fits_on != task.name
        if not model.trains or (follows and not curve_followers):
            return (None,)
        return (*train_rows.get(task.fits_on, ()), None)

    every = sorted({rows for rows_of in train_rows.values() for rows in rows_of})
    items = [
        Item(m, t, seed, why[m.name, t.name], rows)
        for seed in seeds
        for m in models
        for rows in (*every, None)
        for t in tasks
        if rows in sizes(m, t)
    ]
    selected = [
        item
        for item in items
        if (not keyword or keyword_matches(keyword, item)) and (not markers or marker_matches(markers, item))
    ]
    return selected, len(items) - len(selected)
