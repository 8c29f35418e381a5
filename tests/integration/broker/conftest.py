"""Fixtures of the broker tests: a migrated database and kombu connections to it."""

from __future__ import annotations

import pytest
from kombu import Connection

import qgpg
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
