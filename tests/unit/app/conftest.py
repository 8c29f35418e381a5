"""A real app on SQLite (migrated), an embedded candle store and the real job service.

The job service sends its messages to kombu's ``sqla+sqlite`` broker in the test's own directory:
no worker consumes them here (tests/e2e runs real workers); results are stored through the data
layer where a test needs one.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from app import create_app
from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.session import Database
from quantgrid.jobs import run
from tests.support import pg
from tests.support.candles import minutes

PASSWORD = "correct horse battery"
# kombu's sqla transport (the embedded broker) declares its models with the ``noload`` strategy
# that SQLAlchemy 2.1 deprecates; it is kombu's to fix, not a failure of the web app.
_KOMBU_NOLOAD = "ignore:The ``noload`` loader strategy is deprecated"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/unit/app/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings(_KOMBU_NOLOAD))


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory):
    path = tmp_path_factory.mktemp("app-db") / "template.db"
    pg.migrate(f"sqlite:///{path}")
    return path.read_bytes()


@pytest.fixture
def settings(tmp_path, _migrated_sqlite):
    db_path = tmp_path / "quantgrid.db"
    db_path.write_bytes(_migrated_sqlite)
    env = {"QUANTGRID_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{db_path}",
           "QUOTA_MAX_SWEEP_SIZE": "100", "QUOTA_MAX_QUEUED_JOBS": "10"}
    return Settings.from_env(env)


@pytest.fixture
def store(settings):
    s = EmbeddedStore(settings.candle_dir)
    s.write("DEMO", "1m", minutes(3 * 24 * 60, seed=1))
    return s


@pytest.fixture
def db(settings):
    database = Database.from_settings(settings)
    yield database
    database.dispose()


@pytest.fixture
def app(settings, store, db):
    app = create_app({"QG_SETTINGS": settings, "QG_DATABASE": db, "QG_CANDLE_STORE": store,
                      "TESTING": True})
    yield app
    jobs = app.extensions["quantgrid"]["jobs"]
    if jobs is not None:
        jobs.publisher.close()


@pytest.fixture
def alice(db):
    with db.write() as s:
        return users.create_user(s, "alice", PASSWORD).id


@pytest.fixture
def bob(db):
    with db.write() as s:
        return users.create_user(s, "bob", PASSWORD).id


@pytest.fixture
def admin(db):
    with db.write() as s:
        return users.create_user(s, "root", PASSWORD, role="admin").id


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'id="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


def sign_in(client, username: str = "alice", password: str = PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(page)})


@pytest.fixture
def client(app, alice):
    c = app.test_client()
    assert sign_in(c).status_code == 302
    return c


@pytest.fixture
def token(db, alice):
    with db.write() as s:
        return users.create_token(s, alice, "tests")[0]


@pytest.fixture
def api(app, token):
    """A test client sending alice's bearer token."""
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


BACKTEST = {
    "strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
    "start": "2024-01-01", "end": "2024-01-03", "params": {"fast": 5, "slow": 20},
    "settings": {"cash": 10000, "commission": 0.001},
}


def finish(db, store, job_id: int) -> None:
    """Run backtest ``job_id`` as a worker does (``quantgrid.jobs.run``), here in the test."""
    res = run.Resources(db, lambda: store, Settings.from_env({}), "test")
    assert run.run_backtest(res, job_id, run.Attempt("test-worker")).status == "succeeded"


__all__ = ["BACKTEST", "PASSWORD", "csrf_of", "finish", "sign_in", "np", "replace"]
