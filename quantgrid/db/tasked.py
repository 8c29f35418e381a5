"""Queries shared by the two kinds of row that a Celery task runs: backtests and sweep chunks.

Both carry ``status``, ``worker``, ``started_at`` and ``task_id`` columns, so recording a task id
and finding the rows left running by a dead worker read the same for either model.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.db.models import Backtest, Status, SweepChunk

TaskedRow = type[Backtest] | type[SweepChunk]


def set_task_id(session: Session, model: TaskedRow, row_id: int, task_id: str) -> None:
    """Record the Celery task id that runs the row (cancel revokes it)."""
    session.execute(
        sa.update(model)
        .where(model.id == row_id)
        .values(task_id=task_id)
        .execution_options(synchronize_session=False)
    )


def queued(session: Session, model: TaskedRow) -> list:
    """Every queued row, oldest first."""
    query = sa.select(model).where(model.status == Status.QUEUED).order_by(model.id)
    return list(session.scalars(query))


def stuck(
    session: Session, model: TaskedRow, alive_workers: set[str], started_before: datetime
) -> list:
    """Running rows started before ``started_before`` whose worker is not in ``alive_workers``."""
    query = sa.select(model).where(
        model.status == Status.RUNNING,
        sa.or_(model.started_at.is_(None), model.started_at < started_before),
    )
    if alive_workers:
        query = query.where(
            sa.or_(model.worker.is_(None), model.worker.not_in(sorted(alive_workers)))
        )
    return list(session.scalars(query.order_by(model.id)))
