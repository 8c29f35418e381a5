"""The candle store interface that every backend implements, and the checks they share.

Semantics common to all backends (the contract tests hold each backend to them):
- ``start`` is inclusive, ``end`` exclusive; both accept int nanoseconds, ``datetime`` (naive =
  UTC), ISO 8601 text, ``numpy.datetime64`` or ``None`` (unbounded).
- Writing the same (symbol, timeframe, timestamp) again overwrites it: imports are idempotent.
  Bars start on multiples of their timeframe since the epoch; writes refuse anything else.
- Reading a timeframe that is not stored, but that a stored one divides (1m -> 5m, 15m, 1h, 4h,
  1d), resamples: bars aligned to multiples of the timeframe since the epoch (UTC), labelled by
  their start, open=first, high=max, low=min, close=last, volume=sum, and only complete bars
  (holding every one of the finer bars), so a partial first or last bar never reaches a backtest.
- Nothing matched -> ``CandlesNotFound``. Holes inside the range -> ``CandleGapError`` unless the
  caller passes ``gaps="allow"`` (markets with sessions have holes every night).
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.candles import FIELDS, Candles, nonpositive_prices
from quantgrid.candles.errors import CandleGapError, CandlesNotFound, InvalidCandles
from quantgrid.candles.symbols import Timeframe, validate_symbol, validate_timeframe
from quantgrid.errors import InvalidInput

TimeLike = int | str | dt.datetime | np.datetime64 | None


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series: its symbol, timeframe, first and last timestamps (ns, UTC) and count."""

    symbol: str
    timeframe: str
    first: int
    last: int
    count: int


@dataclass(frozen=True)
class Gap:
    """Missing bars: the last bar before the hole and the first one after it (ns, UTC)."""

    after: int
    before: int
    missing: int


