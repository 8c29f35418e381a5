"""A sweep's DSR and PBO from the research rows its kernel returns: noise reads as luck, a
planted edge as an edge, and the rows' statistics agree with the ones from the returns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.candles import Candles
from engine.research import moments, pbo
from engine.research.deflated_sharpe import deflated_sharpe_of
from engine.research.sweep_stats import (
    MAX_TRIALS_16_BLOCKS,
    deflated_best,
    overfitting,
    sharpe_ratios,
)
from engine.simulator import SimConfig
from engine.strategies.base import Param, Strategy
from engine.sweep import RESEARCH_BLOCKS, RESEARCH_COLUMNS, run_sweep
from tests.unit.engine.sim_data import DAY_NS

CYCLE = 10  # the planted pattern repeats every 10 bars
BARS = 2_000


class _Weekday(Strategy):
    """Long during bar ``i`` when ``i % 10 == day``, plus a few seeded random one-bar trades."""

    name = "weekday_test"
    params = (Param("day", int, 0, 0, CYCLE - 1, "the bar of the cycle to hold"),
              Param("seed", int, 0, 0, 1_000, "which random extra bars to hold"))

    def _warmup(self, p):
        return 1

    def _signals(self, candles, p, ind):
        n = len(candles)
        hold = (np.arange(n) % CYCLE) == p["day"]
        hold |= np.random.default_rng(p["seed"]).random(n) < 0.05
        sig = np.zeros(n, dtype=np.int8)
        # decided at the previous close, filled at the open: long into the bar, flat after it
        sig[:-1][hold[1:]] = 1
        sig[:-1][~hold[1:] & hold[:-1]] = 2
        return sig


def _candles(edge: float, seed: int = 3) -> Candles:
    """Daily bars opening at the last close; bars of the cycle's day 3 rise by ``edge``."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.01, BARS) + np.where(np.arange(BARS) % CYCLE == 3, edge, 0.0)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.concatenate(([100.0], close[:-1]))
    high, low = np.maximum(open_, close), np.minimum(open_, close)
    time = np.arange(BARS, dtype=np.int64) * DAY_NS
    return Candles.from_arrays(time, open_, high, low, close, np.ones(BARS))


def _sweep(edge: float):
    sets = [{"day": d, "seed": s} for d in range(CYCLE) for s in range(6)]
    config = SimConfig(sizing="equity_fraction", size=1.0, fractional=True)
    return run_sweep(_candles(edge), _Weekday(), sets, config)


def test_pure_noise_is_luck_and_a_planted_edge_is_not():
    noise, edged = _sweep(0.0), _sweep(0.006)
    lucky = overfitting(noise.research)
    assert lucky.combinations == math.comb(RESEARCH_BLOCKS, RESEARCH_BLOCKS // 2)
    assert lucky.pbo > 0.3, "the best of pure noise should often rank low out of sample"
    real = overfitting(edged.research)
    assert real.pbo < 0.05
    best = int(edged.ranked("sharpe")[0])
    assert edged.params[best]["day"] == 3
    assert deflated_best(edged.research, best).result.dsr > 0.95
    luck = deflated_best(noise.research, int(noise.ranked("sharpe")[0]))
    assert luck.result.dsr < 0.9 and luck.trials == len(noise.params)


def test_rows_give_the_statistics_of_the_period_returns():
    """The DSR from the rows equals deflated_sharpe_of on the best set's own returns."""
    result = _sweep(0.003)
    best = int(result.ranked("sharpe")[0])
    # daily bars: a period per bar, so the returns are the equity's bar-to-bar changes
    sig = _Weekday().signals(_candles(0.003), **result.params[best])
    from engine.simulator import simulate

    run = simulate(_candles(0.003), sig, SimConfig(sizing="equity_fraction", size=1.0,
                                                   fractional=True), start=1)
    returns = run.equity[1:] / run.equity[:-1] - 1
    got = deflated_best(result.research, best)
    want = deflated_sharpe_of(returns, sharpe_ratios(result.research))
    assert got.observations == len(returns)
    assert got.result.sharpe == pytest.approx(want.sharpe, rel=1e-9)
    assert got.result.dsr == pytest.approx(want.dsr, rel=1e-7)
    assert got.skewness == pytest.approx(moments.skewness(returns), rel=1e-7)
    assert got.kurtosis == pytest.approx(moments.kurtosis(returns), rel=1e-7)


def test_block_sums_give_the_pbo_of_the_return_matrix():
    """Per-block sums of r and r^2 rank the sets as pbo.pbo does from the matrix of returns,
    when the blocks hold the same periods (2,000 daily bars: 125 a block)."""
    result = _sweep(0.002)
    sets = [{"day": d, "seed": s} for d in range(CYCLE) for s in range(6)]
    config = SimConfig(sizing="equity_fraction", size=1.0, fractional=True)
    from engine.simulator import simulate

    candles = _candles(0.002)
    columns = []
    for p in sets:
        eq = simulate(candles, _Weekday().signals(candles, **p), config, start=1).equity
        columns.append(np.concatenate(([0.0], eq[1:] / eq[:-1] - 1)))  # bar 0 ends no period
    want = pbo.pbo(np.array(columns).T, RESEARCH_BLOCKS)
    got = overfitting(result.research)
    assert got.pbo == pytest.approx(want.pbo, abs=0.01)
    np.testing.assert_allclose(np.sort(got.logits), np.sort(want.logits), atol=0.3)


def test_unavailable_statistics_say_why():
    result = _sweep(0.0)
    with pytest.raises(ValueError, match="evaluated 1"):
        overfitting(result.research[:1])
    with pytest.raises(ValueError, match="evaluated 1"):
        deflated_best(result.research[:1], 0)
    never = result.research.copy()
    never[0, 1:] = 0.0  # constant returns: a set that never traded
    never[0, 5 : 5 + RESEARCH_BLOCKS] = result.research[0, 5 : 5 + RESEARCH_BLOCKS]
    with pytest.raises(ValueError, match="never traded"):
        deflated_best(never, 0)
    assert math.isnan(sharpe_ratios(never)[0])
    assert 0 <= overfitting(never).pbo <= 1  # it ranks last, the others still count
    short = run_sweep(_candles(0.0).slice(0, 20), _Weekday(), [{"day": 1}, {"day": 2}])
    with pytest.raises(ValueError, match="too few for 16 blocks"):
        overfitting(short.research)
    with pytest.raises(ValueError, match="columns"):
        overfitting(np.zeros((3, len(RESEARCH_COLUMNS) - 1)))


def test_large_sweeps_merge_blocks_in_pairs(monkeypatch):
    import engine.research.sweep_stats as module

    result = _sweep(0.006)
    monkeypatch.setattr(module, "MAX_TRIALS_16_BLOCKS", 10)
    merged = overfitting(result.research)
    assert merged.combinations == math.comb(8, 4) and merged.pbo < 0.1
    assert MAX_TRIALS_16_BLOCKS >= 100
