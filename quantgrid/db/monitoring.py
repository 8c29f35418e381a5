"""Read-only numbers for monitoring: queue depth and age from the broker tables, sweep progress,
replication lag. Used by the workers' metrics (tasks/metrics.py) and ``quantgrid ops status``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qgpg import schema
from quantgrid.db.models import Status, Sweep

_m = schema.messages


@dataclass(frozen=True)
class QueueStats:
    queue: str
    ready: int  # waiting for a worker
    leased: int  # delivered to a worker, not acked yet
    oldest_ready_age: float  # seconds the oldest waiting message has waited (0 if none)


@dataclass(frozen=True)
class SweepProgress:
    running: int  # sweeps queued or running
    total: int  # their combinations
    done: int  # their combinations in finished chunks


@dataclass(frozen=True)
class ReplicaLag:
    name: str
    lag_bytes: int
    lag_seconds: float


def queue_stats(
    session: Session, *, include_internal: bool = False, always: tuple[str, ...] = ()
) -> list[QueueStats]:
    """Per-queue depth and oldest waiting age, from ``broker_message`` (qgpg broker only).

    Internal queues (remote-control replies ``*.pidbox``, event receivers ``celeryev.*``) are
    left out unless ``include_internal``. Queues in ``always`` are reported even when empty.
    """
    ready = _m.c.leased_until.is_(None)
    rows = session.execute(
        sa.select(
            _m.c.queue, sa.func.count().filter(ready), sa.func.count().filter(~ready)
        ).group_by(_m.c.queue)
    ).all()
    ages = dict(
        session.execute(
            sa.select(
                _m.c.queue, sa.func.extract("epoch", sa.func.now() - sa.func.min(_m.c.created_at))
            )
            .where(ready)
            .group_by(_m.c.queue)
        ).all()
    )
    out = []
    for queue, n_ready, n_leased in rows:
        if not include_internal and (queue.endswith("pidbox") or queue.startswith("celeryev")):
            continue
        out.append(QueueStats(queue, n_ready, n_leased, max(float(ages.get(queue) or 0.0), 0.0)))
    seen = {q.queue for q in out}
    out += [QueueStats(name, 0, 0, 0.0) for name in always if name not in seen]
    return out


def sweep_progress(session: Session) -> SweepProgress:
    """Combinations done out of the total over every sweep not finished yet."""
    live = Sweep.status.in_([Status.QUEUED, Status.RUNNING])
    chunks = Sweep.n_succeeded + Sweep.n_failed + Sweep.n_cancelled
    count, total, done_chunks_share = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Sweep.total), 0),
            sa.func.coalesce(sa.func.sum(chunks * Sweep.chunk_size), 0),
        ).where(live)
    ).one()
    return SweepProgress(int(count), int(total), min(int(done_chunks_share), int(total)))


def replica_lag(session: Session) -> list[ReplicaLag]:
    """Lag of each streaming replica, read on the PostgreSQL master (``pg_stat_replication``)."""
    rows = session.execute(
        sa.text(
            "SELECT coalesce(application_name, client_addr::text, 'replica'),"
            " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint,"
            " coalesce(extract(epoch FROM replay_lag), 0)::float"
            " FROM pg_stat_replication"
        )
    ).all()
    return [ReplicaLag(name, int(b), float(s)) for name, b, s in rows]
