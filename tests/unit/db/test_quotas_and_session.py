"""Quota arithmetic, LSN bookkeeping and the SQLite transaction mode, without servers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from quantgrid.config import Settings
from quantgrid.db import quotas
from quantgrid.db.errors import DatabaseUnavailable, translate
from quantgrid.db.models import User
from quantgrid.db.session import Database, ReadYourWrites, _lsn_int
from quantgrid.errors import InvalidInput, QuotaExceeded


@pytest.mark.parametrize(("tf", "same"), [("60m", "1h"), ("1440m", "1d"), ("30s", "30s")])
def test_quotas_count_bars_by_the_one_timeframe_rule(tf, same):
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    assert quotas.estimated_candles(tf, start, end) == quotas.estimated_candles(same, start, end)


@pytest.mark.parametrize("tf", ["", "m", "0m", "5x", "1 h", "h1", "1w", "7h"])
def test_quotas_refuse_what_the_candle_stores_refuse(tf):
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="invalid timeframe"):
        quotas.estimated_candles(tf, start, end)


def test_candle_estimate_and_limit():
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert quotas.estimated_candles("1h", start, end) == 25
    limits = quotas.Limits(10, 10, 24)
    with pytest.raises(QuotaExceeded, match="up to 25 candles and your limit is 24 per job"):
        quotas.check_candles("1h", start, end, limits)
    assert quotas.check_candles("1d", start, end, limits) == 2


def test_user_overrides_and_settings_defaults():
    settings = Settings.from_env({"QUOTA_MAX_SWEEP_SIZE": "7"})
    base = quotas.Limits.from_settings(settings)
    assert base.max_sweep_size == 7 and base.max_queued_jobs == 100
    user = User(max_queued_jobs=0, max_sweep_size=None, max_candles_per_job=5)
    assert base.for_user(user) == quotas.Limits(0, 7, 5)
    with pytest.raises(QuotaExceeded, match="8 parameter combinations and your limit is 7"):
        quotas.check_sweep_size(8, base)


def test_lsns_compare_as_numbers_not_strings():
    assert _lsn_int("1/0") > _lsn_int("0/FFFFFFFF")
    rw = ReadYourWrites()
    rw.remember("0/9")
    rw.remember("0/10")
    rw.remember("0/A")
    assert rw.lsn == "0/10"
    assert ReadYourWrites.loads(rw.dumps()).lsn == "0/10"
    assert ReadYourWrites.loads("garbage").lsn is None and ReadYourWrites.loads("").lsn is None
    # Halves wider than 32 bits parse in Python but not as pg_lsn: refused before any query.
    for bad in ("123456789/0", "0/123456789", "-1/0", "0x1/0", "1/2/3", " 1/2"):
        assert ReadYourWrites.loads(bad).lsn is None, bad
    assert ReadYourWrites.loads("FFFFFFFF/ffffffff").lsn == "FFFFFFFF/ffffffff"


def test_operational_errors_become_database_unavailable():
    err = sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    mapped = translate(err)
    assert isinstance(mapped, DatabaseUnavailable) and mapped.retryable
    assert "server closed the connection" in str(mapped)


def test_replica_needs_postgres(tmp_path):
    with pytest.raises(ValueError, match="needs DATABASE_URL to be PostgreSQL"):
        Database(f"sqlite:///{tmp_path}/a.db", "postgresql+psycopg2://x@127.0.0.1/y")


def test_sqlite_writers_serialise_read_then_write(tmp_path):
    """BEGIN IMMEDIATE: two read-modify-write transactions never interleave on SQLite."""
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    with db.write() as s:
        s.execute(sa.text("CREATE TABLE c (n INTEGER)"))
        s.execute(sa.text("INSERT INTO c VALUES (0)"))

    def bump():
        for _ in range(20):
            with db.write() as s:
                n = s.execute(sa.text("SELECT n FROM c")).scalar()
                s.execute(sa.text("UPDATE c SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as s:
        assert s.execute(sa.text("SELECT n FROM c")).scalar() == 80
    db.dispose()
