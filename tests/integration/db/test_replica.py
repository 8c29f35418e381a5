"""Reads go to a real streaming replica, except what the reader has just written; replica lag
and a replica that is down fall back to the master. A master restart is survived.

The cluster (a primary and a ``pg_basebackup -R`` replica on their own ports) is started by
tests/support/pgcluster.py; the shared server on 5432 is not involved.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from quantgrid.db import backtests as bt
from quantgrid.db import users
from quantgrid.db.errors import DatabaseUnavailable
from quantgrid.db.models import Status
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database, ReadYourWrites
from tests.integration.db.conftest import make_spec
from tests.support import pg
from tests.support.pgcluster import PgCluster

LIMITS = Limits(100, 1000, 1_000_000)


@pytest.fixture(scope="module")
def cluster():
    primary = PgCluster.create()
    replica = primary.add_replica()
    url = primary.create_database("jobs")
    pg.migrate(url)
    replica.wait_for_replay()
    yield primary, replica
    primary.cleanup()


@pytest.fixture
def database(cluster):
    primary, replica = cluster
    if not replica.running:
        replica.start()
        replica.wait_until_streaming()
    replica.resume_replay()
    database = Database(primary.url("jobs"), replica.url("jobs"), replica_retry_after=0.5)
    yield database
    database.dispose()
    replica.resume_replay()


@pytest.fixture
def user(database, cluster):
    rw = ReadYourWrites()
    with database.write(rw) as s:
        created = users.create_user(s, pg.unique_name("u"), "long password")
    cluster[1].wait_for_replay(rw.lsn)
    return created


def test_reads_use_the_replica_when_it_has_caught_up(database, cluster, user):
    rw = ReadYourWrites()
    with database.write(rw) as s:
        job, _ = bt.submit_backtest(s, user.id, make_spec(), LIMITS)
    assert rw.lsn is not None
    cluster[1].wait_for_replay(rw.lsn)
    assert database.reading_from_replica(rw)
    with database.read(rw) as s:
        assert s.connection().engine is database.replica
        assert bt.get_backtest(s, job.id).status == Status.QUEUED


def test_own_write_is_visible_while_the_replica_lags(database, cluster, user):
    _, replica = cluster
    replica.pause_replay()
    rw = ReadYourWrites()
    with database.write(rw) as s:
        job, _ = bt.submit_backtest(s, user.id, make_spec(), LIMITS)
    # The writer reads its job from the master ...
    assert not database.reading_from_replica(rw)
    with database.read(rw) as s:
        assert [j.id for j in bt.list_backtests(s, user)][0] == job.id
    # ... while a reader without those writes is served by the lagging replica, which
    # proves the reads above did not merely happen to hit an up-to-date server.
    with database.read() as s:
        assert s.connection().engine is database.replica
        assert job.id not in [j.id for j in bt.list_backtests(s, user)]
    replica.resume_replay()
    replica.wait_for_replay(rw.lsn)
    assert database.reading_from_replica(rw)
    with database.read(rw) as s:
        assert bt.get_backtest(s, job.id).id == job.id


def test_read_your_writes_survives_a_round_trip_through_a_cookie(database, cluster, user):
    _, replica = cluster
    replica.pause_replay()
    rw = ReadYourWrites()
    with database.write(rw) as s:
        job, _ = bt.submit_backtest(s, user.id, make_spec(), LIMITS)
    restored = ReadYourWrites.loads(rw.dumps())
    with database.read(restored) as s:
        assert bt.get_backtest(s, job.id).id == job.id


def test_replica_down_falls_back_to_the_master(database, cluster, user):
    _, replica = cluster
    with database.write() as s:
        job, _ = bt.submit_backtest(s, user.id, make_spec(), LIMITS)
    replica.stop()
    with database.read() as s:
        assert s.connection().engine is database.master
        assert bt.get_backtest(s, job.id).id == job.id
    assert database.run_read(lambda s: bt.get_backtest(s, job.id).id) == job.id
    replica.start()
    replica.wait_until_streaming()
    import time

    time.sleep(0.6)  # past replica_retry_after: the replica is tried again
    assert database.reading_from_replica()


def test_master_restart_is_unavailable_then_recovers(database, cluster, user):
    primary, replica = cluster
    with database.write() as s:
        job, _ = bt.submit_backtest(s, user.id, make_spec(), LIMITS)
    primary.stop()
    try:
        with pytest.raises(DatabaseUnavailable), database.write() as s:
            bt.start_backtest(s, job.id, "w")
    finally:
        primary.start()
    replica.wait_until_streaming()
    # The failed write invalidated the dead pooled connections: the next write just works.
    with database.write() as s:
        assert bt.start_backtest(s, job.id, "w")


def test_an_account_just_created_can_sign_in_while_the_replica_lags(database, cluster, tmp_path):
    """Sign-in checks the password on the master, as token checks do."""
    from app import create_app
    from quantgrid.candles.embedded import EmbeddedStore
    from quantgrid.config import Settings
    from tests.unit.app.conftest import sign_in

    _, replica = cluster
    replica.pause_replay()
    name = pg.unique_name("new")
    with database.write() as s:
        users.create_user(s, name, "a long enough password")
    with database.read() as s:  # the lagging replica has not seen the account
        assert s.connection().engine is database.replica
        assert users.authenticate(s, name, "a long enough password") is None
    settings = Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path)})
    app = create_app({"QG_SETTINGS": settings, "QG_DATABASE": database, "TESTING": True,
                      "QG_CANDLE_STORE": EmbeddedStore(tmp_path / "candles")})
    client = app.test_client()
    assert sign_in(client, name, "a long enough password").status_code == 302
    assert sign_in(app.test_client(), name, "wrong password").status_code == 401


def test_a_clients_position_is_kept_on_its_user_row_for_its_next_request(database, cluster, user):
    """A token client keeps no cookie: its writes store their position on the user's row, and
    the next request (any API instance) reads it there, so the replica cannot hide its job."""
    _, replica = cluster
    replica.pause_replay()
    writer = ReadYourWrites(user_id=user.id)
    with database.write(writer) as s:
        job, _ = bt.submit_backtest(s, user.id, make_spec(), LIMITS)
    assert writer.lsn is not None
    with database.write() as s:  # the next request's token check, on the master
        stored = s.get(users.User, user.id, populate_existing=True).last_write_lsn
    assert stored == writer.lsn
    reader = ReadYourWrites(stored, user.id)
    assert not database.reading_from_replica(reader)
    assert database.run_read(lambda s: [j.id for j in bt.list_backtests(s, None)], rw=reader)[0] == job.id


def test_the_noted_position_covers_a_commit_not_yet_written_out(database, cluster, user):
    """With synchronous_commit off (as the cluster runs) a commit record can sit in the WAL
    buffers after COMMIT returns; the position noted must be past it, or a replica that has
    replayed everything written out would pass for caught up while lacking the job."""
    primary, _ = cluster
    rw = ReadYourWrites()
    with database.write(rw) as s:
        s.execute(sa.text("SET LOCAL synchronous_commit = off"))
        bt.submit_backtest(s, user.id, make_spec(), LIMITS)
        before_commit = s.execute(sa.text("SELECT pg_current_wal_insert_lsn()::text")).scalar()
    past = primary.scalar(
        "SELECT CAST(:noted AS pg_lsn) > CAST(:before AS pg_lsn)", noted=rw.lsn, before=before_commit
    )
    assert past, (rw.lsn, before_commit)
