"""Strict patterns for symbols and timeframes, checked before any query, line or path is built.

Symbols reach InfluxQL, line protocol and file names. Bind parameters already keep values out of
InfluxQL, but line protocol has no such thing (a newline in a tag value starts a new point in
another series) and a ``/`` would leave the embedded store's directory, so the pattern is the
defence everywhere: upper-case letters, digits, ``.``, ``_`` and ``-``, at most 32 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quantgrid.candles.errors import InvalidSymbol, InvalidTimeframe

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")
_TIMEFRAME = re.compile(r"([1-9][0-9]{0,3})([smhd])")
_UNIT_NS = {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def validate_symbol(symbol: object) -> str:
    """Return ``symbol`` if it matches the pattern; raise ``InvalidSymbol`` otherwise."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise InvalidSymbol(
            f"invalid symbol {symbol!r}: use 1-32 upper-case letters, digits, '.', '_' or '-' "
            "(e.g. BTCUSDT, BRK.B)"
        )
    return symbol


@dataclass(frozen=True, order=True)
class Timeframe:
    """A bar length such as ``1m`` or ``4h``; bars are aligned to multiples of it since the epoch.

    ``text`` is canonical (``60m`` parses as ``1h``, ``1440m`` as ``1d``): it is the tag value and
    file name a series is stored under.
    """

    ns: int
    text: str

    @classmethod
    def parse(cls, text: object) -> Timeframe:
        """Parse ``text`` (``1s`` to ``9999d``); raise ``InvalidTimeframe`` otherwise."""
        m = _TIMEFRAME.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise InvalidTimeframe(
                f"invalid timeframe {text!r}: use a number and s, m, h or d (e.g. 1m, 15m, 4h, 1d)"
            )
        ns = int(m.group(1)) * _UNIT_NS[m.group(2)]
        if 86400 * 10**9 % ns and ns % (86400 * 10**9):
            raise InvalidTimeframe(
                f"invalid timeframe {text!r}: it must divide a day or be whole days, so that bars "
                "start at the same times every day"
            )
        return cls(ns=ns, text=_canonical(ns))

    @property
    def influx(self) -> str:
        """The duration literal for ``GROUP BY time(...)``: same text (s, m, h, d units)."""
        return self.text

    def divides(self, other: Timeframe) -> bool:
        return other.ns % self.ns == 0

    def __str__(self) -> str:
        return self.text


def _canonical(ns: int) -> str:
    """Spell a length in its largest whole unit, so 60m and 1h name the same series."""
    for unit in ("d", "h", "m", "s"):
        if ns % _UNIT_NS[unit] == 0:
            return f"{ns // _UNIT_NS[unit]}{unit}"
    raise AssertionError("every timeframe is whole seconds")


def validate_timeframe(text: object) -> Timeframe:
    return Timeframe.parse(text)
