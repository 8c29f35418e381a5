"""Simulate orders over candles: the configuration, its validation and the result.

The rules (order of events, fills, sizing, fees, stops, bankruptcy) are in docs/semantics.md.
The loop is ``engine_ext.simulate``; this module checks every input first, so the kernel can trust
it, and names what the kernel returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from engine import metrics as _metrics
from engine.candles import Candles
from engine_ext import simulate as _k

SIZINGS = ("all_in", "equity_fraction", "cash", "units")
DIRECTIONS = ("both", "long", "short")
FILLS = ("next_open", "close")
EXIT_REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "end_of_data", "bankruptcy")
EXIT_END_OF_DATA = EXIT_REASONS.index("end_of_data")

TRADE_DTYPE = np.dtype(
    [
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("entry_time", "datetime64[ns]"),
        ("exit_time", "datetime64[ns]"),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("size", np.float64),
        ("pnl", np.float64),
        ("return_pct", np.float64),
        ("fees", np.float64),
        ("exit_reason", np.int8),
    ]
)


@dataclass(frozen=True)
class SimConfig:
    """How orders are filled, sized and charged.

    - ``cash``: starting equity.
    - ``commission``: fraction of traded value charged on entry and on exit (0.002 = 0.2 %).
    - ``fixed_fee``: cash charged per order (each entry and each exit).
    - ``slippage``: fraction; buys fill at ``price * (1 + slippage)``, sells at ``price * (1 - slippage)``.
    - ``sizing``: ``all_in`` (backtesting.py's default: the whole units the equity affords, entry
      commission included; its formula counts a ``fixed_fee`` once per unit, so near a price of 1
      it invests about half: docs/semantics.md), ``equity_fraction`` (``size`` of the equity;
      ``size=1`` invests it all after one fixed fee), ``cash`` (``size`` cash, at most the equity)
      or ``units`` (``size`` units, whatever the equity).
    - ``fractional``: allow fractional units (whole units otherwise).
    - ``direction``: ``both``, ``long`` (a SHORT signal only closes the long) or ``short``.
    - ``fill``: ``next_open`` (decided on bar t, filled at the open of t+1) or ``close`` (at the
      close of t).
    - ``stop_loss``, ``take_profit``: fractions of the entry price; ``trailing_stop``: fraction of
      the best price since entry. None turns each off.
    """

    cash: float = 10_000.0
    commission: float = 0.0
    fixed_fee: float = 0.0
    slippage: float = 0.0
    sizing: str = "all_in"
    size: float | None = None
    fractional: bool = False
    direction: str = "both"
    fill: str = "next_open"
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None

    def __post_init__(self) -> None:
        _check_number("cash", self.cash, low=0.0, low_open=True)
        _check_number("commission", self.commission, low=0.0, high=1.0)
        _check_number("fixed_fee", self.fixed_fee, low=0.0)
        _check_number("slippage", self.slippage, low=0.0, high=1.0)
        _check_choice("sizing", self.sizing, SIZINGS)
        _check_choice("direction", self.direction, DIRECTIONS)
        _check_choice("fill", self.fill, FILLS)
        if not isinstance(self.fractional, bool):
            raise TypeError(f"fractional must be true or false, got {self.fractional!r}")
        if self.sizing == "all_in":
            if self.size is not None:
                raise ValueError(
                    "size is not used with sizing='all_in'; drop it or pick another sizing"
                )
        elif self.size is None:
            what = {"equity_fraction": "the fraction of equity per trade, e.g. 0.5",
                    "cash": "the cash per trade", "units": "the units per trade"}[self.sizing]
            raise ValueError(f"size is missing: sizing={self.sizing!r} needs a size, {what}")
        elif self.sizing == "equity_fraction":
            _check_number(
                "size",
                self.size,
                low=0.0,
                high=1.0,
                low_open=True,
                high_open=False,
                hint="a fraction of equity in (0, 1]",
            )
        else:
            _check_number("size", self.size, low=0.0, low_open=True)
            if self.sizing == "units" and not self.fractional and self.size != int(self.size):
                raise ValueError(
                    f"size={self.size} is not a whole number of units; use fractional=True "
                    "or a whole number"
                )
        for name in ("stop_loss", "trailing_stop"):
            value = getattr(self, name)
            if value is not None:
                _check_number(
                    name,
                    value,
                    low=0.0,
                    high=1.0,
                    low_open=True,
                    hint="a fraction of the price in (0, 1), e.g. 0.05 for 5 %",
                )
        if self.take_profit is not None:
            _check_number(
                "take_profit",
                self.take_profit,
                low=0.0,
                low_open=True,
                hint="a positive fraction of the entry price, e.g. 0.1 for 10 %",
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SimConfig:
        """Build a config from plain values (an API body, CLI options); reject unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown simulation setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def kernel_args(self) -> dict[str, Any]:
        """The flat values the kernel reads (without the per-run start and calendar)."""
        return {
            "cash": float(self.cash),
            "commission": float(self.commission),
            "fixed_fee": float(self.fixed_fee),
            "slippage": float(self.slippage),
            "sizing": SIZINGS.index(self.sizing),
            "size_value": float(self.size) if self.size is not None else 0.0,
            "fractional": self.fractional,
            "allow_long": self.direction in ("both", "long"),
            "allow_short": self.direction in ("both", "short"),
            "fill_close": self.fill == "close",
            "stop_loss": float(self.stop_loss or 0.0),
            "take_profit": float(self.take_profit or 0.0),
            "trailing_stop": float(self.trailing_stop or 0.0),
        }


