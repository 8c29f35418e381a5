"""The InfluxDB candle store over the native v2 API (``influxdb-client``), for 2.x with a token and org.

Same schema as :mod:`quantgrid.candles.influx_v1` (measurement ``candles``, tags ``symbol`` and
``timeframe``, five float fields, ns UTC; ``candle_generations`` for the cache stamp), so data
written through either API reads back through the other.

Flux has no bind parameters on InfluxDB OSS (``params`` works on Cloud only), so the symbol,
timeframe and bucket are written into the Flux text; they are safe there only because they passed
the strict patterns first (no quote, backslash or newline can get through), which every method
does before building a query. Times go in as integers.
"""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import urllib3
from influxdb_client import Dialect, InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from engine.candles import FIELDS, Candles
from quantgrid.candles.errors import CandlesNotFound, CandleStoreRefused, CandleStoreUnavailable
from quantgrid.candles.influx_v1 import (
    _DB_NAME,
    _MAX_T,
    _MIN_T,
    GENERATIONS,
    MEASUREMENT,
    _lines,
    _short,
)
from quantgrid.candles.store import (
    CandleStore,
    SeriesInfo,
    combined_stamp,
    from_server,
    to_ns,
    validate_for_write,
)
from quantgrid.candles.symbols import Timeframe, validate_symbol, validate_timeframe

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NO_ANNOTATIONS = Dialect(header=True, annotations=[], delimiter=",", date_time_format="RFC3339Nano")


