"""Strategies: registry, schemas and validation, the signal contract, references, no look-ahead."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine.strategies as registry
from engine import indicators
from engine.candles import Candles
from engine.reference import indicators as ri
from engine.reference import signals as rs
from engine.signals import FLAT, HOLD, LONG, SHORT
from engine.strategies import Param, Strategy

BUILTINS = [
    "bollinger_reversion",
    "donchian_breakout",
    "ema_cross",
    "macd",
    "rsi_reversion",
    "sma_cross",
]


def _candles(n: int, seed: int = 0, vol: float = 0.01) -> Candles:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, vol / 3, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, vol / 2, n)))
    t = 1_600_000_000 * 10**9 + np.arange(n, dtype=np.int64) * 60 * 10**9
    return Candles.from_arrays(t, open_, high, low, close, rng.uniform(1, 1e4, n))


# --- registry ---------------------------------------------------------------------------------


def test_builtins_are_registered_through_entry_points():
    found = registry.available()
    assert list(found) == BUILTINS
    for name, strategy in found.items():
        assert isinstance(strategy, Strategy) and strategy.name == name
        assert registry.get(name) is not None


def test_unknown_strategy_lists_the_available_ones():
    with pytest.raises(
        ValueError, match=r"unknown strategy 'nope'; available: bollinger_reversion, "
    ):
        registry.get("nope")


class AlwaysLong(Strategy):
    """A deployment's own strategy, installed through its own entry point."""

    name = "always_long"
    description = "Long on the first bar after the warm-up."
    params = (Param("delay", int, 1, 1, 10, "Bars to wait."),)

    def _warmup(self, p):
        return p["delay"]

    def _signals(self, candles, p, ind):
        out = np.zeros(len(candles), dtype=np.int8)
        out[p["delay"] : p["delay"] + 1] = LONG
        return out


@pytest.fixture
def fresh_registry():
    """Forget the strategies found while a test patched the entry points."""
    yield
    registry.reload()


def _with_entry_points(monkeypatch, *extra: EntryPoint) -> None:
    original = registry.entry_points

    def patched(*, group):
        return [*original(group=group), *(ep for ep in extra if ep.group == group)]

    monkeypatch.setattr(registry, "entry_points", patched)


def test_an_entry_point_installed_at_runtime_is_discovered(fresh_registry, monkeypatch):
    assert "always_long" not in registry.available()  # scanned and cached before the install
    ep = EntryPoint("always_long", f"{__name__}:AlwaysLong", registry.ENTRY_POINT_GROUP)
    _with_entry_points(monkeypatch, ep)
    strategy = registry.get("always_long")  # an unknown name triggers a rescan
    assert "always_long" in registry.available()
    assert strategy.signals(_candles(5), delay=2).tolist() == [0, 0, 1, 0, 0]


def test_a_broken_entry_point_is_reported(fresh_registry, monkeypatch):
    _with_entry_points(monkeypatch, EntryPoint("np", "numpy:sum", registry.ENTRY_POINT_GROUP))
    with pytest.raises(TypeError, match="not a Strategy"):
        registry.reload()


def test_an_entry_point_name_must_match_the_strategy(fresh_registry, monkeypatch):
    ep = EntryPoint("other", f"{__name__}:AlwaysLong", registry.ENTRY_POINT_GROUP)
    _with_entry_points(monkeypatch, ep)
    with pytest.raises(ValueError, match="must match"):
        registry.get("other")


def test_the_registry_is_scanned_once(monkeypatch):
    registry.available()
    monkeypatch.setattr(registry, "entry_points", lambda **kw: pytest.fail("rescanned"))
    assert registry.get("sma_cross").name == "sma_cross"
    assert list(registry.available()) == BUILTINS


# --- schema and validation -----------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_schema_is_json_and_defaults_validate(name):
    s = registry.get(name)
    schema = json.loads(json.dumps(s.schema()))
    assert schema["name"] == name and schema["description"]
    assert [p["name"] for p in schema["params"]] == [p.name for p in s.params]
    for p in schema["params"]:
        assert p["type"] in ("int", "float") and p["description"]
        assert p["min"] <= p["default"] <= p["max"]
    assert s.validate({}) == s.defaults() == s.validate(s.defaults())


def test_builtins_have_a_display_name_and_a_one_line_summary():
    shown = [registry.get(name).schema() for name in BUILTINS]
    names = [s["display_name"] for s in shown]
    assert len(set(names)) == len(names)
    for s in shown:
        assert s["display_name"] != s["name"]
        assert s["summary"] and "\n" not in s["summary"] and len(s["summary"]) <= 100


def test_a_strategy_without_display_fields_shows_its_name_and_description():
    from engine.strategies import Strategy

    class Bare(Strategy):
        name = "bare"
        description = "Does nothing."

    assert Bare().schema()["display_name"] == "bare"
    assert Bare().schema()["summary"] == "Does nothing."


