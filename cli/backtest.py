"""``quantgrid backtest`` and ``quantgrid sweep``: run the engine on a CSV file of candles."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import numpy as np
from tqdm import tqdm

from cli.options import (
    check_one_strategy,
    parse_params,
    search_of,
    search_options,
    sim_options,
    strategy_options,
)
from cli.report import TRADE_COLUMNS, print_metrics, print_statistics, print_top, write_csv
from cli.strategies import load_strategy_file
from engine.backtest import run_backtest, trade_records
from engine.metrics import METRIC_KEYS, json_safe
from engine.simulator import SimConfig
from engine.strategies import Strategy
from engine.sweep import parse_grid, run_sweep, sample_grid
from quantgrid.candles.csvfile import read_csv
from quantgrid.jobs.statistics import research_statistics


def _config(kw: dict[str, Any]) -> SimConfig:
    return SimConfig(
        cash=kw["cash"], commission=kw["commission"], fixed_fee=kw["fixed_fee"],
        slippage=kw["slippage"], sizing=kw["sizing"], size=kw["size"],
        fractional=kw["fractional"], direction=kw["direction"], fill=kw["fill"],
        stop_loss=kw["stop_loss"], take_profit=kw["take_profit"],
        trailing_stop=kw["trailing_stop"],
    )


def _strategy(name: str | None, path: str | None) -> Strategy | str:
    """The strategy to run: a built-in's name, or the one compiled from ``path``."""
    check_one_strategy(name, path)
    return name if path is None else load_strategy_file(path)


@click.command("backtest")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False),
              help="OHLCV candles (Date/Time, Open, High, Low, Close[, Volume]).")
@strategy_options
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A strategy parameter; repeat for each.")
@sim_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--trades", "trades_path", type=click.Path(dir_okay=False),
              help="Write every trade to this CSV file.")
def backtest(csv_path, strategy, strategy_file, params, as_json, trades_path, **sim) -> None:
    """Backtest one strategy with one set of parameters over a CSV file of candles."""
    config = _config(sim)
    strategy = _strategy(strategy, strategy_file)
    candles = read_csv(csv_path)
    result = run_backtest(candles, strategy, parse_params(params), config)
    if trades_path:
        write_csv(trades_path, trade_records(result.trades), TRADE_COLUMNS)
    if as_json:
        click.echo(json.dumps(result.to_dict(equity=False, trades=False), allow_nan=False))
        return
    p = ", ".join(f"{k}={v}" for k, v in result.params.items())
    click.echo(f"{result.strategy} ({p}) over {len(candles)} candles, first order on bar"
               f" {result.start}")
    print_metrics(result.metrics)


@click.command("sweep")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False),
              help="OHLCV candles (Date/Time, Open, High, Low, Close[, Volume]).")
@strategy_options
@click.option("-g", "--grid", "grid", multiple=True, required=True,
              metavar="NAME=START:STOP:STEP|A,B,C",
              help="A parameter's values (stop included when the steps land on it); repeat.")
@sim_options
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the best sets to print.")
@click.option("--by", type=click.Choice(METRIC_KEYS), default="sharpe", show_default=True,
              help="The metric to rank by (higher is better except for durations, volatility "
                   "and commissions).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False),
              help="Where to write the whole grid, one row per set, best first "
                   "[default: sweep-STRATEGY.csv].")
@click.option("--json", "as_json", is_flag=True, help="Print the top sets as JSON.")
@search_options
def sweep(csv_path, strategy, strategy_file, grid, top, by, out_path, as_json, search, trials,
          seed, **sim) -> None:  # fmt: skip
    """Backtest every combination of a parameter grid (or a random search's draws from it) and
    rank them by a metric."""
    config = _config(sim)
    strategy = _strategy(strategy, strategy_file)
    name = strategy if isinstance(strategy, str) else strategy.name
    method = search_of(search, trials, seed)
    if method["method"] == "random":
        sets = sample_grid(grid, strategy, method["trials"], method["seed"])
        click.echo(f"random search: {method['trials']} trials, seed {method['seed']}", err=True)
    else:
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
    write_csv(out_path, result.rows(order), [*result.params[0], *METRIC_KEYS])
    click.echo(f"wrote the whole grid ({len(sets)} rows, best first) to {out_path}", err=True)
    best = result.rows(order[:top])
    winner = int(order[0]) if np.isfinite(result.column(by)[order[0]]) else None
    statistics = research_statistics(result.research, winner, by)
    if as_json:
        out = {"strategy": name, "by": by, "sets": len(sets), "dropped": sets.dropped,
               "top": [json_safe(r) for r in best], "statistics": statistics}
        click.echo(json.dumps(out, allow_nan=False))
        return
    print_top(best, list(result.params[0]), by, len(sets))
    print_statistics(statistics)


commands = [backtest, sweep]
