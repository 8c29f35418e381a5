"""Realistic random candles for the demo, the tests and the benchmarks.

Not a plain Gaussian walk: returns are fat-tailed (Student t, 4 degrees of freedom), volatility
clusters (its logarithm follows a slow AR(1) process), both volatility and volume follow a daily
cycle (busier in the UTC afternoon), volume rises with the size of the move, each bar opens at the
previous close and its high and low reach beyond open and close. Prices are rounded to a tick of
about 1/10,000 of the start price. The same seed gives the same candles.
"""

from __future__ import annotations

import numpy as np

from engine.candles import Candles
from quantgrid.candles.store import to_ns
from quantgrid.candles.symbols import validate_timeframe

_YEAR_S = 365 * 86400
_PHI = 0.998  # log-volatility persistence per bar: clusters of several hundred bars


def generate(
    bars: int,
    *,
    timeframe: str = "1m",
    seed: int = 42,
    start="2020-01-01T00:00:00Z",
    price: float = 100.0,
    annual_vol: float = 0.6,
) -> Candles:
    """Return ``bars`` candles of a random walk starting at ``start`` (aligned to the timeframe)."""
    if bars < 1:
        raise ValueError("bars must be at least 1")
    if not price > 0 or not annual_vol > 0:
        raise ValueError("price and annual_vol must be positive")
    tf = validate_timeframe(timeframe)
    rng = np.random.default_rng(seed)
    t0 = to_ns(start)
    t0 -= t0 % tf.ns
    time = t0 + np.arange(bars, dtype=np.int64) * tf.ns

    hour = (time // 3_600_000_000_000) % 24
    season = 1.0 + 0.35 * np.cos(2 * np.pi * (hour - 15) / 24)
    sigma = annual_vol * np.sqrt(tf.ns / 1e9 / _YEAR_S)
    log_vol = _ar1(rng.normal(0.0, 0.06, bars), _PHI)
    vol = sigma * season * np.exp(log_vol - log_vol.var() / 2)
    shocks = rng.standard_t(4, bars) / np.sqrt(2.0)  # unit variance
    returns = vol * shocks

    decimals = int(4 - np.floor(np.log10(price)))
    close = price * np.exp(np.cumsum(returns))
    open_ = np.r_[price, close[:-1]]
    up = np.abs(rng.normal(0.0, 0.6, bars)) * vol
    down = np.abs(rng.normal(0.0, 0.6, bars)) * vol
    high = np.maximum(open_, close) * np.exp(up)
    low = np.minimum(open_, close) * np.exp(-down)
    # Rounding is monotonic, so low <= open, close <= high still holds afterwards.
    open_, high, low, close = (np.round(x, decimals) for x in (open_, high, low, close))
    volume = np.round(
        rng.lognormal(3.0, 0.5, bars) * season * (1.0 + 2.0 * np.abs(shocks)), 4
    )
    return Candles.from_arrays(time, open_, high, low, close, volume)


def _ar1(noise: np.ndarray, phi: float, block: int = 512) -> np.ndarray:
    """x[t] = phi * x[t-1] + noise[t], vectorised within blocks (phi**-block stays small)."""
    out = np.empty_like(noise)
    k = np.arange(block)
    up, down = phi**k, phi ** (-k)
    prev = 0.0
    for i in range(0, len(noise), block):
        seg = noise[i : i + block]
        m = len(seg)
        out[i : i + m] = up[:m] * (phi * prev + np.cumsum(seg * down[:m]))
        prev = out[i + m - 1]
    return out
