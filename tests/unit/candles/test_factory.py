"""open_store picks the backend from the settings and, for InfluxDB, the API from /ping's version."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from quantgrid.candles.cache import CachedStore
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.errors import CandleStoreRefused, CandleStoreUnavailable
from quantgrid.candles.factory import _major, open_store
from quantgrid.candles.influx_v1 import InfluxStore
from quantgrid.candles.influx_v2 import Influx2Store
from quantgrid.candles.store import to_ns
from quantgrid.config import Settings
from quantgrid.errors import InvalidInput
from tests.support.influx import _free_port


def test_embedded_is_the_default_and_uncached(tmp_path):
    store = open_store(Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path)}))
    assert isinstance(store, EmbeddedStore) and store.root == tmp_path / "candles"
    cached = open_store(Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path)}), cache=True)
    assert isinstance(cached, CachedStore) and cached.directory == tmp_path / "cache"


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(CandleStoreRefused, match="CANDLE_STORE"):
        open_store(Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path), "CANDLE_STORE": "redis"}))


def test_influx_that_does_not_answer_is_unavailable_and_retryable(tmp_path):
    env = {"CANDLE_STORE": "influxdb", "INFLUX_URL": f"http://127.0.0.1:{_free_port()}"}
    with pytest.raises(CandleStoreUnavailable) as info:
        open_store(Settings.from_env(env))
    assert info.value.retryable and info.value.http_status == 503


@pytest.mark.parametrize(("version", "major"), [("1.6.7~rc0", 1), ("v2.7.4", 2), ("2.0.0-beta", 2), ("3.0.1", 3), ("", 0), ("dev", 0)])
def test_major_version(version, major):
    assert _major(version) == major


@pytest.mark.parametrize(
    ("value", "ns"),
    [(5, 5), ("2024-01-01", 1_704_067_200 * 10**9), ("2024-01-01T01:00:00+01:00", 1_704_067_200 * 10**9), (None, None)],
)
def test_time_bounds(value, ns):
    assert to_ns(value) == ns


@pytest.mark.parametrize("value", ["yesterday-ish", True, [1]])
def test_bad_time_bounds_are_invalid_input(value):
    with pytest.raises(InvalidInput):
        to_ns(value)


@pytest.fixture
def pinged_server():
    """A stand-in for an InfluxDB 2.x/3.x server (none runs here: Debian ships 1.6) that only
    answers ``/ping`` with the version set in ``server.version``: all that open_store asks."""

    class Ping(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            self.send_response(204 if self.path == "/ping" else 404)
            self.send_header("X-Influxdb-Version", server.version)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ping)
    server.version = "v2.7.4"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("version", "token_and_org", "backend"),
    [("v2.7.4", True, Influx2Store), ("3.0.1", True, Influx2Store), ("v2.7.4", False, InfluxStore),
     ("1.6.7~rc0", True, InfluxStore), ("1.8.10", False, InfluxStore)],
)
def test_the_server_version_and_credentials_pick_the_api(pinged_server, version, token_and_org,
                                                         backend):
    pinged_server.version = version
    env = {"CANDLE_STORE": "influxdb", "INFLUX_URL": f"http://127.0.0.1:{pinged_server.server_port}"}
    if token_and_org:
        env |= {"INFLUX_TOKEN": "t0ken", "INFLUX_ORG": "quants", "INFLUX_BUCKET": "candles"}
    store = open_store(Settings.from_env(env), cache=False)
    assert type(store) is backend