@pytest.mark.parametrize(
    ("name", "params", "warmup"),
    [
        ("sma_cross", {"fast": 10, "slow": 20}, 20),
        ("ema_cross", {"fast": 5, "slow": 30}, 30),
        ("macd", {"fast": 12, "slow": 26, "signal": 9}, 34),
        ("rsi_reversion", {"period": 14}, 15),
        ("bollinger_reversion", {"period": 20}, 20),
        ("donchian_breakout", {"period": 20}, 21),
    ],
)
def test_warmup_is_one_plus_the_most_leading_nans(name, params, warmup):
    s = registry.get(name)
    assert s.warmup(params) == warmup
    c = _candles(300)
    p = s.validate(params)
    lines = {
        "sma_cross": lambda: [
            indicators.sma(c.close, p["fast"]),
            indicators.sma(c.close, p["slow"]),
        ],
        "ema_cross": lambda: [
            indicators.ema(c.close, p["fast"]),
            indicators.ema(c.close, p["slow"]),
        ],
        "macd": lambda: list(indicators.macd(c.close, p["fast"], p["slow"], p["signal"])),
        "rsi_reversion": lambda: [indicators.rsi(c.close, p["period"])],
        "bollinger_reversion": lambda: list(indicators.bollinger(c.close, p["period"], p["k"])),
        "donchian_breakout": lambda: [
            np.concatenate([[np.nan], indicators.rolling_max(c.high, p["period"])])
        ],
    }[name]()
    leading = max(int(np.argmax(~np.isnan(line))) for line in lines)
    # rsi and donchian compare with the previous bar, hence the extra NaN prepended above
    assert warmup == 1 + leading or (
        name in ("rsi_reversion", "donchian_breakout") and warmup == leading
    )


def test_validation_fills_defaults_and_coerces():
    s = registry.get("sma_cross")
    assert s.validate({"fast": "5"}) == {"fast": 5, "slow": 20}
    assert s.validate({"fast": 5.0, "slow": np.int64(30)}) == {"fast": 5, "slow": 30}
    assert type(s.validate({"fast": 5.0})["fast"]) is int
    r = registry.get("rsi_reversion")
    assert r.validate({"lower": "25.5", "upper": 80})["lower"] == 25.5
    assert type(r.validate({"upper": 80})["upper"]) is float


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        (
            "sma_cross",
            {"fsat": 5},
            r"unknown parameter 'fsat' for strategy 'sma_cross'; expected: fast, slow",
        ),
        ("sma_cross", {"fast": "abc"}, r"'fast' must be an integer from 1 to 99999, got 'abc'"),
        ("sma_cross", {"fast": 2.5}, r"'fast' must be an integer"),
        ("sma_cross", {"fast": True}, r"'fast' must be an integer"),
        ("sma_cross", {"fast": None}, r"'fast' must be an integer"),
        ("sma_cross", {"fast": 0}, r"'fast' must be an integer from 1 to 99999, got 0"),
        ("sma_cross", {"slow": 10**6}, r"'slow' must be an integer from 2 to 100000"),
        ("sma_cross", {"fast": 30, "slow": 20}, r"'fast' \(30\) must be less than 'slow' \(20\)"),
        ("sma_cross", {"fast": 20, "slow": 20}, r"must be less than 'slow'"),
        ("macd", {"fast": 26, "slow": 12}, r"'fast' \(26\) must be less than 'slow'"),
        ("rsi_reversion", {"lower": 80.0}, r"'lower' \(80.0\) must be less than 'upper' \(70.0\)"),
        ("rsi_reversion", {"upper": float("nan")}, r"'upper' must be a number from 0.0 to 100.0"),
        ("rsi_reversion", {"upper": "inf"}, r"'upper' must be a number"),
        ("rsi_reversion", {"allow_short": 2}, r"'allow_short' must be an integer from 0 to 1"),
        ("bollinger_reversion", {"k": -1}, r"'k' must be a number from 0.1 to 10.0, got -1"),
        ("bollinger_reversion", {"k": [2]}, r"'k' must be a number"),
        ("donchian_breakout", {"period": "20.5"}, r"'period' must be an integer"),
    ],
)
def test_bad_parameters_name_the_parameter_and_the_allowed_range(name, params, match):
    s = registry.get(name)
    with pytest.raises(ValueError, match=match):
        s.validate(params)
    with pytest.raises(ValueError, match=match):
        s.signals(_candles(50), **params)


def test_signals_need_candles():
    with pytest.raises(TypeError, match="Candles.from_arrays"):
        registry.get("sma_cross").signals(np.arange(10.0))


