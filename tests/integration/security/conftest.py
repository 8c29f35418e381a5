"""The real app on a fresh PostgreSQL database (jobs and the ``qgpg`` broker) and a real influxd.

Flask's test client drives it in process; the job service sends to the broker tables of the same
database, so a test can count job rows and broker messages. Canaries (a PostgreSQL table and an
InfluxDB measurement) show that an injection attempt changed nothing.
"""

from __future__ import annotations

import uuid

import pytest
import requests
import sqlalchemy as sa

from app import create_app
from qgpg import broker_url
from quantgrid.candles.influx_v1 import InfluxStore
from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.session import Database
from tests.support.candles import minutes
from tests.unit.app.conftest import PASSWORD, csrf_of, sign_in

CANARY_ROWS = 3
CANDLES = 3 * 24 * 60  # 1m bars from 2024-01-01


@pytest.fixture(scope="session")
def influx_db(influxd):
    """A database holding DEMO 1m candles and a ``canary`` measurement."""
    name = f"qg_sec_{uuid.uuid4().hex[:10]}"
    store = InfluxStore(influxd.url, name)
    store.write("DEMO", "1m", minutes(CANDLES, seed=3))
    store.close()
    r = requests.post(f"{influxd.url}/write", params={"db": name},
                      data="canary,kind=bird alive=1i 1700000000000000000", timeout=30)
    assert r.status_code == 204, r.text
    yield name
    requests.post(f"{influxd.url}/query", data={"q": f'DROP DATABASE "{name}"'}, timeout=30)


def influx_query(influxd, db: str, q: str) -> list:
    r = requests.post(f"{influxd.url}/query", params={"db": db}, data={"q": q}, timeout=30)
    r.raise_for_status()
    result = r.json()["results"][0]
    return [row for s in result.get("series", []) for row in s["values"]]


@pytest.fixture
def influx_intact(influxd, influx_db):
    """Assert after the test that the candles and the canary measurement are unchanged."""
    def snapshot():
        return (
            sorted(m[0] for m in influx_query(influxd, influx_db, "SHOW MEASUREMENTS")),
            influx_query(influxd, influx_db, "SELECT count(close) FROM candles")[0][1],
            influx_query(influxd, influx_db, "SELECT * FROM canary"),
        )

    before = snapshot()
    assert "canary" in before[0] and before[1] == CANDLES
    yield
    assert snapshot() == before, "an injection attempt changed InfluxDB"


@pytest.fixture
def settings(pg_url, influxd, influx_db, tmp_path):
    return Settings.from_env({
        "QUANTGRID_VAR_DIR": str(tmp_path), "DATABASE_URL": pg_url,
        "BROKER_URL": broker_url(pg_url), "CANDLE_STORE": "influxdb",
        "INFLUX_URL": influxd.url, "INFLUX_DB": influx_db, "SECRET_KEY": "s3cr3t-" + uuid.uuid4().hex,
        "QUOTA_MAX_SWEEP_SIZE": "100", "QUOTA_MAX_QUEUED_JOBS": "10",
    })


@pytest.fixture
def db(settings):
    database = Database.from_settings(settings)
    with database.write() as s:
        s.execute(sa.text("CREATE TABLE canary (id int PRIMARY KEY, note text)"))
        s.execute(sa.text("INSERT INTO canary VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
    yield database
    database.dispose()


@pytest.fixture
def store(settings):
    s = InfluxStore(settings.influx_url, settings.influx_db)
    yield s
    s.close()


@pytest.fixture
def app(settings, db, store):
    app = create_app({"QG_SETTINGS": settings, "QG_DATABASE": db, "QG_CANDLE_STORE": store,
                      "TESTING": True})
    yield app
    jobs = app.extensions["quantgrid"]["jobs"]
    if jobs is not None:
        jobs.publisher.close()


def counts(db) -> dict[str, int]:
    """Rows of the tables an accepted job or a successful injection would change."""
    with db.read() as s:
        return {t: s.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                for t in ("backtests", "sweeps", "sweep_chunks", "broker_message", "users",
                          "api_tokens", "canary")}


@pytest.fixture
def pg_intact(db):
    """Assert after the test that no job, message, user or canary row appeared or went."""
    before = counts(db)
    assert before["canary"] == CANARY_ROWS
    yield before
    assert counts(db) == before, "rows changed: something was enqueued or injected"


def make_user(db, name: str) -> tuple[int, str]:
    with db.write() as s:
        uid = users.create_user(s, name, PASSWORD).id
        return uid, users.create_token(s, uid, "tests")[0]


@pytest.fixture
def alice(db):
    return make_user(db, "alice")


@pytest.fixture
def bob(db):
    return make_user(db, "bob")


def bearer(app, token: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


def browser(app, username: str):
    c = app.test_client()
    assert sign_in(c, username).status_code == 302
    return c


def page_csrf(client, path: str = "/backtests/new") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))
