"""Fixtures shared by every test layer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import pg
from tests.support.influx import InfluxdMissing, InfluxServer


@pytest.fixture(scope="session")
def pg_template():
    """A database migrated to head once per run; tests clone it (CREATE DATABASE ... TEMPLATE)."""
    name = pg.unique_name("qg_template")
    try:
        url = pg.create_database(name)
    except sa.exc.OperationalError as err:
        pytest.fail(f"PostgreSQL is not reachable at {pg.ADMIN_URL}; run `make services`: {err}")
    pg.migrate(url)
    yield name
    pg.drop_database(name)


@pytest.fixture
def pg_url(pg_template):
    """The URL of a fresh, migrated PostgreSQL database of this test's own."""
    name = pg.unique_name("qg_test")
    url = pg.create_database(name, template=pg_template)
    yield url
    pg.drop_database(name)


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """One real influxd per test run, on free 127.0.0.1 ports, with its own config and data
    directory; tests use databases of their own on it. Missing influxd fails the run, never skips."""
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    try:
        server.start()
    except InfluxdMissing as err:
        pytest.fail(str(err))
    yield server
    server.stop()
