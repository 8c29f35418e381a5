"""A Celery task's ``priority=`` is honoured within a queue by a real worker on the qgpg broker.

Low-priority tasks are queued first and high-priority ones after them; a worker that then
starts (one process, prefetch 1, so it holds one message at a time) runs the high ones first.
"""

from __future__ import annotations

import pytest

import qgpg
from qgpg.transport import forget
from tests.integration.broker.procs import app_env, create_runs_table, query, start_worker, wait_for
from tests.support import pg
from tests.support.broker_app import make_app

pytestmark = pytest.mark.integration


@pytest.fixture
def database(pg_template):
    name = pg.unique_name("qg_priority")
    url = pg.create_database(name, template=pg_template)
    create_runs_table(url)
    yield url
    forget(url)
    pg.drop_database(name)


def test_higher_priority_tasks_run_first(database, tmp_path):
    broker_url = qgpg.broker_url(database)
    producer = make_app(broker_url, name="producer")
    try:
        for n in range(6):
            producer.send_task("broker_test.record", args=(f"low-{n}",), priority=0)
        for n in range(3):
            producer.send_task("broker_test.record", args=(f"mid-{n}",), priority=4)
        for n in range(3):
            producer.send_task("broker_test.record", args=(f"high-{n}",), priority=9)
    finally:
        producer.close()
    env = app_env(broker_url, database, QG_TEST_PREFETCH="1")
    worker = start_worker("prio", env, tmp_path, 1)
    try:
        wait_for(lambda: query(database, "SELECT count(*) FROM broker_test_runs")[0][0] == 12,
                 60, "the 12 tasks to run")
    finally:
        worker.stop()
    order = [tag for (tag,) in query(database, "SELECT tag FROM broker_test_runs ORDER BY id")]
    # By priority, then in the order sent.
    assert order == [*(f"high-{n}" for n in range(3)), *(f"mid-{n}" for n in range(3)),
                     *(f"low-{n}" for n in range(6))], order
