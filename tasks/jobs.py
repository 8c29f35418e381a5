"""The tasks: one backtest, one chunk of a sweep. Both take ids and are idempotent.

Each starts with a guarded transition (queued/running → running) that fails for a finished or
cancelled job, so a redelivered or revoked message does nothing. Retryable failures (candle store
or database unavailable) retry with exponential backoff; permanent ones (unknown symbol, bad
parameters) fail the job at once with the reason stored on it.

When the database itself is down (it is the broker too), a task can neither record anything nor
publish a retry: it gives its message back (``Reject(requeue=True)``) instead of acking it, so the
job runs again once the database is back. If even that fails, the message's lease runs out and it
comes back the same way. Running twice is safe because of the guarded transitions.
"""

from __future__ import annotations

import logging
import time

from celery.exceptions import Reject, SoftTimeLimitExceeded

from engine.backtest import run_backtest as engine_backtest
from engine.backtest import trade_records
from engine.simulator import SimConfig
from engine.sweep import run_sweep
from quantgrid.db import backtests as bt
from quantgrid.db import results, sweeps
from quantgrid.db.errors import DatabaseUnavailable
from quantgrid.db.quotas import Limits
from quantgrid.db.users import get_user
from quantgrid.errors import InvalidInput, QuantGridError, QuotaExceeded
from tasks import metrics, runtime
from tasks.celery_app import app

logger = logging.getLogger(__name__)

RUN_BACKTEST = "tasks.run_backtest"
RUN_SWEEP_CHUNK = "tasks.run_sweep_chunk"
# How long a task waits before giving its message back while the database is down, so that a
# redelivery does not spin.
DATABASE_DOWN_PAUSE = 1.0


def sim_config(settings: dict) -> SimConfig:
    """Build the simulator configuration from a job's settings; bad settings are InvalidInput."""
    try:
        return SimConfig(**settings)
    except TypeError as err:
        raise InvalidInput(f"unknown simulator setting: {err}") from None
    except ValueError as err:
        raise InvalidInput(str(err)) from None


def _backoff(retries: int) -> float:
    return min(2.0**retries, runtime.settings().task_retry_backoff_max)


def _max_retries() -> int:
    return runtime.settings().task_max_retries


def _lost_too_often(task, attempts: int) -> str | None:
    """The reason to give up on a job whose worker keeps getting lost, or None to run it.

    Starts that were neither the first run nor a Celery retry are runs that never finished: the
    worker was SIGKILLed or OOM-killed, or its host went, and the message came back (acks_late,
    reject on worker lost, the broker's lease) or beat requeued the job. A job that kills its
    worker every time would otherwise take down worker after worker for ever.
    """
    lost = attempts - 1 - (task.request.retries or 0)
    if lost <= runtime.settings().task_max_worker_lost:
        return None
    return (f"gave up after the worker running it was lost {lost} times (killed, perhaps over"
            " its memory limit; see the worker's log)")


def _load_candles(symbol: str, timeframe: str, start, end, owner_id: int):
    candles = runtime.candle_store().read(symbol, timeframe, start, end)
    metrics.candles_loaded(len(candles))
    with runtime.database().write() as s:
        limit = Limits.from_settings(runtime.settings()).for_user(get_user(s, owner_id))
    if len(candles) > limit.max_candles_per_job:
        raise QuotaExceeded(
            f"{len(candles):,} candles exceed your limit of {limit.max_candles_per_job:,} per job"
        )
    return candles


def _give_back(what: str, job_id: int, err: DatabaseUnavailable) -> Reject:
    """The database is down: return the Reject that puts the message back on the queue."""
    logger.warning(
        "%s %s: the database is unavailable, the message goes back: %s", what, job_id, err
    )
    time.sleep(DATABASE_DOWN_PAUSE)
    return Reject(str(err), requeue=True)


def _retry(task, err: Exception):
    """Return the Retry to raise; a retry that cannot be published goes back to the queue."""
    try:
        return task.retry(
            exc=err, countdown=_backoff(task.request.retries), max_retries=_max_retries()
        )
    except Reject as rej:  # publishing the retry failed: Celery would drop the message
        logger.warning("could not publish the retry (%s); the message goes back", rej.reason)
        time.sleep(DATABASE_DOWN_PAUSE)
        return Reject(rej.reason, requeue=True)


def _permanent(err: BaseException) -> bool:
    if isinstance(err, QuantGridError):
        return not err.retryable
    return isinstance(err, ValueError | TypeError)


@app.task(bind=True, name=RUN_BACKTEST, max_retries=None)  # _max_retries() decides
def run_backtest(self, job_id: int) -> str:
    """Run backtest ``job_id`` and store its result once; return what happened."""
    try:
        return _run_backtest(self, job_id)
    except DatabaseUnavailable as err:
        raise _give_back("backtest", job_id, err) from err


