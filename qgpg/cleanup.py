"""Housekeeping that keeps the broker tables bounded: expired leases, messages and queues."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from qgpg import sql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cleanup:
    released_leases: int = 0
    expired_messages: int = 0
    expired_queues: tuple[str, ...] = ()
    vacuumed: bool = False
    skipped: bool = False
    notify_queue_usage: float = 0.0


def reap_leases(conn: sa.engine.Connection) -> int:
    """Make the messages whose lease ran out visible again; return how many."""
    return conn.execute(sql.REAP_LEASES).rowcount


# Every delivered message leaves dead row versions behind; past this many, the clean-up vacuums
# the message table itself rather than wait for autovacuum (which may be off or behind).
VACUUM_AFTER_DEAD_ROWS = 5000
# PostgreSQL keeps every notification until the slowest LISTEN session has read it; when the
# queue (8 GB) is full, every NOTIFY fails, and with it every publish. Transient messages make
# the entries bigger, so a stalled consumer shows here long before PostgreSQL's own 50% warning.
NOTIFY_QUEUE_WARN = 0.05


def clean_up(conn: sa.engine.Connection) -> Cleanup:
    """Release expired leases, delete expired messages and queues no consumer refreshed,
    vacuum the message table once it holds many dead rows, and warn when PostgreSQL's NOTIFY
    queue fills up.

    ``conn`` must be in autocommit mode. One process cleans up at a time (an advisory lock);
    the others return ``Cleanup(skipped=True)`` at once.
    """
    if not conn.execute(sql.CLEAN_UP_LOCK).scalar():
        return Cleanup(skipped=True)
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
        usage = float(conn.execute(sql.NOTIFY_QUEUE_USAGE).scalar() or 0.0)
        if usage >= NOTIFY_QUEUE_WARN:
            logger.warning(
                "broker: PostgreSQL's NOTIFY queue is %.0f%% full: a LISTEN session has stopped"
                " reading (PostgreSQL's log names its pid); at 100%% every publish fails",
                usage * 100,
            )
    finally:
        conn.execute(sql.CLEAN_UP_UNLOCK)
    return Cleanup(released, expired, queues, vacuumed, notify_queue_usage=usage)


def clean_up_url(url: str) -> Cleanup:
    """Run :func:`clean_up` once against the broker database at ``url`` (a SQLAlchemy URL)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return clean_up(conn)
    finally:
        engine.dispose()
