"""How the ``backtest`` and ``sweep`` commands print metrics and write CSV files."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from typing import Any

import click

from engine.metrics import METRIC_KEYS
from engine.simulator import TRADE_DTYPE
from quantgrid.errors import InvalidInput

LABELS = {
    "equity_final": "Equity final",
    "equity_peak": "Equity peak",
    "return_pct": "Return [%]",
    "buy_hold_return_pct": "Buy & hold return [%]",
    "return_ann_pct": "Return (ann.) [%]",
    "volatility_ann_pct": "Volatility (ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "calmar": "Calmar ratio",
    "max_drawdown_pct": "Max. drawdown [%]",
    "avg_drawdown_pct": "Avg. drawdown [%]",
    "max_drawdown_duration_s": "Max. drawdown duration",
    "avg_drawdown_duration_s": "Avg. drawdown duration",
    "exposure_time_pct": "Exposure time [%]",
    "trades": "Trades (closed)",
    "win_rate_pct": "Win rate [%]",
    "best_trade_pct": "Best trade [%]",
    "worst_trade_pct": "Worst trade [%]",
    "avg_trade_pct": "Avg. trade [%]",
    "max_trade_duration_s": "Max. trade duration",
    "avg_trade_duration_s": "Avg. trade duration",
    "profit_factor": "Profit factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "kelly_criterion": "Kelly criterion",
    "commissions": "Commissions",
    "open_trades": "Open trades at the end",
}
assert set(LABELS) == set(METRIC_KEYS)

# The columns of a --trades CSV file (a trade's fields, then whether it was still open).
TRADE_COLUMNS = [*TRADE_DTYPE.names, "open"]


def fmt(key: str, value: float | int | None) -> str:
    """A metric as the tables show it (None is how the API sends an undefined one)."""
    if isinstance(value, int):
        return str(value)
    if value is None or math.isnan(value):
        return "n/a"
    if key.endswith("_duration_s"):
        days, rest = divmod(int(round(value)), 86_400)
        h, rest = divmod(rest, 3_600)
        m, s = divmod(rest, 60)
        return f"{days} days {h:02d}:{m:02d}:{s:02d}"
    return f"{value:,.2f}" if key in ("equity_final", "equity_peak", "commissions") else f"{value:.4f}"


def print_metrics(metrics: Mapping[str, float | int | None]) -> None:
    """One line per metric: its label and its value."""
    width = max(len(label) for label in LABELS.values())
    for key in METRIC_KEYS:
        click.echo(f"{LABELS[key]:<{width}}  {fmt(key, metrics[key])}")


def print_top(best: list[dict[str, Any]], names: list[str], by: str, total: int) -> None:
    """A table of the best parameter sets (``names``) with ``by`` and a few other metrics."""
    columns = [*names, by, *(k for k in ("return_pct", "max_drawdown_pct", "trades") if k != by)]
    rows = [[fmt(c, r[c]) if c not in names else str(r[c]) for c in columns] for r in best]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    click.echo(f"top {len(best)} of {total} sets by {by}:")
    click.echo("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def write_csv(path: str, rows: list[dict[str, Any]], fieldnames: list[str]) -> None:
    try:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as err:
        raise InvalidInput(f"cannot write {path}: {err.strerror}") from None


def print_statistics(statistics: dict) -> None:
    """The sweep's DSR and PBO in a line each, or why each is not available."""
    dsr, pbo = statistics.get("deflated_sharpe") or {}, statistics.get("pbo") or {}
    if dsr.get("available"):
        click.echo(f"deflated Sharpe ratio {_two(dsr['dsr'])}: the probability that the best set's"
                   f" Sharpe ratio beats the best of {dsr['trials']:,} tries without an edge")
    elif dsr:
        click.echo(f"deflated Sharpe ratio: not available ({dsr.get('reason')})")
    if pbo.get("available"):
        click.echo(f"probability of backtest overfitting {_two(pbo['pbo'])}: how often the"
                   " in-sample best ranked in the bottom half out of sample")
    elif pbo:
        click.echo(f"probability of backtest overfitting: not available ({pbo.get('reason')})")


def _two(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"
