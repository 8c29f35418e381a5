"""``quantgrid backtest`` and ``quantgrid sweep``: run the engine on a CSV file of candles."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable
from typing import Any

import click
from tqdm import tqdm

from cli.strategies import load_strategy_file
from engine.backtest import run_backtest, trade_records
from engine.metrics import METRIC_KEYS, json_safe
from engine.simulator import DIRECTIONS, FILLS, SIZINGS, TRADE_DTYPE, SimConfig
from engine.strategies import Strategy
from engine.sweep import parse_grid, run_sweep
from quantgrid.candles.csvfile import read_csv
from quantgrid.errors import InvalidInput

_LABELS = {
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
assert set(_LABELS) == set(METRIC_KEYS)


def _sim_options(command: Callable) -> Callable:
    """Add one option per SimConfig field."""
    options = [
        click.option("--cash", type=float, default=10_000.0, show_default=True,
                     help="Starting equity."),
        click.option("--commission", type=float, default=0.0, show_default=True,
                     help="Fraction of traded value per entry and per exit (0.002 = 0.2 %)."),
        click.option("--fixed-fee", type=float, default=0.0, show_default=True,
                     help="Cash charged per order."),
        click.option("--slippage", type=float, default=0.0, show_default=True,
                     help="Fraction; buys fill higher and sells lower by it."),
        click.option("--sizing", type=click.Choice(SIZINGS), default="all_in", show_default=True,
                     help="all_in: whole equity as backtesting.py sizes it (a --fixed-fee counts "
                          "per unit there; --sizing equity_fraction --size 1 charges it once); "
                          "others need --size."),
        click.option("--size", type=float, default=None,
                     help="Equity fraction, cash amount or units, per --sizing."),
        click.option("--fractional/--whole", default=False, show_default=True,
                     help="Allow fractional units."),
        click.option("--direction", type=click.Choice(DIRECTIONS), default="both",
                     show_default=True, help="Trade long, short or both."),
        click.option("--fill", type=click.Choice(FILLS), default="next_open", show_default=True,
                     help="Fill at the next bar's open, or at this bar's close."),
        click.option("--stop-loss", type=float, default=None,
                     help="Fraction of the entry price, e.g. 0.05."),
        click.option("--take-profit", type=float, default=None,
                     help="Fraction of the entry price, e.g. 0.1."),
        click.option("--trailing-stop", type=float, default=None,
                     help="Fraction of the best price since entry."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _config(kw: dict[str, Any]) -> SimConfig:
    return SimConfig(
        cash=kw["cash"], commission=kw["commission"], fixed_fee=kw["fixed_fee"],
        slippage=kw["slippage"], sizing=kw["sizing"], size=kw["size"],
        fractional=kw["fractional"], direction=kw["direction"], fill=kw["fill"],
        stop_loss=kw["stop_loss"], take_profit=kw["take_profit"],
        trailing_stop=kw["trailing_stop"],
    )


def _strategy_options(command: Callable) -> Callable:
    command = click.option(
        "--strategy-file", type=click.Path(dir_okay=False),
        help="A strategy written in the strategy language (docs/strategy-language.md).",
    )(command)
    return click.option("--strategy", help="A built-in strategy's name, e.g. sma_cross.")(command)


def _strategy(name: str | None, path: str | None) -> Strategy | str:
    """The strategy to run: a built-in's name, or the one compiled from ``path``."""
    if (name is None) == (path is None):
        raise InvalidInput("give either --strategy NAME or --strategy-file FILE")
    return name if path is None else load_strategy_file(path)


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInput(f"parameter {pair!r} must look like name=value, e.g. -p fast=10")
        out[name.strip()] = value.strip()
    return out


@click.command("backtest")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False),
              help="OHLCV candles (Date/Time, Open, High, Low, Close[, Volume]).")
@_strategy_options
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A strategy parameter; repeat for each.")
@_sim_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--trades", "trades_path", type=click.Path(dir_okay=False),
              help="Write every trade to this CSV file.")
