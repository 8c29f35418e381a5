"""Sweeps and their chunks: submission, the guarded chunk transitions, aggregation.

A sweep's grid is split into chunks of parameter sets; each chunk is one task evaluated by the
sweep kernel. A chunk's transition and the sweep's per-status counters (which count
combinations) change in the same transaction, so the counters are exact and progress is
visible while the sweep runs. When the last chunk finishes, :func:`finalize_sweep` picks the best
combination by the sweep's metric; the full grid stays in the chunks.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from quantgrid.db import quotas, tasked
from quantgrid.db.backtests import (
    Cancelled,
    JobSpec,
    Viewer,
    _page,
    _visible,
    lock_user,
    strategy_version,
)
from quantgrid.db.codec import decode_matrix, encode_matrix, plain_metrics
from quantgrid.db.errors import InvalidTransition, JobNotFound
from quantgrid.db.models import UNFINISHED, Status, Sweep, SweepChunk
from quantgrid.errors import InvalidInput

DEFAULT_CHUNK_SIZE = 250
MAX_CHUNK_SIZE = 10_000


def submit_sweep(
    session: Session,
    user_id: int,
    spec: JobSpec,
    grid: dict[str, Any],
    combinations: Sequence[dict[str, Any]],
    limits: quotas.Limits,
    *,
    metric: str,
    maximize: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    request_key: str | None = None,
) -> tuple[Sweep, list[SweepChunk]]:
    """Check quotas and add a queued sweep with its chunks (flushed, so they have ids).

    ``combinations`` is the expanded grid in its canonical order (``engine.sweep.parse_grid``).
    With ``request_key``, the user's sweep that already has it is returned with no chunks: a
    submission repeated by a proxy is one sweep.
    """
    if not combinations:
        raise InvalidInput("the grid has no parameter combinations")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidInput(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")
    if not metric or not isinstance(metric, str) or len(metric) > 32:
        raise InvalidInput("metric must name one of the engine's metrics")
    user = lock_user(session, user_id)  # serialises the user's submissions: the check is exact
    if request_key is not None:
        existing = session.scalar(
            sa.select(Sweep).where(Sweep.request_key == request_key, Sweep.owner_id == user.id)
        )
        if existing is not None:
            return existing, []
    mine = limits.for_user(user)
    quotas.check_sweep_size(len(combinations), mine)
    quotas.check_candles(spec.timeframe, spec.start, spec.end, mine)
    quotas.check_unfinished_jobs(session, user, mine)
    sweep = Sweep(
        owner_id=user.id,
        status=Status.QUEUED,
        strategy=spec.strategy,
        grid=grid,
        symbol=spec.symbol,
        timeframe=spec.timeframe,
        start_at=spec.start,
        end_at=spec.end,
        settings=spec.settings,
        metric=metric,
        maximize=maximize,
        total=len(combinations),
        chunk_size=chunk_size,
        n_queued=len(combinations),
        n_running=0,
        n_succeeded=0,
        n_failed=0,
        n_cancelled=0,
        request_key=request_key,
        strategy_version_id=strategy_version(session, user.id, spec),
    )
    session.add(sweep)
    session.flush()
    chunks = [
        SweepChunk(
            sweep_id=sweep.id,
            index=i,
            first=first,
            last=min(first + chunk_size, len(combinations)),
            params=list(combinations[first : first + chunk_size]),
            status=Status.QUEUED,
            attempts=0,
            task_id=str(uuid.uuid4()),  # the task that will run it, enqueued with the sweep
        )
        for i, first in enumerate(range(0, len(combinations), chunk_size))
    ]
    session.add_all(chunks)
    session.flush()
    return sweep, chunks


def get_sweep(session: Session, sweep_id: int, viewer: Viewer | None = None) -> Sweep:
    sweep = session.get(Sweep, sweep_id, populate_existing=True)
    if sweep is None or not _visible(sweep.owner_id, viewer):
        raise JobNotFound(f"no sweep with id {sweep_id}")
    return sweep


def list_sweeps(
    session: Session, viewer: Viewer | None, *, limit: int = 20, offset: int = 0
) -> list[Sweep]:
    query = sa.select(Sweep)
    if viewer is not None and not viewer.is_admin:
        query = query.where(Sweep.owner_id == viewer.id)
    query = query.order_by(Sweep.id.desc()).limit(_page(limit)).offset(max(offset, 0))
    return list(session.scalars(query))


def get_chunk(session: Session, chunk_id: int) -> SweepChunk:
    chunk = session.get(SweepChunk, chunk_id, populate_existing=True)
    if chunk is None:
        raise JobNotFound(f"no sweep chunk with id {chunk_id}")
    return chunk


def list_chunks(session: Session, sweep_id: int) -> list[SweepChunk]:
    return list(
        session.scalars(
            sa.select(SweepChunk).where(SweepChunk.sweep_id == sweep_id).order_by(SweepChunk.index)
        )
    )


# -- chunk transitions --------------------------------------------------------------------------
def _move(
    session: Session, chunk_id: int, allowed: Sequence[Status], to: Status, **values
) -> SweepChunk | None:
    """Move one chunk from ``allowed`` to ``to`` and its combinations between the counters."""
    chunk = session.execute(
        sa.select(SweepChunk.sweep_id, SweepChunk.status, SweepChunk.first, SweepChunk.last).where(
            SweepChunk.id == chunk_id
        )
    ).first()
    if chunk is None or Status(chunk.status) not in allowed:
        return None
    before = Status(chunk.status)
    moved = session.execute(
        sa.update(SweepChunk)
        .where(SweepChunk.id == chunk_id, SweepChunk.status == before)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        return None  # someone else moved it between our read and our update
    if before != to:
        size = chunk.last - chunk.first
        session.execute(
            sa.update(Sweep)
            .where(Sweep.id == chunk.sweep_id)
            .values(
                {
                    f"n_{before.value}": getattr(Sweep, f"n_{before.value}") - size,
                    f"n_{to.value}": getattr(Sweep, f"n_{to.value}") + size,
                }
            )
            .execution_options(synchronize_session=False)
        )
    return get_chunk(session, chunk_id)


def start_chunk(
    session: Session, chunk_id: int, worker: str, task_id: str | None = None
) -> SweepChunk | None:
    """queued/running → running; return the chunk, or None when it is finished or cancelled."""
    values = dict(
        attempts=SweepChunk.attempts + 1,
        worker=worker,
        task_id=task_id,
        started_at=sa.func.coalesce(SweepChunk.started_at, sa.func.now()),
        error=None,
    )
    chunk = _move(session, chunk_id, UNFINISHED, Status.RUNNING, **values)
    if chunk is not None:
        session.execute(
            sa.update(Sweep)
            .where(Sweep.id == chunk.sweep_id, Sweep.status == Status.QUEUED)
            .values(status=Status.RUNNING, started_at=sa.func.now())
            .execution_options(synchronize_session=False)
        )
    return chunk


def finish_chunk(
    session: Session,
    chunk_id: int,
    metrics: dict[str, Sequence[float]],
    research: np.ndarray | None = None,
) -> bool:
    """running → succeeded with one value per combination for each metric, and optionally one
    row of research statistics per combination (stored as they are, NaN included)."""
    chunk = get_chunk(session, chunk_id)
    clean = {name: [_finite_or_none(v) for v in values] for name, values in metrics.items()}
    for name, values in clean.items():
        if len(values) != chunk.size:
            raise InvalidInput(
                f"metric {name!r} has {len(values)} values for a chunk of {chunk.size} combinations"
            )
    blob = None
    if research is not None:
        if np.ndim(research) != 2 or len(research) != chunk.size:
            raise InvalidInput(
                f"research statistics of shape {np.shape(research)} for a chunk of "
                f"{chunk.size} combinations: give one row per combination"
            )
        blob = encode_matrix(research)
    done = _move(
        session,
        chunk_id,
        (Status.RUNNING,),
        Status.SUCCEEDED,
        metrics=clean,
        research=blob,
        finished_at=sa.func.now(),
    )
    if done is not None:
        finalize_sweep(session, done.sweep_id)
    return done is not None


def fail_chunk(session: Session, chunk_id: int, error: str) -> bool:
    """queued/running → failed with the reason."""
    done = _move(
        session, chunk_id, UNFINISHED, Status.FAILED, error=error[:4000], finished_at=sa.func.now()
    )
    if done is not None:
        finalize_sweep(session, done.sweep_id)
    return done is not None


def requeue_chunk(session: Session, chunk_id: int) -> bool:
    """running → queued (its worker is gone)."""
    return _move(session, chunk_id, (Status.RUNNING,), Status.QUEUED, worker=None) is not None


def set_chunk_task_id(session: Session, chunk_id: int, task_id: str) -> None:
    tasked.set_task_id(session, SweepChunk, chunk_id, task_id)


def queued_chunks(session: Session) -> list[SweepChunk]:
    return tasked.queued(session, SweepChunk)


def stuck_chunks(
    session: Session, alive_workers: set[str], started_before: datetime
) -> list[SweepChunk]:
    """Running chunks whose worker is not among ``alive_workers``."""
    return tasked.stuck(session, SweepChunk, alive_workers, started_before)


def cancel_sweep(session: Session, sweep_id: int, viewer: Viewer | None = None) -> Cancelled:
    """Cancel every unfinished chunk and the sweep; raise InvalidTransition when finished."""
    sweep = get_sweep(session, sweep_id, viewer)
    previous = sweep.status
    if previous not in UNFINISHED:
        raise InvalidTransition(f"sweep {sweep_id} has already {previous.value}")
    task_ids = []
    for chunk in list_chunks(session, sweep_id):
        if chunk.status in UNFINISHED:
            if chunk.task_id:
                task_ids.append(chunk.task_id)
            _move(session, chunk.id, UNFINISHED, Status.CANCELLED, finished_at=sa.func.now())
    moved = session.execute(
        sa.update(Sweep)
        .where(Sweep.id == sweep_id, Sweep.status.in_(UNFINISHED))
        .values(status=Status.CANCELLED, finished_at=sa.func.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise InvalidTransition(f"sweep {sweep_id} finished while it was being cancelled")
    return Cancelled(sweep_id, previous, tuple(task_ids))


def retry_sweep(session: Session, sweep_id: int, viewer: Viewer | None = None) -> list[SweepChunk]:
    """failed/cancelled → queued: its failed and cancelled chunks run afresh, the succeeded keep
    their results; return the chunks to send. Raise InvalidTransition for an unfinished or
    succeeded sweep."""
    sweep = get_sweep(session, sweep_id, viewer)
    if sweep.status not in (Status.FAILED, Status.CANCELLED):
        raise InvalidTransition(
            f"only failed or cancelled sweeps can be retried; {sweep_id} is {sweep.status.value}"
        )
    again = [
        _move(session, chunk.id, (Status.FAILED, Status.CANCELLED), Status.QUEUED, attempts=0,
              error=None, worker=None, task_id=None, started_at=None, finished_at=None)
        for chunk in list_chunks(session, sweep_id)
        if chunk.status in (Status.FAILED, Status.CANCELLED)
    ]  # fmt: skip
    session.execute(
        sa.update(Sweep)
        .where(Sweep.id == sweep_id)
        .values(status=Status.QUEUED, error=None, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return [chunk for chunk in again if chunk is not None]


# -- aggregation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GridRow:
    index: int
    params: dict[str, Any]
    metrics: dict[str, float | None]
    status: Status


def grid_results(session: Session, sweep_id: int) -> list[GridRow]:
    """Every combination of the sweep in grid order, with its metrics once its chunk is done."""
    rows: list[GridRow] = []
    for chunk in list_chunks(session, sweep_id):
        metrics = chunk.metrics or {}
        for offset, params in enumerate(chunk.params):
            rows.append(
                GridRow(
                    index=chunk.first + offset,
                    params=params,
                    metrics={name: values[offset] for name, values in metrics.items()},
                    status=chunk.status,
                )
            )
    return rows


def top_results(
    session: Session,
    sweep_id: int,
    metric: str | None = None,
    n: int = 20,
    maximize: bool | None = None,
) -> list[GridRow]:
    """The ``n`` best evaluated combinations by ``metric`` (the sweep's own by default)."""
    sweep = get_sweep(session, sweep_id)
    metric = metric or sweep.metric
    maximize = sweep.maximize if maximize is None else maximize
    scored = [r for r in grid_results(session, sweep_id) if r.metrics.get(metric) is not None]
    scored.sort(key=lambda r: (-r.metrics[metric] if maximize else r.metrics[metric], r.index))
    return scored[:n]


@dataclass(frozen=True)
class ResearchRows:
    """The research statistics of a sweep's evaluated combinations.

    ``index`` holds the grid index of each row of ``matrix``; ``missing`` counts combinations of
    succeeded chunks evaluated before research statistics were recorded.
    """

    index: np.ndarray
    matrix: np.ndarray
    missing: int


def research_rows(session: Session, sweep_id: int) -> ResearchRows:
    """The research statistics of every combination of the sweep's succeeded chunks."""
    found = session.execute(
        sa.select(SweepChunk.first, SweepChunk.last, SweepChunk.research)
        .where(SweepChunk.sweep_id == sweep_id, SweepChunk.status == Status.SUCCEEDED)
        .order_by(SweepChunk.index)
    ).all()
    index, parts, missing = [], [], 0
    for first, last, blob in found:
        if blob is None:
            missing += last - first
            continue
        parts.append(decode_matrix(blob))
        index.append(np.arange(first, last, dtype=np.int64))
    if not parts:
        return ResearchRows(np.zeros(0, dtype=np.int64), np.zeros((0, 0)), missing)
    return ResearchRows(np.concatenate(index), np.vstack(parts), missing)


def finalize_sweep(session: Session, sweep_id: int) -> bool:
    """When no chunk is left to run, store the best combination and finish the sweep."""
    sweep = get_sweep(session, sweep_id)
    if sweep.status not in UNFINISHED or sweep.n_queued or sweep.n_running:
        return False
    best = top_results(session, sweep_id, n=1)
    failed = [c for c in list_chunks(session, sweep_id) if c.status == Status.FAILED]
    values: dict[str, Any] = {"finished_at": sa.func.now()}
    if best:
        values.update(
            best_params=best[0].params,
            best_value=best[0].metrics[sweep.metric],
            best_index=best[0].index,
        )
    if failed:
        values.update(
            status=Status.FAILED,
            error=f"{sweep.n_failed} of {sweep.total} combinations failed: {failed[0].error}",
        )
    else:
        values["status"] = Status.SUCCEEDED
    moved = session.execute(
        sa.update(Sweep)
        .where(Sweep.id == sweep_id, Sweep.status.in_(UNFINISHED))
        .where(Sweep.n_queued == 0, Sweep.n_running == 0)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def set_sweep_provenance(
    session: Session, sweep_id: int, engine_version: str, candles_fingerprint: str
) -> None:
    """Record which engine and which candles the sweep's chunks were evaluated with."""
    session.execute(
        sa.update(Sweep)
        .where(Sweep.id == sweep_id)
        .values(engine_version=engine_version, candles_fingerprint=candles_fingerprint)
        .execution_options(synchronize_session=False)
    )


def _finite_or_none(value: Any) -> float | None:
    value = plain_metrics({"v": value})["v"]
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
