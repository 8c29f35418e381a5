"""Each documented simulator rule on a handful of hand-made bars (docs/semantics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.candles import Candles
from engine.signals import FLAT, LONG, SHORT
from engine.simulator import EXIT_REASONS, SimConfig, simulate

DAY = 86_400 * 10**9


def bars(rows):
    """Candles from (open, high, low, close) rows, one day apart."""
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return Candles.from_arrays(np.arange(len(rows)) * DAY, o, h, lo, c, np.ones(len(rows)))


FLAT_ROWS = [(10, 10, 10, 10)] * 3


def sig(n, **at):
    s = np.zeros(n, dtype=np.int8)
    for k, v in at.items():
        s[int(k[1:])] = v
    return s


def reason(result, k=0):
    return EXIT_REASONS[result.trades["exit_reason"][k]]


def test_order_fills_at_next_open_and_equity_marks_to_close():
    c = bars([(10, 10, 10, 10), (11, 12, 10, 12), (12, 13, 11, 13)])
    r = simulate(c, sig(3, b0=LONG), SimConfig(cash=100, sizing="units", size=2))
    t = r.trades[0]
    assert (t["entry_bar"], t["entry_price"], t["size"]) == (1, 11.0, 2.0)
    assert r.equity.tolist() == [100.0, 100 + 2 * (12 - 11), 100 + 2 * (13 - 11)]
    assert reason(r) == "end_of_data"
    assert r.metrics["trades"] == 0 and r.metrics["open_trades"] == 1


def test_order_decided_on_last_bar_never_fills():
    r = simulate(bars(FLAT_ROWS), sig(3, b2=LONG), SimConfig())
    assert len(r.trades) == 0


def test_fill_at_close_is_an_explicit_option():
    c = bars([(10, 10, 10, 10), (11, 12, 10, 12), (12, 13, 11, 13)])
    r = simulate(c, sig(3, b0=LONG, b2=FLAT), SimConfig(sizing="units", size=1, fill="close"))
    t = r.trades[0]
    assert (t["entry_bar"], t["entry_price"], t["exit_bar"], t["exit_price"]) == (0, 10, 2, 13)


def test_all_in_sizing_includes_the_entry_commission():
    c = bars([(10, 10, 10, 10), (10, 10, 10, 10)])
    r = simulate(c, sig(2, b0=LONG), SimConfig(cash=1000, commission=0.01))
    # 1000 / (10 * 1.01) = 99.0099 -> 99 whole units; 100 would cost 1010
    assert r.trades[0]["size"] == 99
    assert r.equity[-1] == pytest.approx(1000 - 99 * 10 * 0.01)


def test_a_fixed_fee_counts_per_unit_in_all_in_and_once_in_equity_fraction_of_one():
    # docs/semantics.md: backtesting.py's all-in formula adds the fee to each unit's price, so at
    # 1.08 with a $1 fee about half the cash is invested; equity_fraction 1 invests all of it
    c = bars([(1.08, 1.08, 1.08, 1.08)] * 3)
    all_in = simulate(c, sig(3, b0=LONG), SimConfig(fixed_fee=1.0, fractional=True)).trades[0]
    assert all_in["size"] == pytest.approx(10_000 / 2.08, rel=1e-12)
    config = SimConfig(fixed_fee=1.0, fractional=True, sizing="equity_fraction", size=1)
    whole = simulate(c, sig(3, b0=LONG), config).trades[0]
    assert whole["size"] * 1.08 + whole["fees"] == pytest.approx(10_000, rel=1e-12)


def test_opposite_signal_closes_and_reverses_at_the_same_open():
    c = bars([(10, 10, 10, 10), (10, 11, 9, 10), (12, 12, 12, 12), (12, 12, 12, 12)])
    r = simulate(c, sig(4, b1=LONG, b2=SHORT), SimConfig(sizing="units", size=1))
    long_, short = r.trades
    assert (long_["exit_bar"], long_["exit_price"]) == (3, 12)
    assert (short["entry_bar"], short["entry_price"], short["size"]) == (3, 12, -1)


def test_long_signal_while_long_closes_and_reopens():
    c = bars([(10, 10, 10, 10)] * 4)
    r = simulate(c, sig(4, b0=LONG, b1=LONG), SimConfig(sizing="units", size=1, fixed_fee=1))
    assert r.trades["entry_bar"].tolist() == [1, 2]
    assert r.trades["fees"][0] == 2  # entry and exit fee on the closed one


@pytest.mark.parametrize(("direction", "expected_sizes"), [("long", [1.0]), ("short", [-1.0])])
def test_one_sided_modes_only_close_on_the_other_side(direction, expected_sizes):
    c = bars([(10, 10, 10, 10)] * 5)
    signals = sig(5, b0=LONG, b1=SHORT) if direction == "long" else sig(5, b0=SHORT, b1=LONG)
    r = simulate(c, signals, SimConfig(sizing="units", size=1, direction=direction))
    assert r.trades["size"].tolist() == expected_sizes
    assert r.trades["exit_bar"].tolist() == [2]
    assert reason(r) == "signal"


def test_gap_through_a_stop_fills_at_the_open():
    # long at 100, stop 5 % below = 95; the next bar opens at 90
    c = bars([(100, 100, 100, 100), (100, 101, 99, 100), (90, 92, 88, 91)])
    r = simulate(c, sig(3, b0=LONG), SimConfig(sizing="units", size=1, stop_loss=0.05))
    assert (r.trades[0]["exit_price"], reason(r)) == (90, "stop_loss")


def test_stop_fills_at_its_level_when_touched_intrabar():
    c = bars([(100, 100, 100, 100), (100, 101, 99, 100), (98, 99, 93, 97)])
    r = simulate(c, sig(3, b0=LONG), SimConfig(sizing="units", size=1, stop_loss=0.05))
    assert r.trades[0]["exit_price"] == pytest.approx(95)


def test_bar_touching_stop_and_take_profit_takes_the_stop():
    c = bars([(100, 100, 100, 100), (100, 100, 100, 100), (100, 120, 80, 100)])
    r = simulate(c, sig(3, b0=LONG),
                 SimConfig(sizing="units", size=1, stop_loss=0.1, take_profit=0.1))
    assert (r.trades[0]["exit_price"], reason(r)) == (pytest.approx(90), "stop_loss")


def test_take_profit_gap_fills_at_the_better_open_for_a_short():
    c = bars([(100, 100, 100, 100), (100, 100, 100, 100), (80, 85, 78, 82)])
    r = simulate(c, sig(3, b0=SHORT), SimConfig(sizing="units", size=1, take_profit=0.1))
    assert (r.trades[0]["exit_price"], reason(r)) == (80, "take_profit")


def test_trailing_stop_follows_the_best_price_of_earlier_bars():
    c = bars([(100, 100, 100, 100), (100, 100, 100, 100), (100, 120, 100, 119),
              (119, 119, 107, 110)])
    r = simulate(c, sig(4, b0=LONG), SimConfig(sizing="units", size=1, trailing_stop=0.1))
    # best is 120 after bar 2, so the stop is 108, touched by bar 3's low of 107
    assert (r.trades[0]["exit_bar"], reason(r)) == (3, "trailing_stop")
    assert r.trades[0]["exit_price"] == pytest.approx(108)


def test_stops_are_checked_on_the_fill_bar_for_next_open_fills():
    c = bars([(100, 100, 100, 100), (100, 100, 90, 95)])
    r = simulate(c, sig(2, b0=LONG), SimConfig(sizing="units", size=1, stop_loss=0.05))
    assert (r.trades[0]["exit_bar"], reason(r)) == (1, "stop_loss")


def test_slippage_works_against_both_legs():
    c = bars([(100, 100, 100, 100)] * 3)
    r = simulate(c, sig(3, b0=LONG, b1=FLAT), SimConfig(sizing="units", size=1, slippage=0.01))
    t = r.trades[0]
    assert (t["entry_price"], t["exit_price"]) == (pytest.approx(101), pytest.approx(99))
    assert t["pnl"] == pytest.approx(-2)


def test_pnl_and_return_are_net_of_both_commissions():
    c = bars([(100, 100, 100, 100), (100, 100, 100, 100), (110, 110, 110, 110)])
    r = simulate(c, sig(3, b0=LONG, b1=FLAT), SimConfig(sizing="units", size=2, commission=0.01))
    t = r.trades[0]
    assert t["fees"] == pytest.approx(2 * 100 * 0.01 + 2 * 110 * 0.01)
    assert t["pnl"] == pytest.approx(2 * 10 - 4.2)
    assert t["return_pct"] == pytest.approx(0.1 - 4.2 / 200)


def test_equity_before_start_is_the_cash():
    c = bars([(10, 10, 10, 10), (11, 11, 11, 11), (12, 12, 12, 12)])
    r = simulate(c, sig(3, b0=LONG), SimConfig(cash=500), start=1)
    assert r.equity.tolist() == [500, 500, 500]


def test_metrics_of_an_empty_series_are_undefined_not_errors():
    r = simulate(Candles.from_arrays(np.zeros(0, np.int64), [], [], [], [], []), np.zeros(0, np.int8))
    assert r.metrics["trades"] == 0 and math.isnan(r.metrics["equity_final"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cash": 0}, "cash must be"),
        ({"commission": -0.1}, "commission must be"),
        ({"sizing": "kelly"}, "sizing must be one of"),
        ({"sizing": "units"}, "needs a size"),
        ({"sizing": "units", "size": 1.5}, "whole number"),
        ({"sizing": "equity_fraction", "size": 2}, "fraction of equity"),
        ({"size": 3}, "not used with sizing='all_in'"),
        ({"stop_loss": 1.5}, "stop_loss must be"),
        ({"direction": "up"}, "direction must be"),
        ({"fill": "open"}, "fill must be"),
    ],
)
def test_bad_config_says_how_to_fix_it(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimConfig(**kwargs)


def test_bad_signals_and_start_are_refused():
    c = bars(FLAT_ROWS)
    with pytest.raises(ValueError, match="one value per bar"):
        simulate(c, np.zeros(2, dtype=np.int8))
    with pytest.raises(ValueError, match="-1 \\(SHORT\\)"):
        simulate(c, np.array([0, 3, 0]))
    with pytest.raises(TypeError, match="integers"):
        simulate(c, np.zeros(3))
    with pytest.raises(ValueError, match="start must be"):
        simulate(c, np.zeros(3, dtype=np.int8), start=4)
    with pytest.raises(TypeError, match="Candles"):
        simulate({"close": [1]}, np.zeros(1, dtype=np.int8))
