"""A submission that PostgreSQL aborts to break a deadlock is run again, whole: the user gets
their job (once, with one message), not a 503. The deadlock here is real, provoked in the
submission's own transaction while it publishes."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.session import Database
from quantgrid.jobs.service import JobService
from tasks.celery_app import make_celery
from tasks.publisher import CeleryPublisher
from tests.integration.ops.test_job_path_cost import SPEC

pytestmark = pytest.mark.integration

_LOCK_USER = sa.text("SELECT id FROM users WHERE id = :id FOR UPDATE")
_WAITING_FOR_A_LOCK = sa.text(
    "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"
)


class DeadlockOnFirstPublish:
    """A publisher that, the first time, makes the submission's transaction one side of a
    deadlock: another transaction holds ``bystander``'s row and waits for the submitter's (which
    the submission holds), and the submission then asks for ``bystander``'s row. The other side
    waits longer before checking for deadlocks, so PostgreSQL aborts the submission."""

    def __init__(self, inner, db: Database, submitter: int, bystander: int) -> None:
        self.inner, self.db = inner, db
        self.submitter, self.bystander = submitter, bystander
        self.in_transaction = inner.in_transaction
        self.calls = 0

    def publish(self, messages, session) -> None:
        self.calls += 1
        if self.calls == 1:
            other = threading.Thread(target=self._other_side)
            self._holding = threading.Event()
            other.start()
            try:
                self._holding.wait(10)
                session.execute(_LOCK_USER, {"id": self.bystander})  # the cycle closes here
            finally:
                other.join(30)
        self.inner.publish(messages, session)

    def _other_side(self) -> None:
        with self.db.master.connect() as conn:
            conn.execute(sa.text("SET deadlock_timeout = '10s'"))
            conn.execute(_LOCK_USER, {"id": self.bystander})
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            waiter = threading.Thread(target=self._announce_when_waiting, args=(pid,))
            waiter.start()
            conn.execute(_LOCK_USER, {"id": self.submitter})  # waits for the submission
            waiter.join()
            conn.rollback()

    def _announce_when_waiting(self, pid: int) -> None:
        with self.db.master.connect() as conn:
            while not conn.execute(_WAITING_FOR_A_LOCK, {"pid": pid}).scalar():
                time.sleep(0.01)
        self._holding.set()

    def revoke(self, task_ids) -> None:
        self.inner.revoke(task_ids)


@pytest.fixture
def service(pg_url, tmp_path):
    settings = Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path), "DATABASE_URL": pg_url})
    db = Database.from_settings(settings)
    with db.write() as s:
        submitter = users.create_user(s, "trader", "a long enough password").id
        bystander = users.create_user(s, "bystander", "a long enough password").id
    inner = CeleryPublisher(make_celery(settings))
    yield (
        JobService(db, DeadlockOnFirstPublish(inner, db, submitter, bystander), settings),
        submitter,
    )
    inner.close()
    db.dispose()


def test_a_submission_aborted_by_a_deadlock_is_run_again_and_accepted_once(service):
    service, submitter = service
    job = service.submit_backtest(submitter, SPEC, request_id="req-1")
    assert service.publisher.calls == 2  # the first transaction was aborted, the second commits
    with service.db.read() as s:
        jobs = s.execute(sa.text("SELECT id, task_id FROM backtests")).all()
        messages = s.execute(sa.text("SELECT payload FROM broker_message")).scalars().all()
    assert [row.id for row in jobs] == [job.id]
    assert len([m for m in messages if jobs[0].task_id in m]) == 1
