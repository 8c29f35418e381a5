"""The interface through which the job service enqueues its tasks and revokes running ones.

The Celery implementation lives with the tasks (``tasks/publisher.py``); the service only knows
this protocol, so it can be driven by any queue, and by a recording stand-in in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

# The task names are the contract between the service that enqueues and the workers that run.
RUN_BACKTEST = "tasks.run_backtest"
RUN_SWEEP_CHUNK = "tasks.run_sweep_chunk"


@dataclass(frozen=True)
class TaskMessage:
    """One task to enqueue: run ``task`` on row ``row_id`` under the id ``task_id``."""

    task: str
    row_id: int
    task_id: str


class Publisher(Protocol):
    """Enqueues task messages and revokes tasks.

    When ``in_transaction`` is true, :meth:`publish` is called inside the transaction that wrote
    the job rows (``session``), so rows and messages commit together or not at all. Otherwise it
    is called after the commit with ``session=None``, and a failure is reported by raising
    ``PublishFailed``.
    """

    in_transaction: bool

    def publish(self, messages: Sequence[TaskMessage], session: Session | None) -> None: ...

    def revoke(self, task_ids: Sequence[str]) -> None:
        """Stop these tasks wherever they run (best effort: a failure is logged, not raised)."""

    def check(self) -> None:
        """Raise when the queue cannot be reached (the readiness check)."""


class PublishFailed(Exception):
    """The queue refused or could not be reached; ``args[0]`` says why."""
