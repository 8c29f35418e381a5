"""No look-ahead, as a property over randomly generated programs: changing the candles after
bar t never changes a signal (or a named series) up to bar t."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.candles import Candles
from engine.lang import compile_strategy
from tests.unit.engine.sim_data import random_walk

N = 200
FIELDS = st.sampled_from(["open", "high", "low", "close", "volume"])
WINDOWS = st.one_of(st.integers(1, 12).map(str), st.just("n"), st.just("n + 2"))
LOOKBACKS = st.one_of(st.integers(0, 6).map(str), st.just("n"))
NUMBERS = st.one_of(st.integers(-5, 200).map(str), st.floats(-3, 3).map(lambda f: f"{f:.3f}"))
SERIES_FUNCTIONS = ["sma", "ema", "wma", "rsi", "stdev", "highest", "lowest", "roc",
                    "bb_middle"]


def _number_forms(sub: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/"]), sub).map(
            lambda a: f"({a[0]} {a[1]} {a[2]})"),
        st.tuples(st.sampled_from(SERIES_FUNCTIONS), sub, WINDOWS).map(
            lambda a: f"{a[0]}({a[1]}, {a[2]})"),
        st.tuples(st.sampled_from(["bb_upper", "bb_lower"]), sub, WINDOWS, sub).map(
            lambda a: f"{a[0]}({a[1]}, {a[2]}, {a[3]})"),
        st.tuples(sub, WINDOWS, st.integers(1, 5)).map(
            lambda a: f"macd_hist({a[0]}, {a[1]}, {a[2]} + 3, 3)"),
        st.tuples(st.sampled_from(["abs", "-"]), sub).map(lambda a: f"{a[0]}({a[1]})"),
        st.tuples(st.sampled_from(["min", "max"]), sub, sub).map(
            lambda a: f"{a[0]}({a[1]}, {a[2]})"),
        st.tuples(sub, FIELDS, LOOKBACKS).map(lambda a: f"({a[0]} + {a[1]})[{a[2]}]"),
    )


NUMBER_EXPRESSIONS = st.recursive(
    st.one_of(FIELDS, NUMBERS, st.just("n"), st.just("k"), WINDOWS.map(lambda w: f"atr({w})"),
              st.tuples(FIELDS, LOOKBACKS).map(lambda a: f"{a[0]}[{a[1]}]")),
    _number_forms, max_leaves=5)
# a series to compare: at least one candle series in it
SERIES_EXPRESSIONS = st.one_of(
    FIELDS, st.tuples(NUMBER_EXPRESSIONS, FIELDS).map(lambda a: f"({a[0]} + {a[1]})"))


def _condition_forms(sub: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(
            lambda a: f"({a[0]} {a[1]} {a[2]})"),
        sub.map(lambda c: f"not ({c})"),
        st.tuples(sub, LOOKBACKS).map(lambda a: f"({a[0]})[{a[1]}]"),
    )


CONDITIONS = st.recursive(
    st.one_of(
        st.tuples(SERIES_EXPRESSIONS, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
                  NUMBER_EXPRESSIONS).map(lambda a: f"{a[0]} {a[1]} {a[2]}"),
        st.tuples(st.sampled_from(["crossover", "crossunder"]), SERIES_EXPRESSIONS,
                  NUMBER_EXPRESSIONS).map(lambda a: f"{a[0]}({a[1]}, {a[2]})"),
    ),
    _condition_forms, max_leaves=3)


@st.composite
def programs(draw) -> str:
    lines = [
        f"n = param(int, {draw(st.integers(1, 8))}, min=1, max=20)",
        f"k = param(float, {draw(st.floats(0, 2)):.3f}, min=0, max=2)",
        f"x = {draw(NUMBER_EXPRESSIONS)}",
        f"c = {draw(CONDITIONS)}",
    ]
    rules = draw(st.lists(st.sampled_from(["long", "short"]), min_size=1, unique=True))
    for side in rules:
        lines.append(f"{side}_entry = {draw(CONDITIONS)} or (c and x > {draw(NUMBERS)})")
        if draw(st.booleans()):
            lines.append(f"{side}_exit = {draw(CONDITIONS)}")
    lines.append(f"reenter = {draw(st.booleans())}")
    return "\n".join(lines)


def _splice(a: Candles, b: Candles, t: int) -> Candles:
    cols = {f: np.concatenate([getattr(a, f)[: t + 1], getattr(b, f)[t + 1 :]])
            for f in ("open", "high", "low", "close", "volume")}
    return Candles.from_arrays(a.time, **cols)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), t=st.integers(0, N - 2), seed=st.integers(0, 2**16))
def test_changing_candles_after_t_never_changes_anything_up_to_t(source, t, seed):
    strategy = compile_strategy(source)
    a = random_walk(N, seed, vol=0.03)
    b = _splice(a, random_walk(N, seed + 1, vol=0.1), t)
    assert np.array_equal(strategy.signals(a)[: t + 1], strategy.signals(b)[: t + 1])
    for name, values in strategy.series(a).items():
        other = strategy.series(b)[name]
        assert np.array_equal(values[: t + 1], other[: t + 1], equal_nan=True), name
