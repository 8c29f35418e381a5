"""The one contract every candle store keeps: run against the embedded store and a real influxd."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from engine.candles import Candles
from quantgrid.candles.errors import (
    CandleGapError,
    CandlesNotFound,
    InvalidCandles,
    InvalidSymbol,
)
from quantgrid.errors import InvalidInput
from quantgrid.timeframes import InvalidTimeframe
from tests.support.candles import MINUTE, T0, assert_same, minutes, pandas_resample

HOUR = 60 * MINUTE
DAY = 24 * HOUR
PAYLOADS = [
    "x' OR symbol=~/.*/ -- ",
    "x'; DROP MEASUREMENT victim; SELECT",
    "BTC\nUSDT",
    "BTCUSDT\n",
    'BTC"USDT',
    "BTC,symbol=ETH",
    "BTC USDT",
    "../etc",
    "",
]


def test_write_then_read_round_trips_bit_for_bit(store):
    data = minutes(3000)
    assert store.write("BTCUSDT", "1m", data) == 3000
    assert_same(store.read("BTCUSDT", "1m"), data)


def test_progress_is_reported_for_every_row(store):
    seen = []
    store.write("BTCUSDT", "1m", minutes(1234), progress=seen.append)
    assert sum(seen) == 1234


def test_reimport_of_overlapping_data_overwrites_and_never_duplicates(store):
    first = minutes(200, seed=1)
    second = minutes(150, start=T0 + 100 * MINUTE, seed=2, price=50.0)
    store.write("ETHUSDT", "1m", first)
    store.write("ETHUSDT", "1m", second)
    got = store.read("ETHUSDT", "1m")
    assert len(got) == 250
    assert_same(got.slice(0, 100), first.slice(0, 100))
    assert_same(got.slice(100, 250), second)
    assert store.range("ETHUSDT", "1m").count == 250


def test_range_is_start_inclusive_end_exclusive_in_any_time_form(store):
    data = minutes(100)
    store.write("BTCUSDT", "1m", data)
    expected = data.slice(10, 20)
    assert_same(store.read("BTCUSDT", "1m", T0 + 10 * MINUTE, T0 + 20 * MINUTE), expected)
    assert_same(store.read("BTCUSDT", "1m", "2024-01-01T00:10:00Z", "2024-01-01T00:20:00Z"), expected)
    start = dt.datetime(2024, 1, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert_same(store.read("BTCUSDT", "1m", start, dt.datetime(2024, 1, 1, 0, 20)), expected)
    assert_same(store.read("BTCUSDT", "1m", None, T0 + 3 * MINUTE), data.slice(0, 3))
    assert_same(store.read("BTCUSDT", "1m", T0 + 97 * MINUTE, None), data.slice(97, 100))


def test_unknown_symbol_and_empty_range_are_not_found_and_not_retryable(store):
    store.write("BTCUSDT", "1m", minutes(100))
    with pytest.raises(CandlesNotFound) as info:
        store.read("NOSUCH", "1m")
    assert not info.value.retryable and info.value.http_status == 404
    with pytest.raises(CandlesNotFound, match="between 2030"):
        store.read("BTCUSDT", "1m", "2030-01-01", "2030-02-01")
    with pytest.raises(CandlesNotFound, match="stored timeframes: 1m"):
        store.read("BTCUSDT", "1s")  # finer than stored: cannot be made up
    with pytest.raises(InvalidInput, match="empty range"):
        store.read("BTCUSDT", "1m", T0 + MINUTE, T0 + MINUTE)


def test_gaps_raise_a_typed_error_with_the_gap_unless_allowed(store):
    data = minutes(100)
    holed = Candles(*(np.delete(getattr(data, f), np.r_[40:43, 70]) for f in
                      ("time", "open", "high", "low", "close", "volume")))
    store.write("BTCUSDT", "1m", holed)
    with pytest.raises(CandleGapError, match="3 missing bar.*2024-01-01T00:39:00Z.*00:43:00Z and 1 more") as info:
        store.read("BTCUSDT", "1m")
    assert [(g.after, g.before, g.missing) for g in info.value.gaps] == [
        (T0 + 39 * MINUTE, T0 + 43 * MINUTE, 3),
        (T0 + 69 * MINUTE, T0 + 71 * MINUTE, 1),
    ]
    assert len(store.read("BTCUSDT", "1m", gaps="allow")) == 96
    assert len(store.read("BTCUSDT", "1m", T0, T0 + 40 * MINUTE)) == 40  # no hole inside


@pytest.mark.parametrize("timeframe", ["5m", "15m", "1h", "4h", "1d"])
def test_coarser_timeframes_match_pandas_resample(store, timeframe):
    # Starts at 00:07 and ends mid-day: partial first and last bars must not appear.
    data = minutes(3 * 1440 + 500, start=T0 + 7 * MINUTE, seed=5)
    store.write("BTCUSDT", "1m", data)
    got = store.read("BTCUSDT", timeframe)
    want = pandas_resample(data, timeframe)
    assert len(got) == len(want) > 0
    np.testing.assert_array_equal(got.time, want.index.as_unit("ns").asi8)
    for f in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(got, f), want[f].to_numpy(), err_msg=f)
    np.testing.assert_allclose(got.volume, want["volume"].to_numpy(), rtol=1e-12)


def test_resampled_range_keeps_only_complete_bars_inside_it(store):
    data = minutes(600, seed=3)
    store.write("BTCUSDT", "1m", data)
    got = store.read("BTCUSDT", "1h", "2024-01-01T00:30:00Z", "2024-01-01T05:00:00Z")
    np.testing.assert_array_equal(got.time, T0 + 60 * MINUTE * np.arange(1, 5))
    assert got.open[0] == data.open[60] and got.close[-1] == data.close[299]


def test_symbols_and_range_describe_every_series(store):
    store.write("BTCUSDT", "1m", minutes(100))
    store.write("BTCUSDT", "1h", minutes(10, start=T0 + DAY, step=HOUR))
    store.write("AAPL", "1d", minutes(5, step=DAY))
    listed = [(s.symbol, s.timeframe, s.first, s.last, s.count) for s in store.symbols()]
    assert listed == [
        ("AAPL", "1d", T0, T0 + 4 * DAY, 5),
        ("BTCUSDT", "1m", T0, T0 + 99 * MINUTE, 100),
        ("BTCUSDT", "1h", T0 + DAY, T0 + DAY + 9 * HOUR, 10),
    ]
    assert store.range("BTCUSDT", "1h").count == 10
    with pytest.raises(CandlesNotFound):
        store.range("BTCUSDT", "4h")


def test_delete_a_range_a_timeframe_or_a_symbol(store):
    store.write("BTCUSDT", "1m", minutes(100))
    store.write("BTCUSDT", "5m", minutes(10, step=5 * MINUTE))
    store.write("ETHUSDT", "1m", minutes(10))
    store.delete("BTCUSDT", "1m", T0 + 10 * MINUTE, T0 + 20 * MINUTE)
    left = store.read("BTCUSDT", "1m", gaps="allow")
    assert len(left) == 90 and not np.any((left.time >= T0 + 10 * MINUTE) & (left.time < T0 + 20 * MINUTE))
    store.delete("BTCUSDT", "5m")
    assert [s.timeframe for s in store.symbols() if s.symbol == "BTCUSDT"] == ["1m"]
    store.delete("BTCUSDT")
    assert [s.symbol for s in store.symbols()] == ["ETHUSDT"]
    with pytest.raises(CandlesNotFound):
        store.delete("BTCUSDT")


def test_generation_changes_on_every_write_and_delete(store):
    seen = {store.generation("BTCUSDT")}
    store.write("BTCUSDT", "1m", minutes(10))
    seen.add(store.generation("BTCUSDT"))
    assert store.generation("BTCUSDT") in seen  # stable between changes
    store.write("BTCUSDT", "1m", minutes(10))
    seen.add(store.generation("BTCUSDT"))
    store.delete("BTCUSDT", "1m", T0, T0 + MINUTE)
    seen.add(store.generation("BTCUSDT"))
    assert len(seen) == 4
    other = store.generation("ETHUSDT")
    store.write("BTCUSDT", "1m", minutes(10))
    assert store.generation("ETHUSDT") == other


def test_bars_off_the_timeframe_grid_are_refused(store):
    with pytest.raises(InvalidCandles, match="row 1 .*not on a 5m boundary"):
        store.write("BTCUSDT", "5m", minutes(10))
    with pytest.raises(InvalidCandles, match="row 0 .*not on a 1h boundary"):
        store.write("BTCUSDT", "1h", minutes(10, start=T0 + MINUTE, step=HOUR))
    assert store.symbols() == []


def test_an_invalid_row_is_refused_and_nothing_is_written(store):
    data = minutes(60_000)
    close = data.close.copy()
    close[-1] = data.high[-1] * 2  # the very last row, in the last batch
    bad = Candles.from_arrays(data.time, data.open, data.high, data.low, close, data.volume)
    with pytest.raises(InvalidCandles, match="row 59999 .*close is outside"):
        store.write("BTCUSDT", "1m", bad)
    assert store.symbols() == []


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [("close", np.nan, "not finite"), ("volume", np.inf, "not finite"),
     ("time", None, "does not increase"), ("low", 0.0, "low 0.0 is not above zero")],
)
def test_rows_built_without_from_arrays_are_checked_too(store, column, value, message):
    """A ``Candles`` made directly skips from_arrays' checks; the store must not trust it."""
    data = minutes(30_000)
    cols = {name: getattr(data, name).copy() for name in
            ("time", "open", "high", "low", "close", "volume")}
    if column == "time":
        cols["time"][-1] = cols["time"][-2]
    else:
        cols[column][-1] = value
    with pytest.raises(InvalidCandles, match=f"row 29999 .*{message}"):
        store.write("BTCUSDT", "1m", Candles(**cols))
    assert store.symbols() == []


@pytest.mark.parametrize("symbol", PAYLOADS)
def test_hostile_symbols_are_refused_by_every_method(store, symbol):
    store.write("VICTIM", "1m", minutes(10))
    calls = [
        lambda: store.read(symbol, "1m"),
        lambda: store.write(symbol, "1m", minutes(10)),
        lambda: store.delete(symbol),
        lambda: store.range(symbol, "1m"),
        lambda: store.generation(symbol),
        lambda: store.timeframes(symbol),
    ]
    for call in calls:
        with pytest.raises(InvalidSymbol):
            call()
    assert [s.symbol for s in store.symbols()] == ["VICTIM"]
    assert len(store.read("VICTIM", "1m")) == 10


@pytest.mark.parametrize("timeframe", ["1m'", "1m; DROP", "1m\n", "1 m", "1w", "0m", "7h", "60", ""])
def test_invalid_timeframes_are_refused(store, timeframe):
    with pytest.raises(InvalidTimeframe):
        store.read("BTCUSDT", timeframe)
    with pytest.raises(InvalidTimeframe):
        store.write("BTCUSDT", timeframe, minutes(5))
