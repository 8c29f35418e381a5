"""Sweeps: grid parsing, and one kernel pass per set giving the same metrics as single backtests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.backtest import run_backtest
from engine.metrics import METRIC_KEYS
from engine.simulator import SimConfig
from engine.sweep import parse_grid, run_sweep, sample_grid
from tests.unit.engine.sim_data import MINUTE_NS, random_walk


def test_range_includes_stop_when_it_lands_on_it():
    grid = parse_grid(["fast=5:20:5"])
    assert [p["fast"] for p in grid] == [5, 10, 15, 20]
    assert [p["fast"] for p in parse_grid(["fast=5:22:5"])] == [5, 10, 15, 20]


def test_float_ranges_and_lists_are_exact():
    grid = parse_grid(["k=0.1:0.3:0.1", "m=1.5,2,2.5"])
    assert sorted({p["k"] for p in grid}) == [0.1, 0.2, 0.3]
    assert sorted({p["m"] for p in grid}) == [1.5, 2.0, 2.5]
    assert len(grid) == 9 and grid.dropped == 0


def test_combinations_the_strategy_rejects_are_dropped_and_counted():
    grid = parse_grid(["fast=5:50:5", "slow=20:200:10"], "sma_cross")
    pairs = {(p["fast"], p["slow"]) for p in grid}
    assert len(grid) + grid.dropped == 10 * 19
    assert all(f < s for f, s in pairs) and (20, 20) not in pairs and grid.dropped > 0
    assert "must be less than" in grid.drop_reason


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["fast"], "must look like"),
        (["fast=1:2"], "start:stop:step"),
        (["fast=a:5:1"], "not a number"),
        (["fast=5:1:1"], "below start"),
        (["fast=1:5:0"], "step must be positive"),
        (["fast=1,1"], "twice"),
        (["fast=1:5:1", "fast=2"], "appears twice"),
        ([], "empty"),
    ],
)
def test_malformed_grids_say_what_is_wrong(specs, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(specs)


def test_unknown_or_out_of_bounds_values_are_errors_not_drops():
    with pytest.raises(ValueError, match="unknown parameter 'fsat'"):
        parse_grid(["fsat=1:5:1"], "sma_cross")
    with pytest.raises(ValueError, match="fast=0"):
        parse_grid(["fast=0:5:1"], "sma_cross")
    with pytest.raises(ValueError, match="every one of the"):
        parse_grid(["fast=30:40:5", "slow=10:20:5"], "sma_cross")


def test_sweep_rows_equal_single_backtests():
    candles = random_walk(3_000, 5, step_ns=15 * MINUTE_NS, vol=0.003)
    config = SimConfig(commission=0.001, stop_loss=0.02)
    sets = list(parse_grid(["fast=5:15:5", "slow=20:40:10"], "sma_cross"))
    calls = []
    before = [a.copy() for a in (candles.open, candles.high, candles.low, candles.close)]
    result = run_sweep(candles, "sma_cross", sets, config,
                       progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (len(sets), len(sets))  # one block: all of them at once
    for a, b in zip(before, (candles.open, candles.high, candles.low, candles.close), strict=True):
        np.testing.assert_array_equal(a, b, err_msg="run_sweep mutated the candles")
    assert result.metrics.shape == (len(sets), len(METRIC_KEYS))
    for i, p in enumerate(sets):
        single = run_backtest(candles, "sma_cross", p, config).metrics
        for k, key in enumerate(METRIC_KEYS):
            got, want = result.metrics[i, k], single[key]
            assert (math.isnan(got) and math.isnan(want)) or got == want, (p, key)


def test_ranking_puts_the_best_first_and_nan_last():
    candles = random_walk(2_000, 6)
    sets = list(parse_grid(["fast=3:12:3", "slow=15:30:5"], "sma_cross"))
    result = run_sweep(candles, "sma_cross", sets, SimConfig(commission=0.002))
    order = result.ranked("sharpe")
    values = result.column("sharpe")[order]
    finite = values[~np.isnan(values)]
    assert np.all(np.diff(finite) <= 0)
    dd = result.column("max_drawdown_duration_s")[result.ranked("max_drawdown_duration_s")]
    assert np.all(np.diff(dd[~np.isnan(dd)]) >= 0)  # lower is better
    rows = result.rows(order[:3])
    assert set(rows[0]) >= {"fast", "slow", "sharpe", "equity_final", "trades"}
    assert result.to_dict()["columns"] == list(METRIC_KEYS)
    with pytest.raises(ValueError, match="unknown metric"):
        result.column("sharp")


def test_bad_sweep_input_is_refused():
    candles = random_walk(100, 1)
    with pytest.raises(ValueError, match="no parameter sets"):
        run_sweep(candles, "sma_cross", [])
    with pytest.raises(ValueError, match="unknown strategy"):
        run_sweep(candles, "sma_crossing", [{}])
    with pytest.raises(ValueError, match="must be less than"):
        run_sweep(candles, "sma_cross", [{"fast": 30, "slow": 20}])


def test_blocks_of_sets_give_the_same_rows_as_one_block(monkeypatch):
    """Sets are simulated in blocks (one kernel call each); the block size changes nothing."""
    import engine.sweep as sweep_module

    candles = random_walk(2_000, 11, step_ns=60 * MINUTE_NS, vol=0.01)
    sets = list(parse_grid(["fast=3:12:3", "slow=20:50:15"], "sma_cross"))
    whole = run_sweep(candles, "sma_cross", sets, SimConfig(commission=0.002))
    monkeypatch.setattr(sweep_module, "BLOCK_BYTES", 2 * len(candles))  # two sets per call
    calls = []
    blocks = run_sweep(candles, "sma_cross", sets, SimConfig(commission=0.002),
                       progress=lambda done, total: calls.append(done))
    np.testing.assert_array_equal(blocks.metrics, whole.metrics)
    assert calls == [*range(2, len(sets), 2), len(sets)]


def test_a_short_series_matches_single_backtests_set_by_set():
    candles = random_walk(40, 3, step_ns=60 * MINUTE_NS, vol=0.01)
    sets = [{"fast": 2, "slow": 5}, {"fast": 3, "slow": 30}]
    result = run_sweep(candles, "sma_cross", sets, SimConfig())
    for i, p in enumerate(sets):
        single = run_backtest(candles, "sma_cross", p, SimConfig()).metrics
        np.testing.assert_array_equal(result.metrics[i], np.array([single[k] for k in METRIC_KEYS]))


@pytest.mark.parametrize("bars", [1, 2])
def test_sets_too_long_for_the_series_trade_nothing_instead_of_failing_the_sweep(bars):
    """A single backtest refuses such a series; in a grid, the rest of the sets still count."""
    candles = random_walk(bars, 3, step_ns=60 * MINUTE_NS, vol=0.01)
    result = run_sweep(candles, "sma_cross", [{"fast": 2, "slow": 5}], SimConfig(cash=5_000))
    assert result.column("trades").tolist() == [0]
    assert result.column("equity_final").tolist() == [5_000]


# -- random search ------------------------------------------------------------------------------
HUGE = ["fast=1:99999:1", "slow=2:100000:1"]  # about 10**10 combinations


def test_a_random_search_draws_distinct_valid_sets_from_a_space_too_large_to_expand():
    sets = sample_grid(HUGE, "sma_cross", 500, seed=11)
    assert len(sets) == 500
    assert len({(s["fast"], s["slow"]) for s in sets}) == 500
    assert all(1 <= s["fast"] < s["slow"] <= 100_000 for s in sets)
    assert sets.dropped > 0  # about half the space has fast >= slow: drawn again


def test_a_random_search_is_reproducible_from_its_seed():
    first = sample_grid(HUGE, "sma_cross", 50, seed=3)
    assert list(first) == list(sample_grid(HUGE, "sma_cross", 50, seed=3))
    assert list(first) != list(sample_grid(HUGE, "sma_cross", 50, seed=4))


def test_random_draws_cover_the_space_uniformly():
    """Every value of a 10-value axis is drawn about equally often (a decoding bug that favoured
    the first or last values of an axis would fail this)."""
    sets = sample_grid(["fast=1:10:1", "slow=11:2010:1"], "sma_cross", 5000, seed=1)
    counts = np.bincount([s["fast"] for s in sets], minlength=11)[1:]
    assert counts.min() > 400 and counts.max() < 600


@pytest.mark.parametrize(
    ("specs", "trials", "message"),
    [(["fast=5:10:5", "slow=20,30"], 4, "search it whole"),
     (HUGE, 0, "at least 1 trial"),
     (["fast=50:99999:1", "slow=2:50:1"], 10, "narrow the ranges"),  # fast >= slow everywhere
     (["fast=1:10:1", "bogus=1,2"], 5, "unknown parameter 'bogus'")],
)
def test_a_random_search_that_cannot_be_drawn_says_why(specs, trials, message):
    with pytest.raises(ValueError, match=message):
        sample_grid(specs, "sma_cross", trials, seed=1)
