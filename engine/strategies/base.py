"""What every strategy is: a parameter schema, validation, a warm-up and a signal generator.

A strategy is an instance of a :class:`Strategy` subclass. Subclasses declare ``name`` (the code
name jobs and the API carry), ``display_name`` and ``summary`` (what a person reads: a title and
one line), ``description``, ``params`` and ``constraints`` and implement two hooks:

- ``_warmup(p) -> int``: the first bar on which the strategy may act, from validated params;
- ``_signals(candles, p, ind) -> int8 array``: the orders (see :mod:`engine.signals`), using
  ``ind`` (an :class:`IndicatorCache`) for every indicator so that a sweep computes each
  distinct indicator once.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.candles import Candles
from engine.signals import HOLD, SIGNAL_DTYPE
from engine.simulator import SimConfig


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its type (``int`` or ``float``), default and inclusive bounds."""

    name: str
    type: type
    default: int | float
    min: int | float
    max: int | float
    description: str

    def __post_init__(self) -> None:
        if self.type not in (int, float):
            raise TypeError(f"Param {self.name!r}: type must be int or float, not {self.type!r}")
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"Param {self.name!r}: default {self.default} outside [{self.min}, {self.max}]"
            )

    def schema(self) -> dict[str, Any]:
        """Describe the parameter as plain JSON values."""
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "description": self.description,
        }

    def coerce(self, value: object) -> int | float:
        """Return ``value`` as this parameter's type, or raise ValueError saying what is allowed."""
        allowed = (
            f"{'an integer' if self.type is int else 'a number'} from {self.min} to {self.max}"
        )
        try:
            out = self._convert(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"parameter {self.name!r} must be {allowed}, got {value!r}") from None
        if not self.min <= out <= self.max:
            raise ValueError(f"parameter {self.name!r} must be {allowed}, got {value!r}")
        return out

    def _convert(self, value: object) -> int | float:
        if isinstance(value, bool | np.bool_):
            raise TypeError("a boolean is not a number")
        if isinstance(value, str):
            value = value.strip()
            if self.type is int:
                return int(value, 10)
            out = float(value)
        elif isinstance(value, numbers.Integral):
            return int(value) if self.type is int else float(value)
        elif isinstance(value, numbers.Real):
            out = float(value)
            if self.type is int:
                if not out.is_integer():
                    raise ValueError("not a whole number")
                return int(out)
        else:
            raise TypeError(f"unsupported type {type(value).__name__}")
        if not math.isfinite(out):
            raise ValueError("not finite")
        return out


class Strategy:
    """Base class of all strategies; see the module docstring for the hooks to implement."""

    name: ClassVar[str] = ""
    #: What pages call it ("SMA cross"); the code name when empty.
    display_name: ClassVar[str] = ""
    #: One line saying what it does; the description (else the name) when empty.
    summary: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    #: Pairs ``(a, b)`` meaning parameter ``a`` must be strictly less than parameter ``b``.
    constraints: ClassVar[tuple[tuple[str, str], ...]] = ()

    def schema(self) -> dict[str, Any]:
        """Describe the strategy and its parameters as plain JSON values (for forms and the API)."""
        return {
            "name": self.name,
            "display_name": self.display_name or self.name,
            "summary": self.summary or self.description or self.name,
            "description": self.description,
            "params": [p.schema() for p in self.params],
            "constraints": [{"left": a, "op": "<", "right": b} for a, b in self.constraints],
        }

    def defaults(self) -> dict[str, int | float]:
        """Return the default value of every parameter."""
        return {p.name: p.default for p in self.params}

    def validate(self, params: Mapping[str, object] | None = None) -> dict[str, int | float]:
        """Fill defaults, coerce types and check bounds and constraints; raise ValueError if bad."""
        params = dict(params or {})
        by_name = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(by_name))
        if unknown:
            expected = ", ".join(by_name) or "none"
            raise ValueError(
                f"unknown parameter {unknown[0]!r} for strategy {self.name!r}; expected: {expected}"
            )
        out = {
            name: (p.coerce(params[name]) if name in params else p.default)
            for name, p in by_name.items()
        }
        for a, b in self.constraints:
            if not out[a] < out[b]:
                raise ValueError(
                    f"parameter {a!r} ({out[a]}) must be less than {b!r} ({out[b]}) "
                    f"for strategy {self.name!r}"
                )
        return out

    def configure(self, config: SimConfig, params: Mapping[str, object]) -> SimConfig:
        """Return the simulation settings for a run with validated ``params``.

        The built-ins take ``config`` as it is; a strategy that declares its own stops (see
        engine.lang) replaces those settings with its values.
        """
        return config

    def warmup(self, params: Mapping[str, object] | None = None) -> int:
        """Return the first bar on which the strategy may act (1 + the most leading NaNs)."""
        return self._warmup(self.validate(params))

    def signals(self, candles: Candles, **params: object) -> np.ndarray:
        """Return the int8 orders for ``candles`` (see :mod:`engine.signals`)."""
        p = self.validate(params)
        _check_candles(candles)
        return self._finish(self._signals(candles, p, IndicatorCache(candles)), p)

    def signals_many(
        self, candles: Candles, param_sets: Sequence[Mapping[str, object]]
    ) -> Iterator[np.ndarray]:
        """Yield the orders for each parameter set, computing each distinct indicator once.

        Every set is validated before the first one is computed, so a bad set fails fast.
        """
        validated = [self.validate(ps) for ps in param_sets]
        _check_candles(candles)
        return self._iter_many(candles, validated)

    def _iter_many(self, candles: Candles, validated: list[dict]) -> Iterator[np.ndarray]:
        cache = IndicatorCache(candles, shared=True)
        for p in validated:
            yield self._finish(self._signals(candles, p, cache), p)

    def _finish(self, sig: np.ndarray, p: dict) -> np.ndarray:
        # Guarantee the contract whatever the hook did: int8, HOLD before the warm-up.
        sig = np.asarray(sig, dtype=SIGNAL_DTYPE)
        sig[: self._warmup(p)] = HOLD
        return sig

    # Hooks for subclasses.
    def _warmup(self, p: dict) -> int:
        raise NotImplementedError

    def _signals(self, candles: Candles, p: dict, ind: IndicatorCache) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Strategy {self.name}>"