class CandleStore(abc.ABC):
    """Where candles live. Every method validates symbol and timeframe before anything else."""

    name = "abstract"

    @abc.abstractmethod
    def write(self, symbol: str, timeframe: str, candles: Candles, progress=None) -> int:
        """Store ``candles`` (overwriting equal timestamps); return how many rows were written.

        ``progress``, if given, is called with the number of rows just stored, as they are.
        """

    def read(
        self,
        symbol: str,
        timeframe: str,
        start: TimeLike = None,
        end: TimeLike = None,
        *,
        gaps: str = "raise",
    ) -> Candles:
        """Return the candles in ``[start, end)``, resampled from a finer stored timeframe if needed."""
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        lo, hi = to_ns(start), to_ns(end)
        if lo is not None and hi is not None and hi <= lo:
            raise InvalidInput(f"empty range: end {fmt_ns(hi)} is not after start {fmt_ns(lo)}")
        if gaps not in ("raise", "allow"):
            raise InvalidInput(f"gaps must be 'raise' or 'allow', not {gaps!r}")
        stored = self.timeframes(symbol)
        if tf.text in stored:
            candles = self._read(symbol, tf, lo, hi)
        else:
            source = finest_divisor(tf, stored)
            if source is None:
                raise CandlesNotFound(_not_found(symbol, tf, lo, hi, stored))
            candles = self._read_resampled(symbol, source, tf, lo, hi)
        if len(candles) == 0:
            raise CandlesNotFound(_not_found(symbol, tf, lo, hi, stored))
        if gaps == "raise":
            check_gaps(symbol, tf, candles)
        return candles

    @abc.abstractmethod
    def _read(self, symbol: str, tf: Timeframe, start: int | None, end: int | None) -> Candles:
        """Return stored candles of ``symbol``/``tf`` in ``[start, end)`` (maybe none)."""

    @abc.abstractmethod
    def _read_resampled(
        self, symbol: str, source: Timeframe, tf: Timeframe, start: int | None, end: int | None
    ) -> Candles:
        """Return complete ``tf`` bars built from stored ``source`` bars in ``[start, end)``."""

    @abc.abstractmethod
    def symbols(self) -> list[SeriesInfo]:
        """Return every stored series, sorted by symbol and timeframe."""

    def timeframes(self, symbol: str) -> list[str]:
        """Return the timeframes stored for ``symbol``."""
        symbol = validate_symbol(symbol)
        return [s.timeframe for s in self.symbols() if s.symbol == symbol]

    def range(self, symbol: str, timeframe: str) -> SeriesInfo:
        """Return first, last and count of one stored series; ``CandlesNotFound`` if absent."""
        symbol = validate_symbol(symbol)
        tf = validate_timeframe(timeframe)
        for info in self.symbols():
            if info.symbol == symbol and info.timeframe == tf.text:
                return info
        raise CandlesNotFound(f"no {symbol} {tf} candles are stored")

    @abc.abstractmethod
    def delete(
        self, symbol: str, timeframe: str | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> None:
        """Delete a symbol's candles (one timeframe, optionally only ``[start, end)``)."""

    @abc.abstractmethod
    def generation(self, symbol: str) -> str:
        """Return a stamp that changes whenever ``symbol``'s candles are written or deleted."""

    @abc.abstractmethod
    def inventory_stamp(self) -> str:
        """Return a stamp that changes whenever any series is written or deleted; cheap to ask.

        Its cost grows with the number of symbols, never with the number of candles, so that
        :class:`quantgrid.candles.inventory.Inventory` can ask it where ``symbols()`` is too dear.
        """

    def close(self) -> None:
        """Release connections or files."""
        return None  # nothing to release unless a backend says otherwise

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- shared checks ------------------------------------------------------------------------------


def validate_for_write(candles: Candles, tf: Timeframe) -> None:
    """Refuse rows a store must not hold, before anything is sent.

    ``Candles.from_arrays`` checks finiteness and order, but a ``Candles`` built directly skips
    it, and InfluxDB stores the good lines of a batch that holds a bad one: so every rule is
    checked here again. Bars must start on multiples of the timeframe (since the epoch): with
    increasing times that makes every step a whole number of bars, so "no gaps" is one
    subtraction on every read.
    """
    if not isinstance(candles, Candles):
        raise InvalidCandles("write() takes an engine.candles.Candles")
    if len(candles) == 0:
        raise InvalidCandles("no candles to write")
    nonpositive, describe = nonpositive_prices(candles.open, candles.high, candles.low, candles.close)
    bad = np.flatnonzero(nonpositive)
    if len(bad):
        row = bad[0]
        raise InvalidCandles(
            f"row {row} ({fmt_ns(candles.time[row])}): {describe(row)}; nothing was written"
        )
    columns = (candles.open, candles.high, candles.low, candles.close, candles.volume)
    for name, mask in (
        ("a price or the volume is missing or not finite",
         ~np.logical_and.reduce([np.isfinite(col) for col in columns])),
        ("the time does not increase", np.r_[False, np.diff(candles.time) <= 0]),
        (f"the time is not on a {tf} boundary (is the timeframe right?)", candles.time % tf.ns != 0),
        ("volume is negative", candles.volume < 0),
        ("open is outside [low, high]", (candles.open < candles.low) | (candles.open > candles.high)),
        ("close is outside [low, high]", (candles.close < candles.low) | (candles.close > candles.high)),
    ):
        bad = np.flatnonzero(mask)
        if len(bad):
            raise InvalidCandles(f"row {bad[0]} ({fmt_ns(candles.time[bad[0]])}): {name}; nothing was written")


def combined_stamp(generations: Iterable[tuple[str, str]]) -> str:
    """Fold every symbol's generation stamp into one: any symbol's change changes it.

    Not the newest stamp alone: on InfluxDB every generation point sits at time 0, so
    ``last(stamp)`` across symbols picks one by series order and misses a write to any other.
    """
    digest = hashlib.sha256()
    for symbol, stamp in sorted(generations):
        digest.update(f"{symbol}={stamp}\n".encode())
    return digest.hexdigest()[:32]


def check_gaps(symbol: str, tf: Timeframe, candles: Candles) -> None:
    """Raise ``CandleGapError`` if consecutive bars are further apart than one timeframe."""
    t = candles.time
    if len(t) < 2 or t[-1] - t[0] == (len(t) - 1) * tf.ns:
        return  # aligned, increasing bars (as stores hold them) spanning n-1 steps: no hole
    found = find_gaps(candles, tf)
    if found:
        g = found[0]
        more = f" and {len(found) - 1} more gap(s)" if len(found) > 1 else ""
        err = CandleGapError(
            f"{symbol} {tf} has {g.missing} missing bar(s) between {fmt_ns(g.after)} and "
            f"{fmt_ns(g.before)}{more}; pass gaps='allow' (--allow-gaps) to read anyway"
        )
        err.gaps = found
        raise err


def find_gaps(candles: Candles, tf: Timeframe | str) -> list[Gap]:
    """Return the holes between consecutive bars of ``candles`` (bars ``tf`` apart)."""
    tf = tf if isinstance(tf, Timeframe) else validate_timeframe(tf)
    steps = np.diff(candles.time)
    idx = np.flatnonzero(steps > tf.ns)
    return [
        Gap(int(candles.time[i]), int(candles.time[i + 1]), int(steps[i] // tf.ns) - 1) for i in idx
    ]


def finest_divisor(tf: Timeframe, stored: list[str]) -> Timeframe | None:
    """Return the coarsest stored timeframe that divides ``tf`` (fewest rows to resample)."""
    options = []
    for text in stored:
        try:
            options.append(Timeframe.parse(text))
        except InvalidInput:
            continue  # a tag value or file another tool left: never a resampling source
    options = [s for s in options if s.ns < tf.ns and s.divides(tf)]
    return max(options) if options else None


def to_ns(value: TimeLike) -> int | None:
    """Convert a time bound to int nanoseconds since the epoch (UTC)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"not a time: {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise InvalidInput(f"cannot read time {value!r}: use ISO 8601, e.g. 2024-01-31T00:00:00Z") from err
    if ts is pd.NaT:
        raise InvalidInput(f"cannot read time {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def fmt_ns(ns: int | None) -> str:
    if ns is None:
        return "-"
    return str(np.datetime_as_string(np.int64(ns).astype("datetime64[ns]"), unit="s", timezone="UTC"))


def _not_found(symbol: str, tf: Timeframe, lo, hi, stored: list[str]) -> str:
    where = f" between {fmt_ns(lo)} and {fmt_ns(hi)}" if lo is not None or hi is not None else ""
    if not stored:
        return f"no candles are stored for {symbol}"
    return f"no {symbol} {tf} candles{where} (stored timeframes: {', '.join(sorted(stored))})"


def empty_candles() -> Candles:
    z = np.empty(0)
    return Candles(np.empty(0, dtype=np.int64), z, z, z, z, z)


def from_server(symbol: str, time: np.ndarray, cols: dict[str, np.ndarray]) -> Candles:
    """Check candles a server returned: another tool may have written points we would refuse."""
    try:
        return Candles.from_arrays(time, *(cols[f] for f in FIELDS))
    except (ValueError, TypeError) as err:
        raise InvalidCandles(f"stored {symbol} candles are not valid (written by another tool?): {err}") from err


def from_trusted(time: np.ndarray, cols: dict[str, np.ndarray]) -> Candles:
    """Wrap arrays that a store validated when they were written, without checking again."""
    return Candles(time, *(cols[f] for f in FIELDS))
