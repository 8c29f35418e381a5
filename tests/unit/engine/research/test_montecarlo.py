"""The trade-sequence bootstrap: reproducible, ordered, exact when there is nothing to resample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.research.montecarlo import bootstrap_pnl, bootstrap_returns

TRADES = np.array([0.03, -0.01, 0.02, -0.04, 0.05, 0.01, -0.02])


def test_a_seed_reproduces_the_distribution():
    a = bootstrap_returns(TRADES, 10_000, resamples=500, seed=42, block=2)
    b = bootstrap_returns(TRADES, 10_000, resamples=500, seed=42, block=2)
    c = bootstrap_returns(TRADES, 10_000, resamples=500, seed=43, block=2)
    assert a.final_equity == b.final_equity and a.max_drawdown_pct == b.max_drawdown_pct
    np.testing.assert_array_equal(a.bands, b.bands)
    assert not np.array_equal(a.bands, c.bands)


@settings(max_examples=30, deadline=None)
@given(
    trades=st.lists(st.floats(-0.5, 0.5), min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
    block=st.integers(1, 5),
)
def test_percentiles_are_ordered(trades, seed, block):
    block = min(block, len(trades))
    d = bootstrap_returns(np.array(trades), 1000, resamples=200, seed=seed, block=block)
    assert d.final_equity[0] <= d.final_equity[1] <= d.final_equity[2]
    assert d.max_drawdown_pct[0] <= d.max_drawdown_pct[1] <= d.max_drawdown_pct[2] <= 0
    assert np.all(np.diff(d.bands, axis=0) >= 0)
    assert d.bands.shape == (3, len(trades) + 1)
    assert np.all(d.bands[:, 0] == 1000)


def test_identical_winning_trades_give_the_deterministic_path():
    d = bootstrap_returns(np.full(20, 0.01), 1000, resamples=300, seed=1)
    path = 1000 * 1.01 ** np.arange(21)
    assert d.final_equity == pytest.approx((path[-1],) * 3)
    assert d.max_drawdown_pct == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(d.bands, np.tile(path, (3, 1)))


def test_identical_losing_trades_draw_down_by_their_compounded_loss():
    d = bootstrap_returns(np.full(10, -0.02), 1000, resamples=100, seed=1)
    assert d.max_drawdown_pct == pytest.approx((-(1 - 0.98**10) * 100,) * 3)
    assert d.final_equity == pytest.approx((1000 * 0.98**10,) * 3)


def test_identical_pnls_add_up():
    d = bootstrap_pnl(np.full(8, -25.0), 1000, resamples=100, seed=1)
    assert d.final_equity == (800.0, 800.0, 800.0)
    assert d.max_drawdown_pct == pytest.approx((-20.0,) * 3)


def test_a_block_of_every_trade_only_rotates_the_sequence():
    # every circular rotation compounds to the same final equity
    d = bootstrap_returns(TRADES, 1000, resamples=200, seed=3, block=len(TRADES))
    assert d.final_equity == pytest.approx((1000 * np.prod(1 + TRADES),) * 3)


def test_drawdown_is_measured_from_the_initial_cash():
    d = bootstrap_pnl(np.array([-100.0]), 1000, resamples=10, seed=0)
    assert d.max_drawdown_pct == pytest.approx((-10.0,) * 3)


@pytest.mark.parametrize(
    ("trades", "kwargs", "message"),
    [
        (np.array([]), {}, "no trades to resample"),
        (TRADES, {"cash": 0}, "cash must be positive"),
        (TRADES, {"block": 0}, "block must be between 1 and the 7 trades"),
        (TRADES, {"block": 8}, "block must be between 1 and the 7 trades"),
        (TRADES, {"resamples": 0}, "resamples must be at least 1"),
        (np.array([0.1, np.nan]), {}, "finite"),
        (np.array([0.1, -1.0]), {}, "-100 %"),
        (np.zeros(10_000), {"resamples": 10_000}, "use at most 499 resamples"),
    ],
)
def test_bad_input_says_what_to_fix(trades, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_returns(trades, **{"cash": 1000, **kwargs})
