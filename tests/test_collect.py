"""-k / -m expressions, as pytest's."""

from __future__ import annotations

import pytest

from harness.core.collect import compile_expression
from harness.errors import UsageError


def evaluate(expression: str, names: set[str]) -> bool:
    return compile_expression(expression)(lambda ident: ident in names)


@pytest.mark.parametrize(
    ("expression", "names", "expected"),
    [
        ("a", {"a"}, True),
        ("not a", {"a"}, False),
        ("a and b", {"a"}, False),
        ("a or b", {"b"}, True),
        ("a and not b or c", {"c"}, True),  # 'and' binds tighter than 'or'
        ("a and (not b or c)", {"a", "b"}, False),
        ("not not a", {"a"}, True),
        ("(a or b) and (c or d)", {"b", "d"}, True),
    ],
)
def test_expression_semantics(expression, names, expected):
    assert evaluate(expression, names) is expected


@pytest.mark.parametrize("expression", ["", "a and", "(a", "a b", "and", "a or or b", "a)"])
def test_bad_expressions_are_usage_errors(expression):
    with pytest.raises(UsageError):
        evaluate(expression, set())
