"""A PostgreSQL restart mid-run: workers and producers reconnect, and no task is lost.

Runs on a private cluster (tests/support/pgcluster.py), never on the shared server.
"""

from __future__ import annotations

import threading
import time

import pytest

import qgpg
from qgpg.transport import forget
from tests.integration.broker.procs import (
    app_env,
    create_runs_table,
    query,
    start_worker,
    wait_for,
    wait_ready,
)
from tests.support import pg
from tests.support.broker_app import make_app
from tests.support.pgcluster import PgCluster

TASKS = 600
RETRY = {"max_retries": 100, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.5}


@pytest.fixture
def cluster():
    try:
        server = PgCluster.create()
    except (RuntimeError, FileNotFoundError) as err:
        pytest.fail(f"cannot start a private PostgreSQL 15 (see tests/support/pgcluster.py): {err}")
    with server:
        yield server


def test_a_postgres_restart_mid_run_loses_no_task(cluster, pg_url, tmp_path):
    broker_db = cluster.create_database("broker")
    pg.migrate(broker_db)
    create_runs_table(pg_url)  # tasks record on the shared server, which stays up
    broker_url = qgpg.broker_url(broker_db)
    env = app_env(broker_url, pg_url, QG_TEST_LEASE="3", QG_TEST_HEARTBEAT="0.5",
                  QG_TEST_CLEANUP="1")
    worker = start_worker("rw", env, tmp_path, 4)
    producer = make_app(broker_url, name="producer")
    errors: list[BaseException] = []

    def produce():
        try:
            for n in range(TASKS):
                producer.send_task("broker_test.record", args=(f"r-{n}",), retry=True,
                                   retry_policy=RETRY)
                time.sleep(0.005)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    try:
        wait_ready(worker)
        thread = threading.Thread(target=produce)
        thread.start()
        wait_for(lambda: query(pg_url, "SELECT count(*) FROM broker_test_runs")[0][0] >= 100,
                 60, "the first 100 tasks")
        cluster.restart(mode="fast")
        thread.join(120)
        assert not errors, errors
        wait_for(
            lambda: query(pg_url, "SELECT count(DISTINCT tag) FROM broker_test_runs")[0][0]
            >= TASKS,
            90, f"all {TASKS} tasks after the restart",
        )
        (total, distinct), = query(pg_url, "SELECT count(*), count(DISTINCT tag) FROM broker_test_runs")
        assert distinct == TASKS
        # At-least-once: only tasks in flight at the restart may have run twice.
        assert total - distinct <= 40, (total, distinct)
        assert worker.text().count("Connected to qgpg") >= 2  # it did reconnect
        wait_for(lambda: query(broker_db, "SELECT count(*) FROM broker_message")[0][0] == 0,
                 30, "the message table to empty")
    finally:
        worker.stop()
        producer.close()
        forget(broker_db)
