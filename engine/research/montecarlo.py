"""Monte Carlo of the trade sequence: resample a backtest's trades to see other orders of luck.

The trades are drawn with replacement (or in blocks of consecutive trades, for strategies whose
trades are not independent) and compounded into equity paths; the spread of the paths' final
equity and maximum drawdown shows how much of one backtest's result was the order its trades came
in. Formulas: docs/semantics.md, "Research statistics".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERCENTILES = (5.0, 50.0, 95.0)
# Equity values per path set (resamples x (trades + 1)): 40 MB an array, a few arrays at once.
MAX_VALUES = 5_000_000


@dataclass(frozen=True)
class Distribution:
    """5th, 50th and 95th percentiles over the resampled equity paths.

    ``max_drawdown_pct`` is negative, in percent, like the engine's ``max_drawdown_pct``, so its
    5th percentile is the deep one. ``bands`` has one row per percentile and one column per
    trade index (column 0 is the initial cash): the fan chart.
    """

    final_equity: tuple[float, float, float]
    max_drawdown_pct: tuple[float, float, float]
    bands: np.ndarray
    resamples: int


def bootstrap_returns(
    returns: np.ndarray,
    cash: float,
    resamples: int = 10_000,
    seed: int | None = None,
    block: int = 1,
) -> Distribution:
    """Resample per-trade returns (fractions: 0.02 is +2 %) and compound them from ``cash``."""
    r = _validated(returns, cash, resamples, block)
    if np.any(r <= -1):
        raise ValueError("a trade return of -100 % or less leaves nothing to compound; pass P&Ls")
    drawn = r[_draws(len(r), resamples, block, np.random.default_rng(seed))]
    return _distribution(cash * _prepend(np.cumprod(1 + drawn, axis=1), 1.0))


def bootstrap_pnl(
    pnl: np.ndarray,
    cash: float,
    resamples: int = 10_000,
    seed: int | None = None,
    block: int = 1,
) -> Distribution:
    """Resample per-trade profits and losses (in cash) and add them up from ``cash``."""
    p = _validated(pnl, cash, resamples, block)
    drawn = p[_draws(len(p), resamples, block, np.random.default_rng(seed))]
    return _distribution(cash + _prepend(np.cumsum(drawn, axis=1), 0.0))


def _validated(trades: np.ndarray, cash: float, resamples: int, block: int) -> np.ndarray:
    x = np.asarray(trades, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        # No trades is no distribution; a flat line would read as a riskless strategy.
        raise ValueError("no trades to resample: Monte Carlo needs at least one closed trade")
    if not np.all(np.isfinite(x)):
        raise ValueError("trades must be finite numbers")
    if not cash > 0:
        raise ValueError(f"cash must be positive, got {cash}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 1 <= block <= len(x):
        raise ValueError(f"block must be between 1 and the {len(x)} trades, got {block}")
    if resamples * (len(x) + 1) > MAX_VALUES:
        raise ValueError(
            f"{resamples:,} resamples of {len(x):,} trades exceed {MAX_VALUES:,} equity values: "
            f"use at most {MAX_VALUES // (len(x) + 1):,} resamples"
        )
    return x


def _draws(n: int, resamples: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``resamples`` sequences of ``n`` trades, drawn in circular blocks of ``block``.

    A block of 1 is the plain bootstrap; longer blocks keep runs of consecutive trades together
    (the circular block bootstrap of Politis and Romano, 1992).
    """
    starts = rng.integers(0, n, size=(resamples, -(-n // block)))
    idx = (starts[:, :, None] + np.arange(block)) % n
    return idx.reshape(resamples, -1)[:, :n]


def _prepend(paths: np.ndarray, start: float) -> np.ndarray:
    """Put ``start`` (the growth before any trade) in front of each path."""
    return np.hstack([np.full((len(paths), 1), start), paths])


def _distribution(equity: np.ndarray) -> Distribution:
    peak = np.maximum.accumulate(equity, axis=1)
    max_dd = (1 - equity / peak).max(axis=1)  # max(1 - E / cummax(E)), as in docs/semantics.md
    return Distribution(
        final_equity=_percentiles(equity[:, -1]),
        max_drawdown_pct=_percentiles(-max_dd * 100),
        bands=np.percentile(equity, PERCENTILES, axis=0),
        resamples=len(equity),
    )


def _percentiles(values: np.ndarray) -> tuple[float, float, float]:
    p5, p50, p95 = np.percentile(values, PERCENTILES)
    return float(p5), float(p50), float(p95)
