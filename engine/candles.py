"""The OHLCV container every part of QuantGrid passes to the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FIELDS = ("open", "high", "low", "close", "volume")
PRICES = FIELDS[:4]


@dataclass(frozen=True, eq=False)
class Candles:
    """Candles as parallel arrays: ``time`` in int64 nanoseconds since the epoch (UTC), prices float64.

    Build one with :meth:`from_arrays`, which converts and checks the arrays, so the kernels can
    rely on C-contiguous float64 data, strictly increasing timestamps, no NaN, prices above zero
    and ``low <= high``.
    """

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @classmethod
    def from_arrays(cls, time, open, high, low, close, volume) -> Candles:  # noqa: A002
        """Convert and validate the arrays; raise ``ValueError`` saying which row is wrong."""
        t = _as_ns(time)
        cols = {
            name: np.ascontiguousarray(values, dtype=np.float64)
            for name, values in zip(FIELDS, (open, high, low, close, volume), strict=True)
        }
        for name, col in cols.items():
            if col.ndim != 1 or len(col) != len(t):
                raise ValueError(f"{name} must be one-dimensional with {len(t)} values, like time")
            bad = np.flatnonzero(~np.isfinite(col))
            if len(bad):
                raise ValueError(f"{name} is missing or not finite at row {bad[0]}")
        nonpositive, describe = nonpositive_prices(*(cols[name] for name in PRICES))
        bad = np.flatnonzero(nonpositive)
        if len(bad):
            raise ValueError(f"row {bad[0]}: {describe(bad[0])}")
        steps = np.flatnonzero(np.diff(t) <= 0)
        if len(steps):
            i = steps[0] + 1
            kind = "duplicate" if t[i] == t[i - 1] else "out of order"
            raise ValueError(f"timestamps must increase: row {i} is {kind}; sort and de-duplicate")
        inverted = np.flatnonzero(cols["low"] > cols["high"])
        if len(inverted):
            raise ValueError(f"low is above high at row {inverted[0]}")
        return cls(time=t, **cols)

    def __len__(self) -> int:
        return len(self.time)

    def slice(self, start: int, stop: int) -> Candles:
        """Return rows ``start:stop`` without copying."""
        return Candles(*(getattr(self, f)[start:stop] for f in ("time", *FIELDS)))

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in ("time", *FIELDS))


def nonpositive_prices(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, Callable[[int], str]]:
    """Mask the bars with a price at or below zero; also return what to say about one of them.

    The one place of this rule: :meth:`Candles.from_arrays`, the CSV reader and the candle
    stores' writes all apply it. Sizing divides by the fill price (docs/semantics.md), so a zero
    price would open a position of infinite size.
    """
    cols = dict(zip(PRICES, (open_, high, low, close), strict=True))
    mask = np.logical_or.reduce([col <= 0 for col in cols.values()])

    def describe(row: int) -> str:
        name = next(name for name, col in cols.items() if col[row] <= 0)
        return (
            f"{name} {float(cols[name][row])!r} is not above zero: prices must be positive, "
            "so correct or remove this bar"
        )

    return mask, describe


def _as_ns(time) -> np.ndarray:
    arr = np.asarray(time)
    if arr.ndim != 1:
        raise ValueError("time must be one-dimensional")
    if np.issubdtype(arr.dtype, np.datetime64):
        arr = arr.astype("datetime64[ns]").view(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        raise TypeError("time must be datetime64 or int64 nanoseconds since the epoch (UTC)")
    return np.ascontiguousarray(arr, dtype=np.int64)
