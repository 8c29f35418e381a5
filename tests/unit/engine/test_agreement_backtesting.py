"""Agreement with backtesting.py 0.6.6 on an SMA crossover with commission (and fixed fees).

Trades (bars, prices, sizes) and the equity curve must be identical (1e-9 relative), and every
metric that shares backtesting.py's definition must agree within 1e-6 (docs/semantics.md lists
the few that differ on purpose; they are asserted at our documented values).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG

from engine.backtest import run_backtest
from engine.candles import Candles
from engine.simulator import SimConfig, simulate
from tests.unit.engine.sim_data import MINUTE_NS, random_walk

FAST, SLOW = 10, 20
WARMUP = SLOW  # 1 + the 19 leading NaNs of SMA(20): the first bar backtesting.py acts on


def _sma(values, n):
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(_sma, self.data.Close, FAST)
        self.slow = self.I(_sma, self.data.Close, SLOW)

    def next(self):
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()
            self.sell()


def _our_signals(close: np.ndarray) -> np.ndarray:
    # the same rolling means as the strategy above, and backtesting.py's strict crossover rule
    a, b = _sma(close, FAST).to_numpy(), _sma(close, SLOW).to_numpy()
    sig = np.zeros(len(close), dtype=np.int8)
    sig[1:][(a[:-1] < b[:-1]) & (a[1:] > b[1:])] = 1
    sig[1:][(b[:-1] < a[:-1]) & (b[1:] > a[1:])] = -1
    return sig


def _run_backtesting(df: pd.DataFrame, cash: float, commission: float,
                     fixed_fee: float = 0.0) -> pd.Series:
    with warnings.catch_warnings():
        # its progress bar, its open-trades-at-the-end notice, its own deprecations
        warnings.simplefilter("ignore")
        # a fixed fee per order is its commission=(fixed, relative)
        fees = (fixed_fee, commission) if fixed_fee else commission
        return Backtest(df, SmaCross, cash=cash, commission=fees, exclusive_orders=True).run()


def _frame(c: Candles) -> pd.DataFrame:
    return pd.DataFrame(
        {"Open": c.open, "High": c.high, "Low": c.low, "Close": c.close, "Volume": c.volume},
        index=pd.DatetimeIndex(c.time.astype("datetime64[ns]")),
    )


def _td_seconds(value) -> float:
    return value.total_seconds() if isinstance(value, pd.Timedelta) else math.nan


# ours -> backtesting.py, for metrics with the same definition
SAME = {
    "equity_final": "Equity Final [$]",
    "equity_peak": "Equity Peak [$]",
    "return_pct": "Return [%]",
    "buy_hold_return_pct": "Buy & Hold Return [%]",
    "return_ann_pct": "Return (Ann.) [%]",
    "volatility_ann_pct": "Volatility (Ann.) [%]",
    "cagr_pct": "CAGR [%]",
    "sharpe": "Sharpe Ratio",
    "sortino": "Sortino Ratio",
    "calmar": "Calmar Ratio",
    "max_drawdown_pct": "Max. Drawdown [%]",
    "avg_drawdown_pct": "Avg. Drawdown [%]",
    "exposure_time_pct": "Exposure Time [%]",
    "trades": "# Trades",
    "win_rate_pct": "Win Rate [%]",
    "best_trade_pct": "Best Trade [%]",
    "worst_trade_pct": "Worst Trade [%]",
    "avg_trade_pct": "Avg. Trade [%]",
    "profit_factor": "Profit Factor",
    "expectancy_pct": "Expectancy [%]",
    "sqn": "SQN",
    "kelly_criterion": "Kelly Criterion",
}


def _assert_agree(c: Candles, cash: float, commission: float, fixed_fee: float = 0.0) -> dict:
    stats = _run_backtesting(_frame(c), cash, commission, fixed_fee)
    config = SimConfig(cash=cash, commission=commission, fixed_fee=fixed_fee)
    ours = simulate(c, _our_signals(c.close), config, start=WARMUP)
    theirs = stats["_trades"]
    mine = ours.closed_trades
    assert len(mine) == len(theirs)
    np.testing.assert_array_equal(mine["entry_bar"], theirs["EntryBar"].to_numpy())
    np.testing.assert_array_equal(mine["exit_bar"], theirs["ExitBar"].to_numpy())
    np.testing.assert_array_equal(mine["size"], theirs["Size"].to_numpy())
    np.testing.assert_allclose(mine["entry_price"], theirs["EntryPrice"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine["exit_price"], theirs["ExitPrice"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine["pnl"], theirs["PnL"].to_numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mine["return_pct"], theirs["ReturnPct"].to_numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(ours.equity, stats["_equity_curve"]["Equity"].to_numpy(),
                               rtol=1e-9, atol=0)
    assert ours.metrics["equity_final"] == pytest.approx(stats["Equity Final [$]"], rel=1e-9)

    m = ours.metrics
    for key, theirs_key in SAME.items():
        want = float(stats[theirs_key])
        if math.isnan(want):
            assert math.isnan(m[key]), key
        else:
            assert m[key] == pytest.approx(want, rel=1e-6, abs=1e-9), key
    # durations: backtesting.py rounds them up to the bar spacing for display; compare unrounded
    curve = stats["_equity_curve"]["DrawdownDuration"]
    if curve.notna().any() and isinstance(curve.dropna().iloc[0], pd.Timedelta):
        assert m["max_drawdown_duration_s"] == pytest.approx(_td_seconds(curve.max()), rel=1e-9)
        assert m["avg_drawdown_duration_s"] == pytest.approx(_td_seconds(curve.mean()), rel=1e-9)
    if len(theirs):
        durations = theirs["Duration"]
        assert m["max_trade_duration_s"] == pytest.approx(_td_seconds(durations.max()), rel=1e-9)
        assert m["avg_trade_duration_s"] == pytest.approx(_td_seconds(durations.mean()), rel=1e-9)
    # our only difference in this set-up: commissions are a plain sum (0.0 when there are none,
    # where backtesting.py omits the key)
    expected_fees = float(theirs["Commission"].sum()) if len(theirs) else 0.0
    assert m["commissions"] == pytest.approx(expected_fees, rel=1e-9)
    return m


def test_agrees_on_backtesting_sample_data_goog():
    c = Candles.from_arrays(GOOG.index.values, GOOG.Open, GOOG.High, GOOG.Low, GOOG.Close,
                            GOOG.Volume)
    m = _assert_agree(c, 10_000.0, 0.002)
    assert m["trades"] > 50


@pytest.mark.parametrize(
    ("n", "seed", "step_ns", "commission"),
    [
        (500, 1, 86_400 * 10**9, 0.002),  # daily bars with weekends: 365 periods a year
        (3_000, 2, 86_400 * 10**9, 0.002),
        (5_000, 3, 60 * MINUTE_NS, 0.001),  # hourly: resampled to days
        (20_000, 4, MINUTE_NS, 0.002),  # minutes: all-in with fees, thousands of trades
        (50_000, 5, 5 * MINUTE_NS, 0.0005),
    ],
)
def test_agrees_on_random_walks(n, seed, step_ns, commission):
    c = random_walk(n, seed, step_ns=step_ns, vol=0.004)
    m = _assert_agree(c, 10_000.0, commission)
    assert m["trades"] > n // 100


def test_agrees_when_the_account_can_no_longer_afford_one_unit():
    # 9 % commission on a choppy walk: all-in sizing shrinks the account below one unit's price,
    # after which neither engine opens a trade
    c = random_walk(4_000, 9, step_ns=MINUTE_NS, vol=0.002)
    m = _assert_agree(c, 1_000.0, 0.09)
    assert m["open_trades"] == 0 and m["equity_final"] < c.close[-1] * 1.09


def test_agrees_through_bankruptcy():
    # a short opened on a downward cross, then the price triples: equity goes below zero, both
    # engines close at that close, set equity to 0 and stop
    close = np.concatenate((np.linspace(100, 110, 30), np.linspace(110, 90, 20), np.full(30, 330.0)))
    t = np.arange(len(close), dtype=np.int64) * 86_400 * 10**9
    c = Candles.from_arrays(t, close, close * 1.001, close * 0.999, close, np.ones(len(close)))
    m = _assert_agree(c, 10_000.0, 0.002)
    assert m["equity_final"] == 0 and m["trades"] == 1


@pytest.mark.parametrize(("fixed_fee", "commission"), [(1.0, 0.0), (2.5, 0.001), (25.0, 0.002)])
def test_agrees_with_a_fixed_fee_per_order(fixed_fee, commission):
    # backtesting.py's commission=(fixed, relative): the same fees, sizes and metrics
    c = random_walk(5_000, 6, step_ns=60 * MINUTE_NS, vol=0.004)
    m = _assert_agree(c, 10_000.0, commission, fixed_fee)
    assert m["trades"] > 20 and m["commissions"] >= 2 * fixed_fee * m["trades"]


def test_agrees_on_all_in_with_a_fixed_fee_that_invests_about_half_at_a_price_near_one():
    # EURUSD-like prices and a $1 fee: backtesting.py's all-in formula counts the fixed fee per
    # unit, so it buys about cash / (price + 1) units; we follow it (docs/semantics.md, Sizing)
    w = random_walk(3_000, 7, step_ns=60 * MINUTE_NS, vol=0.002)
    k = 1.08 / 100
    c = Candles.from_arrays(w.time, w.open * k, w.high * k, w.low * k, w.close * k, w.volume)
    _assert_agree(c, 10_000.0, 0.0, 1.0)
    first = simulate(c, _our_signals(c.close), SimConfig(fixed_fee=1.0), start=WARMUP).trades[0]
    invested = abs(first["size"]) * first["entry_price"] / 10_000.0
    assert invested == pytest.approx(first["entry_price"] / (first["entry_price"] + 1.0), abs=1e-3)
    assert 0.45 < invested < 0.55


def _last_bar_drawdown() -> Candles:
    # flat equity (no trade) until an upward cross on bar 20 buys at the last bar's open, and
    # that bar closes lower: the only drawdown is on the last bar
    close = np.array([110.0] * 10 + [100.0] * 10 + [200.0, 190.0])
    open_ = close.copy()
    open_[-1] = 200.0
    t = np.arange(len(close), dtype=np.int64) * 86_400 * 10**9
    return Candles.from_arrays(t, open_, np.maximum(open_, close), np.minimum(open_, close), close,
                               np.ones(len(close)))


def test_agrees_when_the_only_drawdown_is_on_the_last_bar():
    # no drawdown period is complete: backtesting.py averages the drawdown of that bar alone
    m = _assert_agree(_last_bar_drawdown(), 10_000.0, 0.002)
    assert m["avg_drawdown_pct"] == m["max_drawdown_pct"] < 0
    assert math.isnan(m["max_drawdown_duration_s"])  # ours; docs/semantics.md lists why


@pytest.mark.parametrize(
    ("n", "step_days", "seed"),
    [(400, 7, 31), (160, 31, 32)],  # weekly bars: 52 periods a year; 31-day bars: 12
)
def test_agrees_on_weekly_and_monthly_bars(n, step_days, seed):
    c = random_walk(n, seed, step_ns=step_days * 86_400 * 10**9, vol=0.05)
    _assert_agree(c, 10_000.0, 0.002)


@pytest.mark.parametrize("seed", [None, 2, 4])
def test_sma_cross_strategy_end_to_end_reproduces_backtesting(seed):
    # the registered strategy and run_backtest, not hand-made signals: same trades and equity
    if seed is None:
        c = Candles.from_arrays(GOOG.index.values, GOOG.Open, GOOG.High, GOOG.Low, GOOG.Close,
                                GOOG.Volume)
    else:
        c = random_walk(20_000, seed, step_ns=MINUTE_NS, vol=0.004)
    stats = _run_backtesting(_frame(c), 10_000.0, 0.002)
    ours = run_backtest(c, "sma_cross", {"fast": FAST, "slow": SLOW},
                        SimConfig(cash=10_000.0, commission=0.002))
    theirs = stats["_trades"]
    closed = ours.trades[: ours.metrics["trades"]]
    assert ours.start == WARMUP and len(closed) == len(theirs)
    np.testing.assert_array_equal(closed["entry_bar"], theirs["EntryBar"].to_numpy())
    np.testing.assert_array_equal(closed["exit_bar"], theirs["ExitBar"].to_numpy())
    np.testing.assert_array_equal(closed["size"], theirs["Size"].to_numpy())
    np.testing.assert_allclose(ours.equity, stats["_equity_curve"]["Equity"].to_numpy(), rtol=1e-9)
    for key in ("sharpe", "max_drawdown_pct", "buy_hold_return_pct", "sqn"):
        assert ours.metrics[key] == pytest.approx(float(stats[SAME[key]]), rel=1e-6), key
