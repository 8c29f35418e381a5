"""No look-ahead: changing candles after bar t never changes anything decided or filled up to t."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import strategies
from engine.backtest import run_backtest
from engine.candles import Candles
from engine.simulator import SimConfig
from tests.unit.engine.sim_data import random_walk

N = 300
CONFIGS = [
    SimConfig(commission=0.002),
    SimConfig(commission=0.001, stop_loss=0.02, take_profit=0.03, trailing_stop=0.015),
    SimConfig(fill="close", sizing="equity_fraction", size=0.5, fractional=True),
    SimConfig(direction="long", sizing="units", size=3, slippage=0.001, fixed_fee=1.0),
]


def _splice(base: Candles, other: Candles, t: int, keep_next_open: bool) -> Candles:
    """Bars up to t from ``base``, later bars from ``other`` (optionally keeping Open[t+1])."""
    cols = {}
    for name in ("open", "high", "low", "close", "volume"):
        col = getattr(base, name).copy()
        col[t + 1:] = getattr(other, name)[t + 1:]
        cols[name] = col
    if keep_next_open and t + 1 < len(base):
        o = base.open[t + 1]
        cols["open"][t + 1] = o
        cols["high"][t + 1] = max(cols["high"][t + 1], o)
        cols["low"][t + 1] = min(cols["low"][t + 1], o)
    return Candles.from_arrays(base.time, **cols)


def _assert_same_up_to(a, b, t: int, next_open: bool) -> None:
    np.testing.assert_array_equal(a.equity[: t + 1], b.equity[: t + 1])
    for ta, tb in ((a.trades, b.trades), (b.trades, a.trades)):
        # every trade closed by bar t is identical; every trade opened by t opened identically
        closed = ta[(ta["exit_bar"] <= t) & (ta["exit_reason"] != 4)]
        assert closed.tolist() == tb[: len(closed)].tolist()
        opened = ta[ta["entry_bar"] <= (t + 1 if next_open else t)]
        for k, tr in enumerate(opened):
            other = tb[k]
            assert (tr["entry_bar"], tr["entry_price"], tr["size"]) == (
                other["entry_bar"], other["entry_price"], other["size"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(strategies.available())),
    config=st.sampled_from(CONFIGS),
    t=st.integers(0, N - 2),
    seed=st.integers(0, 10_000),
    keep_next_open=st.booleans(),
)
def test_future_candles_never_change_the_past(name, config, t, seed, keep_next_open):
    base = random_walk(N, seed, vol=0.02)
    changed = _splice(base, random_walk(N, seed + 1, vol=0.03), t, keep_next_open)
    strategy = strategies.get(name)
    params = strategy.validate(None)
    a = run_backtest(base, name, params, config)
    b = run_backtest(changed, name, params, config)
    np.testing.assert_array_equal(
        strategy.signals(base, **params)[: t + 1], strategy.signals(changed, **params)[: t + 1]
    )
    # with next-open fills an entry at t+1 may use Open[t+1] and nothing else from bar t+1
    _assert_same_up_to(a, b, t, next_open=keep_next_open and config.fill == "next_open")
