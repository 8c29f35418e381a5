"""What one job costs the jobs database, pinned: a submission is one transaction (rows and message
together, on qgpg), a backtest's execution two (start; result and success), and the result is
written once and never read back. On PostgreSQL, counted at the connection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.backtests import JobSpec
from quantgrid.db.session import Database
from quantgrid.jobs import run
from quantgrid.jobs.service import JobService
from tasks.celery_app import make_celery
from tasks.publisher import CeleryPublisher
from tests.support.candles import MINUTE, minutes

pytestmark = pytest.mark.integration

SPEC = JobSpec("sma_cross", "DEMO", "1h", datetime(2024, 1, 2, tzinfo=UTC),
               datetime(2024, 2, 1, tzinfo=UTC), {"fast": 10, "slow": 30}, {"cash": 10_000.0})  # fmt: skip


class Traffic:
    """Transactions begun and statements sent on one engine."""

    def __init__(self, engine) -> None:
        self.transactions, self.statements = 0, []
        sa.event.listen(engine, "begin", self._begin)
        sa.event.listen(engine, "before_cursor_execute", self._statement)

    def _begin(self, _conn) -> None:
        self.transactions += 1

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        self.statements.append(" ".join(statement.split()))

    def reset(self) -> None:
        self.transactions, self.statements = 0, []


@pytest.fixture
def setup(pg_url, tmp_path):
    settings = Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path), "DATABASE_URL": pg_url})
    db = Database.from_settings(settings)
    service = JobService(db, CeleryPublisher(make_celery(settings)), settings)
    store = EmbeddedStore(settings.candle_dir)
    store.write("DEMO", "1h", minutes(2000, step=60 * MINUTE))
    with db.write() as s:
        owner = users.create_user(s, "trader", "a long enough password").id
    traffic = Traffic(db.master)
    yield service, run.Resources(db, lambda: store, settings, "test"), owner, traffic
    service.publisher.close()
    db.dispose()


def test_a_submission_is_one_transaction_with_its_message(setup):
    service, _res, owner, traffic = setup
    assert service.transactional
    service.submit_backtest(owner, SPEC, request_id="req-1")
    assert traffic.transactions == 1
    writes = [s for s in traffic.statements if s.startswith(("INSERT", "UPDATE"))]
    assert [w.split()[2] for w in writes if w.startswith("INSERT")] == ["backtests", "broker_message"]
    assert not [w for w in writes if w.startswith("UPDATE")]  # the task id is set by the insert


def test_a_backtest_runs_in_two_transactions_and_its_result_is_not_read_back(setup):
    service, res, owner, traffic = setup
    job = service.submit_backtest(owner, SPEC)
    traffic.reset()
    outcome = run.run_backtest(res, job.id, run.Attempt("w1@test", job.task_id))
    assert outcome.status == "succeeded"
    assert traffic.transactions == 2
    assert not [s for s in traffic.statements if "FROM results" in s and s.startswith("SELECT")]
    assert sum(s.startswith("INSERT INTO results") for s in traffic.statements) == 1
