"""Mean-reversion strategies: RSI reversion and Bollinger band reversion.

They emit an order only when the position they want changes (see
:func:`engine.signals.position_events`): a second oversold signal while already long is HOLD.
With ``allow_short=1`` the overbought signal reverses into a short; with ``allow_short=0`` it only
closes the long (FLAT), making the strategy long-only.
"""

from __future__ import annotations

import numpy as np

from engine.candles import Candles
from engine.signals import position_events
from engine.strategies.base import IndicatorCache, Param, Strategy

_ALLOW_SHORT = Param(
    "allow_short",
    int,
    1,
    0,
    1,
    "1: the sell signal opens a short (reversal); 0: it only closes the long (long-only).",
)


def _prev(a: np.ndarray) -> np.ndarray:
    """``a`` shifted one bar later: ``out[i] = a[i - 1]``, NaN on bar 0."""
    out = np.empty_like(a)
    out[:1] = np.nan
    out[1:] = a[:-1]
    return out


class RsiReversion(Strategy):
    name = "rsi_reversion"
    display_name = "RSI reversion"
    summary = "Mean reversion: buy when the RSI leaves oversold, sell when it leaves overbought."
    description = (
        "Long when Wilder's RSI of the close crosses up through the lower level (leaving "
        "oversold); short, or flat when allow_short=0, when it crosses down through the upper "
        "level (leaving overbought)."
    )
    params = (
        Param("period", int, 14, 2, 10_000, "Number of price changes in Wilder's RSI."),
        Param("lower", float, 30.0, 0.0, 100.0, "Oversold level: crossing up through it buys."),
        Param(
            "upper", float, 70.0, 0.0, 100.0, "Overbought level: crossing down through it sells."
        ),
        _ALLOW_SHORT,
    )
    constraints = (("lower", "upper"),)

    def _warmup(self, p: dict) -> int:
        return p["period"] + 1

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        r = ind.rsi(p["period"])
        prev = _prev(r)
        # "Crosses up through": below on the previous bar, at or above now (and the mirror).
        buy = (prev < p["lower"]) & (r >= p["lower"])
        sell = (prev > p["upper"]) & (r <= p["upper"])
        return _orders(buy, sell, None, None, bool(p["allow_short"]), self._warmup(p))


class BollingerReversion(Strategy):
    name = "bollinger_reversion"
    display_name = "Bollinger reversion"
    summary = "Mean reversion: trade a close back inside the Bollinger bands, exit at the middle."
    description = (
        "Long when the close comes back inside the lower Bollinger band (below it on the "
        "previous bar, at or above it now), short when it comes back inside the upper band "
        "(or only closes the long when allow_short=0); a long is closed when the close reaches "
        "the middle band, a short when it falls to it."
    )
    params = (
        Param("period", int, 20, 2, 10_000, "Bars in the moving average and standard deviation."),
        Param("k", float, 2.0, 0.1, 10.0, "Band width in population standard deviations."),
        _ALLOW_SHORT,
    )

    def _warmup(self, p: dict) -> int:
        return p["period"]

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        close = candles.close
        mid, sd = ind.sma(p["period"]), ind.rolling_std(p["period"])
        upper, lower = mid + p["k"] * sd, mid - p["k"] * sd
        prev_close = _prev(close)
        buy = (prev_close < _prev(lower)) & (close >= lower)
        sell = (prev_close > _prev(upper)) & (close <= upper)
        return _orders(
            buy, sell, close >= mid, close <= mid, bool(p["allow_short"]), self._warmup(p)
        )


def _orders(buy, sell, long_exit, short_exit, allow_short: bool, start: int) -> np.ndarray:
    n = len(buy)
    none = np.zeros(n, dtype=bool)
    long_exit = none if long_exit is None else long_exit
    short_exit = none if short_exit is None else short_exit
    if allow_short:
        return position_events(buy, sell, long_exit, short_exit, start)
    return position_events(buy, none, long_exit | sell, none, start)
