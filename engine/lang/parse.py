"""Source text → the language's tree, with the limits on size, nesting and node count.

The text is read by Python's own parser (``ast.parse``: the syntax traders already meet in
notebooks, with exact line and column positions) and then converted node by node against a
whitelist: anything the language does not have (imports, attributes, loops, lambdas, ``**``, …)
is an error at its position. The text is never compiled or run: ``ast.parse`` only builds a
syntax tree, and nothing from it is evaluated except through :mod:`engine.lang.evaluate`.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
import warnings

from engine.lang import tree as t
from engine.lang.errors import Problem, StrategySourceError

MAX_SOURCE_CHARS = 20_000
MAX_NODES = 2_000
#: Levels of nesting in one expression, counting the named series it uses (see check).
MAX_DEPTH = 100

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_BOOL = {ast.And: "and", ast.Or: "or"}
_UNSUPPORTED_OPERATOR = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.Invert: "~",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}
_LOGIC_HINT = {"&": "and", "|": "or", "~": "not"}


def parse(source: str) -> t.Source:
    """Parse ``source`` into the language's tree; raise StrategySourceError listing mistakes."""
    if not isinstance(source, str):
        raise TypeError(f"the strategy source must be text (str), got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise StrategySourceError([Problem(1, 1, (
            f"the source has {len(source):,} characters, more than the {MAX_SOURCE_CHARS:,} "
            "allowed; shorten it (long comments or descriptions count too)"))])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escapes in a description
            module = ast.parse(source, filename="<strategy>")
    except SyntaxError as err:
        line = err.lineno or 1
        raise StrategySourceError([Problem(line, max(err.offset or 1, 1), _syntax(err))]) from None
    except (RecursionError, MemoryError):  # the parser's own nesting limits
        raise StrategySourceError([_too_deep(1, 1)]) from None
    except ValueError as err:  # e.g. a NUL character
        raise StrategySourceError([Problem(1, 1, f"the source cannot be read: {err}")]) from None
    converter = _Converter(source)
    out = converter.module(module)
    if converter.problems:
        raise StrategySourceError(converter.problems)
    return out


def _syntax(err: SyntaxError) -> str:
    msg = err.msg[0].lower() + err.msg[1:] if err.msg else "invalid syntax"
    return f"{msg} (the language is written like Python: name = expression, one per line)"


def _too_deep(line: int, column: int) -> Problem:
    return Problem(line, column, (
        f"the expression is nested more than {MAX_DEPTH} levels deep; "
        "split it into named series (name = expression)"))


