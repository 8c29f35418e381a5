"""Moments of return series: the per-observation Sharpe ratio, skewness and kurtosis.

The research statistics work on returns per observation (per bar or per trade), not annualized:
the papers' formulas take the number of observations as the sample size. The engine's
``sharpe`` metric is a different number (backtesting.py's annualized geometric return over
annualized volatility, computed by the kernel from daily equity; docs/semantics.md), so it
cannot be reused here.
"""

from __future__ import annotations

import numpy as np


def sharpe(returns: np.ndarray, axis: int = 0) -> np.ndarray | float:
    """Return mean / sample standard deviation along ``axis``; NaN where the returns are constant."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim == 0 or returns.shape[axis] < 2:
        raise ValueError("a Sharpe ratio needs at least 2 returns along the axis")
    return sharpe_ratio(returns.mean(axis=axis), returns.std(axis=axis, ddof=1))


def sharpe_ratio(mean: np.ndarray, sd: np.ndarray) -> np.ndarray | float:
    """Return mean / sd, NaN where sd is negligible.

    A constant series has no risk to divide by; its standard deviation in floating point may be a
    rounding residue rather than 0, so anything below 1e-9 of the mean counts as constant (the rule
    of the engine's ``sqn``).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 1e-9 * np.abs(mean), mean / sd, np.nan)[()]


def skewness(returns: np.ndarray) -> float:
    """Return the sample skewness m3 / m2^1.5 of a 1-D series (0 for a normal distribution)."""
    m2, m3, _ = _central_moments(returns)
    return m3 / m2**1.5


def kurtosis(returns: np.ndarray) -> float:
    """Return the sample kurtosis m4 / m2^2 of a 1-D series, not excess (3 for a normal one)."""
    m2, _, m4 = _central_moments(returns)
    return m4 / m2**2


def _central_moments(returns: np.ndarray) -> tuple[float, float, float]:
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError("moments need a 1-D series of at least 2 returns")
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0:
        raise ValueError("the returns are constant: skewness and kurtosis are undefined")
    return m2, float(np.mean(d**3)), float(np.mean(d**4))