def test_param_rejects_a_default_outside_its_bounds():
    with pytest.raises(ValueError, match="outside"):
        Param("x", int, 0, 1, 5, "bad")
    with pytest.raises(TypeError, match="int or float"):
        Param("x", str, "a", "a", "b", "bad")


# --- the signal contract ------------------------------------------------------------------


SWEEPS = {
    "sma_cross": [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 20}, {"fast": 5, "slow": 30}],
    "ema_cross": [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 20}],
    "macd": [{"fast": 12, "slow": 26, "signal": 9}, {"fast": 5, "slow": 26, "signal": 4}],
    "rsi_reversion": [{"period": 14}, {"period": 14, "lower": 20, "upper": 80, "allow_short": 0}],
    "bollinger_reversion": [{"period": 20}, {"period": 20, "k": 1.5, "allow_short": 0}],
    "donchian_breakout": [{"period": 20}, {"period": 55, "allow_short": 0}],
}


@pytest.mark.parametrize("name", BUILTINS)
def test_signals_follow_the_contract(name):
    s = registry.get(name)
    c = _candles(20_000, seed=1)
    for p in SWEEPS[name]:
        sig = s.signals(c, **p)
        assert sig.dtype == np.int8 and sig.shape == (len(c),)
        assert set(np.unique(sig)) <= {HOLD, LONG, SHORT, FLAT}
        assert not sig[: s.warmup(p)].any()
        assert (sig == LONG).sum() > 5 and (sig != HOLD).sum() < len(c) / 4
        if not p.get("allow_short", 1):
            assert not (sig == SHORT).any()
        # Events only: an order is never repeated on the next bar.
        assert not np.any((sig[1:] == sig[:-1]) & (sig[1:] != HOLD))


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("size", [0, 1, 2, 30])
def test_short_inputs_give_hold(name, size):
    sig = registry.get(name).signals(_candles(size))
    assert sig.dtype == np.int8 and len(sig) == size
    if size <= 2:
        assert not sig.any()


@pytest.mark.parametrize("name", BUILTINS)
def test_flat_prices_give_no_orders(name):
    n = 500
    flat = np.full(n, 0.1 * 3)
    c = Candles.from_arrays(np.arange(n, dtype=np.int64), flat, flat, flat, flat, flat)
    for p in SWEEPS[name]:
        assert not registry.get(name).signals(c, **p).any()


@pytest.mark.parametrize("name", BUILTINS)
def test_signals_many_equals_signals_one_by_one(name):
    s = registry.get(name)
    c = _candles(5000, seed=2)
    many = list(s.signals_many(c, SWEEPS[name]))
    assert len(many) == len(SWEEPS[name])
    for got, p in zip(many, SWEEPS[name], strict=True):
        assert np.array_equal(got, s.signals(c, **p))


def test_signals_many_computes_each_indicator_once(monkeypatch):
    calls = []
    real = indicators.sma

    def counting(x, n):
        calls.append(n)
        return real(x, n)

    monkeypatch.setattr(indicators, "sma", counting)
    sets = [{"fast": f, "slow": s} for f in (5, 10) for s in (20, 30, 40)]
    out = list(registry.get("sma_cross").signals_many(_candles(1000), sets))
    assert len(out) == 6
    assert sorted(calls) == [5, 10, 20, 30, 40]


def test_signals_many_validates_every_set_before_computing():
    s = registry.get("sma_cross")
    with pytest.raises(ValueError, match="'fast' \\(50\\) must be less than"):
        s.signals_many(_candles(100), [{"fast": 5}, {"fast": 50}])


# --- against references ---------------------------------------------------------------------


def _prev(a):
    return np.concatenate([[np.nan], a[:-1]])


def _reference(name: str, c: Candles, p: dict) -> np.ndarray:
    """Each strategy's rules, written again from docs/strategies.md on the slow references."""
    close, w = c.close, registry.get(name).warmup(p)
    if name == "sma_cross":
        return rs.crossover(ri.sma(close, p["fast"]), ri.sma(close, p["slow"]), w)
    if name == "ema_cross":
        return rs.crossover(ri.ema(close, p["fast"]), ri.ema(close, p["slow"]), w)
    if name == "macd":
        line, sig, _ = ri.macd(close, p["fast"], p["slow"], p["signal"])
        return rs.crossover(line, sig, w)
    none = np.zeros(len(close), dtype=bool)
    if name == "rsi_reversion":
        r = ri.rsi(close, p["period"])
        buy = (_prev(r) < p["lower"]) & (r >= p["lower"])
        sell = (_prev(r) > p["upper"]) & (r <= p["upper"])
        lx, sx = none, none
    elif name == "bollinger_reversion":
        mid, up, lo = ri.bollinger(close, p["period"], p["k"])
        buy = (_prev(close) < _prev(lo)) & (close >= lo)
        sell = (_prev(close) > _prev(up)) & (close <= up)
        lx, sx = close >= mid, close <= mid
    else:
        buy = close > _prev(ri.rolling_max(c.high, p["period"]))
        sell = close < _prev(ri.rolling_min(c.low, p["period"]))
        lx, sx = none, none
    if p["allow_short"]:
        return rs.position_events(buy, sell, lx, sx, w)
    return rs.position_events(buy, none, lx | sell, none, w)


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("seed", [0, 1])
def test_strategies_match_their_reference(name, seed):
    c = _candles(3000, seed=seed)
    s = registry.get(name)
    for p in SWEEPS[name]:
        assert np.array_equal(s.signals(c, **p), _reference(name, c, s.validate(p)))


