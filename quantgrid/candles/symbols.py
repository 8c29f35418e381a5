"""Strict patterns for symbols and timeframes (``quantgrid.timeframes``), checked before any query, line or path is built.

Symbols reach InfluxQL, line protocol and file names. Bind parameters already keep values out of
InfluxQL, but line protocol has no such thing (a newline in a tag value starts a new point in
another series) and a ``/`` would leave the embedded store's directory, so the pattern is the
defence everywhere: upper-case letters, digits, ``.``, ``_`` and ``-``, at most 32 characters.
"""

from __future__ import annotations

import re

from quantgrid.candles.errors import InvalidSymbol
from quantgrid.timeframes import Timeframe

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}")


def validate_symbol(symbol: object) -> str:
    """Return ``symbol`` if it matches the pattern; raise ``InvalidSymbol`` otherwise."""
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise InvalidSymbol(
            f"invalid symbol {symbol!r}: use 1-32 upper-case letters, digits, '.', '_' or '-' "
            "(e.g. BTCUSDT, BRK.B)"
        )
    return symbol


def validate_timeframe(text: object) -> Timeframe:
    return Timeframe.parse(text)
