"""Periodic housekeeping that Celery beat schedules (``beat_schedule`` in tasks/celery_app.py).

``requeue_stuck`` re-sends the jobs left ``running`` by a worker that died (killed, OOM, host
lost): acks_late redelivers their message only when the broker notices, and the job row would
stay ``running`` forever otherwise. Broker housekeeping (expired leases, messages and queues) needs
no task: the ``qgpg`` transport's keeper thread sweeps inside every worker (qgpg).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from kombu.exceptions import KombuError

from tasks.celery_app import app

logger = logging.getLogger(__name__)

REQUEUE_STUCK = "quantgrid.requeue_stuck"
PING_TIMEOUT = 2.0


def alive_workers(celery, own_hostname: str | None) -> set[str]:
    """Workers that answer a ping, plus ``own_hostname`` (the worker running this task).

    A transport without broadcast (kombu's ``sqla+sqlite`` on the embedded default) cannot ping
    another process; there the executing worker is the only one known alive. The embedded
    set-up runs one worker, so that is every worker; run more and use PostgreSQL.
    """
    alive = {own_hostname} if own_hostname else set()
    with celery.connection_for_read() as conn:
        broadcast = conn.default_channel.supports_fanout
    if not broadcast:
        return alive
    try:
        replies = celery.control.ping(timeout=PING_TIMEOUT) or []
    except (KombuError, OSError) as err:
        # Unknown is not dead: requeuing live workers' jobs would run them twice.
        raise RuntimeError(f"cannot tell which workers are alive: {err}") from err
    return alive | {name for reply in replies for name in reply}


def requeue_stuck_jobs(service, own_hostname: str | None) -> dict[str, list[int]]:
    """Requeue ``service``'s running jobs whose worker is not alive; return the requeued ids."""
    alive = alive_workers(service.publisher.app, own_hostname)
    if not alive:
        logger.warning("requeue_stuck: no worker answered; not calling every running job stuck")
        return {"backtests": [], "chunks": []}
    grace = timedelta(seconds=service.settings.stuck_grace_seconds)
    done = service.requeue_stuck(alive, grace)
    if done["backtests"] or done["chunks"]:
        logger.warning(
            "requeued stuck backtests %s and sweep chunks %s (alive: %s)",
            done["backtests"],
            done["chunks"],
            sorted(alive),
        )
    return done


@app.task(bind=True, name=REQUEUE_STUCK, acks_late=False)
def requeue_stuck(self) -> dict[str, list[int]]:
    """The beat task: requeue running jobs whose worker no longer answers."""
    from tasks.publisher import job_service

    return requeue_stuck_jobs(job_service(), self.request.hostname)
