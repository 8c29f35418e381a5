"""What only the InfluxDB backend must get right: injection, outages, streaming, server resampling."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from quantgrid.candles.cache import CachedStore
from quantgrid.candles.errors import (
    CandleStoreRefused,
    CandleStoreUnavailable,
    InvalidCandles,
    InvalidSymbol,
)
from quantgrid.candles.factory import open_store
from quantgrid.candles.influx_v1 import InfluxStore
from quantgrid.config import Settings
from tests.support.candles import assert_same, minutes
from tests.support.influx import InfluxServer, _free_port


def _measurements(url: str, db: str) -> list[str]:
    body = requests.post(f"{url}/query", data={"db": db, "q": "SHOW MEASUREMENTS"}, timeout=10).json()
    series = body["results"][0].get("series", [])
    return sorted(v[0] for s in series for v in s["values"])


def test_injection_payloads_leave_other_data_alone(influxd, influx_store):
    influx_store.write("VICTIM", "1m", minutes(10))
    requests.post(f"{influxd.url}/write", params={"db": influx_store.db}, data="victim value=1 0", timeout=10)
    for payload in ("x' OR symbol=~/.*/ -- ", "x'; DROP MEASUREMENT victim; SELECT", "X\ncandles,symbol=VICTIM,timeframe=1m open=0"):
        for call in (
            lambda p=payload: influx_store.read(p, "1m"),
            lambda p=payload: influx_store.delete(p),
            lambda p=payload: influx_store.write(p, "1m", minutes(3)),
        ):
            with pytest.raises(InvalidSymbol):
                call()
    assert "victim" in _measurements(influxd.url, influx_store.db)
    assert len(influx_store.read("VICTIM", "1m")) == 10


def test_symbols_are_checked_before_any_connection_is_made():
    store = InfluxStore(f"http://127.0.0.1:{_free_port()}", "nowhere")
    with pytest.raises(InvalidSymbol):
        store.read("x'; DROP MEASUREMENT victim; SELECT", "1m")


def test_a_server_that_goes_away_is_unavailable_and_retryable(tmp_path):
    server = InfluxServer(tmp_path / "influxd").start()
    store = InfluxStore(server.url, "qg", timeout=5)
    try:
        store.write("BTCUSDT", "1m", minutes(100))
        assert len(store.read("BTCUSDT", "1m")) == 100
    finally:
        server.stop()
    for call in (
        lambda: store.read("BTCUSDT", "1m"),
        lambda: store.write("BTCUSDT", "1m", minutes(5)),
        lambda: store.symbols(),
        lambda: store.generation("BTCUSDT"),
    ):
        with pytest.raises(CandleStoreUnavailable) as info:
            call()
        assert info.value.retryable


def test_a_large_read_streams_across_many_chunks_and_blocks(influx_store):
    data = minutes(250_000, seed=8)  # ~25 MB of CSV: several parser blocks, many server chunks
    influx_store.write("BTCUSDT", "1m", data)
    assert_same(influx_store.read("BTCUSDT", "1m"), data)


def test_coarser_timeframes_are_resampled_by_the_server(influx_store, monkeypatch):
    data = minutes(1440 * 2)
    influx_store.write("BTCUSDT", "1m", data)

    def no_raw_fetch(*args):
        raise AssertionError("fetched 1m candles to resample locally")

    monkeypatch.setattr(influx_store, "_read", no_raw_fetch)
    assert len(influx_store.read("BTCUSDT", "1h")) == 48
    assert len(influx_store.read("BTCUSDT", "1d")) == 2


def test_token_and_org_against_a_1x_server_use_the_v1_api(influxd, influx_store):
    env = {
        "CANDLE_STORE": "influxdb", "INFLUX_URL": influxd.url, "INFLUX_DB": influx_store.db,
        "INFLUX_TOKEN": "a-token", "INFLUX_ORG": "an-org",
    }
    store = open_store(Settings.from_env(env), cache=False)
    assert type(store) is InfluxStore
    store.write("BTCUSDT", "1m", minutes(50))
    assert len(store.read("BTCUSDT", "1m")) == 50


def test_the_cache_loads_from_influx_once_and_sees_a_reimport_from_elsewhere(influx_store, tmp_path):
    data = minutes(5000)
    influx_store.write("BTCUSDT", "1m", data)
    cache = CachedStore(InfluxStore(influx_store.url, influx_store.db), tmp_path / "cache", 10**9)
    for _ in range(3):
        assert_same(cache.read("BTCUSDT", "1m"), data)
    assert cache.stats() == {"hits": 2, "misses": 1}
    fresh = minutes(5000, seed=99)
    influx_store.write("BTCUSDT", "1m", fresh)  # another host re-imports
    assert_same(cache.read("BTCUSDT", "1m"), fresh)
    assert cache.stats() == {"hits": 2, "misses": 2}
    assert np.array_equal(cache.read("BTCUSDT", "1h").time, influx_store.read("BTCUSDT", "1h").time)


def test_the_v2_client_against_a_1x_server_fails_as_refused_not_silently(influxd):
    """Why the version decides: the v2 API 404s on 1.x; the store says so in a typed error."""
    from quantgrid.candles.influx_v2 import Influx2Store

    store = Influx2Store(influxd.url, token="t", org="o", bucket="qg")
    try:
        with pytest.raises(InvalidSymbol):
            store.read("x'; DROP MEASUREMENT victim; SELECT", "1m")
        with pytest.raises(CandleStoreRefused, match="404"):
            store.write("BTCUSDT", "1m", minutes(5))
        with pytest.raises(CandleStoreRefused, match="404"):
            store.read("BTCUSDT", "1m")
    finally:
        store.close()
    down = Influx2Store(f"http://127.0.0.1:{_free_port()}", token="t", org="o", bucket="qg", timeout=2)
    with pytest.raises(CandleStoreUnavailable):
        down.symbols()
    down.close()


def test_points_written_by_another_tool_that_we_would_refuse_are_reported(influxd, influx_store):
    influx_store.write("BTCUSDT", "1m", minutes(3))
    foreign = "candles,symbol=BTCUSDT,timeframe=1m close=5 1704067380000000000"  # no open/high/low
    requests.post(f"{influxd.url}/write", params={"db": influx_store.db}, data=foreign, timeout=10)
    with pytest.raises(InvalidCandles, match="stored BTCUSDT candles are not valid.*open is missing or not finite at row 3"):
        influx_store.read("BTCUSDT", "1m")


def _fail_the_third_batch(store: InfluxStore, monkeypatch) -> None:
    """The real server takes two batches, then the third POST to /write fails as an outage."""
    real, writes = store._request, []

    def request(path, **kw):
        if path == "/write" and b"\n" in kw.get("data", b""):  # a batch, not the generation stamp
            writes.append(path)
            if len(writes) == 3:
                raise CandleStoreUnavailable(f"InfluxDB at {store.url} is unavailable: injected")
        return real(path, **kw)

    monkeypatch.setattr(store, "_request", request)


def test_an_import_cut_off_part_way_leaves_nothing_of_a_fresh_range(influx_store, monkeypatch):
    influx_store.batch_size = 1_000
    influx_store.write("KEEP", "1m", minutes(50))  # another series, untouched
    _fail_the_third_batch(influx_store, monkeypatch)
    with pytest.raises(CandleStoreUnavailable, match="injected; nothing of the BTCUSDT 1m candles"):
        influx_store.write("BTCUSDT", "1m", minutes(5_000))
    monkeypatch.undo()
    assert [(s.symbol, s.count) for s in influx_store.symbols()] == [("KEEP", 50)]


def test_an_import_cut_off_over_stored_candles_says_they_may_be_partly_replaced(
    influx_store, monkeypatch
):
    influx_store.batch_size = 1_000
    influx_store.write("BTCUSDT", "1m", minutes(5_000, seed=1))
    _fail_the_third_batch(influx_store, monkeypatch)
    with pytest.raises(CandleStoreUnavailable, match="may be partly replaced: run the import again"):
        influx_store.write("BTCUSDT", "1m", minutes(5_000, seed=2))
    monkeypatch.undo()
    assert influx_store.range("BTCUSDT", "1m").count == 5_000  # nothing lost, nothing doubled
