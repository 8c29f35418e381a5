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


def reap_leases(conn: sa.engine.Connection) -> int:
    """Make the messages whose lease ran out visible again; return how many."""
    return conn.execute(sql.REAP_LEASES).rowcount


# Every delivered message leaves dead row versions behind; past this many, the clean-up vacuums
# the message table itself rather than wait for autovacuum (which may be off or behind).
VACUUM_AFTER_DEAD_ROWS = 5000


def clean_up(conn: sa.engine.Connection) -> Cleanup:
    """Release expired leases, delete expired messages and queues no consumer refreshed, and
    vacuum the message table once it holds many dead rows.

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
    finally:
        conn.execute(sql.CLEAN_UP_UNLOCK)
    return Cleanup(released, expired, queues, vacuumed)


def clean_up_url(url: str) -> Cleanup:
    """Run :func:`clean_up` once against the broker database at ``url`` (a SQLAlchemy URL)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return clean_up(conn)
    finally:
        engine.dispose()
