"""Every kind of mistake is one message with the line and column where it is."""

from __future__ import annotations

import pytest

from engine.lang import LIMITS, StrategySourceError, compile_strategy

OK = "long_entry = close > open\n"
N = "n = param(int, 5, min=1, max=50)\n"


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        # syntax and constructs the language does not have
        ("long_entry = (close > 1", 1, 14, "'(' was never closed"),
        ("import os\n" + OK, 1, 1, "import is not part of the strategy language"),
        ("def f():\n    pass\n" + OK, 1, 1, "def is not part of"),
        ("x = 1\nx += 1\n" + OK, 2, 1, "augmented assignment"),
        ("a = b = close\n" + OK, 1, 1, "assign one name at a time"),
        ("close > 1\n" + OK, 1, 1, "computed but never used"),
        (OK + "'text'\n", 2, 1, "only allowed on the first line"),
        ("long_entry = close.real > 1", 1, 14, "an attribute (a.b) is not part"),
        ("long_entry = close ** 2 > 1", 1, 14, "the operator ** is not supported"),
        ("long_entry = (close > 1) & (open > 1)", 1, 14, "use and to combine"),
        ("long_entry = close in open", 1, 14, "the operator in is not supported"),
        ("long_entry = close[1:3] > 1", 1, 20, "slices"),
        ("long_entry = [close][0] > 1", 1, 14, "a list is not part"),
        ("long_entry = (lambda: 1)() > 1", 1, 15, "only the language's functions can be called"),
        ("long_entry = 1e999 < close", 1, 14, "too large"),
        ("long_entry = 1j < close", 1, 14, "complex values"),
        ("long_entry = sma(*[close], 3) > 1", 1, 14, "* and ** arguments"),
        # names
        ("long_entry = clsoe > 1", 1, 14, "unknown name 'clsoe'; did you mean 'close'?"),
        ("long_entry = x > 1\nx = close", 1, 14, "'x' is used before it is assigned on line 2"),
        ("x = close\nx = open\n" + OK, 2, 1, "'x' is already assigned on line 1"),
        ("close = open\n" + OK, 1, 1, "'close' is a candle series and cannot be assigned"),
        ("sma = open\n" + OK, 1, 1, "'sma' is a function and cannot be assigned"),
        ("x = long_entry\n" + OK, 1, 5, "long_entry is a rule or setting and cannot be read"),
        ("long_entry = sma > 1", 1, 14, "'sma' is a function: call it, e.g. sma(x, n)"),
        # functions: unknown, arity, argument types
        ("long_entry = smaa(close, 3) > 1", 1, 14, "unknown function 'smaa'; did you mean sma?"),
        ("long_entry = sma(close) > 1", 1, 14, "sma takes 2 arguments (sma(x, n)), got 1"),
        ("long_entry = max(close) > 1", 1, 14, "max takes at least 2 arguments"),
        ("long_entry = sma(close, n=3) > 1", 1, 27, "takes its arguments in order"),
        ("long_entry = sma(close > 1, 3) > 1", 1, 18, "the argument x of sma must be a number, "
         "got a condition"),
        ("long_entry = close + (open > 1) > 1", 1, 23, "the right side of + must be a number"),
        ("long_entry = close and open", 1, 14, "each side of and must be a condition, got a "
         "number"),
        ("long_entry = not close", 1, 18, "the operand of not must be a condition"),
        ("long_entry = close + 1", 1, 14, "the rule long_entry must be a condition, got a number"),
        ("long_entry = 'a' < close", 1, 14, "a text is only allowed"),
        # windows and lookbacks
        ("long_entry = sma(close, 0) > 1", 1, 25, "the window n of sma is 0 bars; it must be at least "
         "1; a window has at least 1 bar"),
        ("long_entry = sma(close, 2.5) > 1", 1, 25, "the window n of sma must be a whole number"),
        ("long_entry = sma(close, close) > 1", 1, 25, "must be a whole number of bars"),
        ("long_entry = close[-1] > 1", 1, 20, "the lookback k in x[k] is -1 bars; it must be at "
         "least 0; a lookback cannot read future bars"),
        ("long_entry = close[1.5] > 1", 1, 20, "the lookback k in x[k] must be a whole number"),
        ("k = param(int, 1, min=-2, max=5)\nlong_entry = close[k] > 1", 2, 20,
         "can be -2 bars for some parameter values; it must be at least 0"),
        ("k = param(float, 1, min=1, max=5)\nlong_entry = sma(close, k) > 1", 2, 25,
         "must be a whole number of bars"),
        ("long_entry = close[100001] > 1", 1, 20, "is 100001 bars; it must be at most 100,000"),
        (N + "long_entry = close[n * 10000] > 1", 2, 20, "can be 500000 bars"),
        (N + "long_entry = n[1] > 1", 2, 14, "x[k] looks back on a series"),
        ("n = param(int, 5, min=1, max=60000)\nlong_entry = sma(sma(close, n), n) > 1", 2, 14,
         "long_entry reads up to 119,998 bars back with the parameters at their maximums"),
        # parameters
        ("n = param(int, 50, min=1, max=10)\n" + OK, 1, 5, "the default 50 of 'n' is outside "
         "min 1 .. max 10"),
        ("n = param(int, 5.5, min=1, max=10)\n" + OK, 1, 16, "the default of an int parameter "
         "must be a whole number like 10"),
        ("n = param(str, 5, min=1, max=10)\n" + OK, 1, 11, "a parameter's type is int or float"),
        ("n = param(int, 5)\n" + OK, 1, 5, "param needs min, max"),
        ("n = param(int, 5, min=1, max=9, step=2)\n" + OK, 1, 38, "param has no argument 'step'"),
        ("n = param(int, 5, min=1, max=9, description=3)\n" + OK, 1, 45, "a text in quotes"),
        ("n = param(int, 5, min=1, max=10**20)\n" + OK, 1, 30, "the operator ** is not supported"),
        ("n = param(int, 5, min=1, max=10000000000000000)\n" + OK, 1, 30, "too large"),
        ("long_entry = param(int, 5, min=1, max=9)", 1, 1, "long_entry is a rule or setting, not "
         "a parameter"),
        ("long_entry = close > param(int, 5, min=1, max=9)", 1, 22, "param(...) is a statement"),
        (N + "require(n < 3)\n" + OK, 2, 9, "require takes one comparison of two parameters"),
        # settings
        ("stop_loss = 1.5\n" + OK, 1, 13, "stop_loss is 1.5; it must be below 1.0"),
        ("stop_loss = -0.1\n" + OK, 1, 13, "stop_loss is -0.1; it must be at least 0"),
        ("s = param(float, 0.1, min=0, max=2)\ntrailing_stop = s\n" + OK, 2, 17,
         "trailing_stop can be 2.0 for some parameter values; it must be below 1.0"),
        ("take_profit = close\n" + OK, 1, 15, "take_profit must be a number fixed for the run"),
        ("d = param(float, 1, min=-1, max=1)\ntake_profit = 0.1 / d\n" + OK, 2, 15,
         "the divisor can be 0"),
        ("warmup = -1\n" + OK, 1, 10, "warmup is -1 bars; it must be at least 0"),
        ("reenter = 1\n" + OK, 1, 11, "reenter must be True or False"),
        # the program as a whole
        ("x = close", 1, 1, "the program has no entry rule; assign long_entry or short_entry"),
        (OK + "short_exit = close > 1", 2, 14, "short_exit has no short_entry to close"),
        ("x = 1\n" * 4000, 1, 1, f"more than the {LIMITS['source_chars']:,} allowed"),
        ("long_entry = " + "-" * 200 + "close > 1", 1, 113, "nested more than 100 levels"),
        ("long_entry = " + " + ".join(["close"] * 2100) + " > 1", 1, 14, "nested"),
        ("".join(f"x{i} = close + close + close + close\n" for i in range(450)) + OK, 286, 24,
         "more than 2,000 names, numbers and operations"),
        ("a = close\n" + "".join(f"a{i} = {'a' if i == 0 else f'a{i - 1}'} + 1\n"
                                 for i in range(120)) + "long_entry = a119 > 1", 101, 1,
         "this expression is 101 levels deep counting the named series it uses"),
        # positions count characters, not bytes
        ("x = 'é'\nlong_entry = ééé > 1", 2, 14, "unknown name 'ééé'"),
    ],
)
def test_each_mistake_is_one_message_with_its_position(source, line, column, message):
    with pytest.raises(StrategySourceError) as info:
        compile_strategy(source)
    problems = info.value.problems
    hits = [p for p in problems if message in p.message]
    assert hits, [str(p) for p in problems]
    assert (hits[0].line, hits[0].column) == (line, column), [str(p) for p in problems]
    assert "\n" not in hits[0].message
    assert str(info.value).startswith("line ")


def test_every_mistake_is_reported_once_and_in_order():
    source = "a = clsoe\nb = sma(close)\nlong_entry = a > b and c\n"
    with pytest.raises(StrategySourceError) as info:
        compile_strategy(source)
    # the mistakes in a and b are not reported again where a and b are used
    assert [(p.line, p.column) for p in info.value.problems] == [(1, 5), (2, 5), (3, 24)]
    assert [p.to_dict()["line"] for p in info.value.problems] == [1, 2, 3]


def test_source_errors_are_value_errors():
    assert issubclass(StrategySourceError, ValueError)
    with pytest.raises(TypeError, match="must be text"):
        compile_strategy(b"long_entry = close > 1")
    with pytest.raises(ValueError, match="non-empty name"):
        compile_strategy(OK, name=" ")
