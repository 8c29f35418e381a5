"""Signal loops against their references, and the fused SMA-cross kernel."""

from __future__ import annotations

import numpy as np
import pytest

from engine import indicators, signals
from engine.reference import signals as ref
from engine_ext import signals as kernels


def test_contract_constants():
    assert (signals.HOLD, signals.LONG, signals.SHORT, signals.FLAT) == (0, 1, -1, 2)
    assert np.dtype(signals.SIGNAL_DTYPE) == np.dtype("int8")


def _lines(size: int, seed: int, nan: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Small integers make ties (a == b) frequent, the case strict comparisons are about.
    a = rng.integers(0, 4, size).astype(float)
    b = rng.integers(0, 4, size).astype(float)
    if nan and size:
        a[rng.integers(0, size, max(1, size // 10))] = np.nan
        b[: min(3, size)] = np.nan
    return a, b


@pytest.mark.parametrize("size", [0, 1, 2, 3, 50, 10_000])
@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("start", [0, 1, 5])
def test_crossover_matches_reference(size, nan, start):
    a, b = _lines(size, size + start, nan)
    a0, b0 = a.copy(), b.copy()
    got = signals.crossover(a, b, start)
    assert got.dtype == np.int8 and len(got) == size
    assert np.array_equal(got, ref.crossover(a, b, start))
    assert np.array_equal(a, a0, equal_nan=True) and np.array_equal(b, b0, equal_nan=True)


def test_crossover_is_strict_both_sides():
    # Touching (equal) then crossing is not a crossover; backtesting.py agrees.
    a = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    b = np.array([2.0, 2.0, 2.0, 2.0, 2.0])
    assert signals.crossover(a, b).tolist() == [0, 0, 0, 0, 0]
    a = np.array([1.0, 3.0, 1.0])
    assert signals.crossover(a, b[:3]).tolist() == [0, 1, -1]


@pytest.mark.parametrize("size", [0, 1, 2, 100, 10_000])
@pytest.mark.parametrize("start", [0, 3])
@pytest.mark.parametrize("reenter", [False, True])
def test_position_events_match_reference(size, start, reenter):
    rng = np.random.default_rng(size)
    conds = [rng.random(size) < p for p in (0.1, 0.1, 0.3, 0.3)]
    got = signals.position_events(*conds, start=start, reenter=reenter)
    assert np.array_equal(got, ref.position_events(*conds, start, reenter))
    if not reenter:
        # Orders only on changes: never the same order twice without another in between.
        orders = got[got != signals.HOLD]
        assert not np.any(orders[1:] == orders[:-1])


def test_reentering_entries_equal_crossover():
    a, b = _lines(10_000, 3, nan=True)
    cross = signals.crossover(a, b, 2)
    got = signals.position_events(cross == 1, cross == -1, start=2, reenter=True)
    assert np.array_equal(got, cross)
    assert not np.array_equal(signals.position_events(cross == 1, cross == -1, start=2), cross)


def test_position_events_rules():
    t, f = True, False
    got = signals.position_events(
        np.array([t, t, f, f, f, t]),
        np.array([f, f, f, t, t, t]),
        np.array([f, f, t, f, f, f]),
        np.array([f, f, f, f, f, f]),
    )
    assert got.tolist() == [1, 0, 2, -1, 0, 1]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: signals.crossover([1.0], [1.0, 2.0]), ValueError, "equal length"),
        (lambda: signals.crossover([1.0], [1.0], start=-1), ValueError, "non-negative"),
        (lambda: signals.position_events([1, 0], [0, 0]), TypeError, "boolean"),
        (lambda: signals.position_events([True], [True, False]), ValueError, "values"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("size", [0, 1, 19, 20, 21, 5000, 200_000])
@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (3, 7), (10, 20), (50, 1500)])
@pytest.mark.parametrize("gap", [False, True])
def test_fused_sma_cross_equals_crossover_of_smas(size, fast, slow, gap):
    x = 100 * np.exp(np.cumsum(np.random.default_rng(size).normal(0, 0.01, size)))
    if gap and size > 100:
        x[size // 2 : size // 2 + 5] = np.nan
    if size > 3000:
        x[1000:2500] = 42.1  # a flat stretch: the two SMAs are equal there, no cross
    want = signals.crossover(indicators.sma(x, fast), indicators.sma(x, slow), slow)
    assert np.array_equal(kernels.sma_cross(x, fast, slow, slow), want)
    if size > 3000:
        assert not want[1000 + slow : 2500].any()
