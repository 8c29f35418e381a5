"""Running one job: a backtest or a chunk of a sweep, given its id. No Celery here.

Each run starts with a guarded transition (queued/running → running) that fails for a finished
or cancelled job, so a redelivered or revoked message does nothing; then it loads the candles,
runs the engine and stores what it produced. A backtest is two transactions: the start (one
``UPDATE ... RETURNING``) and the result with the success (the result is written once and not
read back). The per-job candle limit is enforced at submission on the range's bar count, which
bounds what a run can load, so a run does not read the quotas again.

Failures: permanent ones (unknown symbol, bad parameters) fail the job at once with the reason
stored on it; retryable ones (the candle store is down) raise :class:`RetryLater` while retries
remain, for the caller to schedule; ``DatabaseUnavailable`` propagates, since nothing can be
recorded (the Celery task then gives its message back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from engine.backtest import run_backtest as engine_backtest
from engine.backtest import trade_columns
from engine.sweep import run_sweep
from quantgrid.candles.store import CandleStore
from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import results, sweeps
from quantgrid.db import strategies as saved
from quantgrid.db.errors import DatabaseUnavailable
from quantgrid.db.models import UserStrategy
from quantgrid.db.session import Database
from quantgrid.errors import QuantGridError
from quantgrid.jobs.spec import sim_config
from quantgrid.jobs.strategies import strategy_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resources:
    """What a run works with: the jobs database, the candle store and the engine's version."""

    db: Database
    store: Callable[[], CandleStore]  # called once per run: a store that may be re-opened
    settings: Settings
    engine_version: str


