"""Timeframes: the one rule for what a bar length is, shared by jobs, quotas and candle stores.

A timeframe is a count and a unit (``s``, ``m``, ``h``, ``d``) that divides a day or is whole
days, so bars start at the same times every day; ``60m`` and ``1h`` are the same timeframe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quantgrid.errors import InvalidInput

_TIMEFRAME = re.compile(r"([1-9][0-9]{0,3})([smhd])")
_UNIT_NS = {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}
# The timeframes the forms offer (with every stored one): each divides the next day-aligned bar.
OFFERED = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")


class InvalidTimeframe(InvalidInput):
    """The timeframe is not valid."""


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

    @property
    def seconds(self) -> int:
        return self.ns // 10**9

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