class _Converter:
    def __init__(self, source: str):
        self.lines = re.split(r"\r\n|\r|\n", source)
        self.problems: list[Problem] = []
        self.nodes = 0
        self._deep_statement: ast.AST | None = None
        self._statement_root: ast.AST | None = None

    def where(self, node: ast.AST) -> tuple[int, int]:
        """1-based line and column in characters (``ast`` counts UTF-8 bytes)."""
        line = getattr(node, "lineno", 1) or 1
        offset = getattr(node, "col_offset", 0) or 0
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        return line, len(text.encode()[:offset].decode(errors="replace")) + 1

    def problem(self, node: ast.AST, message: str) -> None:
        self.problems.append(Problem(*self.where(node), message))

    def module(self, module: ast.Module) -> t.Source:
        body = list(module.body)
        description = ""
        if body and _is_text(body[0]):
            # one paragraph per blank-line-separated block, its lines joined
            text = inspect.cleandoc(body.pop(0).value.value)
            description = re.sub(r"(?<!\n)\n(?!\n)", " ", text)
        statements = []
        for stmt in body:
            self._statement_root = stmt
            converted = self.statement(stmt)
            if converted is not None:
                statements.append(converted)
        return t.Source(description, tuple(statements))

    def statement(self, stmt: ast.stmt) -> t.Assign | t.Require | None:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                self.problem(stmt, "assign one name at a time: name = expression")
                return None
            value = self.expr(stmt.value, 1)
            return t.Assign(*self.where(stmt), stmt.targets[0].id, value)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "require":
            call = stmt.value
            if len(call.args) != 1 or call.keywords:
                self.problem(call, "require takes one comparison of two parameters, "
                             "e.g. require(fast < slow)")
                return None
            return t.Require(*self.where(stmt), self.expr(call.args[0], 1))
        if _is_text(stmt):
            self.problem(stmt, "a text on its own is only allowed on the first line (the "
                         "strategy's description); use # for comments")
        elif isinstance(stmt, ast.Expr):
            self.problem(stmt, "this expression is computed but never used; assign it to a "
                         "name (name = expression) or a rule (long_entry = ...)")
        else:
            word = _STATEMENT_WORDS.get(type(stmt), type(stmt).__name__.lower())
            self.problem(stmt, f"{word} is not part of the strategy language; a program is a "
                         "list of assignments (name = expression) and require(...) lines")
        return None

    def expr(self, node: ast.expr, depth: int) -> t.Node:
        line, column = self.where(node)
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.problems.append(Problem(line, column, (
                f"the program has more than {MAX_NODES:,} names, numbers and operations; "
                "simplify it")))
        if depth > MAX_DEPTH:
            if self._deep_statement is not self._statement_root:
                self._deep_statement = self._statement_root
                self.problems.append(_too_deep(line, column))
            return t.Number(line, column, 0)
        if self.nodes > MAX_NODES:
            return t.Number(line, column, 0)
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self.constant(node, line, column)
        if isinstance(node, ast.Name):
            return t.Name(line, column, node.id)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand, d)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.USub | ast.Not):
                return t.Unary(line, column, "-" if isinstance(node.op, ast.USub) else "not",
                               operand)
            return self.operator(node, node.op, line, column)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                return self.operator(node, node.op, line, column)
            return t.Binary(line, column, _BINARY[type(node.op)], self.expr(node.left, d),
                            self.expr(node.right, d))
        if isinstance(node, ast.BoolOp):
            return t.Logic(line, column, _BOOL[type(node.op)],
                           tuple(self.expr(v, d) for v in node.values))
        if isinstance(node, ast.Compare):
            return self.compare(node, line, column, d)
        if isinstance(node, ast.Call):
            return self.call(node, line, column, d)
        if isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice | ast.Tuple):
                self.problem(node.slice, "only one bar can be looked up: x[k] is the value k "
                             "bars ago (slices and several indices are not supported)")
                return t.Number(line, column, 0)
            return t.Lookback(line, column, self.expr(node.value, d), self.expr(node.slice, d))
        word = _EXPRESSION_WORDS.get(type(node), type(node).__name__.lower())
        self.problem(node, f"{word} is not part of the strategy language")
        return t.Number(line, column, 0)

    def constant(self, node: ast.Constant, line: int, column: int) -> t.Node:
        v = node.value
        if isinstance(v, bool):
            return t.Boolean(line, column, v)
        if isinstance(v, str):
            return t.Text(line, column, v)
        if isinstance(v, int | float):
            try:
                finite = math.isfinite(float(v))
            except OverflowError:
                finite = False
            if finite:
                return t.Number(line, column, v)
            self.problem(node, f"the number {_short(v)} is too large; numbers must be finite")
            return t.Number(line, column, 0)
        self.problem(node, f"{type(v).__name__} values like {_short(v)} are not part of the "
                     "strategy language; use numbers, True or False")
        return t.Number(line, column, 0)

    def operator(self, node: ast.AST, op: ast.AST, line: int, column: int) -> t.Node:
        symbol = _UNSUPPORTED_OPERATOR.get(type(op), type(op).__name__)
        hint = (f"; use {_LOGIC_HINT[symbol]} to combine conditions" if symbol in _LOGIC_HINT
                else "; the arithmetic operators are + - * /")
        self.problems.append(Problem(line, column, f"the operator {symbol} is not supported{hint}"))
        return t.Number(line, column, 0)

    def compare(self, node: ast.Compare, line: int, column: int, d: int) -> t.Node:
        for op in node.ops:
            if type(op) not in _COMPARE:
                return self.operator(node, op, line, column)
        operands = [self.expr(v, d) for v in (node.left, *node.comparators)]
        pairs = tuple(
            t.Compare(line, column, _COMPARE[type(op)], a, b)
            for op, a, b in zip(node.ops, operands, operands[1:], strict=False)
        )
        # a < b < c means a < b and b < c, as in Python
        return pairs[0] if len(pairs) == 1 else t.Logic(line, column, "and", pairs)

    def call(self, node: ast.Call, line: int, column: int, d: int) -> t.Node:
        if not isinstance(node.func, ast.Name):
            self.problem(node.func, "only the language's functions can be called, by name "
                         "(e.g. sma(close, 20)); see docs/strategy-language.md")
            return t.Number(line, column, 0)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            self.problem(node, "* and ** arguments are not supported; pass each one")
            return t.Number(line, column, 0)
        return t.Call(line, column, node.func.id, tuple(self.expr(a, d) for a in node.args),
                      tuple((k.arg, self.expr(k.value, d)) for k in node.keywords))


def _is_text(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
        and isinstance(stmt.value.value, str)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


_STATEMENT_WORDS = {
    ast.Import: "import", ast.ImportFrom: "import", ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "def", ast.ClassDef: "class", ast.If: "if", ast.For: "for",
    ast.While: "while", ast.With: "with", ast.Try: "try", ast.Return: "return",
    ast.Delete: "del", ast.Global: "global", ast.Nonlocal: "nonlocal", ast.Raise: "raise",
    ast.Assert: "assert", ast.Pass: "pass", ast.Break: "break", ast.Continue: "continue",
    ast.AugAssign: "an augmented assignment (+= and the like)",
    ast.AnnAssign: "an annotated assignment (name: type = ...)",
}
_EXPRESSION_WORDS = {
    ast.Attribute: "an attribute (a.b)", ast.IfExp: "a conditional expression (a if c else b)",
    ast.Lambda: "lambda", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
    ast.Set: "a set", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator",
    ast.JoinedStr: "an f-string", ast.NamedExpr: "the := operator", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Starred: "a starred expression",
}
