"""Backtests: submission, lookups, lists, and the guarded status transitions.

Every transition is one ``UPDATE ... WHERE id = :id AND status IN (...)``: it either moves the row
or touches nothing and returns False. A redelivered task therefore never moves a finished job
backwards, and two workers racing on one job cannot both win.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.db import quotas, tasked
from quantgrid.db.errors import InvalidTransition, JobNotFound
from quantgrid.db.models import FINISHED, UNFINISHED, Backtest, Result, Status, Sweep
from quantgrid.db.owners import Viewer, lock_user
from quantgrid.db.strategies import inline_version
from quantgrid.errors import InvalidInput
from quantgrid.timeframes import Timeframe

MAX_PAGE = 200


@dataclass(frozen=True)
class JobSpec:
    """What to backtest: everything but the strategy parameters is shared by a sweep.

    A spec checks itself when it is made, so one that exists is valid as far as the data layer
    can tell; the layers below take it as it is.
    """

    strategy: str
    symbol: str
    timeframe: str
    start: datetime
    end: datetime
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    # A user strategy: the saved version it runs, or its inline source (stored at submission),
    # and the source's hash (part of the result's fingerprint). None for a built-in.
    strategy_version_id: int | None = None
    source: str | None = None
    source_hash: str | None = None

    def __post_init__(self) -> None:
        """Raise InvalidInput for what the data layer can tell is wrong."""
        for name in ("strategy", "symbol", "timeframe"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > 64:
                raise InvalidInput(f"{name} must be a non-empty string of at most 64 characters")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidInput("start and end must carry a timezone (UTC)")
        if self.start >= self.end:
            raise InvalidInput(f"start ({self.start:%Y-%m-%d %H:%M}) must be before end")
        Timeframe.parse(self.timeframe)
        for name in ("params", "settings"):
            try:
                json.dumps(getattr(self, name), allow_nan=False)
            except (TypeError, ValueError) as err:
                raise InvalidInput(f"{name} must be plain JSON values: {err}") from None

    def params_hash(self, params: dict[str, Any] | None = None) -> str:
        """SHA-256 of the request minus the candles and engine (see Result.fingerprint)."""
        return params_hash(
            strategy_key(self.strategy, self.source_hash),
            self.params if params is None else params,
            self.symbol,
            self.timeframe,
            self.start,
            self.end,
            self.settings,
        )


def params_hash(strategy, params, symbol, timeframe, start, end, settings) -> str:
    doc = {
        "strategy": strategy,
        "params": params,
        "symbol": symbol,
        "timeframe": timeframe,
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "settings": settings,
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def strategy_key(name: str, source_hash: str | None) -> str:
    """What a result's fingerprint knows of the strategy: a built-in's name, or a user
    strategy's name and source hash (another version is another strategy)."""
    return name if source_hash is None else f"{name}@{source_hash}"


def backtest_params_hash(job: Backtest, source_hash: str | None = None) -> str:
    """The params hash of a stored backtest (``source_hash``: of its user strategy's source)."""
    return params_hash(
        strategy_key(job.strategy, source_hash), job.params, job.symbol, job.timeframe,
        job.start_at, job.end_at, job.settings,
    )  # fmt: skip


def submit_backtest(
    session: Session,
    user_id: int,
    spec: JobSpec,
    limits: quotas.Limits,
    *,
    task_id: str | None = None,
    idempotent: bool = False,
) -> tuple[Backtest, bool]:
    """Check the user's quotas, then add a queued backtest (flushed, so it has an id).

    The new row carries ``task_id`` (a fresh one unless given), the id of the task that will run
    it. With ``idempotent``, the user's backtest that already has this ``task_id`` is returned
    instead: a submission repeated by a proxy is one job. Returns the job and whether it is new.
    """
    user = lock_user(session, user_id)  # serialises the user's submissions: the check is exact
    if idempotent and task_id is not None:
        existing = session.scalar(
            sa.select(Backtest).where(Backtest.task_id == task_id, Backtest.owner_id == user.id)
        )
        if existing is not None:
            return existing, False
    mine = limits.for_user(user)
    quotas.check_candles(spec.timeframe, spec.start, spec.end, mine)
    quotas.check_unfinished_jobs(session, user, mine)
    job = Backtest(
        owner_id=user.id,
        status=Status.QUEUED,
        strategy=spec.strategy,
        params=spec.params,
        symbol=spec.symbol,
        timeframe=spec.timeframe,
        start_at=spec.start,
        end_at=spec.end,
        settings=spec.settings,
        task_id=task_id or str(uuid.uuid4()),
        strategy_version_id=strategy_version(session, user.id, spec),
    )
    session.add(job)
    session.flush()
    return job, True


def strategy_version(session: Session, owner_id: int, spec: JobSpec) -> int | None:
    """The user strategy version a job of ``spec`` runs: the saved one it names, or the row of
    its inline source (made in the submission's transaction); None for a built-in."""
    if spec.source is None:
        return spec.strategy_version_id
    return inline_version(session, owner_id, spec.source, spec.source_hash).id


