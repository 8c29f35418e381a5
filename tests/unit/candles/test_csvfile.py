"""CSV candle files: common layouts are read, bad lines are refused with their line number."""

from __future__ import annotations

import io

import numpy as np
import pytest

from engine.candles import Candles
from quantgrid.candles.csvfile import read_csv, write_csv
from quantgrid.candles.errors import CandleFileError
from quantgrid.errors import InvalidInput

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
NS = 10**9


def _read(text: str) -> Candles:
    return read_csv(io.StringIO(text))


def _error(text: str) -> str:
    with pytest.raises(CandleFileError) as info:
        _read(text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_yahoo_layout_with_extra_columns():
    c = _read(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-01,10,12,9,11,10.5,1000\n"
        "2024-01-02,11,13,10,12,11.5,2000\n"
    )
    np.testing.assert_array_equal(c.time, [T0 * NS, (T0 + 86400) * NS])
    np.testing.assert_array_equal(c.close, [11, 12])
    np.testing.assert_array_equal(c.volume, [1000, 2000])


def test_lowercase_timestamp_column_with_offsets_converts_to_utc():
    c = _read(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T01:00:00+01:00,1,2,0.5,1.5,1\n"
        "2024-01-01T00:01:00Z,1,2,0.5,1.5,1\n"
        "2024-01-01 00:02:00,1,2,0.5,1.5,1\n"
    )
    np.testing.assert_array_equal(c.time, (T0 + np.array([0, 60, 120])) * NS)


def test_unnamed_index_column_as_pandas_writes_it():
    c = _read(",open,high,low,close,volume\n2024-01-01 00:00:00+00:00,1,2,0.5,1.5,3\n")
    assert c.time[0] == T0 * NS


def test_missing_volume_column_reads_as_zeros():
    c = _read("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")
    np.testing.assert_array_equal(c.volume, [0.0])


def test_split_date_and_time_columns_are_joined():
    c = _read("Date,Time,Open,High,Low,Close\n2024.01.01,00:00,1,2,0.5,1.5\n2024.01.01,00:01,1,2,0.5,1.5\n")
    np.testing.assert_array_equal(c.time, (T0 + np.array([0, 60])) * NS)


@pytest.mark.parametrize(
    ("values", "scale"),
    [([T0, T0 + 60], NS), ([T0 * 1000, (T0 + 60) * 1000], 10**6), ([T0 * 10**6, (T0 + 60) * 10**6], 1000),
     ([T0 * NS, (T0 + 60) * NS], 1)],
    ids=["s", "ms", "us", "ns"],
)
def test_epoch_unit_is_detected_by_magnitude(values, scale):
    text = "time,open,high,low,close,volume\n" + "".join(f"{v},1,2,0.5,1.5,1\n" for v in values)
    np.testing.assert_array_equal(_read(text).time, np.array(values, dtype=np.int64) * scale)


def test_headerless_binance_layout():
    text = f"{T0 * 1000},1,2,0.5,1.5,7,{T0 * 1000 + 59999},0\n{(T0 + 60) * 1000},1,2,0.5,1.5,8,0,0\n"
    c = _read(text)
    np.testing.assert_array_equal(c.time, (T0 + np.array([0, 60])) * NS)
    np.testing.assert_array_equal(c.volume, [7, 8])


def test_blank_lines_are_ignored_and_line_numbers_still_count_them():
    message = _error("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n\n2024-01-02,1,2,0.5,zz\n")
    assert "line 4:" in message and "'zz' is not a number" in message


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("2024-01-01,1,2,0.5,1.5,1\nnot-a-date,1,2,0.5,1.5,1\n", 3, "cannot read timestamp 'not-a-date'"),
        ("2024-01-02,1,2,0.5,1.5,1\n2024-01-01,1,2,0.5,1.5,1\n", 3, "is before the one on line 2"),
        ("2024-01-01,1,2,0.5,1.5,1\n2024-01-01,1,2,0.5,1.5,1\n", 3, "repeats the one on line 2"),
        ("2024-01-01,1,2,0.5,,1\n", 2, "close is missing"),
        ("2024-01-01,1,2,0.5,NaN,1\n", 2, "close is missing"),
        ("2024-01-01,1,2,0.5,abc,1\n", 2, "close 'abc' is not a number"),
        ("2024-01-01,1,2,0.5,inf,1\n", 2, "close inf is not finite"),
        ("2024-01-01,1,1,2,1,1\n", 2, "high 1.0 is below low 2.0"),
        ("2024-01-01,3,2,0.5,1.5,1\n", 2, "open 3.0 is outside [low 0.5, high 2.0]"),
        ("2024-01-01,1,2,0.5,0.1,1\n", 2, "close 0.1 is outside"),
        ("2024-01-01,1,2,0.5,1.5,-1\n", 2, "volume -1.0 is negative"),
        ("2024-01-01,1,2,0.5,1.5,1\n2024-01-02,0,2,0,1.5,1\n", 3, "open 0.0 is not above zero"),
        ("2024-01-01,1,2,-0.5,1.5,1\n", 2, "low -0.5 is not above zero"),
        (",1,2,0.5,1.5,1\n", 2, "timestamp is missing"),
        ("2024-01-01,1,2,0.5,1.5,\n", 2, "volume is missing"),
    ],
)
def test_bad_line_is_named(body, line, fragment):
    message = _error("time,open,high,low,close,volume\n" + body)
    assert f"line {line}:" in message
    assert fragment in message


