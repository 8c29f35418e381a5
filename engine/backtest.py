"""One backtest: a strategy and its parameters over candles, with metrics, equity and trades."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import strategies
from engine.candles import Candles
from engine.metrics import json_safe
from engine.simulator import EXIT_END_OF_DATA, EXIT_REASONS, SimConfig, simulate
from engine.strategies import Strategy


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What a backtest produced; ``to_dict`` gives the same as plain JSON values."""

    strategy: str
    params: dict[str, int | float]
    config: SimConfig
    start: int
    time: np.ndarray = field(repr=False)
    equity: np.ndarray = field(repr=False)
    trades: np.ndarray = field(repr=False)
    metrics: dict[str, float | int] = field(default_factory=dict)

    def to_dict(self, *, equity: bool = True, trades: bool = True) -> dict[str, Any]:
        """Return JSON-safe values: undefined metrics are None, times are ISO 8601 UTC strings.

        ``equity_final`` and ``trades`` (the number of closed trades) are repeated at the top
        level so that other tools find them without knowing the metric layout.
        """
        out: dict[str, Any] = {
            "strategy": self.strategy,
            "params": dict(self.params),
            "config": self.config.to_dict(),
            "start": self.start,
            "bars": len(self.time),
            "equity_final": json_safe(self.metrics)["equity_final"],
            "trades": self.metrics["trades"],
            "metrics": json_safe(self.metrics),
        }
        if equity:
            out["equity_curve"] = {
                "time": _iso(self.time),
                "equity": self.equity.tolist(),
            }
        if trades:
            out["trade_list"] = trade_records(self.trades)
        return out


def trade_columns(trades: np.ndarray) -> dict[str, np.ndarray]:
    """The trades array as columns: its fields, exit reasons by name, times as ISO strings, and
    ``open`` (still held at the end of the data). Whole columns at once: no loop per trade."""
    columns = {name: trades[name] for name in trades.dtype.names}
    columns["entry_time"] = np.array(_iso(trades["entry_time"]), dtype=object)
    columns["exit_time"] = np.array(_iso(trades["exit_time"]), dtype=object)
    columns["exit_reason"] = np.array(EXIT_REASONS, dtype=object)[trades["exit_reason"]]
    columns["open"] = trades["exit_reason"] == EXIT_END_OF_DATA
    return columns


def trade_records(trades: np.ndarray) -> list[dict[str, Any]]:
    """Turn the trades array into plain dicts, one per trade (see :func:`trade_columns`)."""
    columns = trade_columns(trades)
    values = [column.tolist() for column in columns.values()]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def run_backtest(
    candles: Candles,
    strategy: str | Strategy,
    params: Mapping[str, object] | None = None,
    config: SimConfig | None = None,
) -> BacktestResult:
    """Run ``strategy`` (a name or a Strategy) with ``params`` over ``candles``.

    Raise ValueError on bad input. ``result.config`` is the configuration simulated: ``config``
    with the strategy's own stops, if it declares any.
    """
    if not isinstance(candles, Candles):
        raise TypeError(
            "candles must be an engine.candles.Candles (build one with Candles.from_arrays), "
            f"got {type(candles).__name__}"
        )
    strategy = strategies.resolve(strategy)
    p = strategy.validate(params)
    config = strategy.configure(SimConfig() if config is None else config, p)
    start = strategy.warmup(p)
    n = len(candles)
    needed = start + 1 if config.fill == "close" else start + 2
    if n < needed:
        raise ValueError(
            f"{n} candles are too few for {strategy.name} with {_fmt(p)}: its indicators need "
            f"{start} bars before the first order and at least {needed} in all; "
            "load a longer date range or use shorter windows"
        )
    signals = strategy.signals(candles, **p)
    sim = simulate(candles, signals, config, start=start)
    return BacktestResult(
        strategy=strategy.name, params=p, config=config, start=start, time=candles.time,
        equity=sim.equity, trades=sim.trades, metrics=sim.metrics,
    )


def _fmt(params: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "its defaults"


def _iso(ns: np.ndarray) -> list[str]:
    """ISO 8601 UTC date-times ("2024-01-11T00:00:00Z"), to the second, or to the millisecond
    when a time has a fraction. Always a date and a time: numpy's "auto" unit writes a midnight
    as a bare date ("2024-01-11Z"), which is no ISO 8601 date-time."""
    times = np.asarray(ns).astype("datetime64[ns]")
    fraction = times[~np.isnat(times)].astype("int64") % 1_000_000_000
    unit = "ms" if fraction.any() else "s"
    return [f"{s}Z" for s in np.datetime_as_string(times, unit=unit)]
