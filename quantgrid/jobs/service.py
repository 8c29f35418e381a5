"""Submitting, cancelling and retrying jobs: what the web app, the API and the CLI call.

On PostgreSQL with the ``qgpg`` broker the job rows and their messages are written in one
transaction (``qgpg.publish_in_transaction``): no job exists without its message.
On the embedded SQLite default the broker is kombu's ``sqla+sqlite`` transport on its own
connection, so the row is committed first and then the message is sent; if sending fails the job
is marked failed with the reason (never left queued without a message).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from engine.metrics import HIGHER_IS_BETTER
from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import sweeps
from quantgrid.db.backtests import JobSpec, Viewer
from quantgrid.db.errors import InvalidTransition, TransactionConflict
from quantgrid.db.models import Backtest, Sweep
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database, ReadYourWrites
from quantgrid.errors import Unavailable
from quantgrid.jobs.publisher import (
    RUN_BACKTEST,
    RUN_SWEEP_CHUNK,
    Publisher,
    PublishFailed,
    TaskMessage,
)
from quantgrid.jobs.spec import SweepRequest

logger = logging.getLogger(__name__)
T = TypeVar("T")
# How many times in all a transaction that PostgreSQL aborted to break a deadlock is run.
CONFLICT_ATTEMPTS = 3
# Idempotency keys of proxied submissions (a backtest's task id, a sweep's request_key):
# uuid5(this, f"{user_id}:{X-Request-Id}").
_REQUEST_NAMESPACE = uuid.UUID("8f3d2a4e-5b7c-4e1f-9a6d-2c0b1e7f4a93")


def _request_key(user_id: int, request_id: str | None) -> str | None:
    """The idempotency key of a user's request (None without a request id)."""
    if not request_id:
        return None
    return str(uuid.uuid5(_REQUEST_NAMESPACE, f"{user_id}:{request_id}"))


def _queue(session, outbox: list, task: str, row_id: int, task_id: str | None = None) -> str:
    """Give existing row ``row_id`` a new task id (unless given) and put its message in the outbox.

    New rows are made with their task id; this is for rows that run again (retry, requeue).
    """
    if task_id is None:
        task_id = str(uuid.uuid4())
        set_task_id = bt.set_task_id if task == RUN_BACKTEST else sweeps.set_chunk_task_id
        set_task_id(session, row_id, task_id)
    outbox.append(TaskMessage(task, row_id, task_id))
    return task_id


class BrokerUnavailable(Unavailable):
    """The task queue is unavailable; try again shortly."""


@dataclass
class Purged:
    """What emptying the task queue did (see JobService.purge_waiting)."""

    messages: int = 0
    backtests: list[int] = field(default_factory=list)  # cancelled
    sweeps: list[int] = field(default_factory=list)  # cancelled
    task_ids: list[str] = field(default_factory=list)  # revoked (chunks of those sweeps running)
    resent: int = 0  # jobs queued while the queue was emptied, whose messages were sent again


