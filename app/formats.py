"""How numbers look on the pages: one function per unit kind, and ``fmt`` that picks by kind.

Every value a result page shows (metrics, monthly returns, trades) is formatted here, so a rule
(two decimals for ratios, days and hours for durations, a dash for a missing value) is written
once. The functions take the engine's units: percent values in percent (12.5 means 12.5 %),
durations in seconds, money in the account's currency.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

MISSING = "—"  # em dash: an undefined value (NaN, no trades, ...)

# Unit kinds; a metric or a column names one of them.
PERCENT = "percent"  # already in percent: 12.5 → "12.50%"
FRACTION = "fraction"  # a share: 0.125 → "12.50%"
MONEY = "money"
DURATION = "duration"  # seconds → "3 d 4 h"
RATIO = "ratio"
COUNT = "count"
PRICE = "price"
NUMBER = "number"  # anything else that is numeric
TIME = "time"  # ISO 8601 UTC date-time string → "2024-01-11 09:30"
TEXT = "text"
KINDS = frozenset({PERCENT, FRACTION, MONEY, DURATION, RATIO, COUNT, PRICE, NUMBER, TIME, TEXT})


def number(value: Any) -> float | None:
    """The value as a finite float, or None (missing, NaN, infinite, not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# Beyond this a number's digits say nothing more (a Sharpe ratio over a near-zero volatility is
# 1.7e20): it reads as "1.71 × 10²⁰", never as 21 digits or as Python's "1.7e+20".
_HUGE = 1e9
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _huge(v: float) -> str:
    exponent = math.floor(math.log10(abs(v)))
    mantissa = v / 10**exponent
    if round(abs(mantissa), 2) >= 10:  # 9.999 rounds up to the next power
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.2f} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def _decimals(v: float, suffix: str = "") -> str:
    return (_huge(v) if abs(v) >= _HUGE else f"{v:,.2f}") + suffix


def percent(value: Any) -> str:
    v = number(value)
    return MISSING if v is None else _decimals(v, "%")


def fraction(value: Any) -> str:
    v = number(value)
    return MISSING if v is None else percent(v * 100.0)


def money(value: Any, currency: str | None = None) -> str:
    v = number(value)
    if v is None:
        return MISSING
    text = _decimals(v)
    return f"{text} {currency}" if currency else text


def ratio(value: Any) -> str:
    v = number(value)
    return MISSING if v is None else _decimals(v)


def count(value: Any) -> str:
    v = number(value)
    return MISSING if v is None else f"{round(v):,d}"


def price(value: Any) -> str:
    """Six significant digits and never an exponent: 101.234, 0.0012345, 43,210.5."""
    v = number(value)
    if v is None:
        return MISSING
    if v == 0:
        return "0"
    decimals = max(0, 5 - math.floor(math.log10(abs(v))))
    return f"{v:,.{min(decimals, 10)}f}".rstrip("0").rstrip(".") if decimals else f"{v:,.0f}"


def plain_number(value: Any) -> str:
    """A number of unknown meaning: integers whole, others to two decimals (four below 1)."""
    v = number(value)
    if v is None:
        return MISSING
    if abs(v) >= _HUGE:
        return _huge(v)
    if isinstance(value, int) or v.is_integer() and abs(v) >= 1:
        return f"{round(v):,d}"
    return f"{v:,.2f}" if abs(v) >= 1 else price(v)


def duration(value: Any) -> str:
    """Seconds as days and hours ("3 d 4 h"); hours and minutes below a day; seconds below one."""
    v = number(value)
    if v is None:
        return MISSING
    sign, seconds = ("-" if v < 0 else ""), round(abs(v))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days:,d} d {hours} h"
    if hours:
        return f"{sign}{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{sign}{minutes} min" + (f" {secs} s" if secs else "")
    return f"{sign}{secs} s"


def time(value: Any) -> str:
    """An ISO 8601 date-time (as the API writes them, in UTC) as "YYYY-MM-DD HH:MM"."""
    if not isinstance(value, str) or not value:
        return MISSING
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M")


def text(value: Any) -> str:
    if value is None or value == "" or isinstance(value, float) and not math.isfinite(value):
        return MISSING
    return str(value)


def fmt(value: Any, kind: str, currency: str | None = None) -> str:
    """Format ``value`` as its unit ``kind`` (one of KINDS) says."""
    if kind == MONEY:
        return money(value, currency)
    return _BY_KIND.get(kind, plain_number)(value)


def guess_kind(key: str, value: Any) -> str:
    """The unit kind of a value nobody described, from its key's suffix and its type."""
    if isinstance(value, str | bool):
        return TEXT
    if key.endswith("_pct"):
        return PERCENT
    if key.endswith("_s"):
        return DURATION
    return COUNT if isinstance(value, int) else NUMBER


def signed_level(value: Any, steps: tuple[float, ...] = (1.0, 3.0, 6.0)) -> str:
    """A CSS class for a percentage's sign and size: heat-zero, heat-pos-1..4, heat-neg-1..4.

    ``steps`` are the magnitudes (in percent) where the next level starts; the page's colours for
    each level keep the text's contrast above WCAG AA (app.css).
    """
    v = number(value)
    if v is None:
        return "heat-none"
    if v == 0:
        return "heat-zero"
    level = 1 + sum(abs(v) >= step for step in steps)
    return f"heat-{'pos' if v > 0 else 'neg'}-{level}"


_BY_KIND = {
    PERCENT: percent, FRACTION: fraction, DURATION: duration, RATIO: ratio, COUNT: count,
    PRICE: price, NUMBER: plain_number, TIME: time, TEXT: text,
}
