"""Read and write OHLCV candles as CSV, refusing bad rows with their line numbers.

Layouts read:
- a header naming the columns, case-insensitively: a time column (``timestamp``, ``datetime``,
  ``date``, ``time``, ``open_time``; or separate ``date`` and ``time`` columns, joined; or an unnamed
  first column such as ``DataFrame.to_csv`` writes), then ``open``, ``high``, ``low``, ``close`` and
  optionally ``volume`` (``o h l c v`` are accepted too). Other columns are ignored.
- no header at all (as Binance's kline files): the first five or six columns are taken as time,
  open, high, low, close[, volume] when the first field of the first line is a number or a date.

Decisions, so that what reaches the engine can be trusted:
- Timestamps are ISO 8601 (with an offset, converted to UTC; without one, taken as UTC) or another
  format pandas infers from the first row, or epoch numbers whose unit (s, ms, us, ns) is detected
  from the first row's magnitude; every row must have the same unit. Epochs before 1973 in
  milliseconds are indistinguishable from seconds and are read as seconds.
- A missing ``volume`` column reads as zeros (price-only exports are common); a present one must
  have a value on every line and never be negative.
- ``high >= low`` and both ``open`` and ``close`` within ``[low, high]``: a bar that breaks this
  would let the engine fill at a price that never traded. Every price is above zero
  (``engine.candles.nonpositive_prices``).
- Timestamps strictly increase: duplicates and out-of-order lines are refused, not silently fixed.
- With ``timeframe`` given (an import), every bar must start on a multiple of it since the epoch,
  as the store requires: a file of another timeframe is refused line by line, before any write.
- Blank lines are ignored. Line numbers count from 1 and include the header.
- The error names the first bad line and counts the others; it also lists the first
  ``MAX_LISTED`` bad lines each with its first problem (``CandleFileError.lines``), for a page.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from engine.candles import FIELDS, Candles, nonpositive_prices
from quantgrid.candles.errors import CandleFileError
from quantgrid.timeframes import Timeframe

_TIME_NAMES = ("timestamp", "datetime", "date_time", "open_time", "open time", "time", "date")
_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}
_REQUIRED = ("open", "high", "low", "close")
_INT64_MAX = float(np.iinfo(np.int64).max)
# Epoch units by magnitude: below 1e11 seconds reach year 5138, so the bands cannot overlap
# for any date a candle file holds after 1973.
_UNITS = ((1e11, "s", 10**9), (1e14, "ms", 10**6), (1e17, "us", 10**3), (np.inf, "ns", 1))

_STAMP_UNITS = (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1))

Source = str | os.PathLike | IO[str] | IO[bytes]
# Bad lines an error lists one by one (each with its line number); the rest are counted.
MAX_LISTED = 50


def read_csv(source: Source, timeframe: Timeframe | None = None) -> Candles:
    """Read candles from a CSV path or open file; raise ``CandleFileError`` naming the bad line.

    ``timeframe``: also refuse bars that do not start on one of its boundaries."""
    name, text = _open(source)
    try:
        first_line = _first_line(source, text)
    except csv.Error as err:
        raise CandleFileError(f"{name} line 1: not a readable CSV line: {err}") from None
    if first_line is None:
        raise CandleFileError(f"{name}: the file is empty")
    layout = _layout(name, first_line)
    try:
        frame = pd.read_csv(
            text if text is not None else source,
            header=0 if layout.has_header else None,
            usecols=sorted(layout.columns.values()),
            skip_blank_lines=False,
            skipinitialspace=True,
            low_memory=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise CandleFileError(f"{name}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CandleFileError(f"{name}: not a readable CSV file: {_one_line(err)}") from None
    by_position = {pos: frame.iloc[:, i] for i, pos in enumerate(sorted(layout.columns.values()))}
    cols = {field: by_position[pos] for field, pos in layout.columns.items()}
    blank = np.logical_and.reduce([c.isna().to_numpy() for c in cols.values()])
    if blank.any():
        cols = {field: c[~blank] for field, c in cols.items()}
    rows = np.flatnonzero(~blank)
    if len(rows) == 0:
        raise CandleFileError(f"{name}: no candles after the header")
    lines = rows + (2 if layout.has_header else 1)
    return _build(name, cols, lines, timeframe)


def write_csv(candles: Candles, dest: str | os.PathLike | IO[str]) -> None:
    """Write ``candles`` as ``time,open,high,low,close,volume`` with ISO 8601 UTC times."""
    # pyarrow writes a million rows in about a second, a third of DataFrame.to_csv's time, and
    # formats floats as their shortest round-trip text, so read_csv(write_csv(x)) == x exactly.
    table = pa.table({"time": _stamps(candles.time), **{f: getattr(candles, f) for f in FIELDS}})
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    header = ",".join(("time", *FIELDS)) + "\n"
    if isinstance(dest, str | os.PathLike):
        with open(dest, "wb") as f:
            f.write(header.encode())
            pa_csv.write_csv(table, f, options)
        return
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, options)
    dest.write(header + sink.getvalue().decode())


def _stamps(ns: np.ndarray) -> np.ndarray:
    """Format int64 ns as ISO 8601 UTC with the coarsest unit that loses nothing."""
    unit = next(u for u, step in _STAMP_UNITS if not np.any(ns % step))
    return np.datetime_as_string(ns.view("datetime64[ns]"), unit=unit, timezone="UTC")


def _num(x) -> str:
    return repr(float(x))


# -- layout -------------------------------------------------------------------------------------


class _Layout:
    def __init__(self, has_header: bool, columns: dict[str, int]):
        self.has_header = has_header
        self.columns = columns  # field -> column position (both "date" and "time" when split)


def _layout(name: str, first_line: list[str]) -> _Layout:
    names = [h.strip().lower().replace("\ufeff", "") for h in first_line]
    names = [_ALIASES.get(n, n) for n in names]
    if not any(n in _REQUIRED or n in _TIME_NAMES for n in names) and _looks_like_data(first_line):
        if len(names) < 5:
            raise CandleFileError(
                f"{name} line 1: no header, and {len(names)} columns are too few for "
                "time,open,high,low,close[,volume]"
            )
        fields = ("time", *_REQUIRED) + (("volume",) if len(names) >= 6 else ())
        return _Layout(False, {f: i for i, f in enumerate(fields)})
    columns: dict[str, int] = {}
    for field in (*_REQUIRED, "volume"):
        if field in names:
            columns[field] = names.index(field)
    missing = [f for f in _REQUIRED if f not in columns]
    if missing:
        raise CandleFileError(
            f"{name} line 1: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(h.strip() for h in first_line) or 'nothing'}"
        )
    if "date" in names and "time" in names and not any(n in names for n in _TIME_NAMES[:5]):
        columns["date"] = names.index("date")
        columns["time"] = names.index("time")
        return _Layout(True, columns)
    for candidate in _TIME_NAMES:
        if candidate in names:
            columns["time"] = names.index(candidate)
            return _Layout(True, columns)
    if names[0] == "" or names[0].startswith("unnamed"):
        columns["time"] = 0
        return _Layout(True, columns)
    raise CandleFileError(
        f"{name} line 1: no time column; name it timestamp, datetime, date or time"
    )


def _looks_like_data(fields: list[str]) -> bool:
    head = fields[0].strip() if fields else ""
    if not head:
        return False
    try:
        float(head)
        return True
    except ValueError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return not pd.isna(pd.to_datetime(head, errors="coerce", format="ISO8601"))


def _open(source: Source) -> tuple[str, io.StringIO | None]:
    """Return a display name and, for non-seekable streams, their text read into memory."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise CandleFileError(f"{path}: no such file")
        return str(path), None
    name = str(getattr(source, "name", "<stream>"))
    if source.seekable():
        return name, None
    data = source.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise CandleFileError(
                f"{name}: not UTF-8 text (byte {err.start} is {data[err.start:err.start + 1]!r}); "
                "save the file as UTF-8 CSV"
            ) from None
    return name, io.StringIO(data)


