"""The Celery tasks: thin wrappers around ``quantgrid.jobs.run`` with one retry/reject policy.

The work of each task is a plain function of the job id (``run.run_backtest``,
``run.run_sweep_chunk``). The wrapper adds what only Celery knows: the worker's name, the task
id and the retry count; the time limit; scheduling a retry (exponential backoff) for a
``RetryLater``; and, when the database itself is down (it is the broker too), giving the message
back (``Reject(requeue=True)``) instead of acking it, so the job runs again once the database is
back. If even that fails, the message's lease runs out and it comes back the same way. Running
twice is safe because every run starts with a guarded transition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery.exceptions import Reject, SoftTimeLimitExceeded

from quantgrid.db.errors import DatabaseUnavailable
from quantgrid.jobs import run
from quantgrid.jobs.publisher import RUN_BACKTEST, RUN_SWEEP_CHUNK
from tasks import metrics, runtime
from tasks.celery_app import app

logger = logging.getLogger(__name__)

# How long a task waits before giving its message back while the database is down, so that a
# redelivery does not spin.
DATABASE_DOWN_PAUSE = 1.0


@app.task(bind=True, name=RUN_BACKTEST, max_retries=None)  # settings.task_max_retries decides
def run_backtest(self, job_id: int) -> str:
    """Run backtest ``job_id`` and store its result once; return what happened."""
    limit = runtime.settings().task_soft_time_limit
    return _run(self, "backtest", job_id, run.run_backtest, run.fail_backtest,
                f"the backtest took longer than the {limit} s time limit")  # fmt: skip


@app.task(bind=True, name=RUN_SWEEP_CHUNK, max_retries=None)
def run_sweep_chunk(self, chunk_id: int) -> str:
    """Evaluate one chunk of a sweep with the sweep kernel and store its metrics."""
    return _run(self, "sweep chunk", chunk_id, run.run_sweep_chunk, run.fail_chunk,
                "the chunk took longer than the time limit; use a smaller chunk")  # fmt: skip


def _run(task, what: str, row_id: int, body: Callable, fail: Callable, too_long: str) -> str:
    """The one policy around a run: time limit, retry with backoff, give back when the
    database is down, and the task's metrics."""
    res = runtime.resources()
    attempt = run.Attempt(task.request.hostname or "?", task.request.id,
                          task.request.retries or 0, (SoftTimeLimitExceeded,))  # fmt: skip
    started = time.monotonic()
    try:
        outcome = body(res, row_id, attempt)
    except SoftTimeLimitExceeded:
        outcome = run.Outcome("failed", "failed: time limit")
        _or_give_back(what, row_id, fail, res, row_id, too_long)
    except run.RetryLater as err:
        metrics.record(task.name, run.Outcome("retried", str(err)), started)
        logger.warning("%s %s: retryable error, retrying: %s", what, row_id, err)
        if task.name == RUN_BACKTEST:
            run.note_retry(res, row_id, str(err))
        raise _retry(task, err.cause) from err
    except DatabaseUnavailable as err:
        raise _give_back(what, row_id, err) from err
    metrics.record(task.name, outcome, started)
    return outcome.detail


def _or_give_back(what: str, row_id: int, fn: Callable, *args) -> None:
    try:
        fn(*args)
    except DatabaseUnavailable as err:
        raise _give_back(what, row_id, err) from err


def _give_back(what: str, job_id: int, err: DatabaseUnavailable) -> Reject:
    """The database is down: return the Reject that puts the message back on the queue."""
    logger.warning(
        "%s %s: the database is unavailable, the message goes back: %s", what, job_id, err
    )
    time.sleep(DATABASE_DOWN_PAUSE)
    return Reject(str(err), requeue=True)


def _retry(task, err: Exception):
    """Return the Retry to raise; a retry that cannot be published goes back to the queue."""
    settings = runtime.settings()
    countdown = min(2.0 ** (task.request.retries or 0), settings.task_retry_backoff_max)
    try:
        return task.retry(exc=err, countdown=countdown, max_retries=settings.task_max_retries)
    except Reject as rej:  # publishing the retry failed: Celery would drop the message
        logger.warning("could not publish the retry (%s); the message goes back", rej.reason)
        time.sleep(DATABASE_DOWN_PAUSE)
        return Reject(rej.reason, requeue=True)
