"""Results as pandas: a backtest's metrics, equity and trades; a sweep's grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quantgrid.client.jobs import Job


@dataclass(frozen=True)
class BacktestResult:
    backtest_id: int
    metrics: dict[str, float | int | None]  # None where a metric is undefined (no trades, ...)
    equity: pd.DataFrame  # equity and drawdown_pct, indexed by UTC time
    trades: pd.DataFrame  # one row per trade; entry_time and exit_time in UTC
    data: dict[str, Any] = field(repr=False, compare=False)  # the whole response

    @classmethod
    def of(cls, data: dict[str, Any]) -> BacktestResult:
        return cls(backtest_id=data["backtest_id"], metrics=data["metrics"],
                   equity=equity_frame(data["equity"]), trades=trades_frame(data["trades"]),
                   data=data)


@dataclass(frozen=True)
class SweepResult:
    sweep: Job
    metric: str  # the metric the sweep ranks by
    table: pd.DataFrame  # one row per combination in grid order: its params, status and metrics
    # The best combination's Deflated Sharpe Ratio and the sweep's Probability of Backtest
    # Overfitting ({"deflated_sharpe": {...}, "pbo": {...}}, each with "available" and a reason)
    statistics: dict[str, Any] = field(default_factory=dict)


def equity_frame(equity: dict[str, list]) -> pd.DataFrame:
    """The API's equity columns (``time`` in Unix seconds) as a frame indexed by UTC time."""
    index = pd.DatetimeIndex(pd.to_datetime(equity["time"], unit="s", utc=True), name="time")
    return pd.DataFrame({"equity": equity["equity"], "drawdown_pct": equity["drawdown_pct"]},
                        index=index, dtype=float)


def trades_frame(trades: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(trades)
    for column in ("entry_time", "exit_time"):
        if column in frame:
            # UTC, to the precision the whole column needs: "2024-01-11Z" when all are midnights.
            frame[column] = pd.to_datetime(frame[column].str.removesuffix("Z"), utc=True,
                                           format="ISO8601")
    return frame


def sweep_result(data: dict[str, Any]) -> SweepResult:
    """A sweep's /results response as a SweepResult (metrics not yet evaluated are NaN)."""
    metrics = data["metrics"]
    rows = [{**item["params"], "status": item["status"],
             **{k: (item["metrics"] or {}).get(k) for k in metrics}} for item in data["items"]]
    table = pd.DataFrame(rows, index=pd.Index([i["index"] for i in data["items"]], name="index"))
    table[metrics] = table[metrics].astype(float)
    sweep = Job.of(data["sweep"])
    return SweepResult(sweep=sweep, metric=sweep.data["metric"], table=table,
                       statistics=data.get("statistics") or {})