def _first_line(source: Source, text: io.StringIO | None) -> list[str] | None:
    if text is not None:
        line = text.readline()
        text.seek(0)
    elif isinstance(source, str | os.PathLike):
        with open(source, encoding="utf-8-sig", errors="replace", newline="") as f:
            line = f.readline()
    else:
        pos = source.tell()
        line = source.readline()
        source.seek(pos)
        if isinstance(line, bytes):
            line = line.decode("utf-8-sig", errors="replace")
    if not line.strip():
        return None
    # A bare "\r" ends a line for pandas as well; a binary readline() keeps it inside the line.
    return next(csv.reader(line.splitlines()[:1], skipinitialspace=True))


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


# -- values -------------------------------------------------------------------------------------


class _Problems:
    """The first problem in file order, how many lines have one, and the first MAX_LISTED."""

    def __init__(self, name: str, lines: np.ndarray):
        self.name = name
        self.lines = lines
        self.bad = np.zeros(len(lines), dtype=bool)
        self.first: tuple[int, int, str] | None = None  # (row, order of the check, message)
        # row -> its first problem. A check's first MAX_LISTED rows are enough: a row among the
        # file's first MAX_LISTED bad rows has fewer than that before it in any one check.
        self.listed: dict[int, str] = {}

    def add(self, mask: np.ndarray, describe) -> None:
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        self.bad |= mask
        row = int(rows[0])
        if self.first is None or row < self.first[0]:
            self.first = (row, 0, describe(row))
        for r in rows[:MAX_LISTED].tolist():
            if r not in self.listed:
                self.listed[r] = describe(r)

    def raise_if_any(self) -> None:
        if self.first is None:
            return
        row, _, message = self.first
        count = int(self.bad.sum())
        more = count - 1
        tail = f" ({more} more bad line{'s' if more != 1 else ''})" if more else ""
        err = CandleFileError(f"{self.name} line {self.lines[row]}: {message}{tail}")
        err.lines = tuple((int(self.lines[r]), self.listed[r])
                          for r in sorted(self.listed)[:MAX_LISTED])
        err.bad_lines = count
        raise err


