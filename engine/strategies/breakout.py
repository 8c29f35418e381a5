"""Donchian channel breakout."""

from __future__ import annotations

import numpy as np

from engine.candles import Candles
from engine.strategies.base import IndicatorCache, Param, Strategy
from engine.strategies.reversion import _ALLOW_SHORT, _orders, _prev


class DonchianBreakout(Strategy):
    name = "donchian_breakout"
    display_name = "Donchian breakout"
    summary = "Breakout: trade a close beyond the highest high or lowest low of recent bars."
    description = (
        "Long when the close rises above the highest high of the previous `period` bars, short "
        "(or flat when allow_short=0) when it falls below their lowest low. The channel for "
        "bar i uses bars i-period .. i-1 only, so a bar never breaks out of itself. An order "
        "fires only when the wanted position changes."
    )
    params = (
        Param("period", int, 20, 1, 10_000, "Bars in the channel, ending with the previous bar."),
        _ALLOW_SHORT,
    )

    def _warmup(self, p: dict) -> int:
        # The channel shifted one bar has `period` leading NaNs.
        return p["period"] + 1

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        upper = _prev(ind.rolling_max(p["period"]))
        lower = _prev(ind.rolling_min(p["period"]))
        close = candles.close
        up: np.ndarray = close > upper
        down: np.ndarray = close < lower
        return _orders(up, down, None, None, bool(p["allow_short"]), self._warmup(p))
