"""Every function of the language against a slow NumPy reference, and what NaN and division by
zero mean (no signal, never an exception)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.candles import Candles
from engine.lang import FUNCTIONS, compile_strategy
from engine.reference import indicators as ri
from engine.reference import signals as rs
from tests.unit.engine.sim_data import random_walk

CANDLES = random_walk(600, 7, vol=0.02)


def _prev(x: np.ndarray, k: int = 1) -> np.ndarray:
    out = np.full(len(x), np.nan)
    out[k:] = x[: len(x) - k]
    return out


def _with_gaps(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN runs, as a computed series may have (0/0 on a flat bar)."""
    x = x.copy()
    x[100:103] = np.nan
    x[300] = np.nan
    return x


C = CANDLES
GAPPY = _with_gaps(C.close)
# name: (expression over close and g (close with NaN runs), reference, tolerance)
CASES = {
    "sma": ("sma(g, 9)", ri.sma(GAPPY, 9), 1e-12),
    "ema": ("ema(g, 9)", ri.ema(GAPPY, 9), 1e-12),
    "wma": ("wma(g, 9)", ri.wma(GAPPY, 9), 1e-12),
    "rsi": ("rsi(g, 9)", ri.rsi(GAPPY, 9), 1e-11),
    "stdev": ("stdev(g, 9)", ri.rolling_std(GAPPY, 9), 1e-10),
    "highest": ("highest(g, 9)", ri.rolling_max(GAPPY, 9), 0),
    "lowest": ("lowest(g, 9)", ri.rolling_min(GAPPY, 9), 0),
    "atr": ("atr(9)", ri.atr(C.high, C.low, C.close, 9), 1e-12),
    "roc": ("roc(g, 9)", 100 * (GAPPY - _prev(GAPPY, 9)) / _prev(GAPPY, 9), 1e-12),
    "bb_middle": ("bb_middle(g, 9)", ri.bollinger(GAPPY, 9, 1.5)[0], 1e-12),
    "bb_upper": ("bb_upper(g, 9, 1.5)", ri.bollinger(GAPPY, 9, 1.5)[1], 1e-10),
    "bb_lower": ("bb_lower(g, 9, 1.5)", ri.bollinger(GAPPY, 9, 1.5)[2], 1e-10),
    "macd_line": ("macd_line(g, 4, 9)", ri.macd(GAPPY, 4, 9, 3)[0], 1e-11),
    "macd_signal": ("macd_signal(g, 4, 9, 3)", ri.macd(GAPPY, 4, 9, 3)[1], 1e-11),
    "macd_hist": ("macd_hist(g, 4, 9, 3)", ri.macd(GAPPY, 4, 9, 3)[2], 1e-11),
    "abs": ("abs(g - 100)", np.abs(GAPPY - 100), 0),
    "min": ("min(g, open, 100)", np.minimum(np.minimum(GAPPY, C.open), 100), 0),
    "max": ("max(g, open)", np.maximum(GAPPY, C.open), 0),
    "crossover": ("crossover(g, sma(g, 5))", rs.crossover(GAPPY, ri.sma(GAPPY, 5)) == 1, 0),
    "crossunder": ("crossunder(g, sma(g, 5))", rs.crossover(GAPPY, ri.sma(GAPPY, 5)) == -1, 0),
}


def _values(expression: str, candles: Candles = C, params: str = "") -> np.ndarray:
    # g: the close with NaN runs: (close - open) / (close - open) is 0/0 = NaN where they are
    # equal, 1 elsewhere, and the candles below make them equal exactly on the gap bars
    source = f"{params}g = close * ((close - open) / (close - open))\nvalue = {expression}\n" \
             "long_entry = close > 0"
    return compile_strategy(source).series(candles)["value"]


