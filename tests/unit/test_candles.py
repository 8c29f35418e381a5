"""The Candles container converts its input and refuses what the kernels cannot trust."""

from __future__ import annotations

import numpy as np
import pytest

from engine.candles import Candles


def _cols(n=5):
    t = np.arange(n, dtype=np.int64) * 60_000_000_000
    c = np.linspace(100, 104, n)
    return t, c, c + 1, c - 1, c, np.ones(n)


def test_from_arrays_converts_to_contiguous_float64():
    t, o, h, low, c, v = _cols()
    candles = Candles.from_arrays(t, o.astype(np.float32), h, low, c[::1], v.astype(int))
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(candles, name)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous
    assert len(candles) == 5


def test_datetime64_time_becomes_int64_ns():
    t, *rest = _cols()
    candles = Candles.from_arrays(t.astype("datetime64[ns]").astype("datetime64[s]"), *rest)
    np.testing.assert_array_equal(candles.time, t)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c[0].__setitem__(2, c[0][1]), "row 2 is duplicate"),
        (lambda c: c[0].__setitem__(2, 0), "row 2 is out of order"),
        (lambda c: c[4].__setitem__(3, np.nan), "close is missing or not finite at row 3"),
        (lambda c: c[3].__setitem__(1, 1e9), "low is above high at row 1"),
        (lambda c: c[1].__setitem__(2, 0.0), "row 2: open 0.0 is not above zero"),
        (lambda c: c[3].__setitem__(4, -1.0), "row 4: low -1.0 is not above zero"),
    ],
)
def test_bad_rows_are_named(mutate, message):
    cols = [a.copy() for a in _cols()]
    mutate(cols)
    with pytest.raises(ValueError, match=message):
        Candles.from_arrays(*cols)


def test_slice_is_a_view():
    candles = Candles.from_arrays(*_cols())
    part = candles.slice(1, 3)
    assert len(part) == 2 and np.shares_memory(part.close, candles.close)
