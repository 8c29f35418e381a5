"""Per-user limits, checked at submission: unfinished jobs, sweep size, candles per job.

Each limit comes from the user row when set there, else from ``quantgrid.config.Settings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.config import Settings
from quantgrid.db.models import UNFINISHED, Backtest, Sweep, User
from quantgrid.errors import QuotaExceeded
from quantgrid.timeframes import Timeframe


@dataclass(frozen=True)
class Limits:
    max_queued_jobs: int
    max_sweep_size: int
    max_candles_per_job: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.quota_max_queued_jobs,
            settings.quota_max_sweep_size,
            settings.quota_max_candles_per_job,
        )

    def for_user(self, user: User) -> Limits:
        """Apply ``user``'s overrides (NULL columns keep the configured value)."""
        return Limits(
            _pick(user.max_queued_jobs, self.max_queued_jobs),
            _pick(user.max_sweep_size, self.max_sweep_size),
            _pick(user.max_candles_per_job, self.max_candles_per_job),
        )


def _pick(override: int | None, default: int) -> int:
    return default if override is None else override


def estimated_candles(timeframe: str, start: datetime, end: datetime) -> int:
    """The most bars a range can hold at a timeframe (markets that close hold fewer)."""
    return int((end - start).total_seconds() // Timeframe.parse(timeframe).seconds) + 1


def check_unfinished_jobs(session: Session, user: User, limits: Limits, adding: int = 1) -> None:
    """Raise QuotaExceeded when ``user`` would have more than the allowed unfinished jobs.

    Backtests of a sweep do not count: a sweep counts as one job.
    """
    backtests = (
        sa.select(sa.func.count())
        .select_from(Backtest)
        .where(Backtest.owner_id == user.id, Backtest.status.in_(UNFINISHED))
        .where(Backtest.sweep_id.is_(None))
        .scalar_subquery()
    )
    sweeps = (
        sa.select(sa.func.count())
        .select_from(Sweep)
        .where(Sweep.owner_id == user.id, Sweep.status.in_(UNFINISHED))
        .scalar_subquery()
    )
    have = session.scalar(sa.select(backtests + sweeps))  # one round trip for both
    if have + adding > limits.max_queued_jobs:
        raise QuotaExceeded(
            f"you already have {have} queued or running jobs and your limit is "
            f"{limits.max_queued_jobs}; wait for some to finish or cancel them"
        )


def check_sweep_size(combinations: int, limits: Limits) -> None:
    if combinations > limits.max_sweep_size:
        raise QuotaExceeded(
            f"this sweep has {combinations:,} parameter combinations and your limit is "
            f"{limits.max_sweep_size:,}; use fewer values per parameter"
        )


def check_candles(timeframe: str, start: datetime, end: datetime, limits: Limits) -> int:
    """Raise QuotaExceeded when the range holds more bars than allowed; return the estimate."""
    bars = estimated_candles(timeframe, start, end)
    if bars > limits.max_candles_per_job:
        raise QuotaExceeded(
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d} at {timeframe} is up to {bars:,} candles and "
            f"your limit is {limits.max_candles_per_job:,} per job; shorten the range or use a "
            "longer timeframe"
        )
    return bars
