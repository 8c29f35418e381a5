"""A strategy compiled from source: it plugs into the engine wherever a built-in does."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.candles import Candles
from engine.lang import scalars
from engine.lang.check import Program, check
from engine.lang.evaluate import evaluate
from engine.lang.functions import CONDITION
from engine.lang.parse import parse
from engine.lang.warmup import lookback
from engine.signals import position_events
from engine.simulator import SimConfig
from engine.strategies.base import IndicatorCache, Strategy


def compile_strategy(source: str, name: str = "custom") -> SourceStrategy:
    """Parse and check ``source``; return its Strategy or raise StrategySourceError."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a strategy compiled from source needs a non-empty name")
    return SourceStrategy(check(parse(source)), source, name.strip())


def source_hash(source: str) -> str:
    """SHA-256 of the exact source text (UTF-8), for result fingerprints."""
    return hashlib.sha256(source.encode()).hexdigest()


class SourceStrategy(Strategy):
    """A Strategy whose parameters, warm-up, signals and stops come from a program.

    ``params`` are the declared parameters (Param objects), ``constraints`` the ``require``
    lines, ``description`` the first line's text; ``source`` and ``source_hash`` identify it.
    """

    def __init__(self, program: Program, source: str, name: str):
        self.program = program
        self.source = source
        self.source_hash = source_hash(source)
        self.name = name
        self.description = program.description
        self.params = program.params
        self.constraints = program.constraints
        self._warmups: dict[tuple, int] = {}

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "source_hash": self.source_hash}

    def configure(self, config: SimConfig, params: Mapping[str, object]) -> SimConfig:
        """``config`` with the program's stops (a stop of 0 turns that stop off)."""
        if not self.program.stops:
            return config
        values = {name: float(scalars.value(node, params)) or None
                  for name, node in self.program.stops.items()}
        return dataclasses.replace(config, **values)

    def _warmup(self, p: dict) -> int:
        # asked several times per set in a sweep: remember it for the recent sets
        key = tuple(p.values())
        if key not in self._warmups:
            if len(self._warmups) >= 1024:
                self._warmups.clear()
            self._warmups[key] = self._longest_lookback(p)
        return self._warmups[key]

    def _longest_lookback(self, p: dict) -> int:
        bars = lambda node: scalars.value(node, p)  # noqa: E731
        memo: dict = {}
        longest = max(lookback(node, bars, memo) for node in self.program.rules.values())
        declared = self.program.warmup
        return max(longest, 0 if declared is None else scalars.value(declared, p))

    def series(self, candles: Candles, **params: object) -> dict[str, np.ndarray]:
        """The named series of the program over ``candles`` (e.g. to plot them), by name."""
        p = self.validate(params)
        return evaluate(self.program, candles, p, IndicatorCache(candles), self.program.named)

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        rules = {name: (node, CONDITION) for name, node in self.program.rules.items()}
        r = evaluate(self.program, candles, p, ind, rules)
        return position_events(r.get("long_entry", _none(candles)),
                               r.get("short_entry", _none(candles)),
                               r.get("long_exit"), r.get("short_exit"),
                               start=min(self._warmup(p), len(candles)),
                               reenter=self.program.reenter)

    def __repr__(self) -> str:
        return f"<SourceStrategy {self.name} {self.source_hash[:12]}>"


def _none(candles: Candles) -> np.ndarray:
    return np.zeros(len(candles), dtype=bool)
