"""Expressions fixed for a whole run (numbers and parameters with + - * /): windows,
lookbacks, stops and the declared warm-up. Their exact value for given parameters, and the range
they can take within the parameters' bounds (what ``check`` verifies once for every set)."""

from __future__ import annotations

from collections.abc import Mapping

from engine.lang import tree as t
from engine.strategies.base import Param


class MayDivideByZero(ValueError):
    """The divisor's range includes 0."""


def value(node: t.Node, params: Mapping[str, int | float]) -> int | float:
    """The value of ``node`` for validated ``params``: exact (Python ints stay ints)."""
    if isinstance(node, t.Number):
        return node.value
    if isinstance(node, t.Name):
        return params[node.id]
    if isinstance(node, t.Unary):
        return -value(node.operand, params)
    assert isinstance(node, t.Binary), node
    a, b = value(node.left, params), value(node.right, params)
    return {"+": a + b, "-": a - b, "*": a * b}[node.op] if node.op != "/" else a / b


def interval(node: t.Node, params: Mapping[str, Param]) -> tuple[int | float, int | float]:
    """The smallest and largest value of ``node`` over the parameters' bounds.

    Exact when each parameter appears once; otherwise a range that contains the values.
    Raise MayDivideByZero when a divisor's range includes 0.
    """
    if isinstance(node, t.Number):
        return node.value, node.value
    if isinstance(node, t.Name):
        return params[node.id].min, params[node.id].max
    if isinstance(node, t.Unary):
        lo, hi = interval(node.operand, params)
        return -hi, -lo
    assert isinstance(node, t.Binary), node
    (a, b), (c, d) = interval(node.left, params), interval(node.right, params)
    if node.op == "+":
        return a + c, b + d
    if node.op == "-":
        return a - d, b - c
    if node.op == "/":
        if c <= 0 <= d:
            raise MayDivideByZero(f"the divisor can be 0 (it ranges from {c} to {d})")
        c, d = 1 / d, 1 / c
    products = (a * c, a * d, b * c, b * d)
    return min(products), max(products)