@dataclass(frozen=True, eq=False)
class SimResult:
    """Equity marked to each close, every trade (the one still open last), and the metrics."""

    equity: np.ndarray
    trades: np.ndarray
    metrics: dict[str, float | int]

    @property
    def closed_trades(self) -> np.ndarray:
        return self.trades[self.trades["exit_reason"] != EXIT_END_OF_DATA]


def simulate(
    candles: Candles, signals, config: SimConfig | None = None, start: int = 0
) -> SimResult:
    """Fill ``signals`` (see engine.signals) over ``candles``; ignore signals before bar ``start``."""
    config = SimConfig() if config is None else config
    prep = prepare(candles, config, start)
    sig = check_signals(signals, len(candles))
    # room for every order to open a trade; the pages never written are never allocated
    room = np.empty(_order_count(sig, start) + 1, dtype=TRADE_DTYPE)
    equity, count, row = _k.simulate(
        prep.args, candles.time, candles.open, candles.high, candles.low, candles.close,
        sig, prep.calendar.period_end, room,
    )
    trades = room[:count].copy() if count < len(room) // 2 else room[:count]
    return SimResult(equity=equity, trades=trades, metrics=_metrics.as_dict(row))


@dataclass(frozen=True)
class Prepared:
    """Kernel arguments for one set of candles, config and start (shared by a whole sweep)."""

    args: dict[str, Any]
    calendar: _metrics.Calendar


def prepare(candles: Candles, config: SimConfig, start: int) -> Prepared:
    """Check candles, config and start; compute the calendar once."""
    if not isinstance(candles, Candles):
        raise TypeError(
            f"candles must be an engine.candles.Candles (build one with Candles.from_arrays), "
            f"got {type(candles).__name__}"
        )
    if not isinstance(config, SimConfig):
        raise TypeError(f"config must be a SimConfig, got {type(config).__name__}")
    n = len(candles)
    if isinstance(start, bool) or not isinstance(start, int | np.integer) or not 0 <= start <= n:
        raise ValueError(
            f"start must be a bar index from 0 to {n} (the number of bars), got {start!r}"
        )
    cal = _metrics.calendar(candles.time)
    args = config.kernel_args()
    args.update(
        start=int(start),
        periods_per_year=cal.periods_per_year,
        years=cal.years,
        buy_hold_bar=max(int(start) - 1, 0) if n else 0,
    )
    return Prepared(args=args, calendar=cal)


def check_signals(signals, n: int) -> np.ndarray:
    """Return ``signals`` as contiguous int8, or raise saying what is wrong with them."""
    arr = np.asarray(signals)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"signals must be one-dimensional with one value per bar ({n}), got shape {arr.shape}"
        )
    if arr.dtype != np.int8:
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"signals must be integers (engine.signals: -1, 0, 1, 2), got {arr.dtype}"
            )
        if n and (arr.min() < -1 or arr.max() > 2):
            raise ValueError("signals must be -1 (SHORT), 0 (HOLD), 1 (LONG) or 2 (FLAT)")
        arr = arr.astype(np.int8)
    arr = np.ascontiguousarray(arr)
    if n and (arr.min() < -1 or arr.max() > 2):
        raise ValueError("signals must be -1 (SHORT), 0 (HOLD), 1 (LONG) or 2 (FLAT)")
    return arr


def _order_count(sig: np.ndarray, start: int) -> int:
    # every LONG or SHORT opens at most one trade
    return int(np.count_nonzero(sig[start:] & 1))


def _check_number(name, value, *, low=None, high=None, low_open=False, high_open=True, hint=None):
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        rng = " and ".join(p for p in (lo, hi) if p)
        raise ValueError(f"{name} must be {hint or 'a finite number ' + rng}, got {value!r}")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
