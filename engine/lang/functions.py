"""The language's functions: signatures, warm-ups and how each is computed.

A *primitive* runs an indicator kernel or an element-wise NumPy operation; a *derived* function
(Bollinger bands, MACD, rate of change) is written in terms of primitives by ``expand``, so that
it shares their computations (``bb_upper`` and ``bb_lower`` of the same window compute one SMA
and one standard deviation) and their warm-up rules.

Argument kinds: ``number`` (a series or a single number), ``window`` (a whole number of bars,
at least 1: an integer, an int parameter, or + - * of them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine import indicators
from engine.lang import tree as t

NUMBER = "number"
CONDITION = "condition"
WINDOW = "window"


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[str, ...]  # argument names, for messages and the docs
    kinds: tuple[str, ...]  # NUMBER or WINDOW, one per argument
    result: str  # NUMBER or CONDITION
    formula: str  # for the docs
    variadic: bool = False  # min and max: two or more numbers
    #: Primitives: the bars before the current one it reads, from the lookbacks of its number
    #: arguments and the values of its windows (the derived functions follow from primitives).
    lookback: Callable[[list[int], list[int]], int] | None = None
    #: Indicator kernel ``(candles, *args) -> array`` (cached per distinct arguments), or None.
    kernel: Callable[..., np.ndarray] | None = None
    #: Element-wise NumPy function for scalars and arrays (abs, min, max), or None.
    elementwise: Callable[..., object] | None = None
    #: Derived functions: the same computation written with primitives.
    expand: Callable[..., t.Node] | None = None

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.args)}{', ...' if self.variadic else ''})"


def _rolling(name: str):
    """``engine.indicators.<name>(x, n)``, looked up when called (tests count the calls)."""
    return lambda candles, x, n: getattr(indicators, name)(x, n)


def _call(at: t.Node, name: str, *args: t.Node) -> t.Call:
    return t.Call(at.line, at.column, name, args)


def _bin(at: t.Node, op: str, a: t.Node, b: t.Node) -> t.Binary:
    return t.Binary(at.line, at.column, op, a, b)


def _macd_line(at, x, fast, slow):
    return _bin(at, "-", _call(at, "ema", x, fast), _call(at, "ema", x, slow))


def _macd_signal(at, x, fast, slow, signal):
    return _call(at, "ema", _macd_line(at, x, fast, slow), signal)


def _macd_hist(at, x, fast, slow, signal):
    return _bin(at, "-", _macd_line(at, x, fast, slow), _macd_signal(at, x, fast, slow, signal))


def _band(op):
    def expand(at, x, n, k):
        return _bin(at, op, _call(at, "sma", x, n), _bin(at, "*", k, _call(at, "stdev", x, n)))

    return expand


def _roc(at, x, n):
    before = t.Lookback(at.line, at.column, x, n)
    hundred = t.Number(at.line, at.column, 100)
    return _bin(at, "/", _bin(at, "*", hundred, _bin(at, "-", x, before)), before)


_N, _W = NUMBER, WINDOW
_WINDOW = lambda ls, ns: ls[0] + ns[0] - 1  # noqa: E731  (defined from the n-th value of x)
_CROSS = lambda ls, ns: max(ls) + 1  # noqa: E731  (reads the previous bar too)
_MAX = lambda ls, ns: max(ls)  # noqa: E731
FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("sma", ("x", "n"), (_N, _W), _N, "mean of x over the last n bars",
             lookback=_WINDOW, kernel=_rolling("sma")),
    Function("ema", ("x", "n"), (_N, _W), _N,
             "e = x on the first bar, then e = e + 2/(n+1)·(x − e); defined from the n-th bar",
             lookback=_WINDOW, kernel=_rolling("ema")),
    Function("wma", ("x", "n"), (_N, _W), _N,
             "weighted mean of the last n bars, weights 1 (oldest) to n (newest)",
             lookback=_WINDOW, kernel=_rolling("wma")),
    Function("rsi", ("x", "n"), (_N, _W), _N,
             "Wilder's RSI of the last n changes of x: 100·AG/(AG+AL), 50 when flat",
             lookback=lambda ls, ns: ls[0] + ns[0], kernel=_rolling("rsi")),
    Function("stdev", ("x", "n"), (_N, _W), _N,
             "population standard deviation (ddof=0) of x over the last n bars",
             lookback=_WINDOW, kernel=_rolling("rolling_std")),
    Function("highest", ("x", "n"), (_N, _W), _N, "highest x of the last n bars, this one included",
             lookback=_WINDOW, kernel=_rolling("rolling_max")),
    Function("lowest", ("x", "n"), (_N, _W), _N, "lowest x of the last n bars, this one included",
             lookback=_WINDOW, kernel=_rolling("rolling_min")),
    Function("atr", ("n",), (_W,), _N,
             "Wilder's average true range of the candles over n bars",
             lookback=lambda ls, ns: ns[0] - 1,
             kernel=lambda c, n: indicators.atr(c.high, c.low, c.close, n)),
    Function("roc", ("x", "n"), (_N, _W), _N, "100·(x − x[n]) / x[n]", expand=_roc),
    Function("bb_middle", ("x", "n"), (_N, _W), _N, "sma(x, n)",
             expand=lambda at, x, n: _call(at, "sma", x, n)),
    Function("bb_upper", ("x", "n", "k"), (_N, _W, _N), _N, "sma(x, n) + k·stdev(x, n)",
             expand=_band("+")),
    Function("bb_lower", ("x", "n", "k"), (_N, _W, _N), _N, "sma(x, n) − k·stdev(x, n)",
             expand=_band("-")),
    Function("macd_line", ("x", "fast", "slow"), (_N, _W, _W), _N,
             "ema(x, fast) − ema(x, slow)", expand=_macd_line),
    Function("macd_signal", ("x", "fast", "slow", "signal"), (_N, _W, _W, _W), _N,
             "ema(macd_line(x, fast, slow), signal)", expand=_macd_signal),
    Function("macd_hist", ("x", "fast", "slow", "signal"), (_N, _W, _W, _W), _N,
             "macd_line(x, fast, slow) − macd_signal(x, fast, slow, signal)",
             expand=_macd_hist),
    Function("crossover", ("a", "b"), (_N, _N), CONDITION,
             "a[1] < b[1] and a > b (both strict: touching and leaving is not a cross)",
             lookback=_CROSS),
    Function("crossunder", ("a", "b"), (_N, _N), CONDITION, "a[1] > b[1] and a < b",
             lookback=_CROSS),
    Function("abs", ("x",), (_N,), _N, "|x|", lookback=_MAX, elementwise=np.abs),
    Function("min", ("a", "b"), (_N, _N), _N, "the smallest of the arguments", variadic=True,
             lookback=_MAX, elementwise=lambda *v: functools.reduce(np.minimum, v)),
    Function("max", ("a", "b"), (_N, _N), _N, "the largest of the arguments", variadic=True,
             lookback=_MAX, elementwise=lambda *v: functools.reduce(np.maximum, v)),
)}
