"""Fixtures of the broker tests: a migrated database and kombu connections to it."""

from __future__ import annotations

import contextlib
import time

import pytest
import sqlalchemy as sa
from kombu import Connection

import qgpg
from qgpg.engine import engine_for
from qgpg.transport import forget

FAST = {"lease_seconds": 1.5, "heartbeat_interval": 0.3, "cleanup_interval": 0.3,
        "polling_interval": 10.0}


@pytest.fixture
def broker_url(pg_url):
    return qgpg.broker_url(pg_url)


@pytest.fixture
def connect(broker_url):
    """Open kombu connections (each one is a separate broker client); close them afterwards."""
    opened = []

    def _connect(**options) -> Connection:
        conn = Connection(broker_url, transport_options={**FAST, **options})
        conn.connect()
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.release()
    forget(broker_url.split("+", 1)[1])


@contextlib.contextmanager
def _dequeues(conn: Connection):
    """Record the queue of every dequeue statement this process sends to ``conn``'s database."""
    engine = engine_for(conn.transport.url, conn.transport.options["engine_options"])
    queues: list[str] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if "SKIP LOCKED" in statement:
            queues.append(parameters["queue"])

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield queues
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def dequeues():
    """``with dequeues(conn) as queues:`` lists the queues this process ran a dequeue on."""
    return _dequeues


def wait_until_no_messages(url: str, timeout: float = 10) -> None:
    """Wait until ``broker_message`` is empty: a message handed to a no_ack callback is deleted
    with the consumer's next round trip (its keeper's tick at the latest), not at once."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                left = conn.execute(sa.text("SELECT count(*) FROM broker_message")).scalar()
            if not left:
                return
            assert time.monotonic() < deadline, f"{left} messages are still in broker_message"
            time.sleep(0.05)
    finally:
        engine.dispose()