@dataclass(frozen=True)
class Attempt:
    """Who runs the job this time: the worker, the task id, and the retries so far.

    ``interrupts`` are the caller's exceptions that must pass through the run untouched (a
    time limit raised inside it), for the caller to handle.
    """

    worker: str
    task_id: str | None = None
    retries: int = 0
    interrupts: tuple[type[BaseException], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """How a run ended, for the caller's log and metrics."""

    status: str  # succeeded, failed, cancelled or skipped
    detail: str
    strategy: str | None = None
    combinations: int = 0  # evaluated (sweep chunks)
    candles: int = 0  # loaded


class RetryLater(Exception):
    """A retryable failure with retries left: run the job again later. ``cause`` says why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def lost_too_often(attempts: int, retries: int, limit: int) -> str | None:
    """The reason to give up on a job whose worker keeps getting lost, or None to run it.

    Starts that were neither the first run nor a retry are runs that never finished: the worker
    was SIGKILLed or OOM-killed, or its host went, and the message came back (acks_late, reject
    on worker lost, the broker's lease) or beat requeued the job. A job that kills its worker
    every time would otherwise take down worker after worker for ever.
    """
    lost = attempts - 1 - retries
    if lost <= limit:
        return None
    return (f"gave up after the worker running it was lost {lost} times (killed, perhaps over"
            " its memory limit; see the worker's log)")


def _permanent(err: BaseException) -> bool:
    if isinstance(err, QuantGridError):
        return not err.retryable
    return isinstance(err, ValueError | TypeError)


def _failure(res: Resources, attempt: Attempt, err: Exception) -> str:
    """The reason to fail the job with now, or raise RetryLater to run it again."""
    if isinstance(err, attempt.interrupts):
        raise err
    if _permanent(err):
        return str(err)
    if attempt.retries >= res.settings.task_max_retries:
        return f"gave up after {attempt.retries} retries: {err}"
    raise RetryLater(err) from err


def _failed(res: Resources, attempt: Attempt, err: Exception, fail: Callable, row_id: int,
            strategy: str, candles) -> Outcome:
    """Fail the job for ``err`` and say so, or raise RetryLater (see :func:`_failure`)."""
    reason = _failure(res, attempt, err)
    fail(res, row_id, reason)
    return Outcome("failed", f"failed: {reason}", strategy,
                   candles=0 if candles is None else len(candles))  # fmt: skip


def _user_version(session, job) -> UserStrategy | None:
    """The user strategy version ``job`` (a started backtest or sweep) runs; None for a
    built-in (no statement then: a built-in's run stays at two transactions)."""
    if job is None or job.strategy_version_id is None:
        return None
    return saved.get_by_id(session, job.strategy_version_id)


# -- backtests ----------------------------------------------------------------------------------
def run_backtest(res: Resources, job_id: int, attempt: Attempt) -> Outcome:
    """Run backtest ``job_id`` and store its result once."""
    with res.db.write() as s:
        job = bt.start_backtest(s, job_id, attempt.worker, attempt.task_id)
        version = _user_version(s, job)
    if job is None:
        return Outcome("skipped", "skipped: already finished or cancelled")
    lost = lost_too_often(job.attempts, attempt.retries, res.settings.task_max_worker_lost)
    if lost:
        fail_backtest(res, job_id, lost)
        return Outcome("failed", "failed: worker lost too often", job.strategy)
    candles = None
    try:
        candles = res.store().read(job.symbol, job.timeframe, job.start_at, job.end_at)
        strategy = job.strategy if version is None else strategy_of(version)
        out = engine_backtest(candles, strategy, job.params, sim_config(job.settings))
        with res.db.write() as s:
            fingerprint = results.store_result(
                s,
                backtest_id=job_id,
                params_hash=bt.backtest_params_hash(job, version and version.source_hash),
                candles_fingerprint=results.candles_fingerprint(candles),
                engine_version=res.engine_version,
                metrics=out.metrics,
                equity_time=out.time,
                equity_value=out.equity,
                trades=trade_columns(out.trades),
            )
            if not bt.succeed_backtest(s, job_id, fingerprint):
                return Outcome("cancelled", "finished, but the job was cancelled meanwhile",
                               job.strategy, candles=len(candles))  # fmt: skip
        return Outcome("succeeded", "succeeded", job.strategy, candles=len(candles))
    except DatabaseUnavailable:
        raise
    except Exception as err:
        return _failed(res, attempt, err, fail_backtest, job_id, job.strategy, candles)


def fail_backtest(res: Resources, job_id: int, reason: str) -> None:
    """Fail backtest ``job_id`` with ``reason`` (queued or running; a finished job stays)."""
    with res.db.write() as s:
        bt.fail_backtest(s, job_id, reason)


def note_retry(res: Resources, job_id: int, reason: str) -> None:
    """Record on the running backtest why it will run again (best effort)."""
    try:
        with res.db.write() as s:
            bt.note_retry(s, job_id, reason)
    except QuantGridError:  # the database itself may be what is down
        logger.warning("could not record the retry of backtest %s", job_id)


# -- sweep chunks -------------------------------------------------------------------------------
def run_sweep_chunk(res: Resources, chunk_id: int, attempt: Attempt) -> Outcome:
    """Evaluate one chunk of a sweep with the sweep kernel and store its metrics."""
    with res.db.write() as s:
        chunk = sweeps.start_chunk(s, chunk_id, attempt.worker, attempt.task_id)
        if chunk is None:
            return Outcome("skipped", "skipped: already finished or cancelled")
        sweep = sweeps.get_sweep(s, chunk.sweep_id)
        version = _user_version(s, sweep)
    lost = lost_too_often(chunk.attempts, attempt.retries, res.settings.task_max_worker_lost)
    if lost:
        fail_chunk(res, chunk_id, lost)
        return Outcome("failed", "failed: worker lost too often", sweep.strategy)
    candles = None
    try:
        candles = res.store().read(sweep.symbol, sweep.timeframe, sweep.start_at, sweep.end_at)
        strategy = sweep.strategy if version is None else strategy_of(version)
        out = run_sweep(candles, strategy, chunk.params, sim_config(sweep.settings))
        metrics = {name: out.column(name).tolist() for name in out.columns}
        with res.db.write() as s:
            sweeps.set_sweep_provenance(
                s, sweep.id, res.engine_version, results.candles_fingerprint(candles)
            )
            finished = sweeps.finish_chunk(s, chunk_id, metrics, out.research)
        if not finished:
            return Outcome("cancelled", "finished, but the sweep was cancelled meanwhile",
                           sweep.strategy, candles=len(candles))  # fmt: skip
        return Outcome("succeeded", "succeeded", sweep.strategy, chunk.size, len(candles))
    except DatabaseUnavailable:
        raise
    except Exception as err:
        return _failed(res, attempt, err, fail_chunk, chunk_id, sweep.strategy, candles)


def fail_chunk(res: Resources, chunk_id: int, reason: str) -> None:
    """Fail sweep chunk ``chunk_id`` with ``reason`` (queued or running)."""
    with res.db.write() as s:
        sweeps.fail_chunk(s, chunk_id, reason)
