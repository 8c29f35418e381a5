"""``quantgrid candles ...`` against the embedded store: the tools people fill the store with."""

from __future__ import annotations

import pytest

from quantgrid.candles.csvfile import read_csv, write_csv
from quantgrid.candles.embedded import EmbeddedStore
from tests.support.candles import assert_same, minutes
from tests.support.cli import run_cli


@pytest.fixture
def var(tmp_path, monkeypatch):
    for name in ("CANDLE_STORE", "CANDLE_DIR", "CANDLE_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUANTGRID_VAR_DIR", str(tmp_path / "var"))
    return tmp_path




def _store(var):
    return EmbeddedStore(var / "var" / "candles")


def test_import_with_progress_then_reimport_overwrites(var, capsys):
    data = minutes(3000)
    write_csv(data, var / "a.csv")
    code, out, err = run_cli(capsys, "candles", "import", str(var / "a.csv"), "--symbol", "BTCUSDT", "--timeframe", "1m")
    assert code == 0, err
    assert "imported 3000 BTCUSDT 1m candles from 2024-01-01T00:00:00Z" in out
    assert "3.00k/3.00k" in err  # the progress bar, on stderr
    changed = minutes(1000, seed=9)
    write_csv(changed, var / "b.csv")
    assert run_cli(capsys, "candles", "import", str(var / "b.csv"), "--symbol", "BTCUSDT", "--timeframe", "1m")[0] == 0
    got = _store(var).read("BTCUSDT", "1m")
    assert len(got) == 3000
    assert_same(got.slice(0, 1000), changed)


def test_import_of_a_bad_file_names_the_line_and_writes_nothing(var, capsys):
    (var / "bad.csv").write_text(
        "time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1,1\n2024-01-01T00:01:00Z,1,2,0.5,x,1\n"
    )
    code, out, err = run_cli(capsys, "candles", "import", str(var / "bad.csv"), "--symbol", "BTCUSDT", "--timeframe", "1m")
    assert code == 2
    assert err.strip().splitlines() == [f"error: {var / 'bad.csv'} line 3: close 'x' is not a number"]
    assert _store(var).symbols() == []


def test_import_refuses_a_timeframe_that_does_not_fit_the_file(var, capsys):
    write_csv(minutes(10), var / "a.csv")
    code, _, err = run_cli(capsys, "candles", "import", str(var / "a.csv"), "--symbol", "BTCUSDT", "--timeframe", "5m")
    # Checked with the file's lines, before any write: the first bar off the grid, by its line.
    assert code == 2 and ("line 3: timestamp 2024-01-01T00:01:00Z is not on a 5m boundary (is the"
                          " timeframe right?) (7 more bad lines)") in err
    assert _store(var).symbols() == []


@pytest.mark.parametrize("symbol", ["x' OR symbol=~/.*/ -- ", "x'; DROP MEASUREMENT victim; SELECT", "A\nB"])
def test_hostile_symbols_are_one_line_errors(var, capsys, symbol):
    code, _, err = run_cli(capsys, "candles", "generate", "--symbol", symbol, "--bars", "10")
    assert code == 2 and err.startswith("error: invalid symbol") and "Traceback" not in err


def test_generate_list_export_delete(var, capsys):
    code, out, _ = run_cli(capsys, "candles", "generate", "--symbol", "DEMO", "--bars", "2880", "--seed", "7")
    assert code == 0 and "generated 2880 DEMO 1m candles" in out
    code, out, _ = run_cli(capsys, "candles", "list")
    assert out.splitlines()[1].split() == ["DEMO", "1m", "2020-01-01T00:00:00Z", "2020-01-02T23:59:00Z", "2880"]
    code, _, err = run_cli(capsys, "candles", "export", "--symbol", "DEMO", "--timeframe", "1h", "-o", str(var / "h.csv"))
    assert code == 0 and "exported 48 candles" in err
    hourly = read_csv(var / "h.csv")
    assert len(hourly) == 48 and hourly.time[1] - hourly.time[0] == 3600 * 10**9
    code, out, _ = run_cli(capsys, "candles", "export", "--symbol", "DEMO", "--timeframe", "1m",
                        "--start", "2020-01-01T00:01:00Z", "--end", "2020-01-01T00:03:00Z")
    assert out.splitlines()[0] == "time,open,high,low,close,volume" and len(out.splitlines()) == 3
    code, out, _ = run_cli(capsys, "candles", "delete", "--symbol", "DEMO", "--yes")
    assert code == 0 and _store(var).symbols() == []
    code, _, err = run_cli(capsys, "candles", "export", "--symbol", "DEMO", "--timeframe", "1m")
    assert code == 3 and err.startswith("error: no candles are stored for DEMO")


def test_export_refuses_gaps_unless_allowed(var, capsys):
    data = minutes(20)
    store = _store(var)
    store.write("BTCUSDT", "1m", data.slice(0, 5))
    store.write("BTCUSDT", "1m", data.slice(10, 20))
    code, _, err = run_cli(capsys, "candles", "export", "--symbol", "BTCUSDT", "--timeframe", "1m")
    assert code == 3 and "5 missing bar(s)" in err and "--allow-gaps" in err
    code, out, _ = run_cli(capsys, "candles", "export", "--symbol", "BTCUSDT", "--timeframe", "1m", "--allow-gaps")
    assert code == 0 and len(out.splitlines()) == 16
    assert out.splitlines()[1].startswith("2024-01-01T00:00:00Z,")