def get_backtest(session: Session, job_id: int, viewer: Viewer | None = None) -> Backtest:
    """Return backtest ``job_id``; another user's job is NotFound (``viewer=None``: internal)."""
    job = session.get(Backtest, job_id, populate_existing=True)
    if job is None or not _visible(job.owner_id, viewer):
        raise JobNotFound(f"no backtest with id {job_id}")
    return job


def _visible(owner_id: int, viewer: Viewer | None) -> bool:
    return viewer is None or viewer.is_admin or viewer.id == owner_id


def list_backtests(
    session: Session,
    viewer: Viewer | None,
    *,
    status: Status | str | None = None,
    sweep_id: int | None = None,
    include_sweep_backtests: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> list[Backtest]:
    """Newest first; a user's own (all for an admin or ``viewer=None``)."""
    query = _filtered(sa.select(Backtest), viewer, status, sweep_id, include_sweep_backtests)
    query = query.order_by(Backtest.id.desc()).limit(_page(limit)).offset(max(offset, 0))
    return list(session.scalars(query))


def count_backtests(
    session: Session,
    viewer: Viewer | None,
    *,
    status: Status | str | None = None,
    sweep_id: int | None = None,
    include_sweep_backtests: bool = False,
) -> int:
    query = _filtered(
        sa.select(sa.func.count()).select_from(Backtest),
        viewer,
        status,
        sweep_id,
        include_sweep_backtests,
    )
    return session.scalar(query)


def _filtered(query, viewer, status, sweep_id, include_sweep_backtests):
    if viewer is not None and not viewer.is_admin:
        query = query.where(Backtest.owner_id == viewer.id)
    if status is not None:
        query = query.where(Backtest.status == _status(status))
    if sweep_id is not None:
        query = query.where(Backtest.sweep_id == sweep_id)
    elif not include_sweep_backtests:
        query = query.where(Backtest.sweep_id.is_(None))
    return query


def _status(status: Status | str) -> Status:
    try:
        return Status(status)
    except ValueError:
        raise InvalidInput(
            f"status must be one of {', '.join(s.value for s in Status)}, got {status!r}"
        ) from None


def _page(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    return limit


@dataclass(frozen=True)
class JobSummary:
    """One line of the jobs list: a backtest or a sweep."""

    kind: str  # "backtest" or "sweep"
    id: int
    owner_id: int
    status: Status
    strategy: str
    symbol: str
    timeframe: str
    created_at: datetime
    progress: float
    error: str | None


def list_jobs(
    session: Session,
    viewer: Viewer | None,
    *,
    status: Status | str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[JobSummary]:
    """Backtests (not those of a sweep) and sweeps together, newest first."""
    done = Sweep.n_succeeded + Sweep.n_failed + Sweep.n_cancelled
    sweep_progress = sa.case((Sweep.total > 0, sa.cast(done, sa.Float) / Sweep.total), else_=1.0)
    backtests = sa.select(
        sa.literal("backtest").label("kind"),
        Backtest.id,
        Backtest.owner_id,
        Backtest.status,
        Backtest.strategy,
        Backtest.symbol,
        Backtest.timeframe,
        Backtest.created_at,
        Backtest.progress.label("progress"),
        Backtest.error,
    ).where(Backtest.sweep_id.is_(None))
    sweeps = sa.select(
        sa.literal("sweep").label("kind"),
        Sweep.id,
        Sweep.owner_id,
        Sweep.status,
        Sweep.strategy,
        Sweep.symbol,
        Sweep.timeframe,
        Sweep.created_at,
        sweep_progress.label("progress"),
        Sweep.error,
    )
    if viewer is not None and not viewer.is_admin:
        backtests = backtests.where(Backtest.owner_id == viewer.id)
        sweeps = sweeps.where(Sweep.owner_id == viewer.id)
    if status is not None:
        backtests = backtests.where(Backtest.status == _status(status))
        sweeps = sweeps.where(Sweep.status == _status(status))
    union = sa.union_all(backtests, sweeps).subquery()
    rows = session.execute(
        sa.select(union)
        .order_by(union.c.created_at.desc(), union.c.kind, union.c.id.desc())
        .limit(_page(limit))
        .offset(max(offset, 0))
    )
    return [
        JobSummary(
            kind=r.kind,
            id=r.id,
            owner_id=r.owner_id,
            status=Status(r.status),
            strategy=r.strategy,
            symbol=r.symbol,
            timeframe=r.timeframe,
            created_at=_aware(r.created_at),
            progress=float(r.progress),
            error=r.error,
        )
        for r in rows
    ]


def _aware(value):
    if isinstance(value, str):  # SQLite hands back text from a UNION
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# -- transitions --------------------------------------------------------------------------------
# Transitions are Core statements on the table, not ORM-enabled ones: a job's run makes two of
# them, and the ORM's bulk-update machinery costs more CPU than the statement itself.
_TABLE = Backtest.__table__


def _transition(session: Session, job_id: int, allowed, **values) -> bool:
    result = session.execute(
        sa.update(_TABLE).where(_TABLE.c.id == job_id, _TABLE.c.status.in_(allowed)).values(**values)
    )
    return result.rowcount == 1


def start_backtest(session: Session, job_id: int, worker: str, task_id: str | None = None):
    """queued/running → running, counting the attempt; return the job's row (its columns as
    attributes), or None when it is finished or cancelled.

    A job already running is taken over: that is a redelivery after its worker was lost. One
    statement (``UPDATE ... RETURNING``): the task needs nothing else to start.
    """
    return session.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id == job_id, _TABLE.c.status.in_(UNFINISHED))
        .values(
            status=Status.RUNNING,
            started_at=sa.func.coalesce(_TABLE.c.started_at, sa.func.now()),
            attempts=_TABLE.c.attempts + 1,
            worker=worker,
            task_id=task_id,
            error=None,
        )
        .returning(*_TABLE.c)
    ).first()


def set_progress(session: Session, job_id: int, progress: float) -> bool:
    return _transition(
        session, job_id, (Status.RUNNING,), progress=min(max(float(progress), 0.0), 1.0)
    )


def succeed_backtest(session: Session, job_id: int, result_fingerprint: str) -> bool:
    """running → succeeded, pointing at the stored result with this fingerprint.

    When this backtest stored its result under another fingerprint before (an earlier run on
    other candles, say), it keeps pointing at that one: a backtest has one result row.
    """
    results = Result.__table__
    stored = sa.func.coalesce(
        sa.select(results.c.fingerprint).where(results.c.fingerprint == result_fingerprint)
        .scalar_subquery(),
        sa.select(results.c.fingerprint).where(results.c.backtest_id == job_id).scalar_subquery(),
        result_fingerprint,
    )
    return _transition(
        session,
        job_id,
        (Status.RUNNING,),
        status=Status.SUCCEEDED,
        result_fingerprint=stored,
        progress=1.0,
        finished_at=sa.func.now(),
        error=None,
    )


def fail_backtest(session: Session, job_id: int, error: str) -> bool:
    """queued/running → failed with the reason."""
    return _transition(
        session,
        job_id,
        UNFINISHED,
        status=Status.FAILED,
        error=error[:4000],
        finished_at=sa.func.now(),
    )


def note_retry(session: Session, job_id: int, error: str) -> bool:
    """Record why a running attempt will be retried; the job stays running."""
    return _transition(session, job_id, (Status.RUNNING,), error=f"retrying: {error}"[:4000])


@dataclass(frozen=True)
class Cancelled:
    """What was cancelled: ``task_ids`` are the Celery tasks to revoke (running work)."""

    id: int
    previous_status: Status
    task_ids: tuple[str, ...]


def cancel_backtest(session: Session, job_id: int, viewer: Viewer | None = None) -> Cancelled:
    """queued/running → cancelled; raise InvalidTransition when it has already finished."""
    job = get_backtest(session, job_id, viewer)
    # Revoke even a queued job's task: a worker may be starting it right now.
    before = Cancelled(job.id, job.status, (job.task_id,) if job.task_id else ())
    if not _transition(
        session, job_id, UNFINISHED, status=Status.CANCELLED, finished_at=sa.func.now()
    ):
        current = get_backtest(session, job_id)
        raise InvalidTransition(f"backtest {job_id} has already {current.status.value}")
    return before


def retry_backtest(session: Session, job_id: int, viewer: Viewer | None = None) -> Backtest:
    """failed/cancelled → queued, as a fresh run; raise InvalidTransition otherwise."""
    job = get_backtest(session, job_id, viewer)
    if not _transition(
        session,
        job_id,
        (Status.FAILED, Status.CANCELLED),
        status=Status.QUEUED,
        error=None,
        progress=0.0,
        attempts=0,
        worker=None,
        task_id=None,
        started_at=None,
        finished_at=None,
    ):
        raise InvalidTransition(
            f"only failed or cancelled backtests can be retried; {job_id} is {job.status.value}"
        )
    return get_backtest(session, job_id)


def requeue_backtest(session: Session, job_id: int) -> bool:
    """running → queued (its worker is gone); the next delivery runs it again."""
    return _transition(
        session, job_id, (Status.RUNNING,), status=Status.QUEUED, worker=None, progress=0.0
    )


def set_task_id(session: Session, job_id: int, task_id: str) -> None:
    tasked.set_task_id(session, Backtest, job_id, task_id)


def queued_backtests(session: Session) -> list[Backtest]:
    return tasked.queued(session, Backtest)


def stuck_backtests(
    session: Session, alive_workers: set[str], started_before: datetime
) -> list[Backtest]:
    """Running backtests whose worker is not among ``alive_workers``."""
    return tasked.stuck(session, Backtest, alive_workers, started_before)


def is_finished(status: Status) -> bool:
    return status in FINISHED
