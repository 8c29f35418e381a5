"""What a result page shows, ready for its template: headline, metric groups, monthly returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import formats as f
from app import metric_formats, trade_table
from app.trade_table import TradeQuery, trade_page
from engine.periods import monthly_returns
from quantgrid.db.results import Report

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Cell:
    text: str
    css: str


@dataclass(frozen=True)
class MonthRow:
    year: int
    months: list[Cell]
    total: Cell


def monthly_table(report: Report) -> list[MonthRow]:
    """Years by months of the equity curve's returns, formatted and classed for a heatmap."""
    return [
        MonthRow(y.year, [_cell(v) for v in y.months], _cell(y.total))
        for y in monthly_returns(report.equity_time, report.equity_value)
    ]


def _cell(value: float | None) -> Cell:
    if value is None:
        return Cell("", "heat-none")
    return Cell(f.percent(value), f.signed_level(value))


@dataclass(frozen=True)
class Spread:
    """One row of the Monte Carlo table: a quantity's 5th, 50th and 95th percentiles."""

    name: str
    explanation: str
    cells: list[str]


@dataclass(frozen=True)
class MonteCarloView:
    rows: list[Spread]
    summary: str
    resamples: int
    seed: int


def montecarlo_view(mc: dict[str, Any], currency: str | None = None) -> MonteCarloView:
    """The Monte Carlo section: its table and the sentence that says what it means."""
    equity, dd = mc["final_equity"], mc["max_drawdown_pct"]
    keys = ("p5", "p50", "p95")
    rows = [
        Spread("Final equity", "Equity after the last resampled trade.",
               [f.money(equity[k], currency) for k in keys]),
        Spread("Max. drawdown", "The largest fall from a previous peak along the resampled"
               " sequence (5th percentile: the deep one).", [f.percent(dd[k]) for k in keys]),
    ]
    how = ("their returns compounded" if mc["method"] == "returns" else
           "their profits and losses added up, as the sizing does not stake the whole equity")
    summary = (
        f"Drawing these {mc['trades']:,} trades at random, with replacement, "
        f"{mc['resamples']:,} times ({how}): in 90% of the draws the final equity ended between "
        f"{f.money(equity['p5'], currency)} and {f.money(equity['p95'], currency)}, and in 95% "
        f"the worst drawdown was no deeper than {f.percent(dd['p5'])}."
    )
    return MonteCarloView(rows, summary, mc["resamples"], mc["seed"])


def report_context(report: Report, query: TradeQuery, currency: str | None = None
                   ) -> dict[str, Any]:
    """The template variables of a finished backtest's result."""
    return {
        "headline": metric_formats.headline(report.metrics, currency),
        "metric_groups": metric_formats.grouped(report.metrics, currency),
        "months": MONTHS,
        "monthly": monthly_table(report),
        "trades": trade_page(report.trades, query, currency),
        "trade_columns": trade_table.COLUMNS,
        "trade_sides": trade_table.SIDES,
        "default_per_page": trade_table.PER_PAGE,
        "reason_label": trade_table.reason_label,
    }
