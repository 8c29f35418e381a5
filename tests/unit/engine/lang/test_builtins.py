"""Each built-in strategy written in the language (engine/lang/examples) gives the built-in's
parameters, trades, equity and sweep metrics, on backtesting.py's bundled GOOG data and on
random walks (with flat stretches, where moving averages touch), over parameter grids."""

from __future__ import annotations

import numpy as np
import pytest

from engine import strategies
from engine.backtest import run_backtest
from engine.candles import Candles
from engine.lang import EXAMPLES, compile_strategy, example
from engine.simulator import SimConfig
from engine.sweep import parse_grid, run_sweep
from tests.unit.engine.sim_data import random_walk

GRIDS = {
    "sma_cross": ["fast=2:12:5", "slow=10:30:10"],
    "ema_cross": ["fast=2:12:5", "slow=10:30:10"],
    "macd": ["fast=3,8", "slow=12,20", "signal=3,9"],
    "rsi_reversion": ["period=5,14", "lower=25,35", "upper=65,75", "allow_short=0,1"],
    "bollinger_reversion": ["period=10,20", "k=1.5,2", "allow_short=0,1"],
    "donchian_breakout": ["period=5,20", "allow_short=0,1"],
}
CONFIGS = [
    SimConfig(commission=0.002),
    SimConfig(commission=0.001, stop_loss=0.03, take_profit=0.05, trailing_stop=0.02,
              fill="close", sizing="equity_fraction", size=0.5, fractional=True),
]


def _goog() -> Candles:
    from backtesting.test import GOOG

    return Candles.from_arrays(GOOG.index.values, GOOG.Open, GOOG.High, GOOG.Low, GOOG.Close,
                               GOOG.Volume)


def _flat_stretches(seed: int) -> Candles:
    """A random walk that stands still now and then: equal moving averages, then crosses."""
    c = random_walk(3000, seed, vol=0.01)
    cols = {f: getattr(c, f).copy() for f in ("open", "high", "low", "close", "volume")}
    for start in range(200, 3000, 400):
        for f in ("open", "high", "low", "close"):
            cols[f][start : start + 60] = c.close[start - 1]
    return Candles.from_arrays(c.time, **cols)


DATA = {
    "goog": _goog,
    "walk": lambda: random_walk(3000, 1, vol=0.02),
    "flat_stretches": lambda: _flat_stretches(2),
}


@pytest.fixture(scope="module", params=EXAMPLES)
def pair(request):
    return strategies.get(request.param), compile_strategy(example(request.param), request.param)


def test_schema_is_the_builtins(pair):
    builtin, written = pair
    # A written strategy is shown by its own name and first line, not the built-in's title.
    shown = ("display_name", "summary")
    ours = {k: v for k, v in written.schema().items() if k not in shown}
    theirs = {k: v for k, v in builtin.schema().items() if k not in shown}
    assert ours == {**theirs, "source_hash": written.source_hash}


@pytest.mark.parametrize("data", sorted(DATA))
def test_backtests_are_identical_over_the_grid(pair, data):
    builtin, written = pair
    candles = DATA[data]()
    sets = parse_grid(GRIDS[builtin.name], builtin)
    assert list(sets) == list(parse_grid(GRIDS[builtin.name], written))
    trades = 0
    for config in CONFIGS:
        for params in sets:
            a = run_backtest(candles, builtin.name, params, config)
            b = run_backtest(candles, written, params, config)
            assert a.start == b.start, params
            np.testing.assert_array_equal(a.equity, b.equity, err_msg=str(params))
            assert a.trades.tolist() == b.trades.tolist(), params
            assert a.to_dict(equity=False, trades=False) == b.to_dict(equity=False, trades=False)
            trades += len(a.trades)
    assert trades > 10 * len(sets)


@pytest.mark.parametrize("data", ["goog", "flat_stretches"])
def test_sweeps_are_identical(pair, data):
    builtin, written = pair
    candles = DATA[data]()
    sets = list(parse_grid(GRIDS[builtin.name], builtin))
    for config in CONFIGS:
        a = run_sweep(candles, builtin.name, sets, config)
        b = run_sweep(candles, written, sets, config)
        np.testing.assert_array_equal(a.metrics, b.metrics)
        assert (a.strategy, a.params) == (b.strategy, b.params)


def test_flat_stretches_make_a_crossover_strategy_reenter():
    """Without ``reenter = True`` the SMA cross would skip the re-entry after a touch."""
    candles = _flat_stretches(2)
    builtin = strategies.get("sma_cross")
    source = example("sma_cross")
    assert "reenter = True" in source
    without = compile_strategy(source.replace("reenter = True", "reenter = False"))
    p = {"fast": 7, "slow": 20}
    assert not np.array_equal(without.signals(candles, **p), builtin.signals(candles, **p))
