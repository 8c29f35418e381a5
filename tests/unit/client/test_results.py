"""Results as pandas frames, and the client's view of job statuses."""

from __future__ import annotations

import pandas as pd

from quantgrid.client.jobs import FINAL
from quantgrid.client.results import equity_frame, sweep_result, trades_frame
from quantgrid.db.models import Status


def test_final_statuses_are_the_servers_statuses_but_queued_and_running():
    assert FINAL | {"queued", "running"} == {s.value for s in Status}


def test_equity_is_indexed_by_utc_time():
    frame = equity_frame({"time": [1704067200, 1704070800], "equity": [10_000.0, None],
                          "drawdown_pct": [0.0, None]})
    assert frame.index[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert str(frame.index.tz) == "UTC" and frame.index.name == "time"
    assert frame["equity"].isna().tolist() == [False, True]


def test_trade_times_are_utc():
    frame = trades_frame([{"entry_time": "2024-01-01T05:00:00Z",
                           "exit_time": "2024-01-02T00:00:00Z", "pnl": 12.5}])
    assert frame.loc[0, "entry_time"] == pd.Timestamp("2024-01-01T05:00:00Z")
    assert trades_frame([{"entry_time": "2024-01-11Z"}]).loc[0, "entry_time"] == pd.Timestamp(
        "2024-01-11T00:00:00Z")  # how the engine writes a column of midnights
    assert trades_frame([]).empty


def test_a_sweeps_grid_is_one_row_per_combination_with_nan_until_evaluated():
    result = sweep_result({
        "sweep": {"kind": "sweep", "id": 4, "status": "running", "progress": 0.5,
                  "metric": "sharpe"},
        "metrics": ["sharpe", "trades"],
        "items": [{"index": 0, "params": {"fast": 5}, "status": "succeeded",
                   "metrics": {"sharpe": 1.5, "trades": 3}},
                  {"index": 1, "params": {"fast": 10}, "status": "queued", "metrics": None}],
    })  # fmt: skip
    assert result.sweep.id == 4 and result.metric == "sharpe"
    assert list(result.table.columns) == ["fast", "status", "sharpe", "trades"]
    assert result.table.loc[0, "sharpe"] == 1.5 and pd.isna(result.table.loc[1, "trades"])
