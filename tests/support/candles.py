"""Candle data and a pandas reference for the candle store tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.candles import FIELDS, Candles

T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
MINUTE = 60 * 10**9
_RULES = {"5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D"}


def minutes(n: int, start: int = T0, seed: int = 0, price: float = 100.0, step: int = MINUTE) -> Candles:
    """``n`` candles ``step`` apart (one minute by default) from ``start``, distinct and valid."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[price, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 1e-3, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 1e-3, n))
    time = start + step * np.arange(n, dtype=np.int64)
    return Candles.from_arrays(time, open_, high, low, close, rng.uniform(0, 100, n))


def pandas_resample(candles: Candles, timeframe: str, source_minutes: int = 1) -> pd.DataFrame:
    """The reference: pandas' resample, epoch-aligned, left-labelled, complete bars only."""
    frame = pd.DataFrame(
        {f: getattr(candles, f) for f in FIELDS}, index=pd.to_datetime(candles.time)  # naive = UTC
    )
    rule = _RULES[timeframe]
    agg = frame.resample(rule, label="left", closed="left", origin="epoch").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = frame["close"].resample(rule, label="left", closed="left", origin="epoch").count()
    ratio = pd.Timedelta(rule) // pd.Timedelta(minutes=source_minutes)
    return agg[counts == ratio]


def assert_same(actual: Candles, expected: Candles) -> None:
    for f in ("time", *FIELDS):
        np.testing.assert_array_equal(getattr(actual, f), getattr(expected, f), err_msg=f)
