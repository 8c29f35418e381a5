"""Fixtures for the data-layer tests: the same tests run on PostgreSQL and on SQLite."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from quantgrid.db import users
from quantgrid.db.backtests import JobSpec
from quantgrid.db.models import Role
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database
from tests.support import pg


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file migrated to head once per run; tests copy it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "jobs.db"
    pg.migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["postgres", "sqlite"])
def db(request, tmp_path, sqlite_template):
    """A Database on a fresh, migrated database of each backend."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        path = tmp_path / "jobs.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def alice(db):
    with db.write() as s:
        return users.create_user(s, "alice", "correct horse")


@pytest.fixture
def bob(db):
    with db.write() as s:
        return users.create_user(s, "bob", "battery staple")


@pytest.fixture
def admin(db):
    with db.write() as s:
        return users.create_user(s, "root", "admin password", Role.ADMIN)


@pytest.fixture
def limits():
    return Limits(max_queued_jobs=100, max_sweep_size=1000, max_candles_per_job=1_000_000)


def make_spec(**overrides) -> JobSpec:
    values = dict(
        strategy="sma_cross",
        symbol="BTCUSDT",
        timeframe="1h",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 3, 1, tzinfo=UTC),
        params={"fast": 10, "slow": 30},
        settings={"cash": 10_000, "commission": 0.001},
    )
    values.update(overrides)
    return JobSpec(**values)
