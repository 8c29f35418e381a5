"""A backtest's tearsheet: one self-contained HTML file with its settings, metrics, monthly
returns, every trade, and equity and drawdown charts, that opens without a network.

It renders the result page's own partials (templates/backtests/_headline.html, _metrics.html,
_monthly.html, _trade_table.html) from the same :func:`app.backtests.report.report_context`, so
a metric reads the same on the page and in the file. The charts are inline SVG paths drawn here
(:mod:`app.svgchart`) and the stylesheet is inlined; the file holds no script and no link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response, current_app, render_template

from app import formats as f
from app.backtests.report import report_context
from app.extensions import backend, rw
from app.present import drawdown_pct, job_dict
from app.svgchart import LineChart, line_chart
from app.trade_table import TradeQuery
from quantgrid.db import backtests as bt
from quantgrid.db import results
from quantgrid.db import strategies as saved
from quantgrid.db.results import Report

# What the file adds to the site's stylesheet: the charts, and no header bar to lay out.
_EXTRA_CSS = """
main { margin: 0 auto; }
.tearsheet-charts figure { margin: 0 0 1em; background: #fff; border: 1px solid #d5dae3; padding: .5em; }
.tearsheet-charts figcaption { font-weight: 600; margin-bottom: .3em; }
.tearsheet-charts svg { width: 100%; height: auto; display: block; }
.tearsheet-charts .axis { display: flex; justify-content: space-between; font-size: .85em; color: #4a5263; font-variant-numeric: tabular-nums; }
table.settings th { font-weight: 600; }
footer { color: #5b6475; font-size: .85em; margin: 2em 0 1em; }
@media print { .scroll-x { overflow: visible; } }
"""


@cache
def _stylesheet(static_folder: str) -> str:
    return (Path(static_folder) / "app.css").read_text(encoding="utf-8") + _EXTRA_CSS


def _date(ns: int | None) -> str:
    if ns is None:
        return f.MISSING
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M")


def _chart(title: str, chart: LineChart, low: str, high: str) -> dict[str, Any]:
    return {"title": title, "chart": chart, "low": low, "high": high,
            "start": _date(chart.x_min), "end": _date(chart.x_max)}


def charts(report: Report, currency: str | None = None) -> list[dict[str, Any]]:
    """The equity and drawdown curves as SVG paths, each with its range in words."""
    equity = line_chart(report.equity_time, report.equity_value)
    drawdown = line_chart(report.equity_time, drawdown_pct(report.equity_value), height=140)
    return [
        _chart("Equity", equity, f.money(equity.y_min, currency), f.money(equity.y_max, currency)),
        _chart("Drawdown", drawdown, f.percent(drawdown.y_min), f.percent(drawdown.y_max)),
    ]


def settings_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    """The job's series, range and simulator settings, as label and text."""
    rows = [("Symbol", info["symbol"]), ("Timeframe", info["timeframe"]),
            ("Start", info["start"]), ("End", info["end"])]
    for key, value in sorted((info.get("settings") or {}).items()):
        rows.append((key.replace("_", " ").capitalize(),
                     "off" if value is None else str(value)))
    return rows


def render_tearsheet(job, report: Report, version=None, currency: str | None = None) -> str:
    """The tearsheet of ``job`` (a backtest) and its ``report``, as one HTML document."""
    # Every trade on one "page": the file is read offline, with no pager to fetch the others.
    query = TradeQuery(per_page=max(1, len(report.trades)))
    info = job_dict(job)
    return render_template(
        "backtests/tearsheet.html", job=job, info=info, report=report, version=version,
        settings=settings_rows(info), charts=charts(report, currency),
        stylesheet=_stylesheet(current_app.static_folder),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sortable=False, **report_context(report, query, currency))


def tearsheet_response(job_id: int, viewer) -> Response:
    """The tearsheet of the viewer's backtest ``job_id`` as a download (the page's link and the
    API's route); NotFound, as for its result, when it is not theirs or has no result yet."""

    def read(s):
        job = bt.get_backtest(s, job_id, viewer)
        report = results.report_for_backtest(s, job_id, viewer)
        version = (None if job.strategy_version_id is None
                   else saved.get_visible_by_id(s, viewer, job.strategy_version_id))
        return job, report, version

    job, report, version = backend.db.run_read(read, rw=rw())
    return Response(render_tearsheet(job, report, version,
                                     backend.settings.account_currency), mimetype="text/html",
                    headers={"Content-Disposition": f'attachment; filename="backtest-{job_id}.html"'})
