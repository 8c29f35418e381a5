"""The job service's publisher on Celery, and the service wired to this process's resources.

With the ``qgpg`` broker the messages are inserted in the job rows' transaction
(``qgpg.publish_in_transaction``); with any other broker they are sent after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery
from kombu.exceptions import KombuError
from sqlalchemy.orm import Session

from qgpg import publish_in_transaction
from qgpg.enqueue import uses_qgpg
from quantgrid.config import Settings
from quantgrid.db.session import Database
from quantgrid.jobs.publisher import PublishFailed, TaskMessage
from quantgrid.jobs.service import JobService

logger = logging.getLogger(__name__)


class CeleryPublisher:
    """Publishes task messages through a Celery app (see quantgrid.jobs.publisher.Publisher)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.in_transaction = uses_qgpg(app)

    def publish(self, messages: Sequence[TaskMessage], session: Session | None) -> None:
        if session is not None:
            for m in messages:
                publish_in_transaction(session, self.app, m.task, args=(m.row_id,),
                                       task_id=m.task_id)  # fmt: skip
            return
        try:
            for m in messages:
                self.app.send_task(m.task, args=(m.row_id,), task_id=m.task_id)
        except (KombuError, OSError) as err:
            raise PublishFailed(str(err)) from err

    def revoke(self, task_ids: Sequence[str]) -> None:
        try:
            self.app.control.revoke(list(task_ids), terminate=True, signal="SIGTERM")
        except (KombuError, OSError, NotImplementedError) as err:
            logger.warning("could not broadcast the revoke of %s: %s", task_ids, err)

    def check(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)

    def close(self) -> None:
        self.app.close()


def job_service(settings: Settings | None = None, db: Database | None = None) -> JobService:
    """The job service on ``settings``' database and broker (this process's by default)."""
    from tasks import runtime
    from tasks.celery_app import app, make_celery

    if settings is None or settings == runtime.settings():
        return JobService(db or runtime.database(), CeleryPublisher(app), runtime.settings())
    return JobService(db or Database.from_settings(settings), CeleryPublisher(make_celery(settings)),
                      settings)  # fmt: skip
