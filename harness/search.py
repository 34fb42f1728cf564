"""The search-space syntax: what a model declares (``ModelSpec.search_space``) and what a config's
``[models.NAME] search`` table says, checked the same way (docs/tuning.md).

One entry per recipe key, in TOML's words::

    search = { lr = { log_uniform = [1e-5, 5e-4] }, epochs = [3, 6, 10], pos_weight = ["none", "balanced"] }

* a list: a choice among its values (``"none"`` stands for no value: TOML has no null);
* ``{ uniform = [low, high] }``, ``{ log_uniform = [low, high] }``: a float in the range (log: low > 0);
* ``{ int = [low, high] }``, ``{ log_int = [low, high] }``: an integer in the range, both ends included;
* ``false`` (config only): leave this key out of the model's default search.

Trial 0 of every search is the model's own recipe, so a dimension is widened to hold the recipe's
value (a range grows to reach it, a choice gains it). Pure Python: Ray and Optuna are imported by
the search itself (:mod:`harness.core.search`), never here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import InputError

RANGES = ("uniform", "log_uniform", "int", "log_int")
NONE_WORD = "none"  # a choice's spelling of "no value" (class weighting off, say)
Kind = Literal["choice", "uniform", "log_uniform", "int", "log_int"]
SYNTAX = "a list of choices, or a range table such as { log_uniform = [low, high] }"


@dataclass(frozen=True)
class Dimension:
    """One searched recipe key: a choice among ``values``, or a range ``values = (low, high)``."""

    key: str
    kind: Kind
    values: tuple[Any, ...]

    @property
    def is_range(self) -> bool:
        return self.kind != "choice"

    def contains(self, value: Any) -> bool:
        if not self.is_range:
            return any(_same(value, choice) for choice in self.values)
        if not _number(value) or (self.kind in ("int", "log_int") and value != int(value)):
            return False
        low, high = self.values
        return low <= value <= high

    def widened(self, value: Any) -> Dimension:
        """This dimension grown to hold ``value`` (trial 0's, the recipe's), or a usage error when a
        range cannot hold it (a range holds numbers only)."""
        if self.contains(value):
            return self
        if not self.is_range:
            return Dimension(self.key, self.kind, (value, *self.values))
        if not _number(value) or (self.kind.startswith("log") and value <= 0):
            raise ValueError(f"the recipe's {_shown(value)} cannot lie in a {self.kind} range; use a list of choices")
        if self.kind in ("int", "log_int") and value != int(value):
            raise ValueError(f"the recipe's {_shown(value)} is not an integer, and this is an integer range")
        low, high = self.values
        return Dimension(self.key, self.kind, (min(low, value), max(high, value)))

    def as_config(self) -> Any:
        """As the config would write it (the leaderboard's ``space``): a list, or ``{kind: [low, high]}``."""
        if not self.is_range:
            return [NONE_WORD if value is None else value for value in self.values]
        return {self.kind: list(self.values)}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _same(a: Any, b: Any) -> bool:
    """Equal as recipe values: 1 and 1.0 are one choice, True and 1 are not."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _shown(value: Any) -> str:
    return NONE_WORD if value is None else repr(value)


def _choice_value(value: Any) -> Any:
    return None if value == NONE_WORD else value


def parse_dimension(key: str, entry: Any, where: str) -> Dimension:
    """One entry of a search table, checked; an :class:`InputError` naming ``where`` otherwise."""
    if isinstance(entry, list):
        if not entry:
            raise InputError(where, "an empty list of choices; give at least one value")
        for value in entry:
            if isinstance(value, list | dict):
                raise InputError(where, f"a choice must be a number, a string or true/false, got {value!r}")
        values = tuple(dict.fromkeys(_choice_value(v) for v in entry))  # once each, in order
        return Dimension(key, "choice", values)
    if not isinstance(entry, Mapping):
        raise InputError(where, f"expected {SYNTAX}, got {entry!r} (to fix a value, set it in recipe)")
    if len(entry) != 1 or next(iter(entry)) not in RANGES:
        names = ", ".join(map(str, entry)) or "nothing"
        raise InputError(where, f"expected one of {', '.join(RANGES)} = [low, high], got {names}")
    kind, bounds = next(iter(entry.items()))
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(_number(b) for b in bounds):
        raise InputError(f"{where}.{kind}", f"expected [low, high], two numbers, got {bounds!r}")
    low, high = bounds
    if kind in ("int", "log_int") and not all(b == int(b) for b in bounds):
        raise InputError(f"{where}.{kind}", f"expected two integers, got {bounds!r}")
    if not low < high:
        raise InputError(f"{where}.{kind}", f"expected low < high, got [{low}, {high}]")
    if kind.startswith("log") and low <= 0:
        raise InputError(f"{where}.{kind}", f"a log range needs low > 0, got {low}")
    if kind in ("int", "log_int"):
        low, high = int(low), int(high)
    return Dimension(key, kind, (low, high))


def parse_space(
    table: Mapping[str, Any], allowed: Iterable[str], where: str, removable: bool = False
) -> dict[str, Dimension | None]:
    """A search table, every key a recipe key of ``allowed``; ``None`` for a key written ``false``
    (only where ``removable``: a config leaving a key out of the model's default search)."""
    if not isinstance(table, Mapping):
        raise InputError(where, f"expected a table of recipe keys ({SYNTAX}), got {table!r}")
    known = set(allowed)
    space: dict[str, Dimension | None] = {}
    for key, entry in table.items():
        if key not in known:
            raise InputError(
                f"{where}.{key}", f"unknown recipe key; this model's: {', '.join(sorted(known)) or 'none'}"
            )
        if entry is False and removable:
            space[key] = None
            continue
        space[key] = parse_dimension(key, entry, f"{where}.{key}")
    return space


def space_as_config(space: Mapping[str, Dimension]) -> dict[str, Any]:
    return {key: dimension.as_config() for key, dimension in space.items()}
