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
