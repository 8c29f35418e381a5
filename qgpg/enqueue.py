"""Transactional enqueue: publish a task on the caller's own SQLAlchemy transaction.

    with engine.begin() as conn:
        job_id = jobs.create(conn, ...)
        publish_in_transaction(conn, celery_app, "tasks.run_backtest", args=(job_id,))
    # commit: the job row and its message become visible together (and the NOTIFY fires);
    # rollback: neither exists.

Only the message rows go through the caller's connection; queue, exchange and binding
declarations (done once per connection by kombu) use the broker's own autocommit connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qgpg.errors import NotRouted, NotTransactional


@dataclass
class PendingTransaction:
    connection: sa.engine.Connection
    published: int = 0


_current: ContextVar[PendingTransaction | None] = ContextVar("quantgrid_broker_tx", default=None)


def current_transaction() -> PendingTransaction | None:
    """Return the transaction ``enqueue_in`` opened in this context, if any."""
    return _current.get()


@contextmanager
def enqueue_in(bind: sa.engine.Connection | Session) -> Iterator[PendingTransaction]:
    """Make every ``qgpg`` publish in this block insert its message on ``bind``'s transaction."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    if not isinstance(connection, sa.engine.Connection):
        raise TypeError(
            f"enqueue_in needs a SQLAlchemy Connection or Session, got {type(bind).__name__}"
        )
    if connection.dialect.name != "postgresql":
        raise NotTransactional(
            f"transactional enqueue needs PostgreSQL, not {connection.dialect.name}"
        )
    pending = PendingTransaction(connection)
    token = _current.set(pending)
    try:
        yield pending
    finally:
        _current.reset(token)


def uses_qgpg(app) -> bool:
    """Tell whether ``app`` (a Celery app) publishes through the qgpg transport."""
    from kombu import Connection
    from kombu.transport import resolve_transport

    from qgpg.transport import Transport

    url = app.conf.broker_write_url or app.conf.broker_url
    transport = resolve_transport(Connection(url).transport_cls)
    return isinstance(transport, type) and issubclass(transport, Transport)


def publish_in_transaction(bind, app, task_name: str, args=(), kwargs=None, **options):
    """Send ``task_name`` through ``app`` with its message row in ``bind``'s transaction.

    Returns the ``AsyncResult``. ``options`` are ``send_task``'s (``priority``, ``queue``,
    ``countdown``, ...). Raises ``NotTransactional`` when ``app``'s broker is not ``qgpg``.
    """
    if not uses_qgpg(app):
        raise NotTransactional(
            "transactional enqueue needs the qgpg broker (broker_url='qgpg+postgresql+psycopg2://...')"
        )
    with enqueue_in(bind) as pending:
        result = app.send_task(task_name, args=args, kwargs=kwargs, **options)
    if pending.published == 0:
        raise NotRouted(f"{task_name} was routed to no queue; nothing was enqueued")
    return result