def _build(name: str, cols: dict[str, pd.Series], lines: np.ndarray,
           timeframe: Timeframe | None = None) -> Candles:
    problems = _Problems(name, lines)
    values = {}
    for field in FIELDS:
        if field not in cols:
            values[field] = np.zeros(len(lines))
            continue
        values[field] = _numbers(cols[field], field, problems)
    if "date" in cols:
        raw_time = cols["date"].astype("str") + " " + cols["time"].astype("str")
        raw_time[cols["date"].isna().to_numpy() | cols["time"].isna().to_numpy()] = None
    else:
        raw_time = cols["time"]
    time, time_ok = _times(raw_time, problems)

    o, h, lo, c, v = (values[f] for f in FIELDS)
    problems.add(*nonpositive_prices(o, h, lo, c))
    problems.add(v < 0, lambda i: f"volume {_num(v[i])} is negative")
    problems.add(h < lo, lambda i: f"high {_num(h[i])} is below low {_num(lo[i])}")
    for label, x in (("open", o), ("close", c)):
        outside = (h >= lo) & ((x < lo) | (x > h))
        problems.add(
            outside, lambda i, x=x, label=label: f"{label} {_num(x[i])} is outside [low {_num(lo[i])}, high {_num(h[i])}]"
        )
    if timeframe is not None:
        problems.add(time_ok & (time % timeframe.ns != 0),
                     lambda i: f"timestamp {_stamps(time[i : i + 1])[0]} is not on a {timeframe}"
                               " boundary (is the timeframe right?)")
    valid = np.flatnonzero(time_ok)
    steps = np.diff(time[valid])
    if np.any(steps <= 0):
        bad = np.zeros(len(lines), dtype=bool)
        bad[valid[1:][steps <= 0]] = True
        problems.add(bad, lambda i: _order_message(time, valid, i, lines))
    problems.raise_if_any()
    return Candles.from_arrays(time, o, h, lo, c, v)


