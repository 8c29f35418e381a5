"""Broker migrations: PostgreSQL gets tables and NOTIFY triggers, SQLite the tables only."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from kombu import Connection, Exchange

import qgpg
from qgpg.transport import forget
from tests.support import pg


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return {name for name in sa.inspect(engine).get_table_names() if name.startswith("broker_")}
    finally:
        engine.dispose()


BROKER_TABLES = {"broker_exchange", "broker_queue", "broker_binding", "broker_message"}


def test_upgrade_creates_the_notify_trigger_and_downgrade_removes_everything(pg_url):
    assert _tables(pg_url) == BROKER_TABLES
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        triggers = conn.execute(
            sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'broker_message'::regclass"
                    " AND NOT tgisinternal ORDER BY 1")
        ).scalars().all()
    assert triggers == ["broker_message_inserted", "broker_message_released"]
    with engine.begin() as conn:
        cfg = pg.alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_jobs")
    engine.dispose()
    assert _tables(pg_url) == set()


def test_the_migration_runs_on_sqlite_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    pg.migrate(url)
    assert _tables(url) == BROKER_TABLES


def test_an_exchange_made_before_0006_learns_its_durability_when_declared_again(pg_url):
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as db:  # the column's default: durable
        db.execute(sa.text("INSERT INTO broker_exchange (name, type) VALUES ('old', 'fanout')"))
    with Connection(qgpg.broker_url(pg_url)) as conn:
        Exchange("old", "fanout", durable=False)(conn.default_channel).declare()
    forget(pg_url)
    with engine.begin() as db:
        durable = db.execute(sa.text("SELECT durable FROM broker_exchange WHERE name = 'old'"))
        assert durable.scalar() is False
    engine.dispose()
