"""Queries the web front end needs beyond the other repository modules."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.db.backtests import JobSpec, Viewer, backtest_params_hash
from quantgrid.db.models import Backtest, Status, Sweep


def ping(session: Session) -> None:
    """Run a trivial query; raises DatabaseUnavailable (through the session) when it cannot."""
    session.execute(sa.text("SELECT 1")).scalar_one()


def count_jobs(session: Session, viewer: Viewer | None) -> int:
    """How many lines ``list_jobs`` has for ``viewer``: backtests outside sweeps plus sweeps."""
    backtests = sa.select(sa.func.count()).select_from(Backtest).where(Backtest.sweep_id.is_(None))
    sweeps = sa.select(sa.func.count()).select_from(Sweep)
    if viewer is not None and not viewer.is_admin:
        backtests = backtests.where(Backtest.owner_id == viewer.id)
        sweeps = sweeps.where(Sweep.owner_id == viewer.id)
    return session.scalar(backtests) + session.scalar(sweeps)


def count_sweeps(session: Session, viewer: Viewer | None) -> int:
    query = sa.select(sa.func.count()).select_from(Sweep)
    if viewer is not None and not viewer.is_admin:
        query = query.where(Sweep.owner_id == viewer.id)
    return session.scalar(query)


# Backtests that are, or will be, a result worth opening again (failed/cancelled ones are not).
_REUSABLE = (Status.QUEUED, Status.RUNNING, Status.SUCCEEDED)


def find_backtest(session: Session, owner_id: int, spec: JobSpec) -> Backtest | None:
    """The newest queued, running or succeeded stand-alone backtest of ``owner_id`` whose
    params hash is ``spec``'s (same strategy and version, params, series, range and settings),
    or None."""
    query = (
        sa.select(Backtest)
        .where(
            Backtest.owner_id == owner_id,
            Backtest.sweep_id.is_(None),
            Backtest.strategy == spec.strategy,
            Backtest.strategy_version_id.is_(None)
            if spec.strategy_version_id is None
            else Backtest.strategy_version_id == spec.strategy_version_id,
            Backtest.symbol == spec.symbol,
            Backtest.timeframe == spec.timeframe,
            Backtest.start_at == spec.start,
            Backtest.end_at == spec.end,
            Backtest.status.in_(_REUSABLE),
        )
        .order_by(Backtest.id.desc())
    )
    wanted = spec.params_hash()
    # JSON columns do not compare portably in SQL: narrow by the plain columns, match the hash here.
    return next(
        (job for job in session.scalars(query)
         if backtest_params_hash(job, spec.source_hash) == wanted), None)  # fmt: skip
