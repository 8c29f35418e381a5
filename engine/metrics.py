"""Performance metrics: their names, the calendar that annualizes them, and the result dict.

The numbers themselves are computed by the simulation kernel while it runs (``engine_ext.simulate``),
so a backtest or a sweep never walks the equity curve twice. The formulas, which are
backtesting.py's, are written out in docs/semantics.md; ``engine.reference.metrics`` computes the
same numbers the slow way from an equity curve and a trade list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine_ext import simulate as _k

# Column order of the kernel's metrics row. Percentages are in percent (12.5 means 12.5 %),
# durations in seconds, drawdowns negative (backtesting.py's signs).
METRIC_KEYS: tuple[str, ...] = (
    "equity_final",
    "equity_peak",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration_s",
    "avg_drawdown_duration_s",
    "exposure_time_pct",
    "trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_trade_duration_s",
    "avg_trade_duration_s",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "kelly_criterion",
    "commissions",
    "open_trades",
)
_INT_KEYS = frozenset({"trades", "open_trades"})
assert len(METRIC_KEYS) == _k.N_METRIC_COLUMNS, "METRIC_KEYS is out of step with the kernel"

# Metrics where a larger value is better; the sweep ranks by them descending, others ascending.
HIGHER_IS_BETTER = frozenset(METRIC_KEYS) - {
    "volatility_ann_pct",
    "max_drawdown_duration_s",
    "avg_drawdown_duration_s",
    "commissions",
}

_DAY_NS = 86_400_000_000_000
_SECOND_NS = 1_000_000_000


@dataclass(frozen=True)
class Calendar:
    """How a series of bar times is annualized.

    ``period_end[i]`` is 1 on the last bar of each calendar period (a UTC day, or a week, month
    or year for bars that far apart); returns are taken between those bars. ``periods_per_year``
    compounds them to a year; ``years`` is the span from the first to the last bar.
    """

    period: str
    period_end: np.ndarray
    periods_per_year: float
    years: float


def calendar(time: np.ndarray) -> Calendar:
    """Pick the return period and the periods per year for bars at these times (backtesting.py's rule)."""
    n = len(time)
    if n == 0:
        return Calendar("D", np.zeros(0, dtype=np.uint8), 252.0, 0.0)
    tail = np.diff(time[-100:])
    freq_days = math.floor(float(np.median(tail)) / _DAY_NS) if len(tail) else 0
    period = {7: "W", 31: "M", 365: "Y"}.get(freq_days, "D")
    if period == "D":
        period_end, weekend_bars = _k.day_calendar(time)
    else:
        buckets = _buckets(time, period)
        period_end = np.ones(n, dtype=np.uint8)
        period_end[:-1] = buckets[1:] != buckets[:-1]
        weekend_bars = int(np.count_nonzero((time // _DAY_NS + 3) % 7 >= 5))
    have_weekends = weekend_bars / n > 2 / 7 * 0.6
    periods_per_year = {"W": 52.0, "M": 12.0, "Y": 1.0}.get(
        period, 365.0 if have_weekends else 252.0
    )
    span = int(time[-1]) - int(time[0])
    # backtesting.py: (Duration.days + Duration.seconds / 86400) / 365.25, whole seconds only
    days, rest = divmod(span, _DAY_NS)
    years = (days + (rest // _SECOND_NS) / 86400) / 365.25
    return Calendar(period, period_end, periods_per_year, years)


def _buckets(time: np.ndarray, period: str) -> np.ndarray:
    if period == "W":  # weeks end on Sunday (pandas' "W"); 1970-01-01 was a Thursday
        return (time // _DAY_NS + 3) // 7
    unit = {"M": "datetime64[M]", "Y": "datetime64[Y]"}[period]
    return time.astype("datetime64[ns]").astype(unit).astype(np.int64)


def as_dict(row: np.ndarray) -> dict[str, float | int]:
    """Name a kernel metrics row; counts become ints, undefined values stay NaN."""
    out: dict[str, float | int] = {}
    for key, value in zip(METRIC_KEYS, row.tolist(), strict=True):
        out[key] = int(value) if key in _INT_KEYS else value
    return out


def json_safe(metrics: dict[str, float | int]) -> dict[str, float | int | None]:
    """Replace NaN and infinities (undefined metrics) by None, which JSON can carry."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in metrics.items()
    }
