"""Run a checked program over candles for one parameter set: whole-array computations.

Numbers are float64 arrays (or single floats); conditions are boolean arrays (or single
booleans). The rules of definedness, so that no input can raise:

- an arithmetic result that is not finite (x / 0, overflow) is NaN;
- a comparison involving NaN is false, and so is its negation: ``not (a > b)`` is computed as
  ``a <= b``. ``not`` is pushed down to the comparisons (De Morgan), so a condition that depends
  on an undefined value is never true, however it is negated ("NaN means no signal");
- ``x[k]`` before bar k is NaN (a condition: false).

Each indicator call is computed once per distinct arguments through the IndicatorCache (shared
by all the parameter sets of a sweep); everything else once per node and set.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.candles import Candles
from engine.lang import scalars
from engine.lang import tree as t
from engine.lang.check import Program
from engine.lang.functions import CONDITION, FUNCTIONS, WINDOW
from engine.strategies.base import IndicatorCache
from engine_ext import signals as _signals_kernel

_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_COMPARE = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    "==": np.equal,
    "!=": lambda a, b: np.less(a, b) | np.greater(a, b),  # false for NaN, unlike np.not_equal
}
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


def evaluate(program: Program, candles: Candles, params: Mapping[str, int | float],
             cache: IndicatorCache, nodes: Mapping[str, tuple[t.Node, str]]
             ) -> dict[str, np.ndarray]:
    """The array of each of ``nodes`` (name -> node and its type) over ``candles``: float64 for
    a number, bool for a condition, one value per bar."""
    ev = _Evaluation(program, candles, params, cache)
    n = len(candles)
    out = {}
    with np.errstate(all="ignore"):
        for name, (node, kind) in nodes.items():
            if kind == CONDITION:
                value = ev.condition(node)
                out[name] = np.full(n, bool(value)) if np.ndim(value) == 0 else value
            else:
                value = ev.number(node)
                out[name] = np.full(n, float(value)) if np.ndim(value) == 0 else value
    return out


class _Evaluation:
    def __init__(self, program, candles, params, cache):
        self.program, self.candles, self.params, self.cache = program, candles, params, cache
        self.memo: dict[tuple[t.Node, bool], object] = {}

    def key(self, *parts: object, node: t.Node) -> tuple:
        """Cache key of a computation: what it is, and the parameters it depends on."""
        return ("lang", *parts, tuple(self.params[p] for p in self.program.deps[node]))

    def bars(self, node: t.Node) -> int:
        return scalars.value(node, self.params)

    def series(self, node: t.Node) -> np.ndarray:
        value = self.number(node)
        return np.full(len(self.candles), float(value)) if np.ndim(value) == 0 else value

    def number(self, node: t.Node):
        memo = (node, False)
        if memo not in self.memo:
            self.memo[memo] = self._number(node)
        return self.memo[memo]

    def _number(self, node: t.Node):
        if isinstance(node, t.Number):
            return float(node.value)
        if isinstance(node, t.Name):
            if node.id in t.FIELDS:
                return getattr(self.candles, node.id)
            return float(self.params[node.id])
        if isinstance(node, t.Unary):
            return -self.number(node.operand)
        if isinstance(node, t.Binary):
            out = _ARITHMETIC[node.op](self.number(node.left), self.number(node.right))
            return _finite(out)
        if isinstance(node, t.Lookback):  # of a series, or of a number in roc's expansion
            return _shift(self.series(node.series), self.bars(node.bars), np.nan)
        assert isinstance(node, t.Call), node
        f = FUNCTIONS[node.function]
        if f.elementwise is not None:
            return f.elementwise(*(self.number(a) for a in node.args))

        def compute():
            args = [self.bars(a) if k == WINDOW else self.series(a)
                    for a, k in zip(node.args, f.kinds, strict=True)]
            return f.kernel(self.candles, *args)

        return self.cache.get(self.key(node, node=node), compute)

    def condition(self, node: t.Node, negated: bool = False):
        memo = (node, negated)
        if memo not in self.memo:
            self.memo[memo] = self._condition(node, negated)
        return self.memo[memo]

    def _condition(self, node: t.Node, negated: bool):
        if isinstance(node, t.Boolean):
            return node.value != negated
        if isinstance(node, t.Unary):  # not
            return self.condition(node.operand, not negated)
        if isinstance(node, t.Compare):
            op = _NEGATED[node.op] if negated else node.op
            return _COMPARE[op](self.number(node.left), self.number(node.right))
        if isinstance(node, t.Logic):
            both = (node.op == "and") != negated
            parts = [self.condition(v, negated) for v in node.operands]
            out = parts[0]
            for part in parts[1:]:
                out = (out & part) if both else (out | part)
            return out
        if isinstance(node, t.Lookback):
            flags = np.broadcast_to(self.condition(node.series, negated), len(self.candles))
            return _shift(flags, self.bars(node.bars), False)
        assert isinstance(node, t.Call) and node.function in ("crossover", "crossunder"), node
        return self.cross(node, negated)

    def cross(self, node: t.Call, negated: bool):
        a, b = node.args
        if negated:  # not (a[1] < b[1] and a > b) == a[1] >= b[1] or a <= b, false for NaN
            pa, pb = (_shift(self.series(x), 1, np.nan) for x in (a, b))
            if node.function == "crossover":
                return (pa >= pb) | (self.number(a) <= self.number(b))
            return (pa <= pb) | (self.number(a) >= self.number(b))
        # One pass of the crossover kernel gives both directions: 1 up, -1 down.
        orders = self.cache.get(
            self.key("cross", a, b, node=node),
            lambda: _signals_kernel.crossover(self.series(a), self.series(b), 0))
        return orders == (1 if node.function == "crossover" else -1)


def _finite(x):
    """``x`` with infinities replaced by NaN (an undefined result)."""
    if np.ndim(x) == 0:
        return x if np.isfinite(x) or np.isnan(x) else np.nan
    bad = np.isinf(x)
    if bad.any():
        x[bad] = np.nan
    return x


def _shift(x, k: int, fill):
    """``x`` k bars later: ``out[i] = x[i - k]``, ``fill`` before bar k."""
    if k == 0:
        return x
    out = np.empty_like(x)
    out[:k] = fill
    out[k:] = x[: len(x) - k] if k < len(x) else x[:0]
    return out