def test_first_bad_line_wins_and_the_rest_are_counted():
    body = "2024-01-01,1,2,0.5,1.5,1\n2024-01-02,1,1,2,1,1\n2024-01-03,x,2,0.5,1.5,1\n2024-01-03,1,2,0.5,1.5,1\n"
    message = _error("time,open,high,low,close,volume\n" + body)
    assert message.startswith("<stream> line 3: high 1.0 is below low 2.0")
    assert "(2 more bad lines)" in message


def test_mixed_epoch_units_are_refused():
    message = _error(f"time,open,high,low,close\n{T0},1,2,0.5,1.5\n{T0 * 1000},1,2,0.5,1.5\n")
    assert "line 3:" in message and "not in s" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("time,open,high,low,close\n", "no candles after the header"),
        ("time,open,high,low\n2024-01-01,1,2,0.5\n", "line 1: missing column(s) close"),
        ("when,open,high,low,close\n2024-01-01,1,2,0.5,1\n", "line 1: no time column"),
        ("1,2,3\n", "too few"),
    ],
)
def test_file_level_errors(text, fragment):
    assert fragment in _error(text)


def test_error_is_invalid_input_and_names_the_file(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("time,open,high,low,close\n2024-01-01,1,2,0.5,9\n")
    with pytest.raises(InvalidInput, match=r"prices\.csv line 2: close 9\.0 is outside"):
        read_csv(path)


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(CandleFileError, match="no such file"):
        read_csv(tmp_path / "nope.csv")


def test_write_then_read_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(7)
    n = 5000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    high = close * (1 + rng.uniform(0, 1e-3, n))
    low = close * (1 - rng.uniform(0, 1e-3, n))
    candles = Candles.from_arrays(
        (T0 + 60 * np.arange(n)) * NS, close, high, low, close, rng.uniform(0, 1e6, n)
    )
    write_csv(candles, tmp_path / "out.csv")
    back = read_csv(tmp_path / "out.csv")
    for field in ("time", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(back, field), getattr(candles, field))
    assert (tmp_path / "out.csv").read_text().startswith("time,open,high,low,close,volume\n2024-01-01T00:00:00Z,")


def test_write_to_a_text_stream_keeps_sub_second_times():
    candles = Candles.from_arrays([T0 * NS + 500_000_000], [1.0], [2.0], [0.5], [1.5], [0.0])
    out = io.StringIO()
    write_csv(candles, out)
    assert "2024-01-01T00:00:00.500Z" in out.getvalue()
    np.testing.assert_array_equal(_read(out.getvalue()).time, candles.time)
