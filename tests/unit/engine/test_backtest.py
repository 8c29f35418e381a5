"""run_backtest: a strategy by name over candles, validated, with JSON-safe results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import strategies
from engine.backtest import run_backtest
from engine.simulator import SimConfig, simulate
from tests.unit.engine.sim_data import random_walk


@pytest.mark.parametrize("name", sorted(strategies.available()))
def test_every_strategy_runs_end_to_end_and_matches_simulate(name):
    candles = random_walk(1_500, 3, vol=0.02)
    result = run_backtest(candles, name, None, SimConfig(commission=0.001))
    strategy = strategies.get(name)
    p = strategy.validate(None)
    direct = simulate(candles, strategy.signals(candles, **p), SimConfig(commission=0.001),
                      start=strategy.warmup(p))
    np.testing.assert_array_equal(result.equity, direct.equity)
    assert result.metrics["trades"] == direct.metrics["trades"]
    assert result.start == strategy.warmup(p)


def test_to_dict_is_json_and_names_final_equity_and_trades():
    candles = random_walk(400, 4)
    result = run_backtest(candles, "sma_cross", {"fast": 5, "slow": 15},
                          SimConfig(commission=0.002, stop_loss=0.05))
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["equity_final"] == pytest.approx(result.equity[-1])
    assert d["trades"] == result.metrics["trades"] == len(result.trades) - d["metrics"]["open_trades"]
    assert d["params"] == {"fast": 5, "slow": 15}
    assert len(d["equity_curve"]["equity"]) == 400
    assert d["equity_curve"]["time"][0].endswith("Z")
    first = d["trade_list"][0]
    assert first["exit_reason"] in {"signal", "stop_loss", "end_of_data"}
    assert set(first) >= {"entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl",
                          "return_pct", "fees", "open"}


def test_undefined_metrics_become_null_in_json():
    candles = random_walk(30, 4)
    d = run_backtest(candles, "sma_cross", {"fast": 2, "slow": 25}).to_dict(equity=False,
                                                                           trades=False)
    assert d["trades"] == 0 and d["metrics"]["win_rate_pct"] is None
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sma_crossing", {}), "unknown strategy 'sma_crossing'; available: .*sma_cross"),
        (("sma_cross", {"fast": 30, "slow": 20}), "must be less than"),
        (("sma_cross", {"fats": 3}), "unknown parameter 'fats'"),
        (("sma_cross", {"fast": 10, "slow": 200}), "too few .* longer date range"),
    ],
)
def test_bad_input_says_how_to_fix_it(args, message):
    with pytest.raises(ValueError, match=message):
        run_backtest(random_walk(100, 1), *args)


def test_non_candles_are_refused():
    with pytest.raises(TypeError, match="Candles.from_arrays"):
        run_backtest({"close": [1, 2]}, "sma_cross")
