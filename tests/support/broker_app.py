"""A test-only Celery app for the broker tests and bench (the production app lives in tasks/).

Configured by environment variables, because ``celery -A tests.support.broker_app worker``
runs it in other processes:

- ``QG_TEST_BROKER_URL``: the broker URL (any scheme: qgpg+..., sqla+..., redis://, amqp://).
- ``QG_TEST_RECORD_URL``: a PostgreSQL URL whose ``broker_test_runs`` table tasks write to.
- ``QG_TEST_LEASE`` / ``QG_TEST_HEARTBEAT``: short qgpg leases for the kill tests.
- ``QG_BENCH_LOG``: a file the bench task appends "sent start" lines to.
"""

from __future__ import annotations

import os
import socket
import time

import psycopg2
from celery import Celery

import qgpg  # noqa: F401  (registers the qgpg scheme for the CLI, workers, Flower)

BROKER_URL = os.environ.get("QG_TEST_BROKER_URL", "memory://")

RUNS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS broker_test_runs (
    id bigserial PRIMARY KEY,
    tag text NOT NULL,
    worker text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
)
"""

def make_app(broker_url: str, name: str = "broker_app") -> Celery:
    """Return the test app's configuration on ``broker_url`` (producers in tests use this)."""
    app = Celery(name, broker=broker_url, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=os.environ.get("QG_TEST_ACKS_LATE", "1") == "1",
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=int(os.environ.get("QG_TEST_PREFETCH", "4")),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=os.environ.get("QG_TEST_EVENTS", "1") == "1",
        task_send_sent_event=False,
        # The reconnect loop must outlast a database restart.
        broker_connection_max_retries=None,
        task_default_queue=os.environ.get("QG_TEST_QUEUE", "celery"),
        # Short expiries so the tests can watch the sweeper remove the queues of dead consumers.
        control_queue_expires=float(os.environ.get("QG_TEST_QUEUE_EXPIRES", "10")),
        event_queue_expires=float(os.environ.get("QG_TEST_QUEUE_EXPIRES", "60")),
    )
    if broker_url.startswith("qgpg"):
        app.conf.broker_transport_options = {
            "lease_seconds": float(os.environ.get("QG_TEST_LEASE", "60")),
            "heartbeat_interval": float(os.environ.get("QG_TEST_HEARTBEAT", "5")),
            "polling_interval": 2.0,
            "cleanup_interval": float(os.environ.get("QG_TEST_CLEANUP", "30")),
            "auto_delete_expires": 10.0,
        }
    return app


app = make_app(BROKER_URL)

_conn = None


def _record_conn():
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg2.connect(os.environ["QG_TEST_RECORD_URL"].replace("+psycopg2", ""))
        _conn.autocommit = True
    return _conn


def _insert(tag: str) -> None:
    global _conn
    for attempt in range(30):
        try:
            with _record_conn().cursor() as cur:
                cur.execute(
                    "INSERT INTO broker_test_runs (tag, worker, pid) VALUES (%s, %s, %s)",
                    (tag, os.environ.get("QG_TEST_WORKER", socket.gethostname()), os.getpid()),
                )
            return
        except psycopg2.OperationalError:
            _conn = None
            time.sleep(0.2 + attempt * 0.1)
    raise RuntimeError(f"could not record {tag}")


@app.task(name="broker_test.record")
def record(tag: str, seconds: float = 0.0) -> None:
    """Record that ``tag`` ran (here, now, in this process); a slow run also records its start
    as ``start:<tag>`` before sleeping ``seconds``."""
    if seconds:
        _insert(f"start:{tag}")
        time.sleep(seconds)
    _insert(tag)


@app.task(name="broker_test.noop")
def noop(sent: float) -> None:
    """Append "sent start" (epoch seconds) to QG_BENCH_LOG: the submit-to-start latency."""
    started = time.time()
    with open(os.environ["QG_BENCH_LOG"], "a") as log:
        log.write(f"{sent} {started}\n")
