"""The compact encodings of equity curves and trades are lossless and actually compact."""

from __future__ import annotations

import numpy as np
import pytest

from quantgrid.db import codec


def test_equity_round_trips_bit_for_bit_and_compresses_regular_bars():
    time = np.arange(0, 100_000, dtype=np.int64) * 60 * 10**9 + 1_700_000_000 * 10**9
    value = 10_000 + np.cumsum(np.random.default_rng(1).normal(0, 1, len(time)))
    t_blob, v_blob, n = codec.encode_equity(time, value)
    assert n == len(time)
    assert len(t_blob) < time.nbytes / 100  # regular bars: deltas compress to almost nothing
    back_t, back_v = codec.decode_equity(t_blob, v_blob)
    np.testing.assert_array_equal(back_t, time)
    np.testing.assert_array_equal(back_v, value)


def test_empty_equity_and_mismatched_lengths():
    t_blob, v_blob, n = codec.encode_equity([], [])
    assert n == 0 and all(len(a) == 0 for a in codec.decode_equity(t_blob, v_blob))
    with pytest.raises(ValueError, match="one length"):
        codec.encode_equity([1, 2, 3], [1.0])


def test_trades_from_rows_or_columns_decode_to_the_same_rows():
    rows = [
        {"side": "long", "entry": np.float64(1.5), "qty": np.int64(3), "pnl": float("nan")},
        {"side": "short", "entry": 2.0, "qty": 1, "pnl": 4.0},
    ]
    blob, n = codec.encode_trades(rows)
    assert n == 2
    expected = [
        {"side": "long", "entry": 1.5, "qty": 3, "pnl": None},
        {"side": "short", "entry": 2.0, "qty": 1, "pnl": 4.0},
    ]
    assert codec.decode_trades(blob) == expected
    columns = {k: np.array([r[k] for r in rows]) for k in ("entry", "qty", "pnl")}
    columns["side"] = ["long", "short"]
    blob2, n2 = codec.encode_trades(columns)
    assert n2 == 2
    assert sorted(codec.decode_trades(blob2)[0].items()) == sorted(expected[0].items())
    assert codec.decode_trade_columns(blob2)["qty"] == [3, 1]


def test_trade_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        codec.encode_trades({"a": [1, 2], "b": [1]})


def test_metrics_become_plain_json():
    out = codec.plain_metrics({"a": np.float32(0.5), "b": np.inf, "c": np.int64(4), "d": "x"})
    assert out == {"a": 0.5, "b": None, "c": 4, "d": "x"}
    assert type(out["c"]) is int


def test_the_engines_trade_columns_store_what_its_trade_records_say():
    from engine.backtest import trade_columns, trade_records
    from engine.simulator import EXIT_REASONS, TRADE_DTYPE

    trades = np.zeros(3, dtype=TRADE_DTYPE)
    trades["entry_bar"], trades["exit_bar"] = [1, 5, 9], [4, 8, 12]
    trades["entry_time"] = np.array([1, 5, 9], dtype="datetime64[h]").astype("datetime64[ns]")
    trades["exit_time"] = np.array([4, 8, 12], dtype="datetime64[h]").astype("datetime64[ns]")
    trades["pnl"] = [1.5, np.nan, -np.inf]  # undefined values are stored as null
    trades["exit_reason"] = [0, EXIT_REASONS.index("stop_loss"), EXIT_REASONS.index("end_of_data")]
    blob, n = codec.encode_trades(trade_columns(trades))
    records = trade_records(trades)
    for row in records:
        row["pnl"] = row["pnl"] if np.isfinite(row["pnl"]) else None
    assert n == 3 and codec.decode_trades(blob) == records
    assert [r["exit_reason"] for r in records] == ["signal", "stop_loss", "end_of_data"]
    assert [r["open"] for r in records] == [False, False, True]
    assert records[0]["entry_time"] == "1970-01-01T01:00:00Z"


def test_trade_times_are_iso_date_times_even_at_midnight():
    from engine.backtest import trade_records
    from engine.simulator import TRADE_DTYPE

    trades = np.zeros(2, dtype=TRADE_DTYPE)
    trades["entry_time"] = np.array(["2024-01-11", "2024-01-12T00:00:00.250"], dtype="datetime64[ns]")
    trades["exit_time"] = np.array(["2024-01-13", "2024-01-14"], dtype="datetime64[ns]")
    (first, second) = trade_records(trades)
    assert first["exit_time"] == "2024-01-13T00:00:00Z"  # numpy's "auto" wrote "2024-01-13Z"
    assert (first["entry_time"], second["entry_time"]) == (
        "2024-01-11T00:00:00.000Z", "2024-01-12T00:00:00.250Z")


def test_a_matrix_round_trips_bit_for_bit_with_nan_and_infinities():
    m = np.random.default_rng(2).normal(size=(7, 53))
    m[1, 3], m[2, 4], m[6, 0] = np.nan, np.inf, -np.inf
    back = codec.decode_matrix(codec.encode_matrix(m))
    assert back.shape == m.shape and back.dtype == np.float64
    np.testing.assert_array_equal(back.view(np.uint64), m.view(np.uint64))
    assert codec.decode_matrix(codec.encode_matrix(np.zeros((0, 5)))).shape == (0, 5)
    with pytest.raises(ValueError, match="2-D"):
        codec.encode_matrix(np.zeros(3))