@dataclass
class JobService:
    db: Database
    publisher: Publisher
    settings: Settings

    @property
    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)

    @property
    def transactional(self) -> bool:
        return self.db.dialect == "postgresql" and self.publisher.in_transaction

    # -- submission ---------------------------------------------------------------------------
    def submit_backtest(
        self,
        user_id: int,
        spec: JobSpec,
        rw: ReadYourWrites | None = None,
        request_id: str | None = None,
    ) -> Backtest:
        """Queue a backtest of ``spec`` (checked by ``quantgrid.jobs.spec``) in one transaction.

        ``request_id`` (NGINX's ``X-Request-Id``, the same on each upstream it tries) makes the
        submission idempotent: a retry of the same request returns the job the first created.
        """
        key = _request_key(user_id, request_id)

        def add(s, outbox):
            job, created = bt.submit_backtest(
                s, user_id, spec, self.limits, task_id=key, idempotent=key is not None
            )
            if created:  # else this very request was accepted before
                _queue(s, outbox, RUN_BACKTEST, job.id, job.task_id)
            return job

        return self._enqueue(add, rw)

    def submit_sweep(
        self,
        user_id: int,
        request: SweepRequest,
        *,
        chunk_size: int = sweeps.DEFAULT_CHUNK_SIZE,
        rw: ReadYourWrites | None = None,
        request_id: str | None = None,
    ) -> Sweep:
        """Queue the chunks of a sweep (checked and expanded by ``quantgrid.jobs.spec``).

        ``request_id`` makes the submission idempotent, as for ``submit_backtest``.
        """
        combos = request.combinations

        def add(s, outbox):
            sweep, chunks = sweeps.submit_sweep(
                s,
                user_id,
                request.spec,
                {"specs": list(request.grid), "dropped": combos.dropped, "search": request.search},
                list(combos),
                self.limits,
                metric=request.metric,
                maximize=request.metric in HIGHER_IS_BETTER,
                chunk_size=chunk_size,
                request_key=_request_key(user_id, request_id),
            )
            for chunk in chunks:
                _queue(s, outbox, RUN_SWEEP_CHUNK, chunk.id, chunk.task_id)
            return sweep

        return self._enqueue(add, rw)

    def _enqueue(
        self, work: Callable[[Session, list[TaskMessage]], T], rw: ReadYourWrites | None = None
    ) -> T:
        """Run ``work(session, outbox)`` in a write transaction and send the messages it put in
        its outbox; return what ``work`` returned.

        A transactional publisher publishes the outbox in the transaction itself, so the rows and
        their messages commit together or not at all; otherwise it is sent right after the
        commit, and a send that fails marks those jobs failed (_send_after_commit).

        A transaction PostgreSQL aborted to break a deadlock (seen when a freshly started API
        process declares the broker's queues while the workers touch them) is run again, up to
        ``CONFLICT_ATTEMPTS`` times in all: it was rolled back whole, so nothing is done twice.
        """
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            outbox: list[TaskMessage] = []
            try:
                with self.db.write(rw) as s:
                    result = work(s, outbox)
                    if outbox and self.transactional:
                        self.publisher.publish(outbox, s)
                break
            except TransactionConflict as err:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                logger.warning("running a transaction again (attempt %d): %s", attempt + 1, err)
        if outbox and not self.transactional:
            self._send_after_commit(outbox, rw)
        return result

    def _send_after_commit(self, messages: list[TaskMessage], rw) -> None:
        try:
            self.publisher.publish(messages, None)
        except PublishFailed as err:
            with self.db.write(rw) as s:
                for m in messages:
                    if m.task == RUN_BACKTEST:
                        bt.fail_backtest(s, m.row_id, f"could not be queued: {err}")
                    else:
                        sweeps.fail_chunk(s, m.row_id, f"could not be queued: {err}")
            raise BrokerUnavailable(f"the task queue is unavailable: {err}") from err

    # -- control ------------------------------------------------------------------------------
    def cancel_backtest(self, job_id: int, viewer: Viewer | None, rw=None) -> bt.Cancelled:
        with self.db.write(rw) as s:
            cancelled = bt.cancel_backtest(s, job_id, viewer)
        self._revoke(cancelled.task_ids)
        return cancelled

    def cancel_sweep(self, sweep_id: int, viewer: Viewer | None, rw=None) -> bt.Cancelled:
        with self.db.write(rw) as s:
            cancelled = sweeps.cancel_sweep(s, sweep_id, viewer)
        self._revoke(cancelled.task_ids)
        return cancelled

    def _revoke(self, task_ids: Sequence[str]) -> None:
        # A running task's process is stopped; the job row is already cancelled, so whatever the
        # task does next is refused by its guarded transitions.
        if task_ids:
            self.publisher.revoke(list(task_ids))

    def purge_waiting(self, purge_queue: Callable[[], int | None]) -> Purged:
        """Empty the task queue with ``purge_queue`` and leave no job queued for ever.

        Every waiting message belongs to a queued backtest or sweep chunk, so deleting the
        messages alone would strand those jobs. The waiting jobs are cancelled first (a whole
        sweep when any chunk of it waits), then the queue is emptied; a job queued meanwhile (a
        submission or a retry) may have lost its message, so each job still queued has it sent
        again. Where that message had survived as well, the job runs at most once more and its
        result is stored once, as with any redelivery.
        """
        purged = Purged()
        with self.db.write() as s:
            for job in bt.queued_backtests(s):
                with contextlib.suppress(InvalidTransition):  # it finished meanwhile
                    purged.task_ids.extend(bt.cancel_backtest(s, job.id).task_ids)
                    purged.backtests.append(job.id)
            for sweep_id in sorted({chunk.sweep_id for chunk in sweeps.queued_chunks(s)}):
                with contextlib.suppress(InvalidTransition):
                    purged.task_ids.extend(sweeps.cancel_sweep(s, sweep_id).task_ids)
                    purged.sweeps.append(sweep_id)
        self._revoke(purged.task_ids)
        purged.messages = purge_queue() or 0

        def resend(s, outbox):
            for job in bt.queued_backtests(s):
                _queue(s, outbox, RUN_BACKTEST, job.id, job.task_id)
            for chunk in sweeps.queued_chunks(s):
                _queue(s, outbox, RUN_SWEEP_CHUNK, chunk.id, chunk.task_id)
            return len(outbox)

        purged.resent = self._enqueue(resend)
        return purged

    def retry_backtest(self, job_id: int, viewer: Viewer | None, rw=None) -> Backtest:
        def again(s, outbox):
            job = bt.retry_backtest(s, job_id, viewer)
            job.task_id = _queue(s, outbox, RUN_BACKTEST, job_id)
            return job

        return self._enqueue(again, rw)

    def retry_sweep(self, sweep_id: int, viewer: Viewer | None, rw=None) -> Sweep:
        """Run a failed or cancelled sweep's unfinished chunks again."""

        def again(s, outbox):
            for chunk in sweeps.retry_sweep(s, sweep_id, viewer):
                _queue(s, outbox, RUN_SWEEP_CHUNK, chunk.id)
            return sweeps.get_sweep(s, sweep_id)

        return self._enqueue(again, rw)

    def requeue_stuck(
        self, alive_workers: set[str], grace: timedelta = timedelta(minutes=2)
    ) -> dict[str, list[int]]:
        """Requeue backtests and chunks running on workers that are gone; return their ids."""
        before = datetime.now(UTC) - grace

        def requeue(s, outbox):
            done: dict[str, list[int]] = {"backtests": [], "chunks": []}
            for job in bt.stuck_backtests(s, alive_workers, before):
                if bt.requeue_backtest(s, job.id):
                    _queue(s, outbox, RUN_BACKTEST, job.id)
                    done["backtests"].append(job.id)
            for chunk in sweeps.stuck_chunks(s, alive_workers, before):
                if sweeps.requeue_chunk(s, chunk.id):
                    _queue(s, outbox, RUN_SWEEP_CHUNK, chunk.id)
                    done["chunks"].append(chunk.id)
            return done

        return self._enqueue(requeue)
