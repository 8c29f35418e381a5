"""A pool child that starts while InfluxDB is down still reads this host's cached candles: the
store it gets cannot ask the server, but the cache answers; the real store is opened later."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from engine.candles import Candles
from quantgrid.candles.cache import CachedStore
from quantgrid.candles.errors import CandleStoreUnavailable
from quantgrid.candles.factory import open_store
from quantgrid.config import Settings
from tasks import runtime


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_candle_store_with_influxdb_down_serves_the_cache_and_opens_later(tmp_path, monkeypatch):
    settings = Settings.from_env({
        "QUANTGRID_VAR_DIR": str(tmp_path), "CANDLE_STORE": "influxdb",
        "INFLUX_URL": f"http://127.0.0.1:{_closed_port()}",
    })  # fmt: skip
    monkeypatch.setattr(runtime, "settings", lambda: settings)
    monkeypatch.setattr(runtime, "_store", None)
    with pytest.raises(CandleStoreUnavailable):
        open_store(settings)  # what the worker used to call: no store at all, no cache either

    store = runtime.candle_store()
    assert isinstance(store, CachedStore)
    assert runtime._store is None  # not kept: the next call asks the server again
    # A copy this host cached before the outage (loaded while the server answered) is served.
    t = np.arange(1_577_836_800, 1_577_836_800 + 3600 * 50, 3600, dtype=np.int64) * 10**9
    close = np.linspace(100, 150, 50)
    candles = Candles(t, close, close + 1, close - 1, close, np.ones(50))
    before = open_store(settings, offline=True)
    monkeypatch.setattr(before.store, "generation", lambda symbol: "gen-1")
    monkeypatch.setattr(before.store, "read", lambda *a, **k: candles)
    assert np.array_equal(before.read("DEMO", "1h").close, close)
    got = store.read("DEMO", "1h")
    assert np.array_equal(got.close, close)
    with pytest.raises(CandleStoreUnavailable):  # anything the cache cannot answer still fails
        store.read("DEMO", "1h", "2020-01-01", "2020-01-02")
