"""How far back an expression reads: the warm-up of a program.

The lookback of an expression is the number of bars before the current one it reads, i.e. the
number of leading NaNs of its series over candles without gaps: ``sma(x, n)`` reads n − 1 bars
before the current one beyond what x reads, ``x[k]`` k more, ``crossover`` one more (the previous
bar). A program's warm-up is the longest lookback of its rules (and at least its declared
``warmup``): its first bar is the first on which everything its rules read exists, which is how
the built-in strategies' warm-ups come out too.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.lang import tree as t
from engine.lang.functions import FUNCTIONS, WINDOW


def lookback(node: t.Node, bars: Callable[[t.Node], int], memo: dict[t.Node, int]) -> int:
    """Bars before the current one that ``node`` (an expanded expression) reads.

    ``bars`` gives the value of a window or lookback expression (for given parameters, or at
    their maximums); ``memo`` is shared across the calls for one program and one ``bars``.
    """
    if node in memo:
        return memo[node]
    if isinstance(node, t.Lookback):
        out = lookback(node.series, bars, memo) + bars(node.bars)
    elif isinstance(node, t.Call):
        f = FUNCTIONS[node.function]
        kinds = f.kinds if not f.variadic else (f.kinds[0],) * len(node.args)
        series = [lookback(a, bars, memo) for a, k in zip(node.args, kinds, strict=True)
                  if k != WINDOW]
        windows = [bars(a) for a, k in zip(node.args, kinds, strict=True) if k == WINDOW]
        out = f.lookback(series, windows)
    else:
        out = max((lookback(c, bars, memo) for c in t.children(node)), default=0)
    memo[node] = out
    return out
