"""Benchmark-relative metrics: a strategy's equity curve against buy-and-hold of a benchmark.

Both series are sampled at the same bar times (``align`` takes the common times of two stored
series); their per-bar returns give beta, Jensen's alpha with a zero risk-free rate, the tracking
error and the information ratio, annualized by the number of bars in a year. Formulas:
docs/semantics.md, "Research statistics".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Relative:
    """Benchmark-relative metrics; NaN where undefined (see ``relative``)."""

    beta: float
    alpha: float  # annualized, a fraction per year
    tracking_error: float  # annualized
    information_ratio: float


def relative(equity: np.ndarray, benchmark: np.ndarray, bars_per_year: float) -> Relative:
    """Compare a strategy's equity with a benchmark's close prices at the same bars.

    Beta and alpha are NaN when the benchmark never moves; the information ratio is NaN when the
    active return (strategy minus benchmark, per bar) is constant, e.g. when the strategy is the
    benchmark: it has no tracking error to divide by.
    """
    if not bars_per_year > 0:
        raise ValueError(f"bars_per_year must be positive, got {bars_per_year}")
    r_s = _returns(equity, "equity")
    r_b = _returns(benchmark, "benchmark")
    if len(r_s) != len(r_b):
        raise ValueError(
            f"equity has {len(r_s) + 1} bars and the benchmark {len(r_b) + 1}: "
            "sample them at the same times (engine.research.relative.align)"
        )
    var_b = float(np.var(r_b, ddof=1))
    if var_b > 0:
        beta = float(np.cov(r_s, r_b, ddof=1)[0, 1]) / var_b
        alpha = float(np.mean(r_s - beta * r_b)) * bars_per_year
    else:
        beta = alpha = math.nan
    active = r_s - r_b
    sd = float(np.std(active, ddof=1))
    # Subtracting two equal returns leaves a rounding residue, not a tracking error: a deviation
    # below 1e-9 of the largest return is a constant active return.
    constant = sd <= 1e-9 * max(np.abs(r_s).max(), np.abs(r_b).max())
    per_bar_ir = math.nan if constant else float(active.mean()) / sd
    return Relative(
        beta=beta,
        alpha=alpha,
        tracking_error=sd * math.sqrt(bars_per_year),
        information_ratio=per_bar_ir * math.sqrt(bars_per_year),
    )


def align(
    time: np.ndarray, values: np.ndarray, other_time: np.ndarray, other_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the times both series have, and each series' values at those times."""
    common, i, j = np.intersect1d(time, other_time, assume_unique=True, return_indices=True)
    return common, np.asarray(values)[i], np.asarray(other_values)[j]


def _returns(prices: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(prices, dtype=np.float64)
    if x.ndim != 1 or len(x) < 3:
        raise ValueError(f"{name} needs at least 3 bars (2 returns) as a 1-D array")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{name} must be positive and finite at every bar")
    return x[1:] / x[:-1] - 1
