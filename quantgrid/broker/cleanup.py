"""Housekeeping that keeps the broker tables bounded: expired leases, messages and queues."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from quantgrid.broker import sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    released_leases: int = 0
    expired_messages: int = 0
    expired_queues: tuple[str, ...] = ()
    vacuumed: bool = False
    skipped: bool = False


def reap_leases(conn: sa.engine.Connection) -> int:
    """Make the messages whose lease ran out visible again; return how many."""
    return conn.execute(sql.REAP_LEASES).rowcount


# Every delivered message leaves dead row versions behind; past this many, the sweep vacuums
# the message table itself rather than wait for autovacuum (which may be off or behind).
VACUUM_AFTER_DEAD_ROWS = 5000


def sweep(conn: sa.engine.Connection) -> SweepResult:
    """Release expired leases, delete expired messages and queues no consumer refreshed, and
    vacuum the message table once it holds many dead rows.

    ``conn`` must be in autocommit mode. One process sweeps at a time (an advisory lock);
    the others return ``SweepResult(skipped=True)`` at once.
    """
    if not conn.execute(sql.SWEEP_LOCK).scalar():
        return SweepResult(skipped=True)
    try:
        released = reap_leases(conn)
        expired = conn.execute(sql.DELETE_EXPIRED_MESSAGES).rowcount
        queues = tuple(row[0] for row in conn.execute(sql.DELETE_EXPIRED_QUEUES))
        if queues:
            conn.execute(sql.DELETE_MESSAGES_OF, {"names": list(queues)})
            logger.info("broker: deleted %d queues nobody consumes: %s", len(queues), queues)
        vacuumed = (conn.execute(sql.DEAD_MESSAGE_ROWS).scalar() or 0) > VACUUM_AFTER_DEAD_ROWS
        if vacuumed:
            conn.execute(sql.VACUUM_MESSAGES)
    finally:
        conn.execute(sql.SWEEP_UNLOCK)
    return SweepResult(released, expired, queues, vacuumed)


def sweep_url(url: str) -> SweepResult:
    """Run :func:`sweep` once against the broker database at ``url`` (a SQLAlchemy URL)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return sweep(conn)
    finally:
        engine.dispose()
