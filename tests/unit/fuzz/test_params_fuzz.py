"""Parameter and grid parsing on arbitrary input: a clean error with a message, or a right result.

``parse_grid`` (the CLI's ``-g`` and the web's sweep grids), ``Strategy.validate`` (the API's
JSON params), the CLI's ``-p name=value`` pairs and the web validation of whole requests.
Huge ranges must be refused before they are expanded: each call runs under a wall-clock alarm.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cli.options import parse_params
from engine import strategies
from engine.sweep import MAX_COMBINATIONS, parse_grid
from quantgrid.errors import InvalidInput
from quantgrid.jobs.spec import MAX_GRID_COMBINATIONS, backtest_spec, sweep_request

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = sorted(strategies.available())


@contextmanager
def _within(seconds: float):
    """Fail (instead of hanging) if the block takes longer than ``seconds``."""
    def _alarm(signum, frame):
        raise AssertionError(f"took longer than {seconds}s: a huge input was not refused early")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_NUMBER_TEXT = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e999999", "1e-999999", "9e999999999", "1E+30", "NaN", "inf",
                     "-Infinity", "sNaN", "0x10", "1_000", " 5 ", "", "1/2", "½", "٣"]),
    st.text(max_size=6),
)


@st.composite
def _axis(draw, names) -> str:
    name = draw(st.one_of(st.sampled_from(names), st.text(max_size=8)))
    kind = draw(st.sampled_from(["range", "list", "single", "junk"]))
    if kind == "range":
        body = ":".join(draw(st.lists(_NUMBER_TEXT, min_size=3, max_size=3)))
    elif kind == "list":
        body = ",".join(draw(st.lists(_NUMBER_TEXT, min_size=1, max_size=6)))
    elif kind == "single":
        body = draw(_NUMBER_TEXT)
    else:
        body = draw(st.text(max_size=20))
    return f"{name}{draw(st.sampled_from(['=', '=', ' = ', ':', '']))}{body}"


def _grid_outcome(specs, strategy_name, limit=MAX_COMBINATIONS):
    with _within(20):
        try:
            return parse_grid(specs, strategy_name, max_combinations=limit)
        except ValueError as err:
            assert str(err).strip()
            return err


@FUZZ
@given(data=st.data(), strategy_name=st.sampled_from([None, *NAMES]))
@example(data=None, strategy_name="sma_cross")
def test_grid_parsing_is_a_clean_error_or_a_valid_grid(data, strategy_name):
    if data is None:  # the explicit example: the classic huge ones
        specs = ["fast=1:1e999999:1e-999999", "slow=0:1e30:1"]
    else:
        names = [p.name for p in strategies.get(strategy_name).params] if strategy_name else ["a", "b"]
        specs = data.draw(st.lists(_axis(names), min_size=0, max_size=3))
    out = _grid_outcome(specs, strategy_name)
    if isinstance(out, ValueError):
        return
    assert 0 < len(out) <= MAX_COMBINATIONS
    for combo in out:
        assert all(isinstance(v, int | float) and math.isfinite(v) for v in combo.values())
        if strategy_name:
            # Every kept set is exactly what the strategy itself accepts.
            assert strategies.get(strategy_name).validate(combo) == combo


@pytest.mark.parametrize("specs", [
    ["fast=1:1e15:1"],
    ["fast=1:100000:1", "slow=1:100000:1"],
    ["fast=0:1:1e-12"],
    ["fast=1:2:1e-999999999"],
    ["fast=1e999999"],
    ["fast=1:9e999999999:1"],
    ["fast=" + ",".join(str(i) for i in range(1, 3000)), "slow=1:99999:1"],
])
def test_huge_grids_are_refused_before_they_are_expanded(specs):
    started = time.monotonic()
    out = _grid_outcome(specs, "sma_cross")
    assert isinstance(out, ValueError), "a grid beyond the limits was accepted"
    assert time.monotonic() - started < 5, "the grid was expanded before it was refused"


def test_the_web_limit_is_lower_and_refuses_without_expanding():
    out = _grid_outcome(["fast=1:600:1", "slow=1:600:1"], "sma_cross", MAX_GRID_COMBINATIONS)
    assert isinstance(out, ValueError) and "360,000 combinations" in str(out)


@st.composite
def _json_value(draw):
    return draw(st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-(10**40), 10**40),
                  st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10)),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(st.text(max_size=5), inner, max_size=3)),
        max_leaves=6,
    ))


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_strategy_validate_is_a_clean_error_or_params_in_bounds(name, data):
    strategy = strategies.get(name)
    keys = st.one_of(st.sampled_from([p.name for p in strategy.params]), st.text(max_size=8))
    params = data.draw(st.dictionaries(keys, _json_value(), max_size=4))
    try:
        out = strategy.validate(params)
    except ValueError as err:
        assert str(err).strip()
        return
    assert list(out) == [p.name for p in strategy.params]
    for p in strategy.params:
        assert type(out[p.name]) is p.type and p.min <= out[p.name] <= p.max


@FUZZ
@given(pairs=st.lists(st.text(max_size=15), max_size=4))
@example(pairs=["fast=10", "fast = 12 "])
@example(pairs=["=5"])
def test_cli_param_pairs_are_a_clean_error_or_name_value_strings(pairs):
    try:
        out = parse_params(tuple(pairs))
    except InvalidInput as err:
        assert "name=value" in str(err)
        return
    for name, value in out.items():
        assert name and name == name.strip() and value and value == value.strip()


class _Inventory:
    """What request validation asks of the candle store's inventory: the series it holds."""

    class _Info:
        symbol, timeframe, first, last = "DEMO", "1m", 1_704_067_200 * 10**9, 1_706_745_600 * 10**9

    def series(self):
        return [self._Info()]

    def invalidate(self):
        return None


_REQUEST_KEYS = ["strategy", "symbol", "timeframe", "start", "end", "params", "settings", "grid",
                 "metric"]


@FUZZ
@given(body=st.one_of(_json_value(), st.dictionaries(st.sampled_from(_REQUEST_KEYS), _json_value())),
       base=st.booleans())
def test_api_request_validation_is_a_clean_error_or_a_checked_spec(body, base):
    if base and isinstance(body, dict):
        body = {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
                "start": "2024-01-02", "end": "2024-01-20", **body}
    for check in (backtest_spec, sweep_request):
        with _within(20):
            try:
                out = check(body, _Inventory())
            except InvalidInput as err:
                assert err.message.strip()
                continue
        spec = out if check is backtest_spec else out.spec
        assert spec.symbol == "DEMO" and spec.start < spec.end
        if check is backtest_spec:
            assert strategies.get(spec.strategy).validate(spec.params) == spec.params
        else:
            assert 0 < len(out.combinations) <= MAX_GRID_COMBINATIONS
