"""The research statistics of a sweep's sets computed the slow, obvious way from an equity curve.

The sweep kernel accumulates them while it simulates (engine.sweep.RESEARCH_COLUMNS); here they
come from the finished curve's period returns (the ones the sharpe metric uses), with whole-array
NumPy for the moments and a plain loop for the blocks, so tests can compare.
"""

from __future__ import annotations

import numpy as np

from engine.reference.metrics import period_returns


def research_row(time, equity, blocks: int = 16) -> np.ndarray:
    """Return count, mean, M2, M3, M4, then per block the count, sum and sum of squares."""
    equity = np.asarray(equity, dtype=np.float64)
    bars, r, _ = period_returns(time, equity)
    n = len(equity)
    mean = float(r.mean()) if len(r) else 0.0
    d = r - mean
    row = [float(len(r)), mean, float(np.sum(d**2)), float(np.sum(d**3)), float(np.sum(d**4))]
    count, s1, s2 = np.zeros(blocks), np.zeros(blocks), np.zeros(blocks)
    for bar, value in zip(bars.tolist(), r.tolist(), strict=True):
        b = bar * blocks // n  # the block of the bar that ends the period
        count[b] += 1
        s1[b] += value
        s2[b] += value * value
    return np.concatenate([row, count, s1, s2])
