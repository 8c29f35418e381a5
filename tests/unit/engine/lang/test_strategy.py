"""A strategy from source plugs in where a built-in does: parameters and their validation, its
own stops, warm-up, backtests and sweeps, shared indicators, the source hash."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from engine import indicators
from engine.backtest import run_backtest
from engine.lang import EXAMPLES, SourceStrategy, compile_strategy, example
from engine.metrics import METRIC_KEYS
from engine.simulator import SimConfig
from engine.strategies import Param
from engine.sweep import parse_grid, run_sweep
from tests.unit.engine.sim_data import random_walk

STOPS = '''"""Buy strength, with stops that are parameters."""
n = param(int, 10, min=2, max=50, description="Bars in the average.")
sl = param(float, 0.02, min=0.0, max=0.2, description="Stop-loss; 0 turns it off.")
long_entry = crossover(close, sma(close, n))
long_exit = crossunder(close, sma(close, n))
stop_loss = sl
take_profit = 2 * sl + 0.01
'''
ROOT = Path(__file__).resolve().parents[4]


def test_params_and_description_come_from_the_source():
    s = compile_strategy(STOPS, "breakout")
    assert isinstance(s, SourceStrategy) and s.name == "breakout"
    assert s.description == "Buy strength, with stops that are parameters."
    assert s.params == (Param("n", int, 10, 2, 50, "Bars in the average."),
                        Param("sl", float, 0.02, 0.0, 0.2, "Stop-loss; 0 turns it off."))
    assert s.defaults() == {"n": 10, "sl": 0.02}
    assert s.warmup() == 10 and s.warmup({"n": 30}) == 30


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n": 1}, r"parameter 'n' must be an integer from 2 to 50, got 1"),
        ({"n": 2.5}, r"parameter 'n' must be an integer"),
        ({"sl": "x"}, r"parameter 'sl' must be a number from 0.0 to 0.2"),
        ({"m": 3}, r"unknown parameter 'm' for strategy 'custom'; expected: n, sl"),
    ],
)
def test_parameter_values_out_of_bounds_are_one_clear_error(params, match):
    with pytest.raises(ValueError, match=match):
        compile_strategy(STOPS).validate(params)


def test_constraints_come_from_require():
    s = compile_strategy(example("sma_cross"))
    with pytest.raises(ValueError, match=r"'fast' \(30\) must be less than 'slow' \(20\)"):
        s.validate({"fast": 30, "slow": 20})
    grid = parse_grid(["fast=10:30:10", "slow=20"], s)
    assert [p["fast"] for p in grid] == [10] and grid.dropped == 2


def test_the_programs_stops_replace_the_configs():
    s = compile_strategy(STOPS)
    base = SimConfig(commission=0.001, stop_loss=0.5, trailing_stop=0.1)
    cfg = s.configure(base, s.validate({"sl": 0.05}))
    assert (cfg.stop_loss, cfg.take_profit, cfg.trailing_stop) == (0.05, 0.11, 0.1)
    off = s.configure(base, s.validate({"sl": 0.0}))
    assert (off.stop_loss, off.take_profit) == (None, 0.01)
    candles = random_walk(1500, 4, vol=0.02)
    result = run_backtest(candles, s, {"sl": 0.05}, base)
    assert result.config == cfg and result.strategy == "custom"
    reasons = set(result.to_dict()["trade_list"][i]["exit_reason"]
                  for i in range(len(result.trades)))
    assert {"stop_loss", "take_profit"} <= reasons


def test_a_sweep_over_stops_equals_single_backtests():
    s = compile_strategy(STOPS)
    candles = random_walk(2000, 5, vol=0.02)
    sets = list(parse_grid(["n=5,20", "sl=0,0.01,0.05"], s))
    config = SimConfig(commission=0.001)
    swept = run_sweep(candles, s, sets, config)
    for row, p in zip(swept.metrics, sets, strict=True):
        single = run_backtest(candles, s, p, config).metrics
        want = np.array([single[k] for k in METRIC_KEYS])
        assert np.array_equal(row, want, equal_nan=True), p
    assert len(set(swept.column("trades"))) > 1


def test_signals_many_computes_each_indicator_once(monkeypatch):
    calls = []
    real = indicators.sma
    monkeypatch.setattr(indicators, "sma", lambda x, n: calls.append(n) or real(x, n))
    s = compile_strategy(example("sma_cross"))
    sets = [{"fast": f, "slow": w} for f in (5, 10) for w in (20, 30, 40)]
    out = list(s.signals_many(random_walk(500, 1), sets))
    assert len(out) == 6 and sorted(calls) == [5, 10, 20, 30, 40]


def test_the_source_hash_is_sha256_of_the_text():
    s = compile_strategy(STOPS)
    assert s.source == STOPS
    assert s.source_hash == hashlib.sha256(STOPS.encode()).hexdigest()
    assert s.schema()["source_hash"] == s.source_hash
    assert compile_strategy(STOPS + "# a comment\n").source_hash != s.source_hash


def test_a_long_only_program_never_goes_short():
    s = compile_strategy("long_entry = close > sma(close, 5)\nlong_exit = close < sma(close, 5)")
    sig = s.signals(random_walk(1000, 2, vol=0.02))
    assert set(np.unique(sig)) == {0, 1, 2}


def test_constant_rules_and_short_series():
    s = compile_strategy("long_entry = True\nshort_entry = close > 1e9")
    assert s.signals(random_walk(5, 1)).tolist() == [1, 0, 0, 0, 0]
    assert s.signals(random_walk(0, 1)).tolist() == []
    assert compile_strategy(example("macd")).signals(random_walk(3, 1)).tolist() == [0, 0, 0]


def test_the_docs_show_the_examples_as_they_are():
    docs = (ROOT / "docs" / "strategy-language.md").read_text()
    blocks = dict(re.findall(r"### `(\w+)`\n\n```python\n(.*?)```", docs, re.S))
    assert list(blocks) == list(EXAMPLES)
    for name in EXAMPLES:
        assert blocks[name] == example(name), name
    with pytest.raises(ValueError, match="no example named"):
        example("nope")
