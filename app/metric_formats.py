"""What each metric the engine reports is called, where it goes, its unit and what it means.

The keys and units are the engine's (engine/metrics.py, docs/semantics.md): ``*_pct`` metrics are
in percent and drawdowns negative, ``*_s`` durations in seconds, money in the account currency.
A key missing here (a metric the engine gained later) still shows, under "Other", with a name made
from its key and a unit guessed from its suffix, so a new metric never breaks a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import formats as f

RETURNS, RISK, TRADES, EXPOSURE, OTHER = "Returns", "Risk", "Trades", "Exposure and time", "Other"
GROUPS = (RETURNS, RISK, TRADES, EXPOSURE, OTHER)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    group: str
    kind: str
    explanation: str


METRICS: dict[str, MetricInfo] = {m[0]: MetricInfo(*m[1:]) for m in [
    ("return_pct", "Total return", RETURNS, f.PERCENT,
     "Change of the equity from the start to the end of the backtest."),
    ("cagr_pct", "CAGR", RETURNS, f.PERCENT,
     "Compound annual growth rate: the yearly return that compounds to the total return."),
    ("return_ann_pct", "Annualised return", RETURNS, f.PERCENT,
     "The geometric mean return per day (or week, month) compounded to a year."),
    ("buy_hold_return_pct", "Buy & hold return", RETURNS, f.PERCENT,
     "What buying at the first trading bar and holding to the end would have returned."),
    ("equity_final", "Final equity", RETURNS, f.MONEY,
     "Equity at the last bar, an open trade marked to the last close."),
    ("equity_peak", "Peak equity", RETURNS, f.MONEY,
     "The highest equity reached at any bar."),
    ("sharpe", "Sharpe ratio", RISK, f.RATIO,
     "Annualised return divided by annualised volatility (risk-free rate 0)."),
    ("sortino", "Sortino ratio", RISK, f.RATIO,
     "Annualised return divided by the annualised downside deviation; undefined without a"
     " losing period."),
    ("calmar", "Calmar ratio", RISK, f.RATIO,
     "Annualised return divided by the maximum drawdown."),
    ("volatility_ann_pct", "Annualised volatility", RISK, f.PERCENT,
     "Standard deviation of the period returns, scaled to a year."),
    ("max_drawdown_pct", "Max. drawdown", RISK, f.PERCENT,
     "The largest fall of the equity from a previous peak."),
    ("avg_drawdown_pct", "Avg. drawdown", RISK, f.PERCENT,
     "The mean of the deepest points of each drawdown period."),
    ("max_drawdown_duration_s", "Max. drawdown duration", RISK, f.DURATION,
     "The longest time the equity stayed below a previous peak."),
    ("avg_drawdown_duration_s", "Avg. drawdown duration", RISK, f.DURATION,
     "The mean time from a peak to the next new high."),
    ("trades", "Trades", TRADES, f.COUNT,
     "Closed trades (a trade still open at the end is not counted)."),
    ("win_rate_pct", "Win rate", TRADES, f.PERCENT,
     "Share of closed trades with a positive profit."),
    ("best_trade_pct", "Best trade", TRADES, f.PERCENT,
     "Return of the best closed trade."),
    ("worst_trade_pct", "Worst trade", TRADES, f.PERCENT,
     "Return of the worst closed trade."),
    ("avg_trade_pct", "Avg. trade", TRADES, f.PERCENT,
     "Geometric mean of the closed trades' returns."),
    ("expectancy_pct", "Expectancy", TRADES, f.PERCENT,
     "Arithmetic mean of the closed trades' returns: what a trade returns on average."),
    ("profit_factor", "Profit factor", TRADES, f.RATIO,
     "Sum of winning trade returns divided by the sum of losing ones; above 1 makes money."),
    ("sqn", "SQN", TRADES, f.RATIO,
     "System quality number: square root of the trade count times mean profit over its"
     " standard deviation."),
    ("kelly_criterion", "Kelly criterion", TRADES, f.RATIO,
     "The fraction of equity the Kelly formula would risk per trade, from the win rate and"
     " the win/loss size."),
    ("commissions", "Commissions", TRADES, f.MONEY,
     "Fees paid by the closed trades, entry and exit."),
    ("open_trades", "Open at the end", TRADES, f.COUNT,
     "Trades still open after the last bar (1 or 0); not in the trade statistics."),
    ("exposure_time_pct", "Exposure time", EXPOSURE, f.PERCENT,
     "Share of the bars during which a trade was open."),
    ("max_trade_duration_s", "Max. trade duration", EXPOSURE, f.DURATION,
     "The longest time a closed trade was held."),
    ("avg_trade_duration_s", "Avg. trade duration", EXPOSURE, f.DURATION,
     "The mean time a closed trade was held."),
]}

# Against buy-and-hold of a benchmark (quantgrid.jobs.research.benchmark_relative): not engine
# metrics (a backtest does not store them), so a catalogue of their own, shown in this order.
BENCHMARK = "Against buy & hold"
RELATIVE: dict[str, MetricInfo] = {m[0]: MetricInfo(*m[1:]) for m in [
    ("alpha", "Alpha (annualised)", BENCHMARK, f.FRACTION,
     "The yearly return the strategy made beyond what its beta to buy-and-hold explains"
     " (Jensen's alpha, risk-free rate 0)."),
    ("beta", "Beta", BENCHMARK, f.RATIO,
     "How much the strategy's daily return moved with buy-and-hold's: 1 moves alike, 0 not at"
     " all, negative against it."),
    ("tracking_error", "Tracking error", BENCHMARK, f.FRACTION,
     "The annualised volatility of the return difference between the strategy and"
     " buy-and-hold."),
    ("information_ratio", "Information ratio", BENCHMARK, f.RATIO,
     "The annualised return beyond buy-and-hold divided by the tracking error: how steadily"
     " the strategy beat (above 0) or lagged it."),
]}


def relative(values: dict[str, Any]) -> list[Shown]:
    """The benchmark-relative metrics of ``values`` (a missing or undefined one: a dash)."""
    return [Shown(k, m.name, f.fmt(values.get(k), m.kind), m.explanation, values.get(k),
                  _sign(values.get(k)) if k in ("alpha", "information_ratio") else "")
            for k, m in RELATIVE.items()]


# The row at the top of a result page, in this order.
HEADLINE = ("return_pct", "cagr_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct",
            "exposure_time_pct")


def info(key: str, value: Any = None) -> MetricInfo:
    """The description of ``key``; for an unknown key, one made from its name and value."""
    known = METRICS.get(key)
    if known is not None:
        return known
    kind = f.guess_kind(key, value)
    base = key.removesuffix("_pct").removesuffix("_s") if kind in (f.PERCENT, f.DURATION) else key
    name = base.replace("_", " ").strip().capitalize() or key
    return MetricInfo(name, OTHER, kind, f"Reported by the engine as '{key}'.")


@dataclass(frozen=True)
class Shown:
    """A metric ready for a page: its name, formatted value, explanation and raw number."""

    key: str
    name: str
    text: str
    explanation: str
    value: Any
    css: str  # "positive", "negative" or "" (for a colour that a sign carries)


def shown(key: str, value: Any, currency: str | None = None) -> Shown:
    m = info(key, value)
    return Shown(key, m.name, f.fmt(value, m.kind, currency), m.explanation, value,
                 _tone(key, value))


def _tone(key: str, value: Any) -> str:
    return _sign(value) if key in _SIGNED else ""


def _sign(value: Any) -> str:
    v = f.number(value)
    if not v:
        return ""
    return "positive" if v > 0 else "negative"


# Metrics whose sign says good or bad (a return); a drawdown is always negative, so not these.
_SIGNED = frozenset({"return_pct", "cagr_pct", "return_ann_pct", "buy_hold_return_pct",
                     "best_trade_pct", "worst_trade_pct", "avg_trade_pct", "expectancy_pct"})


def headline(metrics: dict[str, Any], currency: str | None = None) -> list[Shown]:
    """The headline metrics (a missing one shows as a dash)."""
    return [shown(k, metrics.get(k), currency) for k in HEADLINE]


def grouped(metrics: dict[str, Any], currency: str | None = None) -> list[tuple[str, list[Shown]]]:
    """Every metric, by group in GROUPS order; known ones in catalogue order, unknown by key."""
    keys = sorted(metrics, key=_catalogue_order)
    groups: dict[str, list[Shown]] = {g: [] for g in GROUPS}
    for k in keys:
        groups[info(k, metrics[k]).group].append(shown(k, metrics[k], currency))
    return [(g, rows) for g, rows in groups.items() if rows]


def side_by_side(results: list[dict[str, Any]], currency: str | None = None
                 ) -> list[list[Shown]]:
    """One row per metric any of ``results`` has (catalogue order, unknown ones by key), each
    with one cell per result (a dash where it lacks the metric): the compare page's table."""
    keys = sorted({k for m in results for k in m}, key=_catalogue_order)
    return [[shown(k, m.get(k), currency) for m in results] for k in keys]


def _catalogue_order(key: str) -> tuple[int, str]:
    return (_ORDER.get(key, len(_ORDER)), key)


_ORDER = {k: i for i, k in enumerate(METRICS)}