def _backtesting_crossover(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """backtesting.py's ``crossover`` on pandas rolling means, as its SmaCross example uses."""
    a = pd.Series(close).rolling(fast).mean().to_numpy()
    b = pd.Series(close).rolling(slow).mean().to_numpy()
    out = np.zeros(len(close), dtype=np.int8)
    for i in range(slow, len(close)):  # backtesting.py's first active bar: 1 + leading NaNs
        if a[i - 1] < b[i - 1] and a[i] > b[i]:
            out[i] = LONG
        elif b[i - 1] < a[i - 1] and b[i] > a[i]:
            out[i] = SHORT
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("fast", "slow"), [(10, 20), (3, 50), (1, 2)])
def test_sma_cross_equals_backtesting_crossover_on_random_walks(seed, fast, slow):
    c = _candles(20_000, seed=seed, vol=0.002)
    want = _backtesting_crossover(c.close, fast, slow)
    assert np.array_equal(registry.get("sma_cross").signals(c, fast=fast, slow=slow), want)


def test_sma_cross_equals_backtesting_py_on_goog():
    from backtesting import Backtest
    from backtesting import Strategy as BtStrategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG, SMA

    events = []

    class Recorder(BtStrategy):
        def init(self):
            self.a = self.I(SMA, self.data.Close, 10)
            self.b = self.I(SMA, self.data.Close, 20)

        def next(self):
            if crossover(self.a, self.b):
                events.append((len(self.data) - 1, LONG))
            elif crossover(self.b, self.a):
                events.append((len(self.data) - 1, SHORT))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its progress bar and deprecations
        Backtest(GOOG, Recorder).run()
    c = Candles.from_arrays(
        GOOG.index.values, GOOG.Open, GOOG.High, GOOG.Low, GOOG.Close, GOOG.Volume
    )
    sig = registry.get("sma_cross").signals(c, fast=10, slow=20)
    assert len(events) > 50
    assert [(int(i), int(sig[i])) for i in np.flatnonzero(sig)] == events


# --- no look-ahead ---------------------------------------------------------------------------


def _draw_params(data, strategy: Strategy) -> dict:
    out = {}
    for p in strategy.params:
        if p.type is int:
            out[p.name] = data.draw(st.integers(p.min, min(p.max, 40)), label=p.name)
        else:
            out[p.name] = data.draw(st.floats(p.min, p.max), label=p.name)
    try:
        return strategy.validate(out)
    except ValueError:
        assume(False)
        raise


@pytest.mark.parametrize("name", BUILTINS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changing_candles_after_t_never_changes_anything_up_to_t(name, data):
    s = registry.get(name)
    p = _draw_params(data, s)
    n = data.draw(st.integers(2, 300), label="n")
    t = data.draw(st.integers(0, n - 2), label="t")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    a = _candles(n, seed=seed)
    future = _candles(n, seed=seed + 1, vol=0.05)
    cols = {
        f: np.concatenate([getattr(a, f)[: t + 1], getattr(future, f)[t + 1 :]])
        for f in ("open", "high", "low", "close", "volume")
    }
    b = Candles.from_arrays(a.time, **cols)
    assert np.array_equal(s.signals(a, **p)[: t + 1], s.signals(b, **p)[: t + 1])
    for f, args in [
        (indicators.sma, (5,)),
        (indicators.ema, (5,)),
        (indicators.rsi, (5,)),
        (indicators.rolling_std, (5,)),
        (indicators.rolling_max, (5,)),
        (indicators.rolling_min, (5,)),
    ]:
        assert np.array_equal(
            f(a.close, *args)[: t + 1], f(b.close, *args)[: t + 1], equal_nan=True
        )
    for f, (x, y) in [
        (lambda c: indicators.atr(c.high, c.low, c.close, 5), (a, b)),
        (lambda c: indicators.bollinger(c.close, 5, 2.0).upper, (a, b)),
        (lambda c: indicators.macd(c.close, 3, 7, 4).signal, (a, b)),
        (lambda c: indicators.donchian(c.high, c.low, 5).middle, (a, b)),
    ]:
        assert np.array_equal(f(x)[: t + 1], f(y)[: t + 1], equal_nan=True)
