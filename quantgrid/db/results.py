"""Backtest results: stored once, found by fingerprint for reuse, decoded for reports.

``fingerprint`` = sha256(params hash, candles fingerprint, engine version). The table has unique
constraints on both ``fingerprint`` and ``backtest_id`` and :func:`store_result` inserts with
``ON CONFLICT DO NOTHING``, so a redelivered task (or two identical jobs racing) ends with one row.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quantgrid.db import codec
from quantgrid.db.backtests import Viewer, get_backtest
from quantgrid.db.errors import JobNotFound
from quantgrid.db.models import Result


def result_fingerprint(params_hash: str, candles_fingerprint: str, engine_version: str) -> str:
    return hashlib.sha256(
        f"{params_hash}|{candles_fingerprint}|{engine_version}".encode()
    ).hexdigest()


def candles_fingerprint(candles) -> str:
    """SHA-256 over the candles' timestamps and OHLCV arrays (engine.candles.Candles)."""
    digest = hashlib.sha256()
    for name in ("time", "open", "high", "low", "close", "volume"):
        arr = np.ascontiguousarray(getattr(candles, name))
        digest.update(name.encode())
        digest.update(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


def find_result(session: Session, fingerprint: str) -> Result | None:
    return session.scalar(sa.select(Result).where(Result.fingerprint == fingerprint))


def store_result(
    session: Session,
    *,
    backtest_id: int,
    params_hash: str,
    candles_fingerprint: str,
    engine_version: str,
    metrics: dict[str, Any],
    equity_time,
    equity_value,
    trades,
) -> str:
    """Insert the result unless one with this fingerprint (or for this backtest) exists; return
    its fingerprint. Nothing is read back: ``succeed_backtest`` points the job at the stored row."""
    fingerprint = result_fingerprint(params_hash, candles_fingerprint, engine_version)
    time_blob, value_blob, n_points = codec.encode_equity(equity_time, equity_value)
    trades_blob, n_trades = codec.encode_trades(trades)
    values = dict(
        backtest_id=backtest_id,
        fingerprint=fingerprint,
        params_hash=params_hash,
        candles_fingerprint=candles_fingerprint,
        engine_version=engine_version,
        metrics=codec.plain_metrics(metrics),
        n_points=n_points,
        equity_time=time_blob,
        equity_value=value_blob,
        n_trades=n_trades,
        trades=trades_blob,
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Result.__table__).values(**values).on_conflict_do_nothing())
    return fingerprint


@dataclass(frozen=True)
class Report:
    """A decoded result: what the pages, the API and the CLI show."""

    backtest_id: int
    fingerprint: str
    engine_version: str
    candles_fingerprint: str
    metrics: dict[str, Any]
    equity_time: np.ndarray
    equity_value: np.ndarray
    trades: list[dict[str, Any]]
    reused: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "backtest_id": self.backtest_id,
            "fingerprint": self.fingerprint,
            "engine_version": self.engine_version,
            "candles_fingerprint": self.candles_fingerprint,
            "metrics": self.metrics,
            "equity": {
                "time": self.equity_time.tolist(),
                "value": [v if math.isfinite(v) else None for v in self.equity_value.tolist()],
            },
            "trades": self.trades,
            "reused": self.reused,
        }


def report_for_backtest(session: Session, backtest_id: int, viewer: Viewer | None = None) -> Report:
    """Return the decoded result of a succeeded backtest; NotFound when it has none (yet)."""
    job = get_backtest(session, backtest_id, viewer)
    if job.result_fingerprint is None:
        raise JobNotFound(f"backtest {backtest_id} has no result ({job.status.value})")
    row = find_result(session, job.result_fingerprint)
    if row is None:
        raise JobNotFound(f"the result of backtest {backtest_id} is missing")
    time_ns, values = codec.decode_equity(row.equity_time, row.equity_value)
    return Report(
        backtest_id=backtest_id,
        fingerprint=row.fingerprint,
        engine_version=row.engine_version,
        candles_fingerprint=row.candles_fingerprint,
        metrics=row.metrics,
        equity_time=time_ns,
        equity_value=values,
        trades=codec.decode_trades(row.trades),
        reused=row.backtest_id != backtest_id,
    )
