"""The Celery app, built in this one place from ``quantgrid.config.Settings``.

    celery -A tasks.celery_app worker -E    # pool size: WORKER_CONCURRENCY, one per core

The broker is the project's ``qgpg`` transport when the jobs database is PostgreSQL, and kombu's
stock ``sqla+sqlite`` transport on the embedded SQLite default; ``BROKER_URL`` overrides both.
Results live in the job tables, so every task ignores Celery's result backend.
"""

from __future__ import annotations

from celery import Celery, bootsteps
from celery.signals import worker_init, worker_process_init
from sqlalchemy.engine import make_url

import qgpg  # noqa: F401  (registers the qgpg scheme with kombu)
from qgpg import broker_url as qgpg_url
from quantgrid.config import Settings

QUEUE = "quantgrid"
# Task events: sent at most this long after they happen, and at most this many per message
# (about 5 KB of JSON: a message stays one notification; see CoalescedTaskEvents).
EVENT_FLUSH_SECONDS = 0.1
EVENT_BUFFER_LIMIT = 8


def broker_url_for(settings: Settings) -> str:
    """Return the broker URL: BROKER_URL, else qgpg on PostgreSQL, else sqla+ on SQLite."""
    if settings.broker_url:
        return settings.broker_url
    backend = make_url(settings.database_url).get_backend_name()
    if backend == "postgresql":
        return qgpg_url(settings.database_url)
    if backend == "sqlite":
        return f"sqla+{settings.database_url}"
    raise ValueError(f"set BROKER_URL: no default broker for a {backend} DATABASE_URL")


def transport_options(settings: Settings) -> dict:
    """Celery's ``broker_transport_options`` for ``qgpg`` from the settings."""
    return {
        "lease_seconds": settings.broker_lease_seconds,
        "polling_interval": settings.broker_poll_seconds,
    }


class SqlaPolling(bootsteps.StartStopStep):
    """The worker polls kombu's ``sqla+`` broker every ``SQLA_BROKER_POLL_SECONDS``, not every 1 s.

    kombu's virtual transports read ``polling_interval`` from the transport options, but its
    SQLAlchemy channel hands every transport option to ``create_engine()``, which refuses that
    one (TypeError). So the consumer sets it on its connection's transport each time it connects.
    """

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, c) -> None:
        settings: Settings = c.app.conf.quantgrid_settings
        c.connection.transport.polling_interval = settings.sqla_broker_poll_seconds


class CoalescedTaskEvents(bootsteps.StartStopStep):
    """A worker sends its task events at most every ``EVENT_FLUSH_SECONDS``, several per message.

    Celery buffers task events in an event-loop worker and publishes the buffer as one message
    (``task.multi``), but flushes it on the loop's next turn, so under load nearly every event
    was a message of its own: a statement in the worker's main process and a notification for
    Flower and the exporter each. Events are monitoring data, sent at most once, so a tenth of
    a second of delay costs nothing; a buffer of ``EVENT_BUFFER_LIMIT`` is flushed at once, which
    keeps a message under PostgreSQL's notification size (else it would be stored as rows).
    """

    requires = ("celery.worker.consumer.events:Events",)

    def start(self, c) -> None:
        dispatcher = c.event_dispatcher
        if c.hub is None or dispatcher is None or not dispatcher.enabled:
            return
        dispatcher.buffer_limit = EVENT_BUFFER_LIMIT
        hub, pending = c.hub, [False]

        def flush() -> None:
            pending[0] = False
            c._flush_events()

        def on_send_buffered() -> None:
            if not pending[0]:
                pending[0] = True
                hub.call_later(EVENT_FLUSH_SECONDS, flush)

        dispatcher.on_send_buffered = on_send_buffered


def make_celery(settings: Settings | None = None) -> Celery:
    settings = Settings.from_env() if settings is None else settings
    url = broker_url_for(settings)
    app = Celery("quantgrid", broker=url, include=["tasks.jobs", "tasks.maintenance"], set_as_current=False)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        worker_max_memory_per_child=settings.worker_max_memory_per_child_kb,
        worker_concurrency=settings.worker_concurrency,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # outlast a database restart
        worker_hijack_root_logger=False,
    )
    # `celery -A tasks.celery_app beat` (Procfile `beat`): one beat process per deployment.
    # A missed run is harmless (the next one does the same), so a message expires with its period.
    interval = settings.requeue_interval_seconds
    app.conf.beat_schedule = {
        "requeue-stuck-jobs": {
            "task": "quantgrid.requeue_stuck",
            "schedule": interval,
            "options": {"expires": interval},
        }
    }
    if url.startswith("qgpg"):
        app.conf.broker_transport_options = transport_options(settings)
    elif url.startswith("sqla+"):
        app.steps["consumer"].add(SqlaPolling)
    app.steps["consumer"].add(CoalescedTaskEvents)
    app.conf.quantgrid_settings = settings
    return app


app = make_celery()


@worker_process_init.connect
def _fresh_connections_in_child(**_kwargs) -> None:
    # A forked pool child must not share the parent's pooled database connections.
    from tasks import runtime

    runtime.reset_after_fork()


@worker_init.connect
def _imports_before_fork(**_kwargs) -> None:
    # Sent in the worker's main process before its pool starts: the children it forks share these.
    from tasks import runtime

    runtime.import_before_fork()
