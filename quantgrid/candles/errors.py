"""Errors of the candle store, placed in QuantGrid's one exception tree.

``CandleStoreUnavailable`` is retryable (the server may come back); the others are not: the
request itself names something that does not exist or is malformed.
"""

from __future__ import annotations

from quantgrid.errors import InvalidInput, NotFound, QuantGridError, Unavailable


class CandlesNotFound(NotFound):
    """No candles were found for this symbol, timeframe and range."""


class CandleGapError(CandlesNotFound):
    """The candles have gaps in the requested range."""


class CandleStoreUnavailable(Unavailable):
    """The candle store is unavailable; try again shortly."""


class InvalidSymbol(InvalidInput):
    """The symbol is not valid."""


class InvalidCandles(InvalidInput):
    """The candles are not valid."""


class CandleFileError(InvalidCandles):
    """The candle file is not valid."""

    # The first bad lines, each (line number, its problem), and how many lines are bad in all;
    # empty and 0 for an error of the whole file (not CSV, no header, empty).
    lines: tuple[tuple[int, str], ...] = ()
    bad_lines: int = 0


class CandleStoreRefused(QuantGridError):
    """The candle store refused the request."""
