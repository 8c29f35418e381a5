"""The simulator written plainly, one bar at a time, to check the kernel against.

It follows docs/semantics.md step by step and is slow on purpose: clarity over speed. The tests
compare ``engine.simulator.simulate`` with :func:`simulate` here on many random inputs.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from engine.simulator import SimConfig

_EPS = sys.float_info.epsilon


@dataclass
class Trade:
    entry_bar: int
    entry_price: float
    size: float
    entry_fee: float
    exit_bar: int = -1
    exit_price: float = math.nan
    pnl: float = math.nan
    return_pct: float = math.nan
    fees: float = math.nan
    exit_reason: str = ""


@dataclass
class Result:
    equity: list[float]
    trades: list[Trade] = field(default_factory=list)  # closed ones, then the open one if any


def simulate(open_, high, low, close, signals, config: SimConfig, start: int = 0) -> Result:
    """Run the rules of docs/semantics.md over plain sequences of prices and signals."""
    n = len(close)
    cash = float(config.cash)
    trade: Trade | None = None
    best = math.nan
    pending = 0
    bankrupt = False
    result = Result(equity=[])

    def close_trade(price: float, bar: int, reason: str) -> None:
        nonlocal cash, trade
        t = trade
        assert t is not None
        side = 1.0 if t.size > 0 else -1.0
        px = price * (1.0 - side * config.slippage)
        fee = config.fixed_fee + abs(t.size) * px * config.commission
        cash += t.size * (px - t.entry_price) - fee
        t.exit_bar, t.exit_price, t.exit_reason = bar, px, reason
        t.fees = fee + t.entry_fee
        t.pnl = t.size * (px - t.entry_price) - t.fees
        t.return_pct = side * (px / t.entry_price - 1.0) - t.fees / (abs(t.size) * t.entry_price)
        result.trades.append(t)
        trade = None

    def units_for(px: float) -> float:
        c, fee = config.commission, config.fixed_fee
        if config.sizing == "all_in":
            s = 1.0 - _EPS
            budget = max(cash, 0.0) * 1.0 * s
            per_unit = px + (fee + s * px * c) / s
            return budget / per_unit if config.fractional else budget // per_unit
        if config.sizing == "units":
            return float(config.size)
        budget = (
            cash * config.size if config.sizing == "equity_fraction" else min(config.size, cash)
        )
        units = (budget - fee) / (px * (1.0 + c))
        if config.fractional or math.isinf(units):
            return units  # an infinite size is refused below (and math.floor cannot take it)
        return math.floor(units)

    def open_trade(side: float, price: float, bar: int) -> None:
        nonlocal cash, trade, best
        px = price * (1.0 + side * config.slippage)
        units = units_for(px)
        if not 0 < units < math.inf:
            return  # cannot afford one unit, or more units than a float holds
        entry_fee = config.fixed_fee + units * px * config.commission
        cash -= entry_fee
        trade = Trade(entry_bar=bar, entry_price=px, size=side * units, entry_fee=entry_fee)
        best = px

    def execute(sig: int, price: float, bar: int) -> None:
        if sig == 0:
            return
        if trade is not None:
            close_trade(price, bar, "signal")
        if sig == 1 and config.direction in ("both", "long"):
            open_trade(1.0, price, bar)
        elif sig == -1 and config.direction in ("both", "short"):
            open_trade(-1.0, price, bar)

    def check_exits(bar: int) -> None:
        nonlocal best
        t = trade
        assert t is not None
        long = t.size > 0
        side = 1.0 if long else -1.0
        levels = []  # (price, reason); the tighter stop wins, a stop-loss on a tie
        if config.stop_loss:
            levels.append((t.entry_price * (1.0 - side * config.stop_loss), "stop_loss"))
        if config.trailing_stop:
            levels.append((best * (1.0 - side * config.trailing_stop), "trailing_stop"))
        stop = None
        for level in levels:
            if stop is None or (level[0] > stop[0] if long else level[0] < stop[0]):
                stop = level
        tp = t.entry_price * (1.0 + side * config.take_profit) if config.take_profit else None
        o, h, lo = open_[bar], high[bar], low[bar]
        if stop is not None and (lo <= stop[0] if long else h >= stop[0]):
            # a gap through the stop fills at the open, which is worse than the stop
            fill = min(o, stop[0]) if long else max(o, stop[0])
            close_trade(fill, bar, stop[1])
        elif tp is not None and (h >= tp if long else lo <= tp):
            fill = max(o, tp) if long else min(o, tp)
            close_trade(fill, bar, "take_profit")
        else:
            best = max(best, h) if long else min(best, lo)

    for i in range(n):
        if bankrupt:
            result.equity.append(0.0)
            continue
        if config.fill == "close":
            if trade is not None and trade.entry_bar < i:
                check_exits(i)
            if i >= start:
                execute(int(signals[i]), close[i], i)
        else:
            if pending:
                execute(pending, open_[i], i)
                pending = 0
            if trade is not None:
                check_exits(i)
            if i >= start:
                pending = int(signals[i])
        equity = cash + trade.size * (close[i] - trade.entry_price) if trade is not None else cash
        if equity <= 0:
            if trade is not None:
                close_trade(close[i], i, "bankruptcy")
            cash = 0.0
            equity = 0.0
            bankrupt = True
        result.equity.append(equity)
    if trade is not None:
        t = trade
        side = 1.0 if t.size > 0 else -1.0
        t.exit_bar, t.exit_price, t.exit_reason = n - 1, close[n - 1], "end_of_data"
        t.fees = t.entry_fee
        t.pnl = t.size * (t.exit_price - t.entry_price) - t.entry_fee
        t.return_pct = side * (t.exit_price / t.entry_price - 1.0) - t.entry_fee / (
            abs(t.size) * t.entry_price
        )
        result.trades.append(t)
    return result
