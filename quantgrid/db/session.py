"""Engines for the master and the replica, sessions, and the read-your-writes policy.

Writes always go to the master. Reads that may be slightly stale (status pages, lists, reports)
go to the replica (``DATABASE_REPLICA_URL``) unless

- the caller has written something the replica has not replayed yet: :meth:`Database.write`
  records the master's WAL position (``pg_current_wal_insert_lsn()``) after each commit in the caller's
  :class:`ReadYourWrites`, and :meth:`Database.read` uses the replica only once its
  ``pg_last_wal_replay_lsn()`` has reached it — else the master;
- the replica is down: the read falls back to the master, and the replica is left alone for
  ``replica_retry_after`` seconds before it is tried again.

A client that keeps no cookie (an API script with a bearer token) still reads its writes: a
:class:`ReadYourWrites` with a ``user_id`` also stores the position in ``users.last_write_lsn``
(the same round trip that reads it), which the API's token check loads on the next request, on
any API instance; the position is also sent back in the ``X-Consistency-Token`` response header
and accepted in the request header. And a single object that the replica does not have yet
(``NotFound`` from :meth:`Database.run_read`) is looked up on the master before answering 404.

Without a replica (or on SQLite) every session is a master session and no LSN is tracked.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from quantgrid.config import Settings
from quantgrid.db.errors import DatabaseUnavailable, translate
from quantgrid.errors import NotFound

logger = logging.getLogger(__name__)

# SQLAlchemy's psycopg2 dialect imports psycopg2.extras at the first connection. A Celery worker
# forks replacement pool children while its broker and metrics threads connect: a child forked in
# the middle of that import inherits the held module lock and hangs at its own first connection
# (seen after a pool child was SIGKILLed). Importing it here, before any thread, prevents that.
with contextlib.suppress(ImportError):
    import psycopg2.extras  # noqa: F401

T = TypeVar("T")

_REPLICA_CAUGHT_UP = sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")
# The insert position, taken after the write's commit, is at or past its commit record. The
# write position (pg_current_wal_lsn) is not: with synchronous_commit off the commit record can
# still be in the WAL buffers, and a replica paused at the write position would pass for caught
# up while it lacks the commit.
_MASTER_LSN = sa.text("SELECT pg_current_wal_insert_lsn()::text")
_REMEMBER_USER_LSN = sa.text(
    "UPDATE users SET last_write_lsn = pg_current_wal_insert_lsn()::text WHERE id = :uid"
    " RETURNING last_write_lsn"
)


@dataclass
class ReadYourWrites:
    """What one user (or request, or CLI run) has written: the master's LSN after the last write.

    Keep one per user session (the web layer stores :meth:`dumps` in the signed session cookie)
    and pass it to both :meth:`Database.write` and :meth:`Database.read`. With ``user_id`` set,
    writes also record the position on that user's row (see the module docstring).
    """

    lsn: str | None = None
    user_id: int | None = None

    def remember(self, lsn: str | None) -> None:
        if lsn is not None and (self.lsn is None or _lsn_int(lsn) > _lsn_int(self.lsn)):
            self.lsn = lsn

    def dumps(self) -> str:
        return self.lsn or ""

    @classmethod
    def loads(cls, raw: str | None) -> ReadYourWrites:
        if raw:
            try:
                _lsn_int(raw)
            except ValueError:
                return cls()
            return cls(raw)
        return cls()


# Two 32-bit hex halves: what PostgreSQL's pg_lsn accepts. The token comes from a cookie, so
# anything else is refused here; the replica would reject it, and that must not read as "down".
_LSN = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")


def _lsn_int(lsn: str) -> int:
    """Turn a PostgreSQL LSN ``'16/B374D848'`` into a comparable integer; ValueError if not one."""
    if not _LSN.fullmatch(lsn):
        raise ValueError(f"not a PostgreSQL LSN: {lsn[:40]!r}")
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def create_db_engine(url: str, *, role: str = "master", pool_size: int = 5) -> Engine:
    """Create an engine with pooling suited to ``url``'s backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite runs SELECTs outside any transaction and begins lazily at the first write, so
        # a read-then-write (a quota check, a guarded transition) would not be atomic. Writers
        # take the write lock up front with BEGIN IMMEDIATE; readers get a deferred snapshot.
        begin = "BEGIN IMMEDIATE" if role == "master" else "BEGIN"
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    connect_args = {"connect_timeout": 3 if role == "replica" else 10}
    if parsed.get_driver_name() == "psycopg2":
        connect_args["application_name"] = f"quantgrid-{role}"
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args=connect_args,
    )
    sa.event.listen(engine, "connect", _note_use)
    sa.event.listen(engine, "checkin", _note_use)
    sa.event.listen(engine, "checkout", _ping_if_idle)
    return engine


# A pooled connection unused for this long is pinged before it is handed out (a restart takes
# longer, so every connection of a pool that sat through one is checked). One in steady use
# is not (a ping on every checkout was a round trip per transaction): if the server restarted
# meanwhile, the first statement fails, that one transaction is unavailable (503, or a task that
# gives its message back), and SQLAlchemy invalidates every older connection of the pool at once.
PING_IF_IDLE_SECONDS = 1.0


