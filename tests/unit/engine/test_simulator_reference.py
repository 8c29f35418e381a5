"""The compiled simulator agrees with the plain-Python reference on every rule it implements."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.candles import Candles
from engine.reference import metrics as ref_metrics
from engine.reference import simulator as ref
from engine.simulator import EXIT_REASONS, SimConfig, simulate
from tests.unit.engine.sim_data import constant, random_signals, random_walk

CONFIGS = {
    "all_in": SimConfig(commission=0.002),
    "all_in_fractional": SimConfig(commission=0.001, fractional=True),
    "all_in_fixed_fee_slippage": SimConfig(commission=0.001, fixed_fee=2.5, slippage=0.0005),
    "equity_fraction": SimConfig(sizing="equity_fraction", size=0.5, commission=0.002),
    "cash": SimConfig(sizing="cash", size=3_000, fixed_fee=1.0, fractional=True),
    "units": SimConfig(sizing="units", size=7, commission=0.001),
    "units_leveraged": SimConfig(cash=1_000, sizing="units", size=40, commission=0.01),
    "long_only": SimConfig(direction="long", commission=0.002),
    "short_only": SimConfig(direction="short", commission=0.002),
    "fill_close": SimConfig(fill="close", commission=0.002),
    "stop_loss": SimConfig(commission=0.001, stop_loss=0.02),
    "take_profit": SimConfig(commission=0.001, take_profit=0.03),
    "stop_and_take": SimConfig(commission=0.001, stop_loss=0.01, take_profit=0.01),
    "trailing": SimConfig(commission=0.001, trailing_stop=0.02),
    "all_exits_close_fill": SimConfig(
        fill="close", stop_loss=0.03, take_profit=0.04, trailing_stop=0.015, slippage=0.001
    ),
    "all_exits_short_fraction": SimConfig(
        direction="short", sizing="equity_fraction", size=0.8, stop_loss=0.02, trailing_stop=0.01
    ),
}

SIZES = [0, 1, 2, 100, 2_000]


def _compare(candles, signals, config, start):
    inputs = [a.copy() for a in (candles.open, candles.high, candles.low, candles.close, signals)]
    fast = simulate(candles, signals, config, start=start)
    for before, after in zip(inputs, (candles.open, candles.high, candles.low, candles.close, signals),
                             strict=True):
        np.testing.assert_array_equal(before, after, err_msg="simulate mutated its input")
    slow = ref.simulate(
        candles.open.tolist(), candles.high.tolist(), candles.low.tolist(), candles.close.tolist(),
        signals.tolist(), config, start=start,
    )
    np.testing.assert_allclose(fast.equity, slow.equity, rtol=1e-12, atol=0)
    t = fast.trades
    assert len(t) == len(slow.trades)
    assert t["entry_bar"].tolist() == [x.entry_bar for x in slow.trades]
    assert t["exit_bar"].tolist() == [x.exit_bar for x in slow.trades]
    assert [EXIT_REASONS[r] for r in t["exit_reason"]] == [x.exit_reason for x in slow.trades]
    for name in ("entry_price", "exit_price", "size", "pnl", "return_pct", "fees"):
        np.testing.assert_allclose(t[name], [getattr(x, name) for x in slow.trades], rtol=1e-12,
                                   atol=1e-9, err_msg=name)
    np.testing.assert_array_equal(t["entry_time"].view(np.int64), candles.time[t["entry_bar"]])
    expected = ref_metrics.compute(candles.time, candles.close, slow.equity, slow.trades, start)
    for key, want in expected.items():
        got = fast.metrics[key]
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), key
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), key
    return fast


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("n", SIZES)
def test_kernel_matches_reference_on_random_walks(name, n):
    candles = random_walk(n, seed=n + len(name))
    signals = random_signals(n, seed=n * 7 + 1, activity=0.15)
    start = min(5, n)
    _compare(candles, signals, CONFIGS[name], start)


@pytest.mark.parametrize("name", ["all_in", "units", "stop_and_take", "trailing", "fill_close"])
def test_kernel_matches_reference_on_10k_bars(name):
    candles = random_walk(10_000, seed=11, step_ns=60 * 10**9)
    _compare(candles, random_signals(10_000, seed=12, activity=0.05), CONFIGS[name], 20)


@pytest.mark.parametrize("name", ["all_in", "stop_and_take", "trailing", "fill_close"])
def test_kernel_matches_reference_on_constant_prices(name):
    candles = constant(300)
    result = _compare(candles, random_signals(300, seed=3, activity=0.2), CONFIGS[name], 0)
    # nothing moves but fees: equity never rises
    assert np.all(np.diff(result.equity) <= 1e-9)


@pytest.mark.parametrize("name", ["units_leveraged", "all_in"])
def test_kernel_matches_reference_through_bankruptcy(name):
    # a crash while long with leverage, or a short into a squeeze, wipes the account out
    n = 60
    close = np.concatenate((np.full(20, 100.0), np.linspace(100, 400, 40)))
    candles = random_walk(n, seed=1)  # times and volumes only
    c = Candles.from_arrays(candles.time, close, close * 1.01, close * 0.99, close, candles.volume)
    signals = np.zeros(n, dtype=np.int8)
    signals[10] = -1
    result = _compare(c, signals, replace(CONFIGS[name], cash=1_000.0), 0)
    assert result.trades["exit_reason"][-1] == EXIT_REASONS.index("bankruptcy")
    bust = result.trades["exit_bar"][-1]
    assert np.all(result.equity[bust:] == 0)


@pytest.mark.parametrize("name", ["all_in", "all_in_fractional", "equity_fraction", "cash"])
def test_an_order_whose_size_would_be_infinite_is_skipped(name):
    # a price above zero but so small that the cash buys more units than a float holds: the
    # order is skipped like one the account cannot afford, in the kernel and the reference
    candles = constant(40, price=1e-320)
    signals = np.zeros(40, dtype=np.int8)
    signals[[3, 10, 20]] = [1, -1, 1]
    result = _compare(candles, signals, CONFIGS[name], 0)
    assert len(result.trades) == 0
    assert np.all(result.equity == CONFIGS[name].cash)


# computed from the equity curve (docs/semantics.md, Metrics)
CURVE_METRICS = (
    "equity_final", "equity_peak", "return_pct", "return_ann_pct", "volatility_ann_pct",
    "cagr_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct", "avg_drawdown_pct",
    "max_drawdown_duration_s", "avg_drawdown_duration_s",
)


@pytest.mark.parametrize(
    "size",
    [
        1e306,  # the gain of a price rise overflows: equity +inf from then on
        1e308,  # the position's value overflows, so its fee is inf × 0: equity NaN
    ],
)
def test_no_metric_is_a_number_when_the_equity_curve_is_not(size):
    # valid inputs (a finite size of units, positive prices) whose equity leaves the floats; the
    # trade stays open, so no closed-trade statistic is involved
    close = np.concatenate((np.full(10, 100.0), np.full(10, 400.0)))
    c = Candles.from_arrays(np.arange(20, dtype=np.int64) * 86_400 * 10**9, close, close, close,
                            close, np.ones(20))
    signals = np.zeros(20, dtype=np.int8)
    signals[2] = 1
    result = _compare(c, signals, SimConfig(sizing="units", size=size), 0)
    assert not np.all(np.isfinite(result.equity))
    for key in CURVE_METRICS:
        assert math.isnan(result.metrics[key]), key
    # what does not come from the curve is still reported
    assert result.metrics["buy_hold_return_pct"] == 300.0 and result.metrics["open_trades"] == 1


def test_a_drawdown_on_the_last_bar_alone_is_the_average_drawdown():
    # flat until a long fills at the last bar's open and that bar closes lower: no drawdown
    # period is complete, and the average drawdown is that bar's (backtesting.py's fallback)
    close = np.array([100.0] * 10 + [90.0])
    c = Candles.from_arrays(np.arange(11, dtype=np.int64) * 86_400 * 10**9, np.full(11, 100.0),
                            np.full(11, 100.0), close, close, np.ones(11))
    signals = np.zeros(11, dtype=np.int8)
    signals[9] = 1
    m = _compare(c, signals, SimConfig(), 0).metrics
    assert m["avg_drawdown_pct"] == m["max_drawdown_pct"] == pytest.approx(-9.9)  # 99 units
    assert math.isnan(m["avg_drawdown_duration_s"])


def test_signals_before_start_are_ignored():
    candles = random_walk(50, seed=2)
    signals = np.zeros(50, dtype=np.int8)
    signals[3] = 1
    assert len(simulate(candles, signals, SimConfig(), start=4).trades) == 0
    assert len(simulate(candles, signals, SimConfig(), start=3).trades) == 1


@settings(max_examples=int(os.environ.get("QG_FUZZ_EXAMPLES", "150")), deadline=None, derandomize=True)
@given(
    n=st.integers(0, 250),
    seed=st.integers(0, 2**16),
    sizing=st.sampled_from(["all_in", "equity_fraction", "cash", "units"]),
    fractional=st.booleans(),
    direction=st.sampled_from(["both", "long", "short"]),
    fill=st.sampled_from(["next_open", "close"]),
    commission=st.sampled_from([0.0, 0.001, 0.02]),
    fixed_fee=st.sampled_from([0.0, 3.0]),
    slippage=st.sampled_from([0.0, 0.002]),
    stops=st.tuples(*[st.sampled_from([None, 0.01, 0.05])] * 3),
    gaps=st.booleans(),
    start=st.integers(0, 30),
)
def test_kernel_matches_reference_for_any_configuration(
    n, seed, sizing, fractional, direction, fill, commission, fixed_fee, slippage, stops, gaps,
    start,
):
    size = {"all_in": None, "equity_fraction": 0.7, "cash": 2_500.0, "units": 12.0}[sizing]
    config = SimConfig(
        cash=5_000, commission=commission, fixed_fee=fixed_fee, slippage=slippage, sizing=sizing,
        size=size, fractional=fractional, direction=direction, fill=fill, stop_loss=stops[0],
        take_profit=stops[1], trailing_stop=stops[2],
    )
    candles = random_walk(n, seed, gaps=gaps, vol=0.02)
    _compare(candles, random_signals(n, seed + 1, activity=0.2), config, min(start, n))
