"""How jobs and results look as JSON and CSV (shared by the pages and the API)."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from quantgrid.db.results import Report
from quantgrid.jobs.describe import describe as job_dict

__all__ = ["candles_dict", "equity_dict", "equity_csv", "job_dict", "report_dict", "trades_csv"]


def drawdown_pct(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, in percent (0 at a new high, negative below it)."""
    if not len(equity):
        return equity
    values = np.where(np.isfinite(equity), equity, np.nan)
    peak = np.fmax.accumulate(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values / peak - 1.0) * 100.0


def _finite(values) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def equity_dict(report: Report) -> dict[str, Any]:
    return {
        "time": [int(t) // 1_000_000_000 for t in report.equity_time.tolist()],
        "equity": _finite(report.equity_value.tolist()),
        "drawdown_pct": _finite(drawdown_pct(report.equity_value).tolist()),
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole result: metrics, equity (times in seconds), trades and provenance."""
    return {
        "backtest_id": report.backtest_id,
        "fingerprint": report.fingerprint,
        "engine_version": report.engine_version,
        "candles_fingerprint": report.candles_fingerprint,
        "reused": report.reused,
        "metrics": report.metrics,
        "equity": equity_dict(report),
        "trades": report.trades,
    }


def candles_dict(candles) -> dict[str, Any]:
    return {
        "time": (np.asarray(candles.time, dtype=np.int64) // 1_000_000_000).tolist(),
        "open": _finite(candles.open.tolist()),
        "high": _finite(candles.high.tolist()),
        "low": _finite(candles.low.tolist()),
        "close": _finite(candles.close.tolist()),
    }


def trades_csv(report: Report) -> str:
    out = io.StringIO()
    columns = list(report.trades[0]) if report.trades else ["entry_time", "exit_time"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.trades)
    return out.getvalue()


def equity_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "equity", "drawdown_pct"])
    data = equity_dict(report)
    for t, e, d in zip(data["time"], data["equity"], data["drawdown_pct"], strict=True):
        writer.writerow([t, "" if e is None else e, "" if d is None else d])
    return out.getvalue()
