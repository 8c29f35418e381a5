"""The InfluxDB candle store over the v1 HTTP API (InfluxDB 1.x; 2.x and 3.x through their v1 compatibility endpoints).

Schema: measurement ``candles``, tags ``symbol`` and ``timeframe``, float fields ``open``,
``high``, ``low``, ``close``, ``volume``, timestamps in ns UTC. A second measurement,
``candle_generations`` (tag ``symbol``, string field ``stamp``, one point at time 0), changes on
every write or delete of a symbol so that caches on any host can tell their copy is stale.

Safety: every symbol and timeframe passes the strict patterns of :mod:`quantgrid.candles.symbols`
before a query or line is built; values reach InfluxQL only as bind parameters (``params=`` on
``/query``). The two things bind parameters cannot carry, the database name (checked against its
own pattern and quoted) and the ``GROUP BY time()`` duration (a validated timeframe), are the only
text put into a query. Everything that writes goes by POST: a GET to ``/query`` still runs DROP.

Speed: reads ask for chunked CSV and parse the stream with pyarrow's incremental reader, block
by block, into numpy columns that grow in place, so a million candles never exist as JSON,
Python floats or a DataFrame (measured peak for 1M: about 1.5x the arrays). Writes are line protocol built by
pyarrow's string kernels and POSTed in batches; every row is checked first because InfluxDB stores
the good lines of a batch that has a bad one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import requests

from engine.candles import FIELDS, Candles
from quantgrid.candles.errors import CandlesNotFound, CandleStoreRefused, CandleStoreUnavailable
from quantgrid.candles.store import (
    CandleStore,
    SeriesInfo,
    combined_stamp,
    empty_candles,
    fmt_ns,
    from_server,
    to_ns,
    validate_for_write,
)
from quantgrid.candles.symbols import Timeframe, validate_symbol, validate_timeframe

logger = logging.getLogger(__name__)

MEASUREMENT = "candles"
GENERATIONS = "candle_generations"
_DB_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BLOCK = 1 << 20  # bytes per parsed CSV block: 4 MB blocks measured +30 MB of peak for 1M rows
# Bounds for reads without one: InfluxDB's own limits are a little wider than int64 ns.
_MIN_T = -9_223_372_036_854_775_806
_MAX_T = 9_223_372_036_854_775_806


def server_version(url: str, timeout: float = 5.0, session: requests.Session | None = None) -> str:
    """Return the version that ``/ping`` reports; ``CandleStoreUnavailable`` if it does not answer."""
    s = session or requests
    try:
        resp = s.get(f"{url.rstrip('/')}/ping", timeout=timeout)
    except requests.RequestException as err:
        raise CandleStoreUnavailable(f"InfluxDB at {url} does not answer: {_short(err)}") from err
    if resp.status_code >= 500:
        raise CandleStoreUnavailable(f"InfluxDB at {url} answered /ping with HTTP {resp.status_code}")
    version = resp.headers.get("X-Influxdb-Version")
    if resp.status_code not in (200, 204) or not version:
        raise CandleStoreRefused(f"{url} does not look like InfluxDB: /ping gave HTTP {resp.status_code}")
    return version


class InfluxStore(CandleStore):
    """Candles in InfluxDB through ``/write`` and ``/query`` (v1 API)."""

    name = "influxdb"

    def __init__(
        self,
        url: str,
        db: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        batch_size: int = 25_000,
    ) -> None:
        if not _DB_NAME.fullmatch(db or ""):
            raise CandleStoreRefused(f"invalid InfluxDB database name {db!r}: use letters, digits, _ and -")
        self.url = url.rstrip("/")
        self.db = db
        self.timeout = timeout
        self.batch_size = batch_size
        self.session = requests.Session()
        self.session.headers["Accept-Encoding"] = "identity"  # gzip costs CPU on both ends here
        if token:  # 2.x's v1 compatibility API takes a token
            self.session.headers["Authorization"] = f"Token {token}"
        elif username:
            self.session.auth = (username, password or "")
        self._db_ready = False

    def close(self) -> None:
        self.session.close()

    # -- HTTP ------------------------------------------------------------------------------------

    def _request(self, path: str, *, params=None, data=None, headers=None, stream=False):
        try:
            resp = self.session.post(
                f"{self.url}{path}", params=params, data=data, headers=headers, stream=stream,
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise CandleStoreUnavailable(f"InfluxDB at {self.url} is unavailable: {_short(err)}") from err
        if resp.status_code >= 500:
            raise CandleStoreUnavailable(f"InfluxDB at {self.url} failed: HTTP {resp.status_code} {_short(resp.text)}")
        if resp.status_code >= 400:
            raise CandleStoreRefused(f"InfluxDB refused {path}: HTTP {resp.status_code} {_short(resp.text)}")
        return resp

    def _query_json(self, q: str, params: dict | None = None) -> list[dict]:
        """Run statements (POST), return their results; raise on the first statement error."""
        form = {"db": self.db, "q": q, "epoch": "ns"}
        if params:
            form["params"] = json.dumps(params)
        results = self._request("/query", data=form).json().get("results", [])
        errors = [r["error"] for r in results if "error" in r]
        if any(e.startswith("database not found") for e in errors):
            return []  # nothing was ever written (later statements say "not executed")
        for r in results:
            if "error" in r:
                raise CandleStoreRefused(f"InfluxDB refused a query: {r['error']}")
        return results

    def _query_csv(self, q: str, params: dict, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Stream a chunked CSV answer into numpy columns (int64 ``time``, float64 the rest)."""
        form = {"db": self.db, "q": q, "epoch": "ns", "chunked": "true", "chunk_size": "50000",
                "params": json.dumps(params)}
        resp = self._request("/query", data=form, headers={"Accept": "application/csv"}, stream=True)
        types = {"time": pa.int64(), **{c: pa.float64() for c in columns if c != "time"}}
        out = _Columns(columns)
        try:
            reader = pa_csv.open_csv(
                resp.raw,
                read_options=pa_csv.ReadOptions(block_size=_BLOCK, use_threads=False),
                convert_options=pa_csv.ConvertOptions(column_types=types, include_columns=list(columns)),
                # malloc, not Arrow's own pool: each freed block is reused for the next one.
                memory_pool=pa.system_memory_pool(),
            )
            for batch in reader:
                out.append(batch)
        except pa.ArrowInvalid as err:
            if "Empty CSV file" not in str(err):
                raise CandleStoreRefused(f"unexpected answer from InfluxDB: {_short(err)}") from err
        except requests.RequestException as err:
            raise CandleStoreUnavailable(f"InfluxDB stream broke: {_short(err)}") from err
        finally:
            resp.close()
        return out.finish()

    def _ensure_db(self) -> None:
        if not self._db_ready:
            self._query_json(f'CREATE DATABASE "{self.db}"')
            self._db_ready = True

    # -- writing ---------------------------------------------------------------------------------

    def write(self, symbol: str, timeframe: str, candles: Candles, progress=None) -> int:
        """Validate every row, then send them in batches; a failure part-way is undone if it can be.

        InfluxDB has no transactions: batches sent before a failure stay stored. When the range
        held no candles before, they are deleted again, so nothing half-written is left; when it
        did, the old candles may be partly replaced, and the error says so.
        """
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        validate_for_write(candles, tf)
        self._ensure_db()
        span = (int(candles.time[0]), int(candles.time[-1]) + 1)
        fresh = not self._holds_any(symbol, tf, *span)
        try:
            self._send(f"{MEASUREMENT},symbol={symbol},timeframe={tf.text} ", candles, progress)
        except (CandleStoreUnavailable, CandleStoreRefused) as err:
            failure = self._after_failed_write(symbol, tf, span, fresh, err)
            with contextlib.suppress(CandleStoreUnavailable, CandleStoreRefused):
                self._bump(symbol)  # batches may have been stored: cached copies are stale
            raise failure from err
        self._bump(symbol)
        return len(candles)

    def _send(self, prefix: str, candles: Candles, progress) -> None:
        # Build the next batch's lines while the server takes the previous one (one POST in
        # flight at a time, so the session is never used by two threads at once).
        with ThreadPoolExecutor(max_workers=1) as poster:
            pending, sent = None, 0
            for i in range(0, len(candles), self.batch_size):
                body = _lines(prefix, candles.slice(i, i + self.batch_size))
                if pending is not None:
                    pending.result()
                    if progress is not None:
                        progress(sent)
                sent = min(self.batch_size, len(candles) - i)
                pending = poster.submit(self._request, "/write", params={"db": self.db}, data=body)
            pending.result()
            if progress is not None:
                progress(sent)

    def _holds_any(self, symbol: str, tf: Timeframe, start: int, end: int) -> bool:
        where, params = _where(symbol, tf, start, end)
        results = self._query_json(f"SELECT first(close) FROM {MEASUREMENT} WHERE {where}", params)
        return any(r.get("series") for r in results)

    def _after_failed_write(self, symbol, tf, span, fresh, err) -> Exception:
        """Undo what a failed write stored where that is safe; return the error to raise."""
        where = f"{symbol} {tf} candles from {fmt_ns(span[0])} to {fmt_ns(span[1] - tf.ns)}"
        if not fresh:
            return type(err)(f"{err}; the {where} already stored may be partly replaced: "
                             "run the import again (it overwrites the same timestamps)")
        try:
            self._delete_range(symbol, tf, *span)
        except (CandleStoreUnavailable, CandleStoreRefused):
            return type(err)(f"{err}; some of the {where} may be stored and could not be removed: "
                             "run the import again, or `quantgrid candles delete` that range")
        return type(err)(f"{err}; nothing of the {where} was kept")

    def _bump(self, symbol: str) -> None:
        line = f'{GENERATIONS},symbol={symbol} stamp="{uuid.uuid4().hex}" 0'
        self._request("/write", params={"db": self.db}, data=line.encode())

    def delete(self, symbol, timeframe=None, start=None, end=None) -> None:
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe) if timeframe is not None else None
        lo, hi = to_ns(start), to_ns(end)
        stored = self.timeframes(symbol)
        if not stored or (tf is not None and tf.text not in stored):
            raise CandlesNotFound(f"no {symbol} {tf or ''} candles are stored".replace("  ", " "))
        if lo is None and hi is None:
            where, params = _where(symbol, tf, lo, hi)
            self._query_json(f"DROP SERIES FROM {MEASUREMENT} WHERE {where}", params)
        else:
            self._delete_range(symbol, tf, lo, hi)
        self._bump(symbol)

    def _delete_range(self, symbol: str, tf: Timeframe | None, start, end) -> None:
        where, params = _where(symbol, tf, start, end)
        self._query_json(f"DELETE FROM {MEASUREMENT} WHERE {where}", params)

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, symbol, tf, start, end) -> Candles:
        where, params = _where(symbol, tf, start, end)
        q = f"SELECT open, high, low, close, volume FROM {MEASUREMENT} WHERE {where}"
        cols = self._query_csv(q, params, ("time", *FIELDS))
        return from_server(symbol, cols.pop("time"), cols)

    def _read_resampled(self, symbol, source, tf, start, end) -> Candles:
        if start is None or end is None:
            # GROUP BY time() walks every bucket between the bounds: clamp them to the data.
            first, last = self._bounds(symbol, source)
            if first is None:
                return empty_candles()
            start = first if start is None else start
            end = last + source.ns if end is None else end
        where, params = _where(symbol, source, start, end)
        q = (
            "SELECT first(open) AS open, max(high) AS high, min(low) AS low, last(close) AS close, "
            f"sum(volume) AS volume, count(close) AS n FROM {MEASUREMENT} WHERE {where} "
            f"GROUP BY time({tf.influx}) fill(none)"
        )
        cols = self._query_csv(q, params, ("time", *FIELDS, "n"))
        complete = cols.pop("n") == tf.ns // source.ns
        if complete.all():
            return from_server(symbol, cols.pop("time"), cols)
        return from_server(symbol, cols.pop("time")[complete], {k: v[complete] for k, v in cols.items()})

    def _bounds(self, symbol: str, tf: Timeframe) -> tuple[int | None, int | None]:
        """First and last timestamps of a series (no count: that would scan every point)."""
        where, params = _where(symbol, tf, None, None)
        out = []
        for fn in ("first", "last"):
            results = self._query_json(f"SELECT {fn}(close) FROM {MEASUREMENT} WHERE {where}", params)
            rows = [s["values"][0][0] for r in results for s in r.get("series", [])]
            out.append(rows[0] if rows else None)
        return out[0], out[1]

    def timeframes(self, symbol: str) -> list[str]:
        symbol = validate_symbol(symbol)
        results = self._query_json(
            f'SHOW TAG VALUES FROM {MEASUREMENT} WITH KEY = "timeframe" WHERE symbol = $symbol',
            {"symbol": symbol},
        )
        out = []
        for r in results:
            for s in r.get("series", []):
                out.extend(v[1] for v in s["values"])
        return out

    def symbols(self) -> list[SeriesInfo]:
        return self._series_info("", {})

    def range(self, symbol: str, timeframe: str) -> SeriesInfo:
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        where, params = _where(symbol, tf, None, None)
        found = self._series_info(f"WHERE {where}", params)
        if not found:
            raise CandlesNotFound(f"no {symbol} {tf} candles are stored")
        return found[0]

    def _series_info(self, where: str, params: dict) -> list[SeriesInfo]:
        found: dict[tuple[str, str], list[int]] = {}
        for k, fn in enumerate(("count", "first", "last")):
            # One statement per request: with several, a missing database reads "not executed".
            q = f"SELECT {fn}(close) FROM {MEASUREMENT} {where} GROUP BY symbol, timeframe"
            for s in (x for r in self._query_json(q, params) for x in r.get("series", [])):
                key = (s["tags"]["symbol"], s["tags"]["timeframe"])
                row = s["values"][0]
                found.setdefault(key, [0, 0, 0])[k] = row[1] if k == 0 else row[0]
        out = [SeriesInfo(sym, tf, first, last, count) for (sym, tf), (count, first, last) in found.items()]
        out.sort(key=lambda s: (s.symbol, Timeframe.parse(s.timeframe).ns))
        return out

    def generation(self, symbol: str) -> str:
        symbol = validate_symbol(symbol)
        results = self._query_json(
            f"SELECT last(stamp) FROM {GENERATIONS} WHERE symbol = $symbol", {"symbol": symbol}
        )
        for r in results:
            for s in r.get("series", []):
                return str(s["values"][0][1])
        return "none"

    def inventory_stamp(self) -> str:
        # One point per symbol: the cost is the number of symbols, not of candles.
        results = self._query_json(f"SELECT stamp FROM {GENERATIONS} GROUP BY symbol")
        return combined_stamp(
            (s["tags"]["symbol"], str(v[1])) for r in results for s in r.get("series", []) for v in s["values"]
        )


