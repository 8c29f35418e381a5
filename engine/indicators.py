"""Technical indicators over price arrays, computed by the Cython kernels in ``engine_ext``.

Every function takes array-likes (never modified: they are copied to C-contiguous float64 when
they are not already) and returns float64 arrays as long as the input, NaN during the warm-up.

NaN policy: a NaN marks a missing bar. Each maximal run of non-NaN values is treated as an
independent series: a NaN bar outputs NaN, and every window or recursive state (EMA, RSI, ATR)
restarts after it, warming up again exactly as at the start of the input. ``inf`` is rejected.
See docs/strategies.md for the exact definitions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine_ext import indicators as _k

__all__ = [
    "Bands",
    "Macd",
    "atr",
    "bollinger",
    "donchian",
    "ema",
    "macd",
    "rolling_max",
    "rolling_min",
    "rolling_std",
    "rsi",
    "sma",
    "wma",
]


class Bands(NamedTuple):
    """A channel around a middle line (Bollinger, Donchian)."""

    middle: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


class Macd(NamedTuple):
    """MACD line, its signal line and their difference."""

    line: np.ndarray
    signal: np.ndarray
    histogram: np.ndarray


def sma(x, n: int) -> np.ndarray:
    """Simple moving average of the last ``n`` values; NaN for the first ``n - 1``."""
    return _k.sma(_series(x), _window(n))


def ema(x, n: int) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (n + 1)``, seeded with the first value.

    Equals ``pandas.Series(x).ewm(span=n, adjust=False, min_periods=n).mean()``.
    """
    return _k.ema(_series(x), _window(n))


def wma(x, n: int) -> np.ndarray:
    """Linearly weighted moving average: weights 1..n, the newest bar ``n``; NaN for ``n - 1``."""
    return _k.wma(_series(x), _window(n))


def rsi(x, n: int = 14) -> np.ndarray:
    """Wilder's relative strength index over ``n`` changes; NaN for the first ``n`` values."""
    return _k.rsi(_series(x), _window(n))


def atr(high, low, close, n: int = 14) -> np.ndarray:
    """Wilder's average true range over ``n`` bars; NaN for the first ``n - 1``."""
    h, lo, c = _series(high, "high"), _series(low, "low"), _series(close, "close")
    _same_length(high=h, low=lo, close=c)
    return _k.atr(h, lo, c, _window(n))


def rolling_std(x, n: int) -> np.ndarray:
    """Population standard deviation (ddof=0) of the last ``n`` values."""
    return _k.rolling_std(_series(x), _window(n))


def bollinger(x, n: int = 20, k: float = 2.0) -> Bands:
    """Bollinger bands: SMA(n) and SMA(n) ± k population standard deviations."""
    k = _number(k, "k")
    if k < 0:
        raise ValueError(f"k must be a non-negative number of standard deviations, got {k}")
    return Bands(*_k.bollinger(_series(x), _window(n), k))


def rolling_max(x, n: int) -> np.ndarray:
    """Highest of the last ``n`` values, the current one included."""
    return _k.rolling_max(_series(x), _window(n))


def rolling_min(x, n: int) -> np.ndarray:
    """Lowest of the last ``n`` values, the current one included."""
    return _k.rolling_min(_series(x), _window(n))


def donchian(high, low, n: int = 20) -> Bands:
    """Donchian channel: highest high and lowest low of the last ``n`` bars, and their midpoint.

    The current bar is included; shift by one bar (compare with ``upper[i - 1]``) for a breakout
    rule that does not look ahead.
    """
    h, lo = _series(high, "high"), _series(low, "low")
    _same_length(high=h, low=lo)
    n = _window(n)
    upper, lower = _k.rolling_max(h, n), _k.rolling_min(lo, n)
    return Bands((upper + lower) / 2.0, upper, lower)


def macd(x, fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    """MACD: EMA(fast) - EMA(slow), its EMA(signal) and the histogram (line - signal)."""
    fast, slow, signal = _window(fast, "fast"), _window(slow, "slow"), _window(signal, "signal")
    if fast >= slow:
        raise ValueError(f"macd needs fast < slow, got fast={fast} and slow={slow}")
    return Macd(*_k.macd(_series(x), fast, slow, signal))


def _series(x, name: str = "x") -> np.ndarray:
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous:
        arr = x
    else:
        try:
            arr = np.ascontiguousarray(x, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be an array of numbers (e.g. a list or ndarray): {err}"
            ) from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}; pass one column")
    if np.isinf(arr).any():
        i = int(np.flatnonzero(np.isinf(arr))[0])
        raise ValueError(f"{name} is infinite at index {i}; use NaN to mark a missing value")
    return arr


def _window(n, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"{name} must be an integer number of bars, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be at least 1 bar, got {n}")
    return int(n)


def _number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {v!r}")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ValueError(f"inputs must have the same length, got {shown}")