class Influx2Store(CandleStore):
    """Candles in an InfluxDB 2.x bucket through the v2 write, query and delete APIs."""

    name = "influxdb2"

    def __init__(self, url: str, *, token: str, org: str, bucket: str, timeout: float = 60.0,
                 batch_size: int = 25_000) -> None:
        if not _DB_NAME.fullmatch(bucket or ""):
            raise CandleStoreRefused(f"invalid InfluxDB bucket name {bucket!r}: use letters, digits, _ and -")
        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        self.batch_size = batch_size
        self.client = InfluxDBClient(url=self.url, token=token, org=org, timeout=int(timeout * 1000))
        self._write_api = self.client.write_api(write_options=SYNCHRONOUS)

    def close(self) -> None:
        self._write_api.close()
        self.client.close()

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ApiException as err:
            if err.status is None or err.status >= 500:
                raise CandleStoreUnavailable(f"InfluxDB at {self.url} failed: {err.status} {_short(err.body)}") from err
            raise CandleStoreRefused(f"InfluxDB refused the request: {err.status} {_short(err.body)}") from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise CandleStoreUnavailable(f"InfluxDB at {self.url} is unavailable: {_short(err)}") from err

    # -- writing ---------------------------------------------------------------------------------

    def write(self, symbol: str, timeframe: str, candles: Candles, progress=None) -> int:
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        validate_for_write(candles, tf)
        prefix = f"{MEASUREMENT},symbol={symbol},timeframe={tf.text} "
        try:
            for i in range(0, len(candles), self.batch_size):
                part = candles.slice(i, i + self.batch_size)
                self._call(self._write_api.write, bucket=self.bucket, org=self.org,
                           record=_lines(prefix, part), write_precision=WritePrecision.NS)
                if progress is not None:
                    progress(len(part))
        finally:
            self._bump(symbol)
        return len(candles)

    def _bump(self, symbol: str) -> None:
        line = f'{GENERATIONS},symbol={symbol} stamp="{uuid.uuid4().hex}" 0'
        self._call(self._write_api.write, bucket=self.bucket, org=self.org, record=line,
                   write_precision=WritePrecision.NS)

    def delete(self, symbol, timeframe=None, start=None, end=None) -> None:
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe) if timeframe is not None else None
        stored = self.timeframes(symbol)
        if not stored or (tf is not None and tf.text not in stored):
            raise CandlesNotFound(f"no {symbol} {tf or ''} candles are stored".replace("  ", " "))
        lo, hi = to_ns(start), to_ns(end)
        predicate = f'_measurement="{MEASUREMENT}" AND symbol="{symbol}"'
        if tf is not None:
            predicate += f' AND timeframe="{tf.text}"'
        # The delete API's stop is inclusive; ours is exclusive.
        self._call(self.client.delete_api().delete, _rfc3339(lo if lo is not None else 0),
                   _rfc3339((hi - 1) if hi is not None else _MAX_T), predicate, self.bucket, self.org)
        self._bump(symbol)

    # -- reading ---------------------------------------------------------------------------------

    def _flux_base(self, symbol: str, tf: Timeframe, start, end) -> str:
        lo = _MIN_T if start is None else max(int(start), _MIN_T)
        hi = _MAX_T if end is None else min(int(end), _MAX_T)
        return (
            f'from(bucket: "{self.bucket}")\n'
            f"  |> range(start: time(v: {lo}), stop: time(v: {hi}))\n"
            f'  |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r.symbol == "{symbol}" '
            f'and r.timeframe == "{tf.text}")\n'
        )

    def _csv(self, flux: str, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
        resp = self._call(self.client.query_api().query_raw, flux, org=self.org, dialect=_NO_ANNOTATIONS)
        types = {"_time": pa.timestamp("ns", tz="UTC"), **{c: pa.float64() for c in columns if c != "_time"}}
        chunks: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        try:
            reader = pa_csv.open_csv(
                resp,
                read_options=pa_csv.ReadOptions(block_size=1 << 22, use_threads=False),
                convert_options=pa_csv.ConvertOptions(column_types=types, include_columns=list(columns)),
            )
            for batch in reader:
                for c in columns:
                    arr = batch.column(c)
                    chunks[c].append(arr.cast(pa.int64()).to_numpy() if c == "_time" else arr.to_numpy(zero_copy_only=False))
        except pa.ArrowInvalid as err:
            if "Empty CSV file" in str(err):
                return {c: np.empty(0, dtype=np.int64 if c == "_time" else np.float64) for c in columns}
            raise CandleStoreRefused(f"unexpected answer from InfluxDB: {_short(err)}") from err
        finally:
            resp.close()
        return {c: np.concatenate(v) if v else np.empty(0) for c, v in chunks.items()}

    def _read(self, symbol, tf, start, end) -> Candles:
        flux = self._flux_base(symbol, tf, start, end) + (
            '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
            '  |> group()\n  |> sort(columns: ["_time"])\n'
            '  |> keep(columns: ["_time", "open", "high", "low", "close", "volume"])\n'
        )
        cols = self._csv(flux, ("_time", *FIELDS))
        return from_server(symbol, cols.pop("_time").astype(np.int64), cols)

    def _read_resampled(self, symbol, source, tf, start, end) -> Candles:
        base = self._flux_base(symbol, source, start, end)
        parts = []
        for field, fn, name in (("open", "first", "open"), ("high", "max", "high"), ("low", "min", "low"),
                                ("close", "last", "close"), ("volume", "sum", "volume"), ("close", "count", "n")):
            parts.append(
                f'{name}_ = base |> filter(fn: (r) => r._field == "{field}")'
                f' |> aggregateWindow(every: {tf.text}, fn: {fn}, createEmpty: false, timeSrc: "_start")'
                f' |> set(key: "_field", value: "{name}") |> toFloat()'
            )
        flux = (
            f"base = {base}\n" + "\n".join(parts) + "\n"
            "union(tables: [open_, high_, low_, close_, volume_, n_])\n"
            '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
            '  |> group()\n  |> sort(columns: ["_time"])\n'
            '  |> keep(columns: ["_time", "open", "high", "low", "close", "volume", "n"])\n'
        )
        cols = self._csv(flux, ("_time", *FIELDS, "n"))
        complete = cols.pop("n") == tf.ns // source.ns
        return from_server(symbol, cols.pop("_time").astype(np.int64)[complete], {k: v[complete] for k, v in cols.items()})

    def timeframes(self, symbol: str) -> list[str]:
        symbol = validate_symbol(symbol)
        flux = (
            'import "influxdata/influxdb/schema"\n'
            f'schema.tagValues(bucket: "{self.bucket}", tag: "timeframe", start: time(v: {_MIN_T}), '
            f'predicate: (r) => r._measurement == "{MEASUREMENT}" and r.symbol == "{symbol}")'
        )
        tables = self._call(self.client.query_api().query, flux, org=self.org)
        return [rec.get_value() for t in tables for rec in t.records]

    def symbols(self) -> list[SeriesInfo]:
        found: dict[tuple[str, str], list[int]] = {}
        for k, fn in enumerate(("count", "first", "last")):
            flux = (
                f'from(bucket: "{self.bucket}") |> range(start: time(v: {_MIN_T}), stop: time(v: {_MAX_T}))'
                f' |> filter(fn: (r) => r._measurement == "{MEASUREMENT}" and r._field == "close")'
                f' |> group(columns: ["symbol", "timeframe"]) |> {fn}()'
            )
            for table in self._call(self.client.query_api().query, flux, org=self.org):
                for rec in table.records:
                    key = (rec.values["symbol"], rec.values["timeframe"])
                    value = int(rec.get_value()) if k == 0 else _ns(rec.get_time())
                    found.setdefault(key, [0, 0, 0])[k] = value
        out = [SeriesInfo(s, tf, first, last, count) for (s, tf), (count, first, last) in found.items()]
        out.sort(key=lambda s: (s.symbol, Timeframe.parse(s.timeframe).ns))
        return out

    def generation(self, symbol: str) -> str:
        symbol = validate_symbol(symbol)
        flux = (
            f'from(bucket: "{self.bucket}") |> range(start: time(v: {_MIN_T}), stop: time(v: 1))'
            f' |> filter(fn: (r) => r._measurement == "{GENERATIONS}" and r.symbol == "{symbol}") |> last()'
        )
        for table in self._call(self.client.query_api().query, flux, org=self.org):
            for rec in table.records:
                return str(rec.get_value())
        return "none"

    def inventory_stamp(self) -> str:
        flux = (
            f'from(bucket: "{self.bucket}") |> range(start: time(v: {_MIN_T}), stop: time(v: 1))'
            f' |> filter(fn: (r) => r._measurement == "{GENERATIONS}") |> last()'
        )
        tables = self._call(self.client.query_api().query, flux, org=self.org)
        return combined_stamp((rec.values["symbol"], str(rec.get_value())) for t in tables for rec in t.records)


def _rfc3339(ns: int) -> str:
    return str(np.datetime_as_string(np.int64(ns).astype("datetime64[ns]"), unit="ns", timezone="UTC"))


def _ns(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(microseconds=1) * 1000
