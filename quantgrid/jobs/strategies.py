"""Strategies users write themselves: checking their source, saving versions, and turning what
a job request names (a built-in, a saved strategy and version, or inline source) into the
engine's Strategy. The language itself is ``engine.lang`` (docs/strategy-language.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine import strategies as builtins
from engine.lang import LIMITS, StrategySourceError, compile_strategy, source_hash
from engine.strategies import Strategy
from quantgrid.config import Settings
from quantgrid.db import strategies as saved
from quantgrid.db.models import MAX_ID, UserStrategy
from quantgrid.db.owners import Viewer
from quantgrid.db.session import Database, ReadYourWrites
from quantgrid.errors import InvalidInput, QuotaExceeded

# A saved strategy's name: what a job request, a URL and the CLI can carry as it is.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# The name a strategy sent inline with a job runs under.
INLINE_NAME = "inline"


class InvalidStrategySource(InvalidInput):
    """The strategy's source has mistakes; ``problems`` lists each with its line and column."""

    def __init__(self, err: StrategySourceError) -> None:
        self.problems = [
            {"line": p.line, "column": p.column, "message": p.message} for p in err.problems
        ]
        first = err.problems[0]
        more = f" (and {len(err.problems) - 1} more)" if len(err.problems) > 1 else ""
        super().__init__(f"line {first.line}, column {first.column}: {first.message}{more}")


def check_name(name: Any) -> str:
    """A valid name for a new saved strategy, else InvalidInput saying what a name may be."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            "name must start with a letter and hold only letters, digits and _ (at most 64)"
        )
    if name in builtins.available():
        raise InvalidInput(f"{name!r} is a built-in strategy's name; choose another")
    return name


def check_source(source: Any, max_chars: int, name: str = INLINE_NAME) -> Strategy:
    """Compile ``source`` (checking it whole); InvalidStrategySource lists its mistakes."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("source must be the strategy's text (see docs/strategy-language.md)")
    limit = min(max_chars, LIMITS["source_chars"])
    if len(source) > limit:
        raise QuotaExceeded(
            f"the source is {len(source):,} characters and the limit is {limit:,}; shorten it"
        )
    try:
        return compiled(source, name)
    except StrategySourceError as err:
        raise InvalidStrategySource(err) from None


@lru_cache(maxsize=128)
def compiled(source: str, name: str) -> Strategy:
    """The Strategy of ``source`` (compiled once per process: workers run it again and again)."""
    return compile_strategy(source, name)


def strategy_of(version: UserStrategy) -> Strategy:
    """The Strategy a stored version runs (its source was checked when it was saved)."""
    return compiled(version.source, version.name or INLINE_NAME)


@dataclass(frozen=True)
class Chosen:
    """The strategy a job request names: the engine's Strategy, and for a user strategy the
    saved version's id or the inline source (stored with the job when it is submitted)."""

    strategy: Strategy
    version_id: int | None = None
    source: str | None = None

    @property
    def source_hash(self) -> str | None:
        return getattr(self.strategy, "source_hash", None)


@dataclass
class StrategyService:
    db: Database
    settings: Settings

    def check(self, source: Any) -> Strategy:
        return check_source(source, self.settings.quota_max_strategy_chars)

    def create(self, user_id: int, name: Any, source: Any, rw=None) -> UserStrategy:
        name = check_name(name)
        self.check(source)
        with self.db.write(rw) as s:
            return saved.create_strategy(s, user_id, name, source, source_hash(source),
                                         self.settings.quota_max_strategies)  # fmt: skip

    def add_version(self, user_id: int, name: str, source: Any, rw=None) -> UserStrategy:
        self.check(source)
        with self.db.write(rw) as s:
            return saved.add_version(s, user_id, name, source, source_hash(source))

    def delete(self, user_id: int, name: str, rw=None) -> int:
        with self.db.write(rw) as s:
            return saved.delete_strategy(s, user_id, name)

    def chooser(self, viewer: Viewer, rw: ReadYourWrites | None = None):
        """What the job spec calls to resolve a request's strategy (see :meth:`choose`)."""
        return lambda data: self.choose(viewer, data, rw)

    def choose(self, viewer: Viewer, data: Mapping[str, Any], rw=None) -> Chosen:
        """Resolve ``source`` (inline), or ``strategy`` (+ ``strategy_version``): a built-in
        by name, else the viewer's saved strategy (its latest version unless one is given)."""
        if data.get("source") is not None:
            return Chosen(self.check(data["source"]), source=data["source"])
        version = data.get("strategy_version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                    or not 1 <= version <= MAX_ID):  # fmt: skip
            raise InvalidInput("strategy_version must be a version number (1, 2, ...)")
        name = strategy_name(data)
        if version is None and name in builtins.available():
            return Chosen(builtins.get(name))
        try:
            row = self.db.run_read(saved.get_version, viewer, name, version, rw=rw)
        except saved.StrategyNotFound as err:
            raise InvalidInput(f"{err}; choose a built-in ({', '.join(builtins.available())})"
                               " or one of your saved strategies") from None  # fmt: skip
        return Chosen(strategy_of(row), version_id=row.id)


def strategy_name(data: Mapping[str, Any]) -> str:
    """The strategy a job request names, else InvalidInput."""
    name = data.get("strategy")
    if not isinstance(name, str) or not name:
        raise InvalidInput("choose a strategy, or send its source")
    return name


def builtin(data: Mapping[str, Any]) -> Chosen:
    """The built-in strategy ``data["strategy"]`` names (the CLI's and a test's chooser)."""
    name = strategy_name(data)
    try:
        return Chosen(builtins.get(name))
    except ValueError as err:
        raise InvalidInput(str(err)) from None