def _note_use(_dbapi_conn, record, *_args) -> None:
    record.info["last_used"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    if time.monotonic() - record.info.get("last_used", 0.0) < PING_IF_IDLE_SECONDS:
        return
    try:
        with contextlib.closing(dbapi_conn.cursor()) as cur:
            cur.execute("SELECT 1")
        dbapi_conn.rollback()
    except Exception as err:  # any driver error: the pool replaces the connection and retries
        raise sa.exc.DisconnectionError(f"a pooled connection is dead: {err}") from err


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" event issue BEGIN itself
    cur = dbapi_conn.cursor()
    # WAL lets the web process read while a worker writes; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Database:
    """The master engine, the optional replica engine, and sessions on them."""

    def __init__(
        self,
        master_url: str,
        replica_url: str | None = None,
        *,
        pool_size: int = 5,
        replica_retry_after: float = 5.0,
    ) -> None:
        self.master = create_db_engine(master_url, pool_size=pool_size)
        self.replica = (
            create_db_engine(replica_url, role="replica", pool_size=pool_size)
            if replica_url and replica_url != master_url
            else None
        )
        if self.replica is not None and self.master.dialect.name != "postgresql":
            raise ValueError("DATABASE_REPLICA_URL needs DATABASE_URL to be PostgreSQL")
        # On SQLite, reads use their own engine so they do not take the write lock.
        self._master_reader = (
            create_db_engine(master_url, role="reader")
            if self.master.dialect.name == "sqlite"
            else self.master
        )
        self.replica_retry_after = replica_retry_after
        self._replica_down_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url, settings.database_replica_url)

    @property
    def dialect(self) -> str:
        return self.master.dialect.name

    def dispose(self, close: bool = True) -> None:
        """Drop pooled connections (``close=False`` in a forked child: leave the parent's)."""
        self.master.dispose(close=close)
        if self._master_reader is not self.master:
            self._master_reader.dispose(close=close)
        if self.replica is not None:
            self.replica.dispose(close=close)

    # -- writes -------------------------------------------------------------------------------
    @contextmanager
    def write(self, rw: ReadYourWrites | None = None) -> Iterator[Session]:
        """A master session in one transaction, committed on success, rolled back on error."""
        with self._session(self.master) as session:
            yield session
            session.commit()
            if rw is not None and self.replica is not None:
                self._remember_position(session, rw)

    def _remember_position(self, session: Session, rw: ReadYourWrites) -> None:
        """Note the master's WAL position after the caller's commit, on the connection that just
        committed (it is known to work), and on the user's row for a client without a cookie.

        A failure here must not fail the committed write (the client would retry and submit
        twice): it is logged, and the caller's next reads may come from a lagging replica (a
        single object not found there is looked up on the master).
        """
        try:
            if rw.user_id is not None:
                lsn = session.execute(_REMEMBER_USER_LSN, {"uid": rw.user_id}).scalar()
            else:
                lsn = session.execute(_MASTER_LSN).scalar_one()
            session.commit()
        except sa.exc.SQLAlchemyError as err:
            _rollback_quietly(session)
            logger.warning("could not note the write position after a commit: %s", err)
            return
        rw.remember(lsn)

    # -- reads --------------------------------------------------------------------------------
    @contextmanager
    def read(self, rw: ReadYourWrites | None = None) -> Iterator[Session]:
        """A session for reading: on the replica when it is up and has the caller's writes."""
        engine = self._engine_for_read(rw)
        # Closing (not rolling back) ends the transaction without expiring the loaded objects.
        with self._session(engine) as session:
            yield session

    def run_read(self, fn: Callable[..., T], *args, rw: ReadYourWrites | None = None, **kw) -> T:
        """Call ``fn(session, *args, **kw)`` on a read session; retry on the master if the
        replica fails mid-query, or does not have the object yet (``NotFound``: it may lag)."""
        engine = self._engine_for_read(rw)
        try:
            with self._session(engine) as session:
                return fn(session, *args, **kw)
        except DatabaseUnavailable:
            if engine is not self.replica:
                raise
            self._mark_replica_down()
        except NotFound:
            if engine is not self.replica:
                raise
        with self._session(self._master_reader) as session:
            return fn(session, *args, **kw)

    def reading_from_replica(self, rw: ReadYourWrites | None = None) -> bool:
        """Tell whether a read now would go to the replica (for tests and /readyz)."""
        return self._engine_for_read(rw) is self.replica

    def _engine_for_read(self, rw: ReadYourWrites | None) -> Engine:
        if self.replica is None or time.monotonic() < self._replica_down_until:
            return self._master_reader
        try:
            with self.replica.connect() as conn:
                if rw is None or rw.lsn is None:
                    return self.replica
                caught_up = conn.execute(_REPLICA_CAUGHT_UP, {"lsn": rw.lsn}).scalar()
        except sa.exc.DBAPIError as err:
            logger.warning("replica unavailable, reading from the master: %s", err.orig)
            self._mark_replica_down()
            return self._master_reader
        return self.replica if caught_up else self._master_reader

    def _mark_replica_down(self) -> None:
        with self._lock:
            self._replica_down_until = time.monotonic() + self.replica_retry_after

    @contextmanager
    def _session(self, engine: Engine) -> Iterator[Session]:
        session = Session(bind=engine, expire_on_commit=False, autoflush=True)
        try:
            yield session
        except sa.exc.SQLAlchemyError as err:
            _rollback_quietly(session)
            mapped = translate(err)
            if mapped is None:
                raise
            raise mapped from err
        except BaseException:
            _rollback_quietly(session)
            raise
        finally:
            session.close()


def _rollback_quietly(session: Session) -> None:
    # The connection may be the thing that failed; the original error is the one to report.
    try:
        session.rollback()
    except sa.exc.SQLAlchemyError:
        logger.debug("rollback after a failed transaction also failed", exc_info=True)
