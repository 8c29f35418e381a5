"""Celery beat's periodic task requeues jobs left running by a worker that is gone, on PostgreSQL
with the qgpg broker (workers found by ping) and on the embedded SQLite default (no ping)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import users
from quantgrid.db.backtests import JobSpec
from quantgrid.db.models import Status
from quantgrid.db.monitoring import queue_stats
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database
from quantgrid.jobs.service import JobService
from tasks.celery_app import QUEUE, make_celery
from tasks.maintenance import REQUEUE_STUCK, requeue_stuck_jobs
from tasks.publisher import CeleryPublisher
from tests.support import pg

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]

SPEC = JobSpec(
    strategy="sma_cross", symbol="DEMO", timeframe="1h",
    start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC),
    params={"fast": 10, "slow": 30}, settings={"cash": 10_000.0},
)  # fmt: skip


def _service(env: dict[str, str]) -> JobService:
    settings = Settings.from_env({**env, "STUCK_GRACE_SECONDS": "0.05"})
    return JobService(Database.from_settings(settings), CeleryPublisher(make_celery(settings)), settings)


def _running(service: JobService, workers: list[str]) -> list[int]:
    """One job per worker name, marked running there (as a worker's task would)."""
    ids = []
    with service.db.write() as s:
        owner = users.create_user(s, "trader", "a long enough password").id
        for worker in workers:
            job, _ = bt.submit_backtest(s, owner, SPEC, Limits.from_settings(service.settings))
            assert bt.start_backtest(s, job.id, worker, "old-task")
            ids.append(job.id)
    time.sleep(0.1)  # past the grace
    return ids


def _check_requeued(service: JobService, gone: int, mine: int, done: dict) -> None:
    assert done == {"backtests": [gone], "chunks": []}
    with service.db.read() as s:
        requeued, kept = bt.get_backtest(s, gone), bt.get_backtest(s, mine)
        assert requeued.status == Status.QUEUED and requeued.worker is None
        assert requeued.task_id != "old-task"
        assert kept.status == Status.RUNNING and kept.worker == "me@host"


def test_requeues_the_jobs_of_a_worker_that_no_longer_answers_on_postgres(pg_url):
    service = _service({"DATABASE_URL": pg_url, "QUANTGRID_VAR_DIR": "/nonexistent"})
    assert service.transactional  # qgpg: ping reaches every worker
    gone, mine = _running(service, ["gone@host", "me@host"])
    done = requeue_stuck_jobs(service, "me@host")
    _check_requeued(service, gone, mine, done)
    with service.db.write() as s:
        ready = {q.queue: q.ready for q in queue_stats(s, always=(QUEUE,))}
    assert ready[QUEUE] == 1  # its new message waits for a worker
    # A second run finds nothing more to do.
    assert requeue_stuck_jobs(service, "me@host") == {"backtests": [], "chunks": []}
    service.db.dispose()


def test_requeues_a_dead_workers_jobs_on_the_embedded_sqlite_default(tmp_path):
    env = {"QUANTGRID_VAR_DIR": str(tmp_path)}
    service = _service(env)
    pg.migrate(service.settings.database_url)
    assert not service.transactional
    gone, mine = _running(service, ["worker-1@host", "me@host"])
    # No ping on sqla+sqlite: only the worker running the task is known alive.
    _check_requeued(service, gone, mine, requeue_stuck_jobs(service, "me@host"))
    with service.publisher.app.connection_for_read() as conn:
        _, waiting, _ = conn.default_channel.queue_declare(QUEUE, passive=True)
    assert waiting == 1
    service.db.dispose()


def test_beat_schedules_the_requeue_task_at_the_configured_interval():
    app = make_celery(Settings.from_env({**os.environ, "REQUEUE_INTERVAL_SECONDS": "7"}))
    app.loader.import_default_modules()
    (entry,) = app.conf.beat_schedule.values()
    assert entry["task"] == REQUEUE_STUCK and REQUEUE_STUCK in app.tasks
    assert entry["schedule"] == 7.0 and entry["options"]["expires"] == 7.0
