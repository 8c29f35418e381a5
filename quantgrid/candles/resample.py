"""Resample candles locally with the same semantics as the server's ``GROUP BY time()``."""

from __future__ import annotations

import numpy as np

from engine.candles import Candles
from quantgrid.candles.store import empty_candles, from_trusted
from quantgrid.candles.symbols import Timeframe


def resample(candles: Candles, source: Timeframe, target: Timeframe) -> Candles:
    """Aggregate ``source`` bars into complete ``target`` bars labelled by their start (UTC epoch-aligned)."""
    if target.ns % source.ns:
        raise ValueError(f"{target} is not a multiple of {source}")
    if len(candles) == 0:
        return empty_candles()
    bucket = candles.time - np.mod(candles.time, target.ns)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, len(bucket)])
    ends = starts + counts - 1
    cols = {
        "open": candles.open[starts],
        "high": np.maximum.reduceat(candles.high, starts),
        "low": np.minimum.reduceat(candles.low, starts),
        "close": candles.close[ends],
        "volume": np.add.reduceat(candles.volume, starts),
    }
    complete = counts == target.ns // source.ns
    return from_trusted(
        np.ascontiguousarray(bucket[starts][complete]),
        {k: np.ascontiguousarray(v[complete]) for k, v in cols.items()},
    )
