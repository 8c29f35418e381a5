"""The stock brokers stay selectable by URL alone: kombu's sqla+, Redis and RabbitMQ."""

from __future__ import annotations

import json
import uuid

import pytest
from kombu import Connection, Queue

from tests.integration.broker.procs import (
    app_env,
    celery,
    create_runs_table,
    query,
    start_worker,
    wait_for,
    wait_ready,
)

REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def test_a_task_round_trips_through_sqla_redis_and_rabbitmq(pg_url, tmp_path):
    create_runs_table(pg_url)
    urls = {"sqla": f"sqla+{pg_url}", "redis": REDIS, "amqp": RABBITMQ}
    for name in ("redis", "amqp"):
        try:
            with Connection(urls[name], connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as err:
            pytest.fail(f"{name} is not reachable at {urls[name]}; run `make services`: {err}")
    queue = f"qg-test-{uuid.uuid4().hex[:8]}"
    workers = {
        name: start_worker(name, app_env(url, pg_url, QG_TEST_QUEUE=queue), tmp_path, 1)
        for name, url in urls.items()
    }
    try:
        wait_ready(*workers.values())
        for name, url in urls.items():
            # `celery call` publishes from another process: in this one, kombu's stock sqla
            # models trip SQLAlchemy 2.1 deprecation warnings, which the suite turns into errors.
            sent = celery(app_env(url, pg_url, QG_TEST_QUEUE=queue), "call",
                          "broker_test.record", "--args", json.dumps([f"via-{name}"]))
            assert sent.returncode == 0, sent.stdout + sent.stderr
        wait_for(
            lambda: query(pg_url, "SELECT count(*) FROM broker_test_runs")[0][0] >= 3,
            30, "a task through each broker",
        )
        ran = dict(query(pg_url, "SELECT tag, worker FROM broker_test_runs"))
        assert ran == {"via-sqla": "sqla", "via-redis": "redis", "via-amqp": "amqp"}
    finally:
        for worker in workers.values():
            worker.stop()
        for url in (REDIS, RABBITMQ):
            with Connection(url) as conn:
                Queue(queue)(conn.default_channel).delete()
