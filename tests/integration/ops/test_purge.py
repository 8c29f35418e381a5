"""`quantgrid ops purge`: the queue is emptied and no job is left queued without a message.

On PostgreSQL with the qgpg broker and on the embedded SQLite default, with no worker: the jobs
waiting before the purge are cancelled (a sweep as a whole), and one submitted while the queue
is being emptied loses its message to the purge but gets it sent again.
"""

from __future__ import annotations

import pytest

from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import sweeps, users
from quantgrid.db.models import Status
from quantgrid.db.session import Database
from quantgrid.jobs.service import JobService
from tasks.celery_app import QUEUE, make_celery
from tasks.publisher import CeleryPublisher
from tests.integration.db.conftest import make_spec
from tests.support import pg
from tests.support.jobs import sweep_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
]

SPEC = make_spec()


@pytest.fixture(params=["postgresql", "sqlite"])
def service(request, tmp_path):
    if request.param == "postgresql":
        env = {"DATABASE_URL": request.getfixturevalue("pg_url"), "QUANTGRID_VAR_DIR": "/nonexistent"}
    else:
        env = {"QUANTGRID_VAR_DIR": str(tmp_path)}
    settings = Settings.from_env(env)
    if request.param == "sqlite":
        pg.migrate(settings.database_url)
    service = JobService(Database.from_settings(settings), CeleryPublisher(make_celery(settings)), settings)
    assert service.transactional == (request.param == "postgresql")
    yield service
    service.publisher.app.close()
    service.db.dispose()


def _purge(service: JobService) -> int:
    with service.publisher.app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(QUEUE) or 0


def test_purge_cancels_the_waiting_jobs_and_resends_the_ones_queued_meanwhile(service):
    with service.db.write() as s:
        owner = users.create_user(s, "trader", "a long enough password").id
    waiting = [service.submit_backtest(owner, SPEC).id for _ in range(2)]
    sweep = service.submit_sweep(owner, sweep_of(SPEC, ["fast=5,10", "slow=30"]), chunk_size=1).id
    late = []

    def purge_queue() -> int:
        late.append(service.submit_backtest(owner, SPEC).id)  # submitted meanwhile
        return _purge(service)

    done = service.purge_waiting(purge_queue)

    assert done.messages == 2 + 2 + 1  # two backtests, two chunks, the late backtest
    assert (done.backtests, done.sweeps, done.resent) == (waiting, [sweep], 1)
    with service.db.read() as s:
        assert [bt.get_backtest(s, i).status for i in waiting] == [Status.CANCELLED] * 2
        assert sweeps.get_sweep(s, sweep).status == Status.CANCELLED
        assert bt.get_backtest(s, late[0]).status == Status.QUEUED
    assert _purge(service) == 1  # the late job's message, sent again, is all that waits
