"""quantgrid.candles.importing: the import the CLI and the upload page share, and the bad lines a
refused file lists (csvfile's ``CandleFileError.lines``)."""

from __future__ import annotations

import io

import pytest

from quantgrid.candles import csvfile
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.errors import CandleFileError, InvalidSymbol
from quantgrid.candles.importing import import_csv
from quantgrid.errors import InvalidInput

HEADER = "time,open,high,low,close,volume\n"


def _lines(n: int, start_minute: int = 0) -> str:
    return "".join(f"2024-01-01T{(start_minute + i) // 60:02d}:{(start_minute + i) % 60:02d}:00Z,"
                   f"1,2,0.5,1.5,10\n" for i in range(n))


def test_import_writes_and_summarises(tmp_path):
    store = EmbeddedStore(tmp_path)
    seen = []
    done = import_csv(store, io.StringIO(HEADER + _lines(90)), "BTCUSDT", "1m",
                      progress=seen.append, on_read=seen.append)
    assert (done.symbol, done.timeframe, done.rows) == ("BTCUSDT", "1m", 90)
    assert done.summary() == ("imported 90 BTCUSDT 1m candles from 2024-01-01T00:00:00Z to "
                              "2024-01-01T01:29:00Z")
    assert seen == [90, 90]
    assert [(s.symbol, s.timeframe, s.count) for s in store.symbols()] == [("BTCUSDT", "1m", 90)]


def test_a_bad_file_lists_its_bad_lines_and_writes_nothing(tmp_path):
    store = EmbeddedStore(tmp_path)
    text = HEADER + _lines(3) + "2024-01-01T00:03:00Z,1,2,0.5,x,1\n" + _lines(2, 4) + \
        "2024-01-01T00:06:00Z,1,0.1,0.5,1,1\n"
    with pytest.raises(CandleFileError) as caught:
        import_csv(store, io.StringIO(text), "BTCUSDT", "1m")
    err = caught.value
    assert err.bad_lines == 2
    assert err.lines == ((5, "close 'x' is not a number"), (8, "high 0.1 is below low 0.5"))
    assert "line 5: close 'x' is not a number (1 more bad line)" in err.message
    assert store.symbols() == []


def test_only_the_first_bad_lines_are_listed_the_rest_counted(tmp_path):
    bad = "".join(f"2024-01-01T00:{i:02d}:00Z,1,2,0.5,9,1\n" for i in range(60))
    with pytest.raises(CandleFileError) as caught:
        import_csv(EmbeddedStore(tmp_path), io.StringIO(HEADER + bad), "BTCUSDT", "1m")
    assert caught.value.bad_lines == 60
    assert len(caught.value.lines) == csvfile.MAX_LISTED
    assert [line for line, _ in caught.value.lines] == list(range(2, 2 + csvfile.MAX_LISTED))


def test_bars_off_the_timeframe_are_refused_by_line(tmp_path):
    with pytest.raises(CandleFileError) as caught:
        import_csv(EmbeddedStore(tmp_path), io.StringIO(HEADER + _lines(3)), "BTCUSDT", "1h")
    assert caught.value.lines[0] == (3, "timestamp 2024-01-01T00:01:00Z is not on a 1h boundary"
                                        " (is the timeframe right?)")


@pytest.mark.parametrize(("symbol", "timeframe", "error"), [
    ("btc usdt", "1m", InvalidSymbol), ("BTCUSDT", "7q", InvalidInput)])
def test_symbol_and_timeframe_are_checked_before_the_file(tmp_path, symbol, timeframe, error):
    with pytest.raises(error):
        import_csv(EmbeddedStore(tmp_path), io.StringIO("not read"), symbol, timeframe)
