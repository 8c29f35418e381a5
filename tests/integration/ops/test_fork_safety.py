"""Connections never negotiate GSSAPI encryption: libpq's Kerberos mutex, inherited held by a
Celery pool child forked while another thread connected, blocked the child's first connect for
ever (a task that never ran, a worker that could not be drained)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from qgpg.engine import engine_for
from quantgrid.db.session import Database

pytestmark = pytest.mark.integration


def test_job_database_and_broker_connections_skip_gssapi(pg_url):
    db = Database(pg_url)
    broker = engine_for(pg_url)
    try:
        with db.write() as s:
            raw = s.connection().connection.dbapi_connection
            assert raw.get_dsn_parameters()["gssencmode"] == "disable"
        with broker.connect() as conn:
            assert conn.connection.dbapi_connection.get_dsn_parameters()["gssencmode"] == "disable"
            assert conn.execute(sa.text("SELECT gss_authenticated OR encrypted FROM "
                                        "pg_stat_gssapi WHERE pid = pg_backend_pid()")).scalar() is False  # fmt: skip
    finally:
        db.dispose()
        broker.dispose()
