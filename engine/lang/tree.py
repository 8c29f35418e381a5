"""The strategy language's own tree. ``parse`` builds it from the source, ``check`` verifies it
and expands it into a graph of primitive operations that ``evaluate`` runs over arrays.

Every node records the 1-based line and column where it starts, for error messages. Nodes
compare by identity: ``check`` shares one node between equal subexpressions, so evaluation
computes each one once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class Node:
    line: int
    column: int


@dataclass(frozen=True, eq=False)
class Number(Node):
    value: int | float  # an int for a literal written without a decimal point or exponent


@dataclass(frozen=True, eq=False)
class Boolean(Node):
    value: bool


@dataclass(frozen=True, eq=False)
class Text(Node):
    value: str


@dataclass(frozen=True, eq=False)
class Name(Node):
    id: str


@dataclass(frozen=True, eq=False)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True, eq=False)
class Binary(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Compare(Node):
    op: str  # < <= > >= == !=
    left: Node
    right: Node


@dataclass(frozen=True, eq=False)
class Logic(Node):
    op: str  # "and" or "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Call(Node):
    function: str
    args: tuple[Node, ...]
    keywords: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True, eq=False)
class Lookback(Node):
    """``series[bars]``: the value ``bars`` bars before the current one."""

    series: Node
    bars: Node


@dataclass(frozen=True, eq=False)
class Assign(Node):
    target: str
    value: Node


@dataclass(frozen=True, eq=False)
class Require(Node):
    """``require(a < b)``: a constraint between two parameters."""

    condition: Node


@dataclass(frozen=True, eq=False)
class Source:
    """A parsed program: its description (the first line's text, if any) and its statements."""

    description: str
    statements: tuple[Assign | Require, ...] = field(default=())


def children(node: Node) -> tuple[Node, ...]:
    """The operands of an expression node, in order."""
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary | Compare):
        return (node.left, node.right)
    if isinstance(node, Logic):
        return node.operands
    if isinstance(node, Call):
        return node.args + tuple(v for _, v in node.keywords)
    if isinstance(node, Lookback):
        return (node.series, node.bars)
    return ()
