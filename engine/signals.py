"""The signal contract between strategies and the simulator, and the loops that build signals.

A signal array is ``int8``, one value per bar, decided at the CLOSE of that bar; the simulator
fills it at the next bar's open (or at this bar's close when asked to):

- ``HOLD = 0``: no order.
- ``LONG = 1``: close whatever is open and open a long. Even when already long, the long is
  closed and re-opened, as backtesting.py does with ``position.close(); buy()``.
- ``SHORT = -1``: the same for a short.
- ``FLAT = 2``: close any open position and stay out.

Strategies emit orders only on events (a crossover bar, an entry or exit condition becoming
true), never "LONG on every bar while the condition holds". Bars before a strategy's warm-up are
always ``HOLD``.
"""

from __future__ import annotations

import numpy as np

HOLD: int = 0
LONG: int = 1
SHORT: int = -1
FLAT: int = 2

SIGNAL_DTYPE = np.int8

__all__ = [
    "FLAT",
    "HOLD",
    "LONG",
    "SHORT",
    "SIGNAL_DTYPE",
    "crossover",
    "position_events",
]


def crossover(a, b, start: int = 0) -> np.ndarray:
    """Return LONG where ``a`` crosses above ``b``, SHORT where it crosses below, else HOLD.

    backtesting.py's rule, both comparisons strict: an upward cross on bar ``i`` means
    ``a[i-1] < b[i-1] and a[i] > b[i]``. A NaN on either bar means no cross. Bars before
    ``start`` are HOLD.
    """
    from engine_ext import signals as _k

    a, b = _pair(a, b)
    return _k.crossover(a, b, _start(start))


def position_events(
    long_entry, short_entry, long_exit=None, short_exit=None, start: int = 0, reenter=False
):
    """Turn per-bar conditions into orders that fire only when the wanted position changes.

    A state machine walks the bars from ``start`` with the position it has asked for (flat at
    first). On each bar, in this order: ``long_entry`` while not long → LONG; else
    ``short_entry`` while not short → SHORT; else ``long_exit`` while long or ``short_exit``
    while short → FLAT; else HOLD. Conditions are boolean arrays of the same length.

    With ``reenter`` an entry fires whatever the position (LONG while long closes and re-opens
    the long): ``crossover``'s behaviour, for entries that are events such as crosses.
    """
    from engine_ext import signals as _k

    n = len(np.asarray(long_entry))
    if reenter and long_exit is None and short_exit is None:
        # Without exits the position plays no part: one vectorised step instead of the loop.
        long_entry, short_entry = (_as_flags(c, name, n).view(bool) for c, name in
                                   ((long_entry, "long_entry"), (short_entry, "short_entry")))
        out = long_entry.astype(SIGNAL_DTYPE)
        out[short_entry & ~long_entry] = SHORT
        out[: _start(start)] = HOLD
        return out
    conds = [
        _as_flags(c if c is not None else np.zeros(n, dtype=bool), name, n)
        for c, name in (
            (long_entry, "long_entry"),
            (short_entry, "short_entry"),
            (long_exit, "long_exit"),
            (short_exit, "short_exit"),
        )
    ]
    return _k.position_events(*conds, _start(start), bool(reenter))


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("crossover takes two one-dimensional arrays")
    if len(a) != len(b):
        raise ValueError(f"crossover needs arrays of equal length, got {len(a)} and {len(b)}")
    return a, b


def _as_flags(cond, name: str, n: int) -> np.ndarray:
    arr = np.asarray(cond)
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array (e.g. close > upper), got {arr.dtype}")
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{name} must be one-dimensional with {n} values, like long_entry")
    return np.ascontiguousarray(arr).view(np.uint8)


def _start(start) -> int:
    if isinstance(start, bool) or not isinstance(start, int | np.integer) or start < 0:
        raise ValueError(f"start must be a non-negative integer bar index, got {start!r}")
    return int(start)
