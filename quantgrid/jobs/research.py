"""A finished backtest's research statistics: a Monte Carlo of its trade sequence, and its metrics
relative to buy-and-hold of a benchmark, as JSON-safe values for the API and the result page.

The statistics themselves are engine.research's; this module picks their inputs from what is
stored (the result's trades and equity, the job's settings, the benchmark's candles), checks the
request against them and says why when a statistic cannot be had (``Unprocessable``, a 422).
Formulas and choices: docs/semantics.md, "Research statistics of a backtest".
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from engine.metrics import calendar
from engine.research import montecarlo
from engine.research.relative import align, relative
from quantgrid.candles.errors import CandlesNotFound
from quantgrid.candles.symbols import validate_symbol
from quantgrid.db.models import Backtest
from quantgrid.db.results import Report
from quantgrid.errors import InvalidInput, Unprocessable
from quantgrid.jobs.spec import series_choices, sim_config

# GET /backtests/{id}/montecarlo: its query's defaults and bounds (also in the OpenAPI document).
DEFAULT_RESAMPLES, MIN_RESAMPLES, MAX_RESAMPLES = 1_000, 100, 10_000
DEFAULT_SEED = 1  # a fixed default: the same URL gives the same numbers (and hits the memo)
DEFAULT_BLOCK = 1
# The query's static upper bound for ``block``; the real one is the number of closed trades.
MAX_BLOCK = 1_000_000

_MEMO_SIZE = 32
_memo: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_memo_lock = threading.Lock()


def page_resamples(report: Report) -> int:
    """The default number of resamples, fewer when the trades are too many for it (the page's)."""
    n = sum(1 for t in report.trades if not t.get("open"))
    return max(MIN_RESAMPLES, min(DEFAULT_RESAMPLES, montecarlo.MAX_VALUES // (n + 1)))


def monte_carlo(job: Backtest, report: Report, resamples: int = DEFAULT_RESAMPLES,
                seed: int = DEFAULT_SEED, block: int = DEFAULT_BLOCK) -> dict[str, Any]:
    """Bootstrap the closed trades of ``report`` from the job's initial cash (memoized).

    With ``all_in`` sizing every trade stakes the whole equity, so its return (a fraction)
    compounds; with the other sizings a trade's stake does not follow the equity, so its profit
    or loss in cash is what adds up (and so when a return is -100 % or worse, which leaves
    nothing to compound).
    """
    trades = [t for t in report.trades if not t.get("open")]
    n = len(trades)
    if n == 0:
        raise Unprocessable(
            f"backtest {job.id} closed no trades: a Monte Carlo resamples the closed trades, "
            "so there is nothing to resample")
    if not 1 <= block <= n:
        raise InvalidInput(f"block must be between 1 and the {n:,} closed trades, got {block}")
    most = montecarlo.MAX_VALUES // (n + 1)
    if most < MIN_RESAMPLES:
        raise Unprocessable(
            f"backtest {job.id} closed {n:,} trades: {MIN_RESAMPLES} resamples of them exceed "
            f"the {montecarlo.MAX_VALUES:,} equity values a Monte Carlo may compute")
    if resamples > most:
        raise InvalidInput(
            f"resamples must be between {MIN_RESAMPLES} and {most:,} for these {n:,} trades "
            f"(at most {montecarlo.MAX_VALUES:,} equity values), got {resamples}")
    config = sim_config(job.settings or {})
    returns = np.array([t["return_pct"] for t in trades], dtype=np.float64)
    method = "returns" if config.sizing == "all_in" and np.all(returns > -1) else "pnl"
    key = (report.fingerprint, config.cash, method, resamples, seed, block)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    try:
        if method == "returns":
            dist = montecarlo.bootstrap_returns(returns, config.cash, resamples, seed, block)
        else:
            pnl = np.array([t["pnl"] for t in trades], dtype=np.float64)
            dist = montecarlo.bootstrap_pnl(pnl, config.cash, resamples, seed, block)
    except ValueError as err:  # the query was checked above: what is left is the trades' own
        raise Unprocessable(f"no Monte Carlo of backtest {job.id}: {err}") from None
    out = {
        "resamples": resamples, "seed": seed, "block": block, "trades": n, "method": method,
        "initial_cash": config.cash,
        "final_equity": _percentiles(dist.final_equity),
        "max_drawdown_pct": _percentiles(dist.max_drawdown_pct),
        "bands": {name: [_num(v) for v in row.tolist()]
                  for name, row in zip(("p5", "p50", "p95"), dist.bands, strict=True)},
    }
    with _memo_lock:
        _memo[key] = out
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return out


def benchmark_relative(job: Backtest, report: Report, store, inventory,
                       benchmark: str | None = None) -> dict[str, Any]:
    """Alpha, beta, tracking error and information ratio of the backtest's equity against
    buy-and-hold of ``benchmark`` (default: the job's symbol) over the job's timeframe and range.

    Both series are taken at the bar times they share, then at the last of those bars in each
    calendar period of engine.metrics.calendar (days for intraday and daily bars, weeks, months
    or years for coarser ones), annualized by its periods per year: the returns and the rule the
    ``sharpe`` metric uses, so the numbers sit beside it without a second convention.
    """
    symbol = benchmark_symbol(benchmark, job, inventory)
    try:
        candles = store.read(symbol, job.timeframe, job.start_at, job.end_at, gaps="allow")
    except CandlesNotFound as err:
        raise Unprocessable(f"no benchmark-relative metrics: {err.message}") from None
    return _relative(job, report, symbol, candles)


def benchmark_symbol(raw: str | None, job: Backtest, inventory) -> str:
    """The benchmark a request names (the job's own symbol when it names none), checked against
    the candle store's series: it must hold (or resample to) the job's timeframe."""
    if raw is None:
        return job.symbol
    try:
        symbol = validate_symbol(raw)
    except InvalidInput as err:
        raise InvalidInput(f"benchmark: {err.message}") from None
    entry = series_choices(inventory).get(symbol)
    if entry is None:
        raise InvalidInput(f"benchmark must be a stored symbol; no candles of {symbol} are stored")
    if job.timeframe not in entry["timeframes"]:
        raise InvalidInput(
            f"benchmark {symbol} has no {job.timeframe} candles (the backtest's timeframe); it "
            f"has {', '.join(entry['timeframes'])}")
    return symbol


def _relative(job: Backtest, report: Report, benchmark: str, candles) -> dict[str, Any]:
    time, equity, close = align(report.equity_time, report.equity_value,
                                np.asarray(candles.time, dtype=np.int64), candles.close)
    if len(time) == 0:
        raise Unprocessable(f"{benchmark} has no {job.timeframe} bar at the times of the "
                            f"backtest's equity curve")
    cal = calendar(time)
    ends = np.flatnonzero(cal.period_end)
    periods = _PERIOD_NAMES[cal.period]
    if len(ends) < 3:
        raise Unprocessable(
            f"benchmark-relative metrics take returns between the ends of at least 3 {periods} "
            f"(as the sharpe metric does); backtest {job.id} spans {len(ends)}")
    try:
        rel = relative(equity[ends], close[ends], cal.periods_per_year)
    except ValueError as err:
        raise Unprocessable(
            f"no benchmark-relative metrics for backtest {job.id} against {benchmark} over "
            f"{len(ends)} {periods}: {err}") from None
    return {
        "benchmark": benchmark, "timeframe": job.timeframe, "period": cal.period,
        "periods_per_year": cal.periods_per_year, "observations": len(ends) - 1,
        "alpha": _num(rel.alpha), "beta": _num(rel.beta),
        "tracking_error": _num(rel.tracking_error),
        "information_ratio": _num(rel.information_ratio),
    }


_PERIOD_NAMES = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}


def _percentiles(values: tuple[float, float, float]) -> dict[str, float | None]:
    return {name: _num(v) for name, v in zip(("p5", "p50", "p95"), values, strict=True)}


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
