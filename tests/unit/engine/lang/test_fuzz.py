"""The parser and checker, fuzzed: random text, mutated programs and token soup give a Strategy
or a clean StrategySourceError, never another exception, a hang or runaway memory; hostile
programs (deep nesting, huge lookbacks and numbers, huge sources) cost no more than normal."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.lang import EXAMPLES, StrategySourceError, compile_strategy, example
from tests.unit.engine.sim_data import random_walk

CANDLES = random_walk(120, 3, vol=0.03)
TOKENS = [
    "close", "open", "high", "low", "volume", "n", "x", "long_entry", "short_entry", "long_exit",
    "stop_loss", "warmup", "reenter", "param", "require", "int", "float", "sma", "rsi", "atr",
    "crossover", "macd_hist", "bb_upper", "min", "max", "abs", "roc", "True", "False", "and",
    "or", "not", "(", ")", "[", "]", ",", "=", "==", "<", ">", "<=", "+", "-", "*", "/", "**",
    "0", "1", "3", "-1", "2.5", "1e308", "10**9", "99999999999", "\n", " ", "#", "'t'", ":",
    "lambda", "import", ".", "@", "if", "else",
]
SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _compile_cleanly(source: str) -> None:
    """A Strategy that runs, or a StrategySourceError: nothing else, quickly, in little memory."""
    tracemalloc.start()
    started = time.process_time()
    try:
        strategy = compile_strategy(source)
    except StrategySourceError as err:
        assert err.problems and all(p.line >= 1 and p.column >= 1 for p in err.problems)
        assert all("\n" not in p.message for p in err.problems)
    else:
        sig = strategy.signals(CANDLES)
        assert sig.dtype == np.int8 and len(sig) == len(CANDLES)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.process_time() - started < 2.0
    assert peak < 64 * 2**20


@SETTINGS
@given(st.text(max_size=400))
def test_random_text(source):
    _compile_cleanly(source)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_token_soup(source):
    _compile_cleanly(source)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(EXAMPLES))
def test_mutated_programs(data, name):
    source = example(name)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(source)), label="at")
        j = data.draw(st.integers(i, min(len(source), i + 12)), label="to")
        edit = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        token = data.draw(st.sampled_from(TOKENS), label="token")
        source = {
            "delete": source[:i] + source[j:],
            "insert": source[:i] + token + source[i:],
            "replace": source[:i] + token + source[j:],
            "duplicate": source[:j] + source[i:j] + source[j:],
        }[edit]
    _compile_cleanly(source)


RULE = "long_entry = "
HOSTILE = {
    "parentheses": RULE + "(" * 500 + "close" + ")" * 500 + " > 1",
    "unary minus": RULE + "-" * 19_000 + "close > 1",
    "not": RULE + "not " * 4_900 + "close > 1",
    "lookback chain": RULE + "close" + "[1]" * 6_000 + " > 1",
    "long sum": RULE + " + ".join(["close"] * 2_400) + " > 1",
    "nested calls": RULE + "sma(" * 3_000 + "close" + ", 2)" * 3_000 + " > 1",
    "nested bollinger": RULE + "bb_upper(" * 60 + "close" + ", 2, 2)" * 60 + " > 1",
    "doubling names": "a0 = close\n" + "".join(f"a{i} = a{i - 1} + a{i - 1}\n"
                                              for i in range(1, 90)) + "long_entry = a89 > 1",
    "huge lookback": RULE + "close[10**12] > 1",
    "huge literal lookback": RULE + "close[99999999999999999999999999] > 1",
    "huge window": RULE + "sma(close, 123456789012345678901234567890) > 1",
    "huge product window": "n = param(int, 9, min=1, max=999999999999999)\n"
                           + RULE + "sma(close, " + " * ".join(["n"] * 300) + ") > 1",
    "huge number": RULE + "close > " + "9" * 4_400,
    "overflowing number": RULE + "close > 1e308 * 1e308 * 1e308",
    "largest source": "# " + "x" * 19_990 + "\n" + RULE + "close > 1",
    "too large a source": RULE + "close > 1 " + "#" * 30_000,
    "many statements": "".join(f"v{i} = close\n" for i in range(1_500)) + RULE + "v1 > 1",
    "many errors": "".join(f"v{i} = nope{i}\n" for i in range(1_500)),
    "NUL": RULE + "close > 1\x00",
    "lone surrogate": RULE + "close > \ud800",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_programs_cost_no_more_than_normal_ones(name):
    _compile_cleanly(HOSTILE[name])


def test_doubling_names_run_in_linear_time():
    """Equal subexpressions are one node: 2**89 additions written as 89 names cost 89."""
    strategy = compile_strategy(HOSTILE["doubling names"])
    sig = strategy.signals(CANDLES)  # a89 > 1 on every bar: one LONG on the first
    assert sig[0] == 1 and not sig[1:].any()
    assert strategy.series(CANDLES)["a89"][0] == CANDLES.close[0] * 2.0**89
