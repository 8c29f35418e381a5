"""Fixtures shared by every test layer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import pg


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
