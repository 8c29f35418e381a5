"""Pooled PostgreSQL connections: pinged only after they sat idle, and a dead one costs at most
one transaction before the pool replaces it and every connection older than it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from quantgrid.db import session as db_session
from quantgrid.db.errors import DatabaseUnavailable
from quantgrid.db.session import Database


@pytest.fixture
def database(pg_url):
    db = Database(pg_url)
    yield db
    db.dispose()


def _kill_pooled_backend(database: Database, admin_url: str) -> None:
    """Terminate the server process behind the connection the pool holds."""
    with database.write() as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()


def test_a_connection_in_use_is_not_pinged_and_a_dead_one_costs_one_transaction(database, pg_url):
    _kill_pooled_backend(database, pg_url)
    with pytest.raises(DatabaseUnavailable), database.write() as s:
        s.execute(sa.text("SELECT 1"))
    with database.write() as s:  # the pool replaced it: the next transaction just works
        assert s.execute(sa.text("SELECT 1")).scalar() == 1


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced(database, pg_url, monkeypatch):
    _kill_pooled_backend(database, pg_url)
    monkeypatch.setattr(db_session, "PING_IF_IDLE_SECONDS", 0.0)
    with database.write() as s:  # the ping found it dead: a fresh connection, no error
        assert s.execute(sa.text("SELECT 1")).scalar() == 1