def _gappy_candles() -> Candles:
    c = CANDLES
    open_ = c.open.copy()
    gaps = np.isnan(GAPPY)
    open_[gaps] = c.close[gaps]
    return Candles.from_arrays(c.time, open_, np.maximum(c.high, open_), np.minimum(c.low, open_),
                               c.close, c.volume)


def test_every_function_has_a_reference_here():
    assert set(CASES) == set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_function_matches_its_reference(name):
    expression, want, rel = CASES[name]
    candles = _gappy_candles()
    got = _values(expression, candles)
    if want.dtype == bool:
        assert got.dtype == bool and np.array_equal(got, want)
        return
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN positions differ"
    np.testing.assert_allclose(got, want, rtol=rel, atol=rel * 100, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_warmup_is_the_first_bar_the_function_is_defined(name):
    """The lookback the compiler computes is the function's leading NaN count."""
    expression = re.sub(r"\bg\b", "close", CASES[name][0])
    got = _values(expression)
    source = f"value = {expression}\nlong_entry = "
    source += "value" if got.dtype == bool else "value > -1e300"
    warmup = compile_strategy(source).warmup()
    if got.dtype != bool:
        assert not np.isnan(got[warmup:]).any() and (warmup == 0 or np.isnan(got[warmup - 1]))
    elif name.startswith("cross"):
        assert warmup == 5  # sma(close, 5) from bar 4, and crossing reads the bar before


def test_lookback_is_the_value_k_bars_ago():
    k = "k = param(int, 3, min=0, max=10)\n"
    np.testing.assert_array_equal(_values("close[k]", params=k), _prev(C.close, 3))
    np.testing.assert_array_equal(_values("close[0]"), C.close)
    np.testing.assert_array_equal(_values("(close > open)[2]"),
                                  np.r_[False, False, (C.close > C.open)[:-2]])
    assert np.isnan(_values("close[1000]")).all()
    # a fixed value looked back on (roc of a number): a series, undefined before bar k
    assert _values("roc(5, 1)")[:3].tolist()[1:] == [0.0, 0.0]
    assert np.isnan(_values("roc(5, 1)")[0])


def test_arithmetic_and_comparisons():
    np.testing.assert_array_equal(_values("(close - open) * 2 / (high + low) + -volume"),
                                  (C.close - C.open) * 2 / (C.high + C.low) + -C.volume)
    np.testing.assert_array_equal(_values("close >= open or not (high < 105)"),
                                  (C.close >= C.open) | (C.high >= 105))
    np.testing.assert_array_equal(_values("100 < close < 110"),
                                  (C.close > 100) & (C.close < 110))
    np.testing.assert_array_equal(_values("close != open"), C.close != C.open)


def test_division_by_zero_and_nan_give_no_signal_however_negated():
    zero = "(close - close)"
    assert np.isnan(_values(f"close / {zero}")).all()  # x/0 and 0/0: NaN, not inf
    assert np.isnan(_values("close * 1e200 * 1e200")).all()  # overflow: NaN
    for cond in (f"close / {zero} > 1", f"not (close / {zero} > 1)", f"close / {zero} == 1",
                 f"close / {zero} != 1", f"not (close / {zero} != 1)",
                 f"not (not (close / {zero} < 1) and close > 0)",
                 f"crossover(close / {zero}, open)", f"not crossover(close / {zero}, open)",
                 f"not crossunder(close / {zero}, open)"):
        assert not _values(cond).any(), cond
    # a NaN in an indicator's input restarts it: it is never an error
    assert np.isnan(_values(f"sma(close / {zero}, 3)")).all()


def test_negated_crossings_are_the_negated_comparisons():
    a, b = C.close, ri.sma(C.close, 5)
    up = (_prev(a) < _prev(b)) & (a > b)
    want = (_prev(a) >= _prev(b)) | (a <= b)
    np.testing.assert_array_equal(_values("not crossover(close, sma(close, 5))"), want)
    assert np.array_equal(~up[5:], want[5:])  # where everything is defined, plain negation
