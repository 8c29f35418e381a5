"""The sweep kernel's research statistics (moments and per-block sums of the per-period returns)
equal the slow reference's, computed from the reference simulator's equity curve."""

from __future__ import annotations

import numpy as np
import pytest

from engine import strategies
from engine.reference import simulator as ref
from engine.reference.research import research_row
from engine.simulator import SimConfig, prepare
from engine.sweep import RESEARCH_BLOCKS, RESEARCH_COLUMNS, run_sweep
from engine_ext import simulate as _k
from tests.unit.engine.sim_data import DAY_NS, MINUTE_NS, random_signals, random_walk

CONFIGS = {
    "all_in": SimConfig(commission=0.002),
    "units_short": SimConfig(sizing="units", size=7, direction="short", commission=0.001),
    "stops_close_fill": SimConfig(fill="close", stop_loss=0.02, take_profit=0.03),
    # bankrupt midway: every period return after it is 0 / 0 and left out
    "bankrupt": SimConfig(cash=1_000, sizing="units", size=40, commission=0.01),
}
# bars and bar spacing: daily bars (a period per bar), hourly and 15-minute bars (a period a day)
SIZES = [(1, DAY_NS), (2, DAY_NS), (17, DAY_NS), (40, 60 * MINUTE_NS), (600, DAY_NS),
         (3_000, 15 * MINUTE_NS)]


def _assert_rows_equal(fast: np.ndarray, slow: np.ndarray) -> None:
    for k, name in enumerate(RESEARCH_COLUMNS):
        # sums of powers: compare against the size of the terms, not of a sum that may cancel
        scale = max(abs(slow[k]), abs(slow[2]) if name in ("m3", "m4") else 0.0, 1e-300)
        assert fast[k] == pytest.approx(slow[k], rel=1e-9, abs=1e-12 * scale), name


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize(("bars", "step_ns"), SIZES)
def test_kernel_research_rows_match_the_reference(name, bars, step_ns):
    config = CONFIGS[name]
    vol = 0.05 if name == "bankrupt" else 0.01
    candles = random_walk(bars, bars + 7, step_ns=step_ns, vol=vol)
    signals = np.stack([random_signals(bars, seed, activity=0.15) for seed in range(5)])
    starts = np.array([0, 1, 3, 10, bars], dtype=np.int64).clip(0, bars)
    inputs = [a.copy() for a in (candles.open, candles.close, signals)]
    prep = prepare(candles, config, 0)
    out = np.empty((len(signals), _k.N_METRIC_COLUMNS))
    research = np.full((len(signals), len(RESEARCH_COLUMNS)), np.nan)
    _k.sweep({**prep.args, **config.kernel_args()}, candles.time, candles.open, candles.high,
             candles.low, candles.close, signals, starts, prep.calendar.period_end, out, research)
    for before, after in zip(inputs, (candles.open, candles.close, signals), strict=True):
        np.testing.assert_array_equal(before, after, err_msg="the sweep kernel mutated its input")
    for row, sig, start in zip(research, signals, starts, strict=True):
        slow = ref.simulate(candles.open.tolist(), candles.high.tolist(), candles.low.tolist(),
                            candles.close.tolist(), sig.tolist(), config, start=int(start))
        _assert_rows_equal(row, research_row(candles.time, slow.equity, RESEARCH_BLOCKS))
    if name == "bankrupt" and bars == 600:
        assert np.any(research[:, 0] < research[:, 0].max()), "no set went bankrupt"


def test_run_sweep_returns_a_research_row_per_set_from_the_strategy_signals():
    candles = random_walk(2_000, 4, step_ns=60 * MINUTE_NS, vol=0.01)
    sets = [{"fast": f, "slow": s} for f in (3, 5, 8) for s in (20, 30)]
    config = SimConfig(commission=0.001)
    result = run_sweep(candles, "sma_cross", sets, config)
    assert result.research.shape == (len(sets), len(RESEARCH_COLUMNS))
    strategy = strategies.resolve("sma_cross")
    for row, p, sig in zip(result.research, sets, strategy.signals_many(candles, sets),
                           strict=True):
        slow = ref.simulate(candles.open.tolist(), candles.high.tolist(), candles.low.tolist(),
                            candles.close.tolist(), list(sig), config, start=strategy.warmup(p))
        _assert_rows_equal(row, research_row(candles.time, slow.equity, RESEARCH_BLOCKS))
    # the blocks hold every return, and each return once
    blocks = result.research[:, 5 : 5 + RESEARCH_BLOCKS]
    np.testing.assert_array_equal(blocks.sum(axis=1), result.research[:, 0])
