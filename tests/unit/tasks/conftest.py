"""The job tasks on a real (SQLite) jobs database, with a candle store whose reads a test decides.

``world`` holds a queued backtest and a queued sweep chunk, and points ``tasks.runtime`` at its
resources, so a test calls the Celery task's body (``task.run``) exactly as a worker would.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import sweeps, users
from quantgrid.db.backtests import JobSpec
from quantgrid.db.errors import DatabaseUnavailable
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database
from quantgrid.jobs.run import Resources
from tasks import jobs, runtime
from tests.support import pg
from tests.support.candles import MINUTE, minutes

SPEC = JobSpec("sma_cross", "DEMO", "1h", datetime(2020, 1, 1, tzinfo=UTC),
               datetime(2020, 1, 20, tzinfo=UTC), {"fast": 5, "slow": 20}, {})  # fmt: skip


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory):
    path = tmp_path_factory.mktemp("tasks-db") / "template.db"
    pg.migrate(f"sqlite:///{path}")
    return path.read_bytes()


class Store:
    """A candle store whose ``read`` calls ``load`` (real candles unless a test replaces it)."""

    def __init__(self) -> None:
        self.load = lambda: minutes(20 * 24, step=60 * MINUTE)

    def read(self, *_args, **_kw):
        return self.load()


class FailingDatabase:
    """The real database, whose ``write()`` fails from the ``down_after``-th session on."""

    def __init__(self, db: Database, down_after: int) -> None:
        self.db, self.sessions, self.down_after = db, 0, down_after

    @contextlib.contextmanager
    def write(self, rw=None):
        self.sessions += 1
        if self.sessions > self.down_after:
            raise DatabaseUnavailable("the database is unavailable: connection refused")
        with self.db.write(rw) as s:
            yield s


@pytest.fixture
def world(tmp_path, _migrated, monkeypatch):
    """A backtest and a sweep chunk, queued; ``use_db(db)`` swaps the database the tasks see."""
    path = tmp_path / "quantgrid.db"
    path.write_bytes(_migrated)
    settings = Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path),
                                  "DATABASE_URL": f"sqlite:///{path}"})  # fmt: skip
    db = Database.from_settings(settings)
    limits = Limits.from_settings(settings)
    with db.write() as s:
        owner = users.create_user(s, "owner", "a-long-enough-password").id
        job, _ = bt.submit_backtest(s, owner, SPEC, limits)
        _, (chunk,) = sweeps.submit_sweep(s, owner, SPEC, {}, [{"fast": 5, "slow": 20}], limits,
                                          metric="sharpe")  # fmt: skip
    store = Store()
    state = SimpleNamespace(db=db, store=store, settings=settings, job_id=job.id,
                            chunk_id=chunk.id)  # fmt: skip

    def use_db(database) -> None:
        monkeypatch.setattr(runtime, "resources",
                            lambda: Resources(database, lambda: store, settings, "test"))  # fmt: skip

    use_db(db)
    monkeypatch.setattr(jobs, "DATABASE_DOWN_PAUSE", 0)
    monkeypatch.setattr(runtime, "settings", lambda: settings)
    state.use_db = use_db
    state.row_id = {jobs.run_backtest: job.id, jobs.run_sweep_chunk: chunk.id}
    yield state
    db.dispose()


def run_task(task, row_id: int, retries: int = 0) -> str:
    """Call the task's body as a worker would, with this request context."""
    task.push_request(retries=retries, hostname="w1@test", id="task-1")
    try:
        return task.run(row_id)
    finally:
        task.pop_request()


def error_of(db: Database, task, row_id: int) -> tuple[str, str | None]:
    """The status and error of the backtest or chunk ``row_id``."""
    with db.read() as s:
        row = bt.get_backtest(s, row_id) if task is jobs.run_backtest else sweeps.get_chunk(s, row_id)
        return row.status.value, row.error
