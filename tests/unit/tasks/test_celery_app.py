"""The production Celery app carries the worker settings the design names, from the settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from quantgrid.config import Settings, available_cores
from tasks.celery_app import (
    EVENT_BUFFER_LIMIT,
    EVENT_FLUSH_SECONDS,
    QUEUE,
    CoalescedTaskEvents,
    SqlaPolling,
    broker_url_for,
    make_celery,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def conf(tmp_path):
    settings = Settings.from_env({
        "QUANTGRID_VAR_DIR": str(tmp_path), "TASK_SOFT_TIME_LIMIT": "300", "TASK_TIME_LIMIT": "330",
        "WORKER_MAX_MEMORY_PER_CHILD_KB": "512000",
    })  # fmt: skip
    app = make_celery(settings)
    yield app.conf
    app.close()


def test_a_lost_worker_loses_no_task_and_each_process_holds_one(conf):
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1


def test_the_pool_has_a_process_per_core_unless_told_otherwise(conf, tmp_path):
    assert conf.worker_concurrency == available_cores()
    told = make_celery(Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path), "WORKER_CONCURRENCY": "6"}))
    assert told.conf.worker_concurrency == 6
    told.close()


def test_limits_events_and_results_outside_celery(conf):
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (300, 330)
    assert conf.worker_max_memory_per_child == 512_000
    assert conf.worker_send_task_events and conf.task_send_sent_event
    assert conf.task_ignore_result  # results live in the job tables
    assert conf.task_default_queue == QUEUE and conf.broker_connection_max_retries is None


@pytest.mark.parametrize(
    ("env", "scheme"),
    [({"DATABASE_URL": "postgresql+psycopg2://u@h/db"}, "qgpg+postgresql+psycopg2"),
     ({"DATABASE_URL": "sqlite:////tmp/x.db"}, "sqla+sqlite"),
     ({"BROKER_URL": "redis://127.0.0.1:6379/0"}, "redis")],
)
def test_the_broker_follows_the_database_unless_named(env, scheme, tmp_path):
    url = broker_url_for(Settings.from_env({"QUANTGRID_VAR_DIR": str(tmp_path), **env}))
    assert url.startswith(scheme + ":"), url


def test_the_embedded_broker_is_polled_as_often_as_the_settings_say(tmp_path):
    """kombu polls its sqla+ transport once a second: a backtest waited ~0.7 s before it started."""
    env = {"QUANTGRID_VAR_DIR": str(tmp_path), "SQLA_BROKER_POLL_SECONDS": "0.03"}
    app = make_celery(Settings.from_env(env))
    try:
        assert SqlaPolling in app.steps["consumer"]  # the worker's consumer runs it
        with app.connection_for_read() as conn:
            assert conn.transport.polling_interval == 1.0  # kombu's own
            SqlaPolling(SimpleNamespace()).start(SimpleNamespace(app=app, connection=conn))
            assert conn.transport.polling_interval == 0.03
    finally:
        app.close()
    qgpg_app = make_celery(Settings.from_env({**env, "DATABASE_URL": "postgresql+psycopg2://u@h/db"}))
    assert SqlaPolling not in qgpg_app.steps["consumer"]  # qgpg: LISTEN/NOTIFY, its own option
    qgpg_app.close()


def test_task_events_are_flushed_together_a_moment_later(conf):
    """Celery flushed its task-event buffer on the loop's next turn: under load nearly every event
    was a message (a statement, and a notification for each monitor). Now one flush is scheduled
    for EVENT_FLUSH_SECONDS after the first event, and sends whatever has gathered by then."""
    timers, flushes = [], []
    dispatcher = SimpleNamespace(enabled=True, buffer_limit=24, on_send_buffered=None)
    consumer = SimpleNamespace(
        hub=SimpleNamespace(call_later=lambda delay, fn: timers.append((delay, fn))),
        event_dispatcher=dispatcher, _flush_events=lambda: flushes.append(1))
    CoalescedTaskEvents(SimpleNamespace()).start(consumer)
    assert dispatcher.buffer_limit == EVENT_BUFFER_LIMIT
    for _ in range(3):  # three events buffered: one flush scheduled
        dispatcher.on_send_buffered()
    assert [delay for delay, _ in timers] == [EVENT_FLUSH_SECONDS] and flushes == []
    timers.pop()[1]()
    assert flushes == [1]
    dispatcher.on_send_buffered()  # the next event schedules the next flush
    assert len(timers) == 1
    assert CoalescedTaskEvents in make_celery(Settings.from_env({})).steps["consumer"]


def test_the_worker_imports_the_candle_stores_before_it_forks_its_pool():
    """Pool children share what the worker's main process imported before forking them, instead
    of importing pandas and pyarrow (~0.5 s of CPU each) on their first task. Importing the app
    alone (the CLI does) must not bring them."""
    code = (
        "import sys\n"
        "from celery.signals import worker_init\n"
        "import tasks.celery_app\n"
        "heavy = lambda: sorted({'pandas', 'pyarrow'} & set(sys.modules))\n"
        "before = heavy()\n"
        "worker_init.send(sender=None)  # what the worker sends before starting its pool\n"
        "print(before, heavy())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "[] ['pandas', 'pyarrow']", out.stderr
