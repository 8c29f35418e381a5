"""The demo's random walk: reproducible, valid, and shaped like a market."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.candles.generate import generate
from quantgrid.candles.store import validate_for_write
from quantgrid.candles.symbols import Timeframe


def test_same_seed_same_candles_other_seed_other_candles():
    a, b, c = generate(5000, seed=1), generate(5000, seed=1), generate(5000, seed=2)
    np.testing.assert_array_equal(a.close, b.close)
    assert not np.array_equal(a.close, c.close)


def test_bars_are_valid_contiguous_and_aligned():
    c = generate(20_000, timeframe="5m", seed=3, start="2021-03-04T10:07:00Z", price=25_000)
    validate_for_write(c, Timeframe.parse("5m"))  # aligned, open/close within [low, high], volume >= 0
    assert np.all(np.diff(c.time) == 300 * 10**9)
    assert c.time[0] % (300 * 10**9) == 0
    np.testing.assert_array_equal(c.open[1:], c.close[:-1])
    assert np.all(c.high > np.maximum(c.open, c.close) - 1e-9)


def test_returns_are_fat_tailed_and_volatility_clusters():
    c = generate(200_000, seed=4)
    r = np.diff(np.log(c.close))
    r = r[r != 0]
    kurtosis = np.mean((r - r.mean()) ** 4) / np.var(r) ** 2
    assert kurtosis > 4  # a Gaussian walk has 3
    a = np.abs(r)
    autocorr = np.corrcoef(a[:-1], a[1:])[0, 1]
    assert autocorr > 0.02  # |returns| cluster; independent noise gives ~0


@pytest.mark.parametrize("kwargs", [{"bars": 0}, {"bars": 10, "price": 0}, {"bars": 10, "timeframe": "1w"}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        generate(**kwargs)
