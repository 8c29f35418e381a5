"""Check a parsed program (names, types, arguments, windows, lookbacks, parameters, settings)
and expand it into the graph of primitive operations that ``evaluate`` runs.

Types: every expression is a *number* or a *condition*, and either a *series* (it depends on the
candles) or fixed for the run (numbers and parameters). Windows and lookbacks are whole numbers
of bars fixed for the run, checked over the parameters' whole range, so no parameter set can
look ahead or past the lookback limit.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

from engine.lang import scalars
from engine.lang import tree as t
from engine.lang.errors import Problem, StrategySourceError
from engine.lang.functions import CONDITION, FUNCTIONS, NUMBER, WINDOW
from engine.lang.parse import MAX_DEPTH
from engine.lang.warmup import lookback
from engine.strategies.base import Param

RULES = ("long_entry", "long_exit", "short_entry", "short_exit")
#: Stop settings: the largest value allowed (exclusive) and how to write one. 0 turns one off.
STOPS = {
    "stop_loss": (1.0, "a fraction of the entry price below 1, e.g. 0.05 for 5 %"),
    "trailing_stop": (1.0, "a fraction of the best price below 1, e.g. 0.03 for 3 %"),
    "take_profit": (math.inf, "a fraction of the entry price, e.g. 0.1 for 10 %"),
}
SETTINGS = ("warmup", "reenter")
MAX_LOOKBACK = 100_000
MAX_PARAM_MAGNITUDE = 10**15
_PARAM_ARGS = ("type", "default", "min", "max", "description")
_UNKNOWN = "unknown"  # the type of an expression with a mistake: no further messages about it


@dataclass(frozen=True)
class Program:
    """A checked program, expanded into shared primitive nodes."""

    description: str
    params: tuple[Param, ...]
    constraints: tuple[tuple[str, str], ...]
    rules: dict[str, t.Node]  # the rules present, conditions
    named: dict[str, tuple[t.Node, str]]  # the named series: node and type (NUMBER, CONDITION)
    stops: dict[str, t.Node]  # the stops declared, fixed numbers
    warmup: t.Node | None  # the declared minimum warm-up, if any
    reenter: bool
    #: The parameters each node depends on (the cache key of a computation is the node and
    #: these parameters' values, so a sweep shares what does not change between sets).
    deps: dict[t.Node, tuple[str, ...]] = field(repr=False)


@dataclass(frozen=True)
class _Info:
    type: str  # NUMBER, CONDITION or _UNKNOWN
    series: bool  # depends on the candles


def check(source: t.Source) -> Program:
    """Check ``source``; raise StrategySourceError listing every mistake found."""
    return _Checker(source).program()


def _is(value: float, varies: bool, unit: str) -> str:
    return f"can be {value}{unit} for some parameter values" if varies else f"is {value}{unit}"


def _type_name(kind: str) -> str:
    return {NUMBER: "a number", CONDITION: "a condition"}.get(kind, kind)


class _Checker:
    def __init__(self, source: t.Source):
        self.source = source
        self.problems: list[Problem] = []
        self.params: dict[str, Param] = {}
        self.constraints: list[tuple[str, str]] = []
        self.names: dict[str, _Info] = {}  # named series defined so far
        self.assigned: dict[str, int] = {}  # every name assigned so far -> its line
        self.lines = {}  # every name assigned anywhere -> its first line
        for stmt in source.statements:
            if isinstance(stmt, t.Assign):
                self.lines.setdefault(stmt.target, stmt.line)

    def problem(self, node: t.Node, message: str) -> None:
        self.problems.append(Problem(node.line, node.column, message))

    # --- statements ---------------------------------------------------------------------------

    def program(self) -> Program:
        rules, stops, warmup, reenter = {}, {}, None, None
        for stmt in self.source.statements:
            if isinstance(stmt, t.Require):
                self.require(stmt)
                continue
            name, value = stmt.target, stmt.value
            if name in self.assigned:
                self.problem(stmt, f"{name!r} is already assigned on line {self.assigned[name]}; "
                             "assign each name once")
                continue
            self.assigned[name] = stmt.line
            if isinstance(value, t.Call) and value.function == "param":
                self.declare(stmt)
            elif name in RULES:
                self.expect(value, CONDITION, f"the rule {name}")
                rules[name] = value
            elif name in STOPS:
                if self.fixed(value, name, integer=False, low=0, high=STOPS[name][0],
                              hint=STOPS[name][1]):
                    stops[name] = value
            elif name == "warmup":
                if self.fixed(value, "warmup", integer=True, low=0):
                    warmup = value
            elif name == "reenter":
                if isinstance(value, t.Boolean):
                    reenter = value.value
                else:
                    self.problem(value, "reenter must be True or False")
            elif self.reserved(stmt):
                continue
            else:
                self.names[name] = self.expr(value)
        if not ({"long_entry", "short_entry"} & set(rules)) and not self.problems:
            self.problems.append(Problem(1, 1, (
                "the program has no entry rule; assign long_entry or short_entry, e.g. "
                "long_entry = crossover(sma(close, 10), sma(close, 20))")))
        for side in ("long", "short"):
            if f"{side}_exit" in rules and f"{side}_entry" not in rules:
                self.problem(rules[f"{side}_exit"], f"{side}_exit has no {side}_entry to close; "
                             f"add {side}_entry or remove {side}_exit")
        if self.problems:
            raise StrategySourceError(self.problems)
        return self.expand(rules, stops, warmup, bool(reenter))

    def reserved(self, stmt: t.Assign) -> bool:
        name = stmt.target
        what = ("a candle series" if name in t.FIELDS else "a function" if name in FUNCTIONS
                else "a word of the language" if name in ("param", "require", "int", "float")
                else None)
        if what:
            self.problem(stmt, f"{name!r} is {what} and cannot be assigned; choose another name")
        return what is not None

    def declare(self, stmt: t.Assign) -> None:
        name, call = stmt.target, stmt.value
        if name in RULES or name in STOPS or name in SETTINGS or self.reserved(stmt):
            if name in RULES or name in STOPS or name in SETTINGS:
                self.problem(stmt, f"{name} is a rule or setting, not a parameter; declare a "
                             f"parameter under another name and use it: {name} = ...")
            return
        args = dict(zip(_PARAM_ARGS, call.args, strict=False))
        if len(call.args) > len(_PARAM_ARGS):
            self.problem(call.args[len(_PARAM_ARGS)], "param takes at most 5 arguments: "
                         "param(type, default, min, max, description)")
            return
        for key, node in call.keywords:
            if key not in _PARAM_ARGS[1:] or key in args:
                self.problem(node, f"param has no argument {key!r} here; write "
                             "param(int, 10, min=1, max=100, description=\"...\")")
                return
            args[key] = node
        missing = [k for k in _PARAM_ARGS[:4] if k not in args]
        if missing:
            self.problem(call, f"param needs {', '.join(missing)}: e.g. "
                         "param(int, 14, min=2, max=200, description=\"RSI period\")")
            return
        kind = args["type"]
        if not (isinstance(kind, t.Name) and kind.id in ("int", "float")):
            self.problem(kind, "a parameter's type is int or float")
            return
        numbers = {k: self.literal(args[k], kind.id, k) for k in ("default", "min", "max")}
        text = args.get("description")
        if text is not None and not isinstance(text, t.Text):
            self.problem(text, "a parameter's description is a text in quotes")
            return
        if None in numbers.values():
            return
        lo, default, hi = numbers["min"], numbers["default"], numbers["max"]
        if not lo <= default <= hi:
            self.problem(call, f"the default {default} of {name!r} is outside min {lo} .. "
                         f"max {hi}; give min <= default <= max")
            return
        self.params[name] = Param(name, int if kind.id == "int" else float, default, lo, hi,
                                  text.value if text else "")

    def literal(self, node: t.Node, kind: str, what: str) -> int | float | None:
        sign = 1
        if isinstance(node, t.Unary) and node.op == "-":
            sign, node = -1, node.operand
        ok = isinstance(node, t.Number) and (kind == "float" or isinstance(node.value, int))
        if not ok:
            example = "a whole number like 10" if kind == "int" else "a number like 2.5"
            self.problem(node, f"the {what} of an {kind} parameter must be {example}")
            return None
        if abs(node.value) > MAX_PARAM_MAGNITUDE:
            self.problem(node, f"the {what} {node.value} is too large; keep parameters within "
                         f"±{MAX_PARAM_MAGNITUDE:.0e}")
            return None
        return sign * (node.value if kind == "int" else float(node.value))

    def require(self, stmt: t.Require) -> None:
        cond = stmt.condition
        ok = (isinstance(cond, t.Compare) and cond.op in ("<", ">")
              and all(isinstance(s, t.Name) and s.id in self.params
                      for s in (cond.left, cond.right)))
        if not ok:
            self.problem(cond, "require takes one comparison of two parameters declared "
                         "above it, with < or >, e.g. require(fast < slow)")
            return
        a, b = cond.left.id, cond.right.id
        self.constraints.append((a, b) if cond.op == "<" else (b, a))

    # --- expressions --------------------------------------------------------------------------

    def expect(self, node: t.Node, kind: str, what: str) -> _Info:
        info = self.expr(node)
        if info.type not in (kind, _UNKNOWN):
            hint = (" (compare it, e.g. close > sma(close, 20))" if kind == CONDITION
                    else " (a number is needed, not a true/false value)")
            self.problem(node, f"{what} must be {_type_name(kind)}, got "
                         f"{_type_name(info.type)}{hint}")
            return _Info(_UNKNOWN, info.series)
        return info

    def expr(self, node: t.Node) -> _Info:
        if isinstance(node, t.Number):
            return _Info(NUMBER, False)
        if isinstance(node, t.Boolean):
            return _Info(CONDITION, False)
        if isinstance(node, t.Text):
            self.problem(node, "a text is only allowed as a parameter's description or the "
                         "first line")
            return _Info(_UNKNOWN, False)
        if isinstance(node, t.Name):
            return self.name(node)
        if isinstance(node, t.Unary):
            kind = NUMBER if node.op == "-" else CONDITION
            info = self.expect(node.operand, kind, f"the operand of {node.op}")
            return _Info(kind if info.type != _UNKNOWN else _UNKNOWN, info.series)
        if isinstance(node, t.Binary | t.Compare):
            a = self.expect(node.left, NUMBER, f"the left side of {node.op}")
            b = self.expect(node.right, NUMBER, f"the right side of {node.op}")
            kind = NUMBER if isinstance(node, t.Binary) else CONDITION
            bad = _UNKNOWN in (a.type, b.type)
            return _Info(_UNKNOWN if bad else kind, a.series or b.series)
        if isinstance(node, t.Logic):
            infos = [self.expect(v, CONDITION, f"each side of {node.op}") for v in node.operands]
            bad = any(i.type == _UNKNOWN for i in infos)
            return _Info(_UNKNOWN if bad else CONDITION, any(i.series for i in infos))
        if isinstance(node, t.Lookback):
            return self.lookback(node)
        assert isinstance(node, t.Call), node
        return self.call(node)

    def name(self, node: t.Name) -> _Info:
        n = node.id
        if n in t.FIELDS:
            return _Info(NUMBER, True)
        if n in self.params:
            return _Info(NUMBER, False)
        if n in self.names:
            return self.names[n]
        if n in FUNCTIONS:
            msg = f"{n!r} is a function: call it, e.g. {FUNCTIONS[n].signature}"
        elif n in RULES or n in STOPS or n in SETTINGS:
            msg = (f"{n} is a rule or setting and cannot be read; name the expression "
                   f"(e.g. signal = ...), then assign {n} = signal and use signal")
        elif n in self.assigned:  # assigned above, but with a mistake: already reported
            return _Info(_UNKNOWN, True)
        elif n in self.lines:
            msg = f"{n!r} is used before it is assigned on line {self.lines[n]}; move it up"
        else:
            known = [*t.FIELDS, *self.params, *self.names]
            close = difflib.get_close_matches(n, known + list(FUNCTIONS), 1)
            msg = f"unknown name {n!r}" + (f"; did you mean {close[0]!r}?" if close else (
                "; names are the candle series (open high low close volume), parameters and "
                "names assigned above"))
        self.problem(node, msg)
        return _Info(_UNKNOWN, True)

    def lookback(self, node: t.Lookback) -> _Info:
        info = self.expr(node.series)
        if info.type != _UNKNOWN and not info.series:
            self.problem(node, "x[k] looks back on a series; this value is the same on every "
                         "bar (it depends on no candles)")
            info = _Info(_UNKNOWN, True)
        self.fixed(node.bars, "the lookback k in x[k]", integer=True, low=0)
        return info

    def call(self, node: t.Call) -> _Info:
        name = node.function
        if name in ("param", "require"):
            self.problem(node, f"{name}(...) is a statement of its own: "
                         + ("name = param(int, 10, min=1, max=100)" if name == "param"
                            else "require(fast < slow) on its own line"))
            return _Info(_UNKNOWN, True)
        f = FUNCTIONS.get(name)
        if f is None:
            close = difflib.get_close_matches(name, list(FUNCTIONS), 1)
            hint = f"; did you mean {close[0]}?" if close else (
                f"; the functions are {', '.join(FUNCTIONS)}")
            self.problem(node, f"unknown function {name!r}{hint}")
            return _Info(_UNKNOWN, True)
        if node.keywords:
            self.problem(node.keywords[0][1], f"{name} takes its arguments in order, without "
                         f"names: {f.signature}")
            return _Info(_UNKNOWN, True)
        count = len(node.args)
        if (count < len(f.args)) if f.variadic else (count != len(f.args)):
            expected = f"at least {len(f.args)}" if f.variadic else str(len(f.args))
            self.problem(node, f"{name} takes {expected} argument{'s' * (expected != '1')} "
                         f"({f.signature}), got {count}")
            return _Info(_UNKNOWN, True)
        kinds = f.kinds if not f.variadic else (f.kinds[0],) * count
        names = f.args if not f.variadic else (f.args[0],) * count
        series, bad = f.kernel is not None or f.expand is not None, False
        for arg, kind, arg_name in zip(node.args, kinds, names, strict=True):
            what = f"the argument {arg_name} of {name}"
            if kind == WINDOW:
                bad |= not self.fixed(arg, f"the window {arg_name} of {name}", integer=True,
                                      low=1)
                continue
            info = self.expect(arg, NUMBER, what)
            bad |= info.type == _UNKNOWN
            series |= info.series
        return _Info(_UNKNOWN if bad else f.result, series)

    def fixed(self, node: t.Node, what: str, *, integer: bool, low: float,
              high: float = math.inf, hint: str = "") -> bool:
        """Check a value fixed for the run (a window, lookback, stop or warm-up) over the
        parameters' whole range; report and return False if it is not allowed."""
        shape = self.fixed_shape(node, integer)
        if shape:
            example = ("a whole number of bars: an integer or an int parameter, or + - * of "
                       "them (e.g. 14 or period)") if integer else (
                "a number fixed for the run: numbers and parameters with + - * /")
            self.problem(shape, f"{what} must be {example}{hint and '; ' + hint}")
            return False
        try:
            lo, hi = scalars.interval(node, self.params)
        except scalars.MayDivideByZero as err:
            self.problem(node, f"{what}: {err}; keep the divisor away from 0")
            return False
        unit = " bars" if integer else ""
        varies = lo != hi  # depends on parameters: say which end is wrong and what to change
        if lo < low:
            why = ("; a lookback cannot read future bars" if "lookback" in what
                   else "; a window has at least 1 bar" if "window" in what else "")
            self.problem(node, f"{what} {_is(lo, varies, unit)}; it must be at least {low}{why}"
                         f"{' (raise the parameters’ min)' if varies else ''}")
            return False
        limit = MAX_LOOKBACK if integer else high
        if hi > limit or (not integer and hi >= high):
            self.problem(node, f"{what} {_is(hi, varies, unit)}; it must be "
                         f"{'at most' if integer else 'below'} {limit:,}"
                         f"{hint and ' (' + hint + ')'}"
                         f"{' (lower the parameters’ max)' if varies else ''}")
            return False
        return True

    def fixed_shape(self, node: t.Node, integer: bool) -> t.Node | None:
        """The first part of ``node`` not allowed in a fixed value, or None."""
        if isinstance(node, t.Number):
            return None if not integer or isinstance(node.value, int) else node
        if isinstance(node, t.Name):
            p = self.params.get(node.id)
            return None if p is not None and (not integer or p.type is int) else node
        if isinstance(node, t.Unary) and node.op == "-":
            return self.fixed_shape(node.operand, integer)
        if isinstance(node, t.Binary) and not (integer and node.op == "/"):
            return self.fixed_shape(node.left, integer) or self.fixed_shape(node.right, integer)
        return node

    # --- expansion ----------------------------------------------------------------------------

    def expand(self, rules, stops, warmup, reenter) -> Program:
        expander = _Expander(self.params)
        for stmt in self.source.statements:
            if isinstance(stmt, t.Assign) and stmt.target in self.names:
                expander.names[stmt.target] = expander.statement(stmt.value, stmt)
        program = Program(
            description=self.source.description,
            params=tuple(self.params.values()),
            constraints=tuple(self.constraints),
            rules={k: expander.statement(v, v) for k, v in rules.items()},
            named={k: (v, self.names[k].type) for k, v in expander.names.items()},
            stops={k: expander.statement(v, v) for k, v in stops.items()},
            warmup=None if warmup is None else expander.statement(warmup, warmup),
            reenter=reenter,
            deps={node: tuple(sorted(d)) for node, (_, d) in expander.meta.items()},
        )
        problems = expander.problems
        memo: dict[t.Node, int] = {}
        at_max = lambda n: scalars.interval(n, self.params)[1]  # noqa: E731
        for name, node in program.rules.items():
            longest = lookback(node, at_max, memo)
            if longest > MAX_LOOKBACK:
                problems.append(Problem(rules[name].line, rules[name].column, (
                    f"{name} reads up to {longest:,} bars back with the parameters at their "
                    f"maximums; the limit is {MAX_LOOKBACK:,}: use shorter windows or lower "
                    "the parameters' max")))
        if problems:
            raise StrategySourceError(problems)
        return program


