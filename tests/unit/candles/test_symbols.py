"""Symbols and timeframes pass a strict pattern before they reach a query, a line or a path."""

from __future__ import annotations

import pytest

from quantgrid.candles.errors import InvalidSymbol
from quantgrid.candles.symbols import Timeframe, validate_symbol
from quantgrid.errors import InvalidInput
from quantgrid.timeframes import InvalidTimeframe


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BRK.B", "ES_F", "BTC-USD", "A", "X" * 32, "1INCH"])
def test_ordinary_symbols_pass(symbol):
    assert validate_symbol(symbol) == symbol


@pytest.mark.parametrize(
    "symbol",
    ["x' OR symbol=~/.*/ -- ", "x'; DROP MEASUREMENT victim; SELECT", "BTC\nUSDT", "BTCUSDT\n",
     "btcusdt", "BTC USDT", "BTC/USDT", "../X", ".HIDDEN", "-X", "X" * 33, "", None, 42, "BTC,a=b",
     'BTC"', "BTC\\", "BTC=1", "BTC\tX"],
)
def test_hostile_or_malformed_symbols_are_refused(symbol):
    with pytest.raises(InvalidSymbol, match="invalid symbol") as info:
        validate_symbol(symbol)
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize(
    ("text", "ns"),
    [("1s", 10**9), ("1m", 60 * 10**9), ("15m", 900 * 10**9), ("4h", 4 * 3600 * 10**9),
     ("1d", 86400 * 10**9), ("7d", 7 * 86400 * 10**9)],
)
def test_timeframes_parse(text, ns):
    tf = Timeframe.parse(text)
    assert tf.ns == ns and str(tf) == text


@pytest.mark.parametrize("text", ["1m\n", "1 m", "0m", "1w", "1M", "m", "1", "7h", "1.5h", "1m;", "", None])
def test_bad_timeframes_are_refused(text):
    with pytest.raises(InvalidTimeframe):
        Timeframe.parse(text)


def test_divides():
    assert Timeframe.parse("1m").divides(Timeframe.parse("1h"))
    assert not Timeframe.parse("4h").divides(Timeframe.parse("1h"))


@pytest.mark.parametrize(("text", "canonical"), [("60m", "1h"), ("1440m", "1d"), ("120s", "2m"), ("90m", "90m"), ("48h", "2d")])
def test_timeframes_are_spelled_canonically_so_one_series_has_one_name(text, canonical):
    assert Timeframe.parse(text).text == canonical
