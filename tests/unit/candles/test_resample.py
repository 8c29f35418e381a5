"""Local resampling (the embedded store's) agrees with pandas' resample and drops partial bars."""

from __future__ import annotations

import numpy as np
import pytest

from engine.candles import FIELDS, Candles
from quantgrid.candles.resample import resample
from quantgrid.candles.symbols import Timeframe
from tests.support.candles import MINUTE, T0, minutes, pandas_resample


def _compare(got: Candles, want) -> None:
    np.testing.assert_array_equal(got.time, want.index.as_unit("ns").asi8)
    for f in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(got, f), want[f].to_numpy(), err_msg=f)
    np.testing.assert_allclose(got.volume, want["volume"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("timeframe", ["5m", "15m", "1h", "4h", "1d"])
def test_matches_pandas_with_partial_edges_and_holes(timeframe):
    data = minutes(5 * 1440 + 333, start=T0 - 13 * MINUTE, seed=11)
    keep = np.ones(len(data), dtype=bool)
    keep[[100, 2000, 2001, 4444]] = False  # holes make their bars incomplete
    holed = Candles(*(getattr(data, f)[keep] for f in ("time", *FIELDS)))
    got = resample(holed, Timeframe.parse("1m"), Timeframe.parse(timeframe))
    want = pandas_resample(holed, timeframe)
    assert len(got) > 0
    _compare(got, want)


def test_bars_are_labelled_by_their_start_and_aggregate_first_max_min_last_sum():
    t = T0 + MINUTE * np.arange(10)
    c = Candles.from_arrays(t, np.arange(10.0) + 1, np.arange(10.0) + 5, np.arange(10.0) + 0.5, np.arange(10.0) + 2, np.ones(10))
    got = resample(c, Timeframe.parse("1m"), Timeframe.parse("5m"))
    np.testing.assert_array_equal(got.time, [T0, T0 + 5 * MINUTE])
    np.testing.assert_array_equal(got.open, [1, 6])
    np.testing.assert_array_equal(got.high, [9, 14])
    np.testing.assert_array_equal(got.low, [0.5, 5.5])
    np.testing.assert_array_equal(got.close, [6, 11])
    np.testing.assert_array_equal(got.volume, [5, 5])


def test_before_the_epoch_bars_align_the_same_way():
    data = minutes(30, start=-10 * MINUTE)
    got = resample(data, Timeframe.parse("1m"), Timeframe.parse("5m"))
    np.testing.assert_array_equal(got.time, MINUTE * np.arange(-10, 20, 5))


def test_empty_in_empty_out_and_non_multiples_refused():
    data = minutes(3)
    assert len(resample(data.slice(0, 0), Timeframe.parse("1m"), Timeframe.parse("5m"))) == 0
    assert len(resample(data, Timeframe.parse("1m"), Timeframe.parse("5m"))) == 0  # incomplete
    with pytest.raises(ValueError, match="not a multiple"):
        resample(data, Timeframe.parse("4h"), Timeframe.parse("6h"))