def _order_message(time: np.ndarray, valid: np.ndarray, i: int, lines: np.ndarray) -> str:
    prev = valid[np.searchsorted(valid, i) - 1]
    kind = "repeats" if time[i] == time[prev] else "is before"
    stamp = _stamps(time[i : i + 1])[0]
    return f"timestamp {stamp} {kind} the one on line {lines[prev]}; sort and de-duplicate the file"


def _numbers(col: pd.Series, field: str, problems: _Problems) -> np.ndarray:
    raw = col.to_numpy()
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        out = np.asarray(raw, dtype=np.float64)
        problems.add(np.isnan(out), lambda i: f"{field} is missing")
    else:
        out = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        missing = col.isna().to_numpy()
        problems.add(missing, lambda i: f"{field} is missing")
        problems.add(np.isnan(out) & ~missing, lambda i: f"{field} {raw[i]!r} is not a number")
    problems.add(np.isinf(out), lambda i: f"{field} {_num(out[i])} is not finite")
    return out


def _times(col: pd.Series, problems: _Problems) -> tuple[np.ndarray, np.ndarray]:
    """Return int64 ns since the epoch (UTC) and a mask of the rows that parsed."""
    missing = col.isna().to_numpy()
    problems.add(missing, lambda i: "timestamp is missing")
    if pd.api.types.is_numeric_dtype(col.dtype):
        return _epoch(col.to_numpy(dtype=np.float64, na_value=np.nan), col, ~missing, problems)
    as_number = pd.to_numeric(col, errors="coerce")
    if not (as_number.isna().to_numpy() & ~missing).any():
        return _epoch(as_number.to_numpy(dtype=np.float64, na_value=np.nan), as_number, ~missing, problems)
    parsed = pd.to_datetime(col, utc=True, format="ISO8601", errors="coerce")
    failed = parsed.isna().to_numpy() & ~missing
    if failed.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": falls back per element
            inferred = pd.to_datetime(col, utc=True, errors="coerce")
        if not (inferred.isna().to_numpy() & ~missing).any():
            parsed, failed = inferred, np.zeros(len(col), dtype=bool)
    raw = col.to_numpy()
    problems.add(
        failed,
        lambda i: f"cannot read timestamp {raw[i]!r}; use ISO 8601 (2024-01-31T09:30:00Z) or epoch seconds",
    )
    ns = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return ns, ~(missing | failed)


def _epoch(
    values: np.ndarray, col: pd.Series, present: np.ndarray, problems: _Problems
) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros(len(values), dtype=np.int64)
    # "1e400" reads as inf: no unit band holds it, and no instant is infinitely far.
    infinite = present & ~np.isfinite(values)
    problems.add(infinite, lambda i: f"epoch timestamp {values[i]} is not a finite number")
    present = present & ~infinite
    idx = np.flatnonzero(present)
    if not len(idx):
        return out, present
    magnitude = np.abs(values)
    band = np.searchsorted([u[0] for u in _UNITS], magnitude, side="right")
    first = band[idx[0]]
    _, unit, factor = _UNITS[first]
    mixed = present & (band != first)
    problems.add(
        mixed, lambda i: f"epoch timestamp {values[i]:.0f} is not in {unit} like the first line's"
    )
    scaled = values * factor
    overflow = present & ~mixed & (np.abs(scaled) >= _INT64_MAX)
    problems.add(overflow, lambda i: f"epoch timestamp {values[i]:.0f} is out of range")
    ok = present & ~mixed & ~overflow
    if pd.api.types.is_integer_dtype(col.dtype):
        out[ok] = col.to_numpy()[ok].astype(np.int64) * factor
    else:
        whole = ok & (values == np.floor(values))
        out[whole] = values[whole].astype(np.int64) * factor
        frac = ok & ~whole
        out[frac] = np.round(scaled[frac]).astype(np.int64)
    return out, ok
