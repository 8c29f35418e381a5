"""The calendar that annualizes metrics, and the metrics dict's shape."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from engine import metrics
from engine.simulator import SimConfig, simulate
from tests.unit.engine.sim_data import random_signals, random_walk

MIN = 60 * 10**9
DAY = 86_400 * 10**9


def _pandas_period_ends(time: np.ndarray, freq: str) -> np.ndarray:
    # backtesting.py takes the last equity of each pandas resample bucket
    s = pd.Series(np.arange(len(time)), index=pd.DatetimeIndex(time.astype("datetime64[ns]")))
    last = s.resample(freq).last().dropna().astype(int).to_numpy()
    ends = np.zeros(len(time), dtype=np.uint8)
    ends[last] = 1
    return ends


@pytest.mark.parametrize(
    ("start", "step", "n", "freq", "period", "per_year"),
    [
        (1_600_000_000 * 10**9, 7 * MIN, 5_000, "D", "D", 365),  # intraday, every day: 365
        (-3 * DAY - 5 * MIN, 37 * MIN, 3_000, "D", "D", 365),  # before 1970
        (1_600_000_000 * 10**9, 7 * DAY, 300, "W", "W", 52),
        (1_600_000_000 * 10**9, 365 * DAY, 30, "YE", "Y", 1),
    ],
)
def test_calendar_matches_pandas_resampling(start, step, n, freq, period, per_year):
    time = start + np.arange(n, dtype=np.int64) * step
    cal = metrics.calendar(time)
    assert (cal.period, cal.periods_per_year) == (period, per_year)
    np.testing.assert_array_equal(cal.period_end, _pandas_period_ends(time, freq))
    span = pd.Timedelta(int(time[-1] - time[0]))
    assert cal.years == (span.days + span.seconds / 86400) / 365.25


def test_weekday_only_daily_bars_use_252_periods():
    days = pd.bdate_range("2020-01-01", periods=500).to_numpy().astype(np.int64)
    assert metrics.calendar(days).periods_per_year == 252


def test_metrics_dict_has_every_key_with_counts_as_ints():
    c = random_walk(500, 1)
    m = simulate(c, random_signals(500, 2), SimConfig(commission=0.001)).metrics
    assert list(m) == list(metrics.METRIC_KEYS)
    assert isinstance(m["trades"], int) and isinstance(m["open_trades"], int)
    assert isinstance(m["equity_final"], float)


def test_json_safe_replaces_undefined_values():
    d = metrics.json_safe({"a": math.nan, "b": math.inf, "c": 1.5, "trades": 0})
    assert d == {"a": None, "b": None, "c": 1.5, "trades": 0}
    json.dumps(d, allow_nan=False)


def test_one_bar_has_no_returns_and_no_drawdown():
    c = random_walk(1, 3)
    m = simulate(c, np.zeros(1, dtype=np.int8)).metrics
    assert m["equity_final"] == 10_000 and m["return_pct"] == 0
    assert math.isnan(m["sharpe"]) and m["max_drawdown_pct"] == 0 and math.isnan(m["cagr_pct"])