def _run_backtest(self, job_id: int) -> str:
    db = runtime.database()
    with db.write() as s:
        if not bt.start_backtest(s, job_id, self.request.hostname or "?", self.request.id):
            return "skipped: already finished or cancelled"
        job = bt.get_backtest(s, job_id)
    lost = _lost_too_often(self, job.attempts)
    if lost:
        _fail(job_id, lost)
        return "failed: worker lost too often"
    try:
        candles = _load_candles(job.symbol, job.timeframe, job.start_at, job.end_at, job.owner_id)
        with db.write() as s:
            bt.set_progress(s, job_id, 0.2)
        version = runtime.engine_version()
        params_hash = bt.backtest_params_hash(job)
        candles_fp = results.candles_fingerprint(candles)
        fingerprint = results.result_fingerprint(params_hash, candles_fp, version)
        with db.write() as s:
            if results.find_result(s, fingerprint) is not None:
                bt.succeed_backtest(s, job_id, fingerprint)
                return "reused an identical result"
        out = engine_backtest(candles, job.strategy, job.params, sim_config(job.settings))
        with db.write() as s:
            row = results.store_result(
                s,
                backtest_id=job_id,
                params_hash=params_hash,
                candles_fingerprint=candles_fp,
                engine_version=version,
                metrics=out.metrics,
                equity_time=out.time,
                equity_value=out.equity,
                trades=trade_records(out.trades),
            )
            if not bt.succeed_backtest(s, job_id, row.fingerprint):
                return "finished, but the job was cancelled meanwhile"
        return "succeeded"
    except SoftTimeLimitExceeded:
        limit = runtime.settings().task_soft_time_limit
        _fail(job_id, f"the backtest took longer than the {limit} s time limit")
        return "failed: time limit"
    except DatabaseUnavailable:
        raise
    except Exception as err:
        if _permanent(err):
            _fail(job_id, str(err))
            return f"failed: {err}"
        if self.request.retries >= _max_retries():
            _fail(job_id, f"gave up after {self.request.retries} retries: {err}")
            return "failed: retries exhausted"
        logger.warning("backtest %s: retryable error, retrying: %s", job_id, err)
        _note_retry(job_id, str(err))
        raise _retry(self, err) from err


def _fail(job_id: int, error: str) -> None:
    with runtime.database().write() as s:
        bt.fail_backtest(s, job_id, error)


def _note_retry(job_id: int, error: str) -> None:
    try:
        with runtime.database().write() as s:
            bt.note_retry(s, job_id, error)
    except QuantGridError:  # the database itself may be what is down
        logger.warning("could not record the retry of backtest %s", job_id)


@app.task(bind=True, name=RUN_SWEEP_CHUNK, max_retries=None)  # _max_retries() decides
def run_sweep_chunk(self, chunk_id: int) -> str:
    """Evaluate one chunk of a sweep with the sweep kernel and store its metrics."""
    try:
        return _run_sweep_chunk(self, chunk_id)
    except DatabaseUnavailable as err:
        raise _give_back("sweep chunk", chunk_id, err) from err


def _run_sweep_chunk(self, chunk_id: int) -> str:
    db = runtime.database()
    with db.write() as s:
        chunk = sweeps.start_chunk(s, chunk_id, self.request.hostname or "?", self.request.id)
        if chunk is None:
            return "skipped: already finished or cancelled"
        sweep = sweeps.get_sweep(s, chunk.sweep_id)
    lost = _lost_too_often(self, chunk.attempts)
    if lost:
        _fail_chunk(chunk_id, lost)
        return "failed: worker lost too often"
    try:
        candles = _load_candles(
            sweep.symbol, sweep.timeframe, sweep.start_at, sweep.end_at, sweep.owner_id
        )
        out = run_sweep(candles, sweep.strategy, chunk.params, sim_config(sweep.settings))
        metrics = {name: out.column(name).tolist() for name in out.columns}
        with db.write() as s:
            sweeps.set_sweep_provenance(
                s, sweep.id, runtime.engine_version(), results.candles_fingerprint(candles)
            )
            sweeps.finish_chunk(s, chunk_id, metrics)
        return "succeeded"
    except SoftTimeLimitExceeded:
        _fail_chunk(chunk_id, "the chunk took longer than the time limit; use a smaller chunk")
        return "failed: time limit"
    except DatabaseUnavailable:
        raise
    except Exception as err:
        if _permanent(err):
            _fail_chunk(chunk_id, str(err))
            return f"failed: {err}"
        if self.request.retries >= _max_retries():
            _fail_chunk(chunk_id, f"gave up after {self.request.retries} retries: {err}")
            return "failed: retries exhausted"
        raise _retry(self, err) from err


def _fail_chunk(chunk_id: int, error: str) -> None:
    with runtime.database().write() as s:
        sweeps.fail_chunk(s, chunk_id, error)
