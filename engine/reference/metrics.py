"""The metrics of docs/semantics.md computed the slow, obvious way from an equity curve and trades.

The kernel computes them on the fly while it simulates; this module recomputes them from the
finished curve with whole-array NumPy and plain loops, as the formulas read, so tests can compare.
"""

from __future__ import annotations

import math

import numpy as np

_DAY_NS = 86_400_000_000_000


# The metrics computed from the equity curve: NaN, all of them, when any equity is not finite.
_CURVE_KEYS = (
    "equity_final", "equity_peak", "return_pct", "return_ann_pct", "volatility_ann_pct",
    "cagr_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct", "avg_drawdown_pct",
    "max_drawdown_duration_s", "avg_drawdown_duration_s",
)


def compute(time, close, equity, trades, start: int) -> dict[str, float]:
    """Return the metrics dict for an equity curve and the closed trades (reference Trade objects)."""
    time = np.asarray(time, dtype=np.int64)
    close = np.asarray(close, dtype=np.float64)
    equity = np.asarray(equity, dtype=np.float64)
    n = len(equity)
    nan = math.nan
    closed = [t for t in trades if t.exit_reason != "end_of_data"]
    out: dict[str, float] = {
        "trades": len(closed),
        "open_trades": len(trades) - len(closed),
        "commissions": float(sum(t.fees for t in closed)),
    }
    if n == 0:
        return out
    if np.all(np.isfinite(equity)):
        out.update(_curve(time, equity))
    else:
        out.update(dict.fromkeys(_CURVE_KEYS, nan))
    bh = max(start - 1, 0)

    covered = np.zeros(n, dtype=bool)
    for t in closed:
        covered[t.entry_bar : t.exit_bar + 1] = True
    rets = np.array([t.return_pct for t in closed])
    pnl = np.array([t.pnl for t in closed])
    tdur = np.array([(time[t.exit_bar] - time[t.entry_bar]) / 1e9 for t in closed])
    k = len(closed)
    win_rate = float(np.mean(pnl > 0)) if k else nan
    neg = abs(rets[rets < 0].sum())
    sd = pnl.std(ddof=1) if k > 1 else nan
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]

    out.update(
        buy_hold_return_pct=(close[-1] - close[bh]) / close[bh] * 100,
        exposure_time_pct=covered.mean() * 100,
        win_rate_pct=win_rate * 100,
        best_trade_pct=rets.max() * 100 if k else nan,
        worst_trade_pct=rets.min() * 100 if k else nan,
        avg_trade_pct=(
            0.0 if np.any(rets + 1 <= 0) else (math.exp(np.log(rets + 1).sum() / k) - 1) * 100
        )
        if k
        else nan,
        max_trade_duration_s=tdur.max() if k else nan,
        avg_trade_duration_s=tdur.mean() if k else nan,
        profit_factor=rets[rets > 0].sum() / neg if neg else nan,
        expectancy_pct=rets.mean() * 100 if k else nan,
        sqn=math.sqrt(k) * pnl.mean() / sd if k > 1 and sd > 1e-9 * abs(pnl.mean()) else nan,
        kelly_criterion=(
            win_rate - (1 - win_rate) / (wins.mean() / -losses.mean())
            if len(wins) and len(losses)
            else nan
        ),
    )
    return out


def _curve(time: np.ndarray, equity: np.ndarray) -> dict[str, float]:
    """The metrics of a finite equity curve: returns per period, drawdowns, their durations."""
    n = len(equity)
    nan = math.nan
    _, r, per_year = period_returns(time, equity)
    if len(r) == 0:
        g = nan
    elif np.any(r + 1 <= 0):
        g = 0.0
    else:
        g = math.exp(np.log(r + 1).sum() / len(r)) - 1
    ann = (1 + g) ** per_year - 1
    var = r.var(ddof=1) if len(r) > 1 else nan
    vol = (
        math.sqrt((var + (1 + g) ** 2) ** per_year - (1 + g) ** (2 * per_year))
        if not math.isnan(var)
        else nan
    )

    # drawdowns
    peak = np.maximum.accumulate(equity)
    dd = 1 - equity / peak
    zero = list(np.flatnonzero(dd == 0))
    marks = sorted(set(zero) | {n - 1})
    periods = [(a, b) for a, b in zip(marks, marks[1:], strict=False) if b > a + 1]
    durations = [(time[b] - time[a]) / 1e9 for a, b in periods]
    peaks = [dd[a : b + 1].max() for a, b in periods]
    max_dd = float(dd.max())
    # with no complete period, backtesting.py averages every bar in drawdown (only the last can be)
    in_dd = dd[dd > 0]
    avg_dd = float(np.mean(peaks)) if peaks else (float(in_dd.mean()) if len(in_dd) else nan)

    span = int(time[-1]) - int(time[0])
    days, rest = divmod(span, _DAY_NS)
    years = (days + (rest // 1_000_000_000) / 86400) / 365.25
    return {
        "equity_final": equity[-1],
        "equity_peak": equity.max(),
        "return_pct": (equity[-1] - equity[0]) / equity[0] * 100,
        "return_ann_pct": ann * 100,
        "volatility_ann_pct": vol * 100,
        "cagr_pct": ((equity[-1] / equity[0]) ** (1 / years) - 1) * 100 if years else nan,
        "sharpe": (ann * 100) / (vol * 100) if vol else nan,
        "sortino": (
            ann / (math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(per_year))
            if len(r) and np.any(r < 0)
            else (nan if not len(r) or ann == 0 else math.copysign(math.inf, ann))
        ),
        "calmar": ann / max_dd if max_dd else nan,
        "max_drawdown_pct": -max_dd * 100,
        "avg_drawdown_pct": -avg_dd * 100,
        "max_drawdown_duration_s": max(durations) if durations else nan,
        "avg_drawdown_duration_s": float(np.mean(durations)) if durations else nan,
    }


def period_returns(time: np.ndarray, equity: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Return the bars that end each return period, the returns, and the periods per year.

    Return ``k`` runs from the equity at the end of period ``k`` to that at the end of period
    ``k + 1`` and belongs to bar ``bars[k]`` (the end of period ``k + 1``); NaN returns (after a
    bankruptcy, 0 / 0) are left out, with their bars.
    """
    time = np.asarray(time, dtype=np.int64)
    equity = np.asarray(equity, dtype=np.float64)
    n = len(equity)
    # calendar: the period from the median spacing of the last 100 bars
    tail = np.diff(time[-100:])
    freq_days = math.floor(float(np.median(tail)) / _DAY_NS) if len(tail) else 0
    day = time // _DAY_NS
    weekday = (day + 3) % 7
    have_weekends = np.mean(weekday >= 5) > 2 / 7 * 0.6
    if freq_days == 7:
        bucket, per_year = (day + 3) // 7, 52
    elif freq_days == 31:
        bucket, per_year = time.astype("datetime64[ns]").astype("datetime64[M]").astype(int), 12
    elif freq_days == 365:
        bucket, per_year = time.astype("datetime64[ns]").astype("datetime64[Y]").astype(int), 1
    else:
        bucket, per_year = day, (365 if have_weekends else 252)
    last_of_period = [i for i in range(n) if i == n - 1 or bucket[i] != bucket[i + 1]]
    period_equity = equity[last_of_period]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = period_equity[1:] / period_equity[:-1] - 1.0
    ends = np.array(last_of_period[1:], dtype=np.int64)
    keep = ~np.isnan(r)
    return ends[keep], r[keep], per_year
