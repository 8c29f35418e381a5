"""Trend strategies that trade a crossover of two lines: SMA cross, EMA cross, MACD.

Each emits LONG on the bar where the fast line crosses above the slow one and SHORT where it
crosses below, with backtesting.py's ``crossover`` rule (both comparisons strict:
``a[i-1] < b[i-1] and a[i] > b[i]``), so a LONG always closes and re-opens even if already long.
"""

from __future__ import annotations

import numpy as np

from engine.candles import Candles
from engine.signals import crossover
from engine.strategies.base import IndicatorCache, Param, Strategy
from engine_ext import signals as _k

_MAX_WINDOW = 100_000


class SmaCross(Strategy):
    name = "sma_cross"
    display_name = "SMA cross"
    summary = "Trend: follow the crossings of a fast and a slow simple moving average."
    description = (
        "Long when the fast simple moving average of the close crosses above the slow one, "
        "short when it crosses below (always in the market after the first cross)."
    )
    params = (
        Param("fast", int, 10, 1, _MAX_WINDOW - 1, "Bars in the fast simple moving average."),
        Param("slow", int, 20, 2, _MAX_WINDOW, "Bars in the slow simple moving average."),
    )
    constraints = (("fast", "slow"),)

    def _warmup(self, p: dict) -> int:
        return p["slow"]

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        if not ind.shared:
            # One parameter set: one fused pass, no intermediate arrays (bit-identical).
            return _k.sma_cross(candles.close, p["fast"], p["slow"], self._warmup(p))
        return crossover(ind.sma(p["fast"]), ind.sma(p["slow"]), self._warmup(p))


class EmaCross(Strategy):
    name = "ema_cross"
    display_name = "EMA cross"
    summary = "Trend: follow the crossings of a fast and a slow exponential moving average."
    description = (
        "Long when the fast exponential moving average of the close crosses above the slow "
        "one, short when it crosses below."
    )
    params = (
        Param(
            "fast", int, 12, 1, _MAX_WINDOW - 1, "Span of the fast EMA (alpha = 2 / (fast + 1))."
        ),
        Param("slow", int, 26, 2, _MAX_WINDOW, "Span of the slow EMA (alpha = 2 / (slow + 1))."),
    )
    constraints = (("fast", "slow"),)

    def _warmup(self, p: dict) -> int:
        return p["slow"]

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        return crossover(ind.ema(p["fast"]), ind.ema(p["slow"]), self._warmup(p))


class Macd(Strategy):
    name = "macd"
    display_name = "MACD"
    summary = "Trend: follow the MACD line's crossings of its signal line."
    description = (
        "Long when the MACD line (EMA(fast) - EMA(slow) of the close) crosses above its signal "
        "line (an EMA of the MACD line), short when it crosses below."
    )
    params = (
        Param("fast", int, 12, 1, 9_999, "Span of the fast EMA."),
        Param("slow", int, 26, 2, 10_000, "Span of the slow EMA."),
        Param("signal", int, 9, 1, 10_000, "Span of the signal line's EMA of the MACD line."),
    )
    constraints = (("fast", "slow"),)

    def _warmup(self, p: dict) -> int:
        # The signal line starts after slow - 1 + signal - 1 NaNs.
        return p["slow"] + p["signal"] - 1

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        line, sig, _ = ind.macd(p["fast"], p["slow"], p["signal"])
        return crossover(line, sig, self._warmup(p))
