"""A real influxd for the candle tests, and a ``store`` fixture over both backends."""

from __future__ import annotations

import uuid

import pytest
import requests

from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.influx_v1 import InfluxStore


@pytest.fixture
def influx_store(influxd):
    """An InfluxStore on a database of this test's own, dropped afterwards."""
    db = f"qg_test_{uuid.uuid4().hex[:12]}"
    store = InfluxStore(influxd.url, db)
    yield store
    store.close()
    requests.post(f"{influxd.url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=30)


@pytest.fixture
def embedded_store(tmp_path):
    return EmbeddedStore(tmp_path / "candles")


@pytest.fixture(params=["embedded", "influx"])
def store(request):
    """Each contract test runs against both backends."""
    return request.getfixturevalue(f"{request.param}_store")
