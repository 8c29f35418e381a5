"""A task that finds the database down gives its message back instead of acking it: when the task
starts, when it fails a job, or when the retry it schedules cannot be published (Celery would
reject the message without requeueing it and the job would stay running for ever)."""

from __future__ import annotations

import contextlib

import pytest
from celery.exceptions import Reject

from quantgrid.candles.errors import CandleStoreUnavailable
from quantgrid.db.errors import DatabaseUnavailable
from tasks import jobs


class _Database:
    """A database whose ``write()`` fails from the ``down_after``-th session on."""

    def __init__(self, down_after: int) -> None:
        self.sessions = 0
        self.down_after = down_after

    @contextlib.contextmanager
    def write(self):
        self.sessions += 1
        if self.sessions > self.down_after:
            raise DatabaseUnavailable("the database is unavailable: connection refused")
        yield object()


@pytest.mark.parametrize("task", [jobs.run_backtest, jobs.run_sweep_chunk])
def test_database_down_when_the_task_starts_requeues_the_message(fake, task):
    fake.use(_Database(down_after=0))
    with pytest.raises(Reject) as err:
        task.run(7)
    assert err.value.requeue is True
    assert "unavailable" in str(err.value.reason)


@pytest.mark.parametrize("task", [jobs.run_backtest, jobs.run_sweep_chunk])
def test_database_down_while_the_task_runs_requeues_instead_of_retrying(fake, task):
    fake.use(_Database(down_after=1))  # started, then the database goes

    def load(*_a):
        with jobs.runtime.database().write():
            return None

    fake.monkeypatch.setattr(jobs, "_load_candles", load)
    with pytest.raises(Reject) as err:
        task.run(7)
    assert err.value.requeue is True


@pytest.mark.parametrize("task", [jobs.run_backtest, jobs.run_sweep_chunk])
def test_database_down_when_a_permanent_failure_is_recorded_requeues(fake, task):
    fake.use(_Database(down_after=1))

    def load(*_a):
        raise ValueError("bad parameters")

    fake.monkeypatch.setattr(jobs, "_load_candles", load)
    with pytest.raises(Reject) as err:  # the failure could not be stored: run again later
        task.run(7)
    assert err.value.requeue is True


@pytest.mark.parametrize("task", [jobs.run_backtest, jobs.run_sweep_chunk])
def test_a_retry_that_cannot_be_published_requeues_the_message(fake, task):
    fake.use(_Database(down_after=10))

    def load(*_a):
        raise CandleStoreUnavailable("InfluxDB is unavailable")

    def publish_fails(*_a, **_k):  # what Celery's Task.retry raises when apply_async fails
        raise Reject(ConnectionError("broker down"), requeue=False)

    fake.monkeypatch.setattr(jobs, "_load_candles", load)
    fake.monkeypatch.setattr(task, "retry", publish_fails)
    with pytest.raises(Reject) as err:
        task.run(7)
    assert err.value.requeue is True


def test_a_retry_that_is_published_is_a_normal_retry(fake):
    fake.use(_Database(down_after=10))
    calls = []

    def load(*_a):
        raise CandleStoreUnavailable("InfluxDB is unavailable")

    class Retried(Exception):
        pass

    def retry(**kw):
        calls.append(kw)
        raise Retried()

    fake.monkeypatch.setattr(jobs, "_load_candles", load)
    fake.monkeypatch.setattr(jobs.run_backtest, "retry", retry)
    with pytest.raises(Retried):
        jobs.run_backtest.run(7)
    assert calls and calls[0]["countdown"] == 1.0
