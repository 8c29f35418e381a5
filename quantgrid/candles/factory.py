"""Open the candle store that the settings name."""

from __future__ import annotations

from quantgrid.candles.cache import CachedStore
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.errors import CandleStoreRefused
from quantgrid.candles.influx_v1 import InfluxStore, server_version
from quantgrid.candles.store import CandleStore
from quantgrid.config import Settings


def open_store(
    settings: Settings | None = None, *, cache: bool | None = None, offline: bool = False
) -> CandleStore:
    """Return the configured store; with ``cache`` (default: for InfluxDB) reads go through the local cache.

    ``CANDLE_STORE=embedded`` (the default) needs no server. ``CANDLE_STORE=influxdb`` asks
    ``/ping`` for the server's version: 2.x or later with ``INFLUX_TOKEN`` and ``INFLUX_ORG`` set
    uses the native v2 API (``influxdb-client``); anything else uses the v1 API, which 1.x serves
    and 2.x/3.x serve for compatibility. The version decides, not the client: the v2 client's
    ``ping()`` succeeds against 1.x while all its writes and queries fail with 404.

    ``offline``: do not ask (InfluxDB is down); the settings decide (v2 with a token and an org),
    so that reads of the local cache still work. Its other calls fail until the server is back.
    """
    settings = settings or Settings.from_env()
    kind = settings.candle_store.lower()
    if kind == "embedded":
        store: CandleStore = EmbeddedStore(settings.candle_dir)
        cache = False if cache is None else cache  # already memory-mapped local files
    elif kind in ("influxdb", "influx"):
        store = _open_influx(settings, offline)
        cache = True if cache is None else cache
    else:
        raise CandleStoreRefused(f"CANDLE_STORE must be 'embedded' or 'influxdb', not {settings.candle_store!r}")
    if cache and settings.candle_cache_max_bytes > 0:
        return CachedStore(store, settings.candle_cache_dir, settings.candle_cache_max_bytes)
    return store


def _open_influx(settings: Settings, offline: bool = False) -> CandleStore:
    v2 = bool(settings.influx_token and settings.influx_org)
    if v2 and not offline:
        v2 = _major(server_version(settings.influx_url)) >= 2
    elif not offline:
        server_version(settings.influx_url)  # refuse a URL that is not InfluxDB at once
    if v2:
        from quantgrid.candles.influx_v2 import Influx2Store

        return Influx2Store(
            settings.influx_url,
            token=settings.influx_token,
            org=settings.influx_org,
            bucket=settings.influx_bucket or settings.influx_db,
        )
    return InfluxStore(
        settings.influx_url,
        settings.influx_db,
        username=settings.influx_username,
        password=settings.influx_password,
        token=settings.influx_token,
    )


def _major(version: str) -> int:
    """Major version of ``X-Influxdb-Version`` (``1.6.7~rc0``, ``v2.7.4``, ``3.0.1``); 0 if unreadable."""
    digits = version.lstrip("vV").split(".", 1)[0]
    return int(digits) if digits.isdigit() else 0