class _Columns:
    """Numpy columns that grow in place as CSV batches arrive.

    Growth is ``ndarray.resize``, i.e. ``realloc``, which for large blocks moves pages (mremap)
    instead of copying: the peak stays near the final arrays' size plus one batch, where a list
    of chunks joined at the end would need about twice that.
    """

    def __init__(self, columns: tuple[str, ...], capacity: int = 1 << 16) -> None:
        self.n = 0
        self.cols = {c: np.empty(capacity, dtype=np.int64 if c == "time" else np.float64) for c in columns}

    def append(self, batch: pa.RecordBatch) -> None:
        m = batch.num_rows
        cap = len(self.cols["time"])
        if self.n + m > cap:
            new_cap = max(2 * cap, self.n + m)
            for arr in self.cols.values():
                arr.resize(new_cap, refcheck=False)
        for c, arr in self.cols.items():
            arr[self.n : self.n + m] = batch.column(c).to_numpy(zero_copy_only=False)
        self.n += m

    def finish(self) -> dict[str, np.ndarray]:
        for arr in self.cols.values():
            arr.resize(self.n, refcheck=False)  # shrinks in place
        return self.cols


def _where(symbol: str, tf: Timeframe | None, start: int | None, end: int | None) -> tuple[str, dict]:
    """Build a WHERE clause of bind-parameter placeholders only, and its parameters."""
    parts, params = ["symbol = $symbol"], {"symbol": symbol}
    if tf is not None:
        parts.append("timeframe = $timeframe")
        params["timeframe"] = tf.text
    if start is not None:
        parts.append("time >= $start")
        params["start"] = max(int(start), _MIN_T)
    if end is not None:
        parts.append("time < $end")
        params["end"] = min(int(end), _MAX_T)
    return " AND ".join(parts), params


def _lines(prefix: str, candles: Candles) -> bytes:
    """Line protocol for ``candles``; pyarrow formats floats as their shortest round-trip text."""
    text = [pc.cast(pa.array(getattr(candles, f)), pa.string()) for f in FIELDS]
    joined = pc.binary_join_element_wise(
        f"{prefix}open=", text[0], ",high=", text[1], ",low=", text[2], ",close=", text[3],
        ",volume=", text[4], " ", pc.cast(pa.array(candles.time), pa.string()), "\n", "",
    )
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset : joined.offset + len(joined) + 1]
    return bytes(memoryview(joined.buffers()[2])[offsets[0] : offsets[-1]])


def _short(err: object) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 300 else text[:297] + "..."

