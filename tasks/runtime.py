"""Per-process resources of the tasks: the database, the candle store, the engine version."""

from __future__ import annotations

import hashlib
import os
import threading
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path

from quantgrid.config import Settings
from quantgrid.db.session import Database

_lock = threading.Lock()
_db: Database | None = None
_store = None


@cache
def settings() -> Settings:
    return Settings.from_env()


def database() -> Database:
    global _db
    with _lock:
        if _db is None:
            _db = Database.from_settings(settings())
        return _db


def candle_store():
    """The process's candle store. While InfluxDB does not answer, a store that still serves
    this host's cached copies is returned for this call only (the next call tries again)."""
    global _store
    from quantgrid.candles.errors import CandleStoreUnavailable
    from quantgrid.candles.factory import open_store

    with _lock:
        if _store is None:
            try:
                _store = open_store(settings())
            except CandleStoreUnavailable:
                return open_store(settings(), offline=True)
        return _store


def import_before_fork() -> None:
    """Import what tasks need on first use, in the worker's main process before it forks its pool.

    The candle stores pull in pandas and pyarrow: about 0.5 s of CPU that every pool child (and
    every replacement child) paid again on its first task. Imported here, the children share them.
    Not at the top of this module: the CLI imports it and needs neither.
    """
    import quantgrid.candles.factory  # noqa: F401


# A lock is copied by fork() in whatever state it is in. The worker's main process works on the
# database in other threads (the /metrics collectors, on every scrape) while its main thread forks
# pool children; a child forked in the middle inherited the locks that work held (this module's,
# SQLAlchemy's mapper registry, libpq's) and blocked for ever on its first use of one: a pool
# process that never ran its task, a worker that could neither drain nor warm-stop. So such work
# runs under ``no_fork()``, fork() waits for it, and the child starts with fresh locks.
_fork_guard = threading.Lock()


@contextmanager
def no_fork():
    """Hold off fork() in this process while the block runs (database work off the main thread)."""
    with _fork_guard:
        yield


def _fresh_locks_in_child() -> None:
    global _lock, _fork_guard
    _lock = threading.Lock()
    _fork_guard = threading.Lock()


os.register_at_fork(
    before=lambda: _fork_guard.acquire(),
    after_in_parent=lambda: _fork_guard.release(),
    after_in_child=_fresh_locks_in_child,
)


def reset_after_fork() -> None:
    """Forget the parent's connections (without closing them: they are the parent's)."""
    global _db, _store
    with _lock:
        if _db is not None:
            _db.dispose(close=False)
        _db = None
        _store = None


def resources():
    """What ``quantgrid.jobs.run`` works with in this process."""
    from quantgrid.jobs.run import Resources

    return Resources(database(), candle_store, settings(), engine_version())


@cache
def engine_version() -> str:
    """The package version plus a digest of the engine's code, recorded with every result."""
    digest = hashlib.sha256()
    for root in ("engine", "engine_ext"):
        base = Path(__file__).resolve().parent.parent / root
        for path in sorted(base.rglob("*")):
            if path.suffix in {".py", ".pyx", ".pxd"} and "reference" not in path.parts:
                digest.update(path.relative_to(base.parent).as_posix().encode())
                digest.update(path.read_bytes())
    try:
        version = metadata.version("quantgrid")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"{version}+{digest.hexdigest()[:12]}"