def _check_candles(candles: object) -> None:
    if not isinstance(candles, Candles):
        raise TypeError(
            f"candles must be engine.candles.Candles, got {type(candles).__name__}; "
            "build one with Candles.from_arrays(time, open, high, low, close, volume)"
        )


class IndicatorCache:
    """Indicators of one set of candles, each computed once per (indicator, arguments).

    Holds at most ``max_bytes`` of arrays, dropping the least recently used beyond that, so a
    wide sweep over long candles does not exhaust memory.
    """

    def __init__(self, candles: Candles, max_bytes: int = 512 * 2**20, shared: bool = False):
        self.candles = candles
        #: True when several parameter sets will share the cache (``signals_many``); a strategy
        #: may then prefer cached arrays over a fused kernel that computes everything at once.
        self.shared = shared
        self.max_bytes = max_bytes
        self._store: OrderedDict[tuple, Any] = OrderedDict()
        self._bytes = 0
        self.computed = 0  # how many indicators were actually computed (tests use it)

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """Return the cached value for ``key``, computing it with ``compute()`` if missing."""
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key]
        value = compute()
        self.computed += 1
        size = sum(a.nbytes for a in value) if isinstance(value, tuple) else value.nbytes
        self._store[key] = value
        self._bytes += size
        while self._bytes > self.max_bytes and len(self._store) > 1:
            _, old = self._store.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in old) if isinstance(old, tuple) else old.nbytes
        return value

    def sma(self, n: int) -> np.ndarray:
        from engine import indicators

        return self.get(("sma", n), lambda: indicators.sma(self.candles.close, n))

    def ema(self, n: int) -> np.ndarray:
        from engine import indicators

        return self.get(("ema", n), lambda: indicators.ema(self.candles.close, n))

    def rsi(self, n: int) -> np.ndarray:
        from engine import indicators

        return self.get(("rsi", n), lambda: indicators.rsi(self.candles.close, n))

    def rolling_std(self, n: int) -> np.ndarray:
        from engine import indicators

        return self.get(("std", n), lambda: indicators.rolling_std(self.candles.close, n))

    def rolling_max(self, n: int) -> np.ndarray:
        from engine import indicators

        return self.get(("max_high", n), lambda: indicators.rolling_max(self.candles.high, n))

    def rolling_min(self, n: int) -> np.ndarray:
        from engine import indicators

        return self.get(("min_low", n), lambda: indicators.rolling_min(self.candles.low, n))

    def macd(self, fast: int, slow: int, signal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from engine import indicators

        line = self.get(("macd_line", fast, slow), lambda: self.ema(fast) - self.ema(slow))
        sig = self.get(("macd_signal", fast, slow, signal), lambda: indicators.ema(line, signal))
        return line, sig, line - sig
