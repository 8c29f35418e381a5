"""A backtest's trades as a table: filtered, sorted and cut into pages on the server.

The result page renders one page of it and its script fetches the others from the API
(``/api/v1/backtests/<id>/trades/page``); both read the same query arguments through
:func:`parse_query`, so a link the page makes without JavaScript is the API's query too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from app import formats as f
from app.ids import int_arg
from engine.simulator import EXIT_REASONS
from quantgrid.errors import InvalidInput

SIDES = ("long", "short")
# How an exit reason reads on a page (the filter's options and the table's cells).
EXIT_REASON_LABELS = {"signal": "signal", "stop_loss": "stop loss", "take_profit": "take profit",
                      "trailing_stop": "trailing stop", "end_of_data": "still open",
                      "bankruptcy": "bankruptcy"}
ORDERS = ("asc", "desc")
PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str
    numeric: bool = True  # right-aligned


# The columns shown, each sortable. number, side, units and duration_s are derived (see _row);
# the others are the engine's trade fields. A trade's return_pct is a fraction (-0.0038 is
# -0.38 %), unlike the metrics' *_pct, which are in percent.
COLUMNS = (
    Column("number", "#", f.COUNT),
    Column("side", "Side", f.TEXT, numeric=False),
    Column("entry_time", "Entry (UTC)", f.TIME, numeric=False),
    Column("exit_time", "Exit (UTC)", f.TIME, numeric=False),
    Column("duration_s", "Held", f.DURATION),
    Column("entry_price", "Entry price", f.PRICE),
    Column("exit_price", "Exit price", f.PRICE),
    Column("units", "Units", f.NUMBER),
    Column("pnl", "P&L", f.MONEY),
    Column("return_pct", "Return", f.FRACTION),
    Column("fees", "Fees", f.MONEY),
    Column("exit_reason", "Exit reason", f.TEXT, numeric=False),
)
SORT_KEYS = tuple(c.key for c in COLUMNS)


@dataclass(frozen=True)
class TradeQuery:
    page: int = 1
    per_page: int = PER_PAGE
    sort: str = "number"
    order: str = "asc"
    side: str | None = None
    exit_reason: str | None = None

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query arguments of this query with ``changes``, defaults left out (for links)."""
        values = {**asdict(self), **changes}
        return {k: v for k, v in values.items() if v is not None and v != _DEFAULTS[k]}


_DEFAULTS = asdict(TradeQuery())


def parse_query(args: Mapping[str, str], *, form: bool = False) -> TradeQuery:
    """Read page, per_page, sort, order, side and exit_reason; InvalidInput says what is wrong.

    ``form``: the page's filter form sends an empty value for "any", which the API refuses (its
    document lists the values a filter takes; an empty one is none of them)."""
    if form:
        args = {k: v for k, v in args.items() if v != ""}
    return TradeQuery(
        page=int_arg(args, "page", 1, 1, MAX_PAGE),
        per_page=int_arg(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
        sort=_choice(args, "sort", SORT_KEYS) or "number",
        order=_choice(args, "order", ORDERS) or "asc",
        side=_choice(args, "side", SIDES),
        exit_reason=_choice(args, "exit_reason", EXIT_REASONS),
    )


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}; got {raw!r}")
    return raw


@dataclass(frozen=True)
class TradePage:
    query: TradeQuery
    rows: list[dict[str, Any]]  # each trade's fields, the derived ones, and "display"
    total: int  # trades that pass the filters
    all_trades: int
    pages: int
    exit_reasons: list[str]  # the reasons that occur in this result, for the filter

    def summary(self) -> str:
        """What the table shows, in words: "Trades 51–100 of 466 (of 1,200 in all)"."""
        if not self.all_trades:
            return "No trades."
        if not self.total:
            return f"No trades match these filters (of {self.all_trades:,d} in all)."
        if not self.rows:
            return (f"Page {self.query.page} is past the last page ({self.pages:,d}) of "
                    f"{self.total:,d} trades.")
        first = (self.query.page - 1) * self.query.per_page + 1
        text = f"Trades {first:,d}–{first + len(self.rows) - 1:,d} of {self.total:,d}"
        return text + (f" (of {self.all_trades:,d} in all)." if self.total < self.all_trades
                       else ".")

    def to_json(self) -> dict[str, Any]:
        return {"items": self.rows, "total": self.total, "all": self.all_trades,
                "pages": self.pages, "summary": self.summary(), **asdict(self.query)}


def trade_page(trades: list[dict[str, Any]], query: TradeQuery,
               currency: str | None = None) -> TradePage:
    """Filter ``trades`` (the stored trade dicts, in order) by side and exit reason, sort them and
    return page ``query.page`` (empty past the last page). Missing values sort last either way."""
    rows = [_row(i, t) for i, t in enumerate(trades, start=1)]
    if query.side:
        rows = [r for r in rows if r["side"] == query.side]
    if query.exit_reason:
        rows = [r for r in rows if r.get("exit_reason") == query.exit_reason]
    present = [r for r in rows if _sortable(r.get(query.sort)) is not None]
    absent = [r for r in rows if _sortable(r.get(query.sort)) is None]
    present.sort(key=lambda r: _sortable(r[query.sort]), reverse=query.order == "desc")
    rows = present + absent
    first = (query.page - 1) * query.per_page
    shown = rows[first:first + query.per_page]
    for r in shown:
        r["display"] = {c.key: _display(c, r.get(c.key), currency) for c in COLUMNS}
    reasons = sorted({t.get("exit_reason") for t in trades if t.get("exit_reason")},
                     key=lambda x: (EXIT_REASONS.index(x) if x in EXIT_REASONS else 99, x))
    return TradePage(query, shown, len(rows), len(trades),
                     max(1, math.ceil(len(rows) / query.per_page)), reasons)


def _row(number: int, trade: dict[str, Any]) -> dict[str, Any]:
    size = f.number(trade.get("size"))
    return {
        **trade,
        "number": number,
        "side": None if not size else ("long" if size > 0 else "short"),
        "units": None if size is None else abs(size),
        "duration_s": _seconds_between(trade.get("entry_time"), trade.get("exit_time")),
    }


def _seconds_between(start: Any, end: Any) -> float | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
        return (b - a).total_seconds()
    except (TypeError, ValueError):
        return None


def _sortable(value: Any) -> Any:
    """A value to sort by: finite numbers, non-empty strings; None for anything else."""
    if isinstance(value, str):
        return value or None  # ISO times sort as strings; they are all UTC ("Z")
    return f.number(value)


def _display(column: Column, value: Any, currency: str | None) -> str:
    if column.key == "exit_reason" and isinstance(value, str):
        return reason_label(value)
    return f.fmt(value, column.kind, currency)


def reason_label(reason: str) -> str:
    return EXIT_REASON_LABELS.get(reason, reason.replace("_", " "))
