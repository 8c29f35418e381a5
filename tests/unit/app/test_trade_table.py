"""The trade table's query, filters, sort and pages (app.trade_table), without the app."""

from __future__ import annotations

import pytest

from app.trade_table import TradeQuery, parse_query, trade_page
from quantgrid.errors import InvalidInput


def _trade(i: int, size: float, pnl: float | None, reason: str = "signal") -> dict:
    return {"entry_time": f"2024-01-01T{i:02d}:00:00Z", "exit_time": f"2024-01-01T{i:02d}:30:00Z",
            "entry_price": 100.0 + i, "exit_price": 101.0, "size": size, "pnl": pnl,
            "return_pct": None if pnl is None else pnl / 1000, "fees": 0.5,
            "exit_reason": reason, "open": reason == "end_of_data"}


TRADES = [_trade(0, 10, 5.0), _trade(1, -10, -3.0, "stop_loss"), _trade(2, 10, None),
          _trade(3, -5, 12.0), _trade(4, 10, -1.0, "end_of_data")]


def test_defaults_are_the_first_page_in_order():
    page = trade_page(TRADES, TradeQuery())
    assert [r["number"] for r in page.rows] == [1, 2, 3, 4, 5]
    assert page.total == page.all_trades == 5 and page.pages == 1
    assert page.rows[1]["side"] == "short" and page.rows[1]["units"] == 10
    assert page.rows[0]["duration_s"] == 1800
    assert page.rows[1]["display"] == {
        "number": "2", "side": "short", "entry_time": "2024-01-01 01:00",
        "exit_time": "2024-01-01 01:30", "duration_s": "30 min", "entry_price": "101",
        "exit_price": "101", "units": "10", "pnl": "-3.00", "return_pct": "-0.30%",
        "fees": "0.50", "exit_reason": "stop loss"}
    assert page.exit_reasons == ["signal", "stop_loss", "end_of_data"]


def test_pages_cut_the_sorted_rows():
    q = TradeQuery(per_page=2)
    assert [r["number"] for r in trade_page(TRADES, q).rows] == [1, 2]
    last = trade_page(TRADES, TradeQuery(per_page=2, page=3))
    assert [r["number"] for r in last.rows] == [5] and last.pages == 3
    assert last.summary() == "Trades 5–5 of 5."
    past = trade_page(TRADES, TradeQuery(per_page=2, page=9))
    assert past.rows == [] and "past the last page" in past.summary()


@pytest.mark.parametrize(("order", "numbers"), [("asc", [2, 5, 1, 4, 3]),
                                                ("desc", [4, 1, 5, 2, 3])])
def test_sort_puts_missing_values_last_either_way(order, numbers):
    page = trade_page(TRADES, TradeQuery(sort="pnl", order=order))
    assert [r["number"] for r in page.rows] == numbers


def test_filters_by_side_and_exit_reason():
    longs = trade_page(TRADES, TradeQuery(side="long"))
    assert [r["number"] for r in longs.rows] == [1, 3, 5]
    assert longs.summary() == "Trades 1–3 of 3 (of 5 in all)."
    both = trade_page(TRADES, TradeQuery(side="short", exit_reason="stop_loss"))
    assert [r["number"] for r in both.rows] == [2]
    none = trade_page(TRADES, TradeQuery(side="long", exit_reason="stop_loss"))
    assert none.rows == [] and none.total == 0 and none.pages == 1
    assert none.summary().startswith("No trades match")


def test_the_stored_trades_are_not_changed():
    before = [dict(t) for t in TRADES]
    trade_page(TRADES, TradeQuery(sort="pnl"))
    assert before == TRADES


def test_parse_reads_every_argument():
    q = parse_query({"page": "3", "per_page": "20", "sort": "return_pct", "order": "desc",
                     "side": "short", "exit_reason": "take_profit"})
    assert q == TradeQuery(3, 20, "return_pct", "desc", "short", "take_profit")
    assert q.args() == {"page": 3, "per_page": 20, "sort": "return_pct", "order": "desc",
                        "side": "short", "exit_reason": "take_profit"}
    assert TradeQuery().args(page=2) == {"page": 2}


@pytest.mark.parametrize(("args", "message"), [
    ({"page": "0"}, "page must be between 1 and"),
    ({"page": "x"}, "page must be a whole number"),
    ({"page": " 2"}, "page must be a whole number"),
    ({"page": "1.5"}, "page must be a whole number"),
    ({"page": "9" * 40}, "page must be between"),
    ({"per_page": "501"}, "per_page must be between 1 and 500"),
    ({"sort": "entry_bar"}, "sort must be one of number, side"),
    ({"order": "up"}, "order must be one of asc, desc"),
    ({"side": "both"}, "side must be one of long, short"),
    ({"side": ""}, "side must be one of"),
    ({"exit_reason": "margin_call"}, "exit_reason must be one of signal, stop_loss"),
])
def test_bad_arguments_say_what_is_allowed(args, message):
    with pytest.raises(InvalidInput, match=message):
        parse_query(args)


def test_the_page_form_sends_empty_for_any():
    assert parse_query({"side": "", "exit_reason": ""}, form=True) == TradeQuery()
