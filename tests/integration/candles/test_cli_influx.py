"""The ``quantgrid candles`` tools with CANDLE_STORE=influxdb, against the real influxd."""

from __future__ import annotations

import pytest

from quantgrid.candles.csvfile import read_csv, write_csv
from tests.support.candles import minutes
from tests.support.cli import run_cli


@pytest.fixture
def env(influxd, influx_store, monkeypatch, tmp_path):
    monkeypatch.setenv("QUANTGRID_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CANDLE_STORE", "influxdb")
    monkeypatch.setenv("INFLUX_URL", influxd.url)
    monkeypatch.setenv("INFLUX_DB", influx_store.db)
    for name in ("INFLUX_TOKEN", "INFLUX_ORG", "INFLUX_USERNAME", "CANDLE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path




def test_import_list_export_resampled_delete(env, capsys, influx_store):
    data = minutes(1440 + 90)
    write_csv(data, env / "in.csv")
    code, out, err = run_cli(capsys, "candles", "import", str(env / "in.csv"), "--symbol", "BTCUSDT", "--timeframe", "1m")
    assert code == 0, err
    assert len(influx_store.read("BTCUSDT", "1m")) == 1530
    code, out, _ = run_cli(capsys, "candles", "list")
    assert out.splitlines()[1].split() == ["BTCUSDT", "1m", "2024-01-01T00:00:00Z", "2024-01-02T01:29:00Z", "1530"]
    code, _, err = run_cli(capsys, "candles", "export", "--symbol", "BTCUSDT", "--timeframe", "1h", "-o", str(env / "h.csv"))
    assert code == 0, err
    hourly = read_csv(env / "h.csv")
    assert len(hourly) == 25 and hourly.open[0] == data.open[0] and hourly.close[-1] == data.close[1499]
    code, _, _ = run_cli(capsys, "candles", "delete", "--symbol", "BTCUSDT", "--yes")
    assert code == 0 and influx_store.symbols() == []


def test_a_bad_file_writes_nothing_to_influx(env, capsys, influx_store):
    (env / "bad.csv").write_text("time,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1\n2024-01-01T00:01:00Z,1,2,0.5,3\n")
    code, _, err = run_cli(capsys, "candles", "import", str(env / "bad.csv"), "--symbol", "BTCUSDT", "--timeframe", "1m")
    assert code == 2 and "line 3: close 3.0 is outside [low 0.5, high 2.0]" in err
    assert influx_store.symbols() == []


def test_a_server_that_is_down_exits_with_tempfail(env, capsys, monkeypatch):
    from tests.support.influx import _free_port

    monkeypatch.setenv("INFLUX_URL", f"http://127.0.0.1:{_free_port()}")
    code, _, err = run_cli(capsys, "candles", "list")
    assert code == 75 and err.startswith("error: InfluxDB at http://127.0.0.1:") and "does not answer" in err
