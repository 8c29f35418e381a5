"""The production Celery app carries the worker settings the design names, from the settings."""

from __future__ import annotations

import pytest

from quantgrid.config import Settings
from tasks.celery_app import QUEUE, broker_url_for, make_celery


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
    assert conf.worker_prefetch_multiplier == 1 and conf.worker_concurrency == 6


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
