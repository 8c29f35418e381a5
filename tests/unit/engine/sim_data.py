"""Synthetic candles and signals for the engine tests (seeded, so failures reproduce)."""

from __future__ import annotations

import numpy as np

from engine.candles import Candles

DAY_NS = 86_400_000_000_000
MINUTE_NS = 60_000_000_000


def random_walk(n: int, seed: int, *, gaps: bool = True, step_ns: int = DAY_NS,
                vol: float = 0.01, start_ns: int = 1_500_000_000 * 10**9) -> Candles:
    """A geometric random walk with opens that gap away from the previous close when ``gaps``."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    prev = np.concatenate(([100.0], close[:-1]))[:n]
    open_ = prev * np.exp(rng.normal(0.0, vol / 2, n)) if gaps else prev.copy()
    wick = np.abs(rng.normal(0.0, vol / 2, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    time = start_ns + np.arange(n, dtype=np.int64) * step_ns
    return Candles.from_arrays(time, open_, high, low, close, rng.uniform(1, 1000, n))


def constant(n: int, price: float = 50.0) -> Candles:
    p = np.full(n, price)
    return Candles.from_arrays(np.arange(n, dtype=np.int64) * DAY_NS, p, p, p, p, np.ones(n))


def random_signals(n: int, seed: int, activity: float = 0.1) -> np.ndarray:
    """Mostly HOLD, with LONG, SHORT and FLAT orders at random bars."""
    rng = np.random.default_rng(seed)
    sig = rng.choice(np.array([-1, 1, 2], dtype=np.int8), size=n)
    sig[rng.random(n) > activity] = 0
    return sig


def sma_cross_signals(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """backtesting.py's crossover rule on rolling means, written independently of engine/."""
    c = np.asarray(close, dtype=np.float64)
    csum = np.concatenate(([0.0], np.cumsum(c)))

    def sma(k: int) -> np.ndarray:
        out = np.full(len(c), np.nan)
        out[k - 1:] = (csum[k:] - csum[:-k]) / k
        return out

    a, b = sma(fast), sma(slow)
    sig = np.zeros(len(c), dtype=np.int8)
    if len(c) > 1:
        up = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
        down = (b[:-1] < a[:-1]) & (b[1:] > a[1:])
        sig[1:][up] = 1
        sig[1:][down] = -1
    return sig