def backtest(csv_path, strategy, strategy_file, params, as_json, trades_path, **sim) -> None:
    """Backtest one strategy with one set of parameters over a CSV file of candles."""
    config = _config(sim)
    strategy = _strategy(strategy, strategy_file)
    candles = read_csv(csv_path)
    result = run_backtest(candles, strategy, _params(params), config)
    if trades_path:
        _write_csv(trades_path, trade_records(result.trades), [*TRADE_DTYPE.names, "open"])
    if as_json:
        click.echo(json.dumps(result.to_dict(equity=False, trades=False), allow_nan=False))
        return
    p = ", ".join(f"{k}={v}" for k, v in result.params.items())
    click.echo(f"{result.strategy} ({p}) over {len(candles)} candles, first order on bar"
               f" {result.start}")
    width = max(len(label) for label in _LABELS.values())
    for key in METRIC_KEYS:
        click.echo(f"{_LABELS[key]:<{width}}  {_fmt(key, result.metrics[key])}")


@click.command("sweep")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False),
              help="OHLCV candles (Date/Time, Open, High, Low, Close[, Volume]).")
@_strategy_options
@click.option("-g", "--grid", "grid", multiple=True, required=True,
              metavar="NAME=START:STOP:STEP|A,B,C",
              help="A parameter's values (stop included when the steps land on it); repeat.")
@_sim_options
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best sets to print.")
@click.option("--by", type=click.Choice(METRIC_KEYS), default="sharpe", show_default=True,
              help="The metric to rank by (higher is better except for durations, volatility "
                   "and commissions).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Where to write the whole grid, one row per set, best first "
                   "[default: sweep-STRATEGY.csv].")
@click.option("--json", "as_json", is_flag=True, help="Print the top sets as JSON.")
def sweep(csv_path, strategy, strategy_file, grid, top, by, out_path, as_json, **sim) -> None:
    """Backtest every combination of a parameter grid and rank them by a metric."""
    config = _config(sim)
    strategy = _strategy(strategy, strategy_file)
    name = strategy if isinstance(strategy, str) else strategy.name
    sets = parse_grid(grid, strategy)
    candles = read_csv(csv_path)
    if sets.dropped:
        click.echo(f"dropped {sets.dropped} invalid combination(s), e.g. {sets.drop_reason}",
                   err=True)
    with tqdm(total=len(sets), unit=" sets", desc=f"sweep {name}", file=sys.stderr,
              mininterval=0.5, disable=None) as bar:
        result = run_sweep(candles, strategy, sets, config,
                           progress=lambda done, total: bar.update(done - bar.n))
    order = result.ranked(by)
    out_path = out_path or f"sweep-{name}.csv"
    _write_csv(out_path, result.rows(order), [*result.params[0], *METRIC_KEYS])
    click.echo(f"wrote the whole grid ({len(sets)} rows, best first) to {out_path}", err=True)
    best = result.rows(order[:top])
    if as_json:
        out = {"strategy": name, "by": by, "sets": len(sets), "dropped": sets.dropped,
               "top": [json_safe(r) for r in best]}
        click.echo(json.dumps(out, allow_nan=False))
        return
    names = list(result.params[0])
    columns = [*names, by, *(k for k in ("return_pct", "max_drawdown_pct", "trades") if k != by)]
    rows = [[_fmt(c, r[c]) if c not in names else str(r[c]) for c in columns] for r in best]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    click.echo(f"top {len(best)} of {len(sets)} sets by {by}:")
    click.echo("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(key: str, value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "n/a"
    if key.endswith("_duration_s"):
        days, rest = divmod(int(round(value)), 86_400)
        h, rest = divmod(rest, 3_600)
        m, s = divmod(rest, 60)
        return f"{days} days {h:02d}:{m:02d}:{s:02d}"
    return f"{value:,.2f}" if key in ("equity_final", "equity_peak", "commissions") else f"{value:.4f}"


def _write_csv(path: str, rows: list[dict[str, Any]], fieldnames: list[str]) -> None:
    try:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as err:
        raise InvalidInput(f"cannot write {path}: {err.strerror}") from None


commands = [backtest, sweep]