class _Expander:
    """Rebuild checked expressions from primitives only, one node per distinct expression."""

    def __init__(self, params: dict[str, Param]):
        self.params = params
        self.names: dict[str, t.Node] = {}
        self.interned: dict[tuple, t.Node] = {}
        self.meta: dict[t.Node, tuple[int, frozenset[str]]] = {}  # depth, parameters
        self.done: dict[t.Node, t.Node] = {}  # source node -> expanded node
        self.problems: list[Problem] = []

    def statement(self, node: t.Node, where: t.Node) -> t.Node:
        out = self.node(node)
        depth = self.meta[out][0]
        if depth > MAX_DEPTH:
            self.problems.append(Problem(where.line, where.column, (
                f"this expression is {depth} levels deep counting the named series it uses; "
                f"the limit is {MAX_DEPTH}: simplify it")))
        return out

    def node(self, node: t.Node) -> t.Node:
        if node in self.done:
            return self.done[node]
        out = self.build(node)
        self.done[node] = out
        return out

    def build(self, node: t.Node) -> t.Node:
        if isinstance(node, t.Name) and node.id in self.names:
            return self.names[node.id]
        if isinstance(node, t.Call) and FUNCTIONS[node.function].expand is not None:
            return self.node(FUNCTIONS[node.function].expand(node, *node.args))
        if isinstance(node, t.Number):
            key: tuple = ("number", type(node.value), node.value)
        elif isinstance(node, t.Boolean):
            key = ("boolean", node.value)
        elif isinstance(node, t.Name):
            key = ("name", node.id)
        else:
            kids = tuple(self.node(c) for c in t.children(node))
            key = (type(node), getattr(node, "op", None), getattr(node, "function", None), kids)
            if key not in self.interned:
                node = _rebuild(node, kids)
        if key not in self.interned:
            kids = t.children(node)
            depth = 1 + max((self.meta[c][0] for c in kids), default=0)
            deps = frozenset().union(*(self.meta[c][1] for c in kids))
            if isinstance(node, t.Name) and node.id in self.params:
                deps = frozenset((node.id,))
            self.interned[key] = node
            self.meta[node] = (depth, deps)
        return self.interned[key]


def _rebuild(node: t.Node, kids: tuple[t.Node, ...]) -> t.Node:
    at = (node.line, node.column)
    if isinstance(node, t.Unary):
        return t.Unary(*at, node.op, kids[0])
    if isinstance(node, t.Binary | t.Compare):
        return type(node)(*at, node.op, kids[0], kids[1])
    if isinstance(node, t.Logic):
        return t.Logic(*at, node.op, kids)
    if isinstance(node, t.Lookback):
        return t.Lookback(*at, kids[0], kids[1])
    assert isinstance(node, t.Call), node
    return t.Call(*at, node.function, kids)
