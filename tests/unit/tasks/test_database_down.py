"""A task that finds the database down gives its message back instead of acking it: when the task
starts, when it fails a job, or when the retry it schedules cannot be published (Celery would
reject the message without requeueing it and the job would stay running for ever)."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject

from quantgrid.candles.errors import CandleStoreUnavailable
from tasks import jobs
from tests.unit.tasks.conftest import FailingDatabase, error_of, run_task

TASKS = [jobs.run_backtest, jobs.run_sweep_chunk]


@pytest.mark.parametrize("task", TASKS)
def test_database_down_when_the_task_starts_requeues_the_message(world, task):
    world.use_db(FailingDatabase(world.db, down_after=0))
    with pytest.raises(Reject) as err:
        run_task(task, world.row_id[task])
    assert err.value.requeue is True
    assert "unavailable" in str(err.value.reason)
    assert error_of(world.db, task, world.row_id[task]) == ("queued", None)


@pytest.mark.parametrize("task", TASKS)
def test_database_down_when_the_result_is_stored_requeues(world, task):
    world.use_db(FailingDatabase(world.db, down_after=1))  # started, then the database goes
    with pytest.raises(Reject) as err:
        run_task(task, world.row_id[task])
    assert err.value.requeue is True
    assert error_of(world.db, task, world.row_id[task])[0] == "running"  # runs again later


@pytest.mark.parametrize("task", TASKS)
def test_database_down_when_a_permanent_failure_is_recorded_requeues(world, task):
    world.use_db(FailingDatabase(world.db, down_after=1))

    def load():
        raise ValueError("bad parameters")

    world.store.load = load
    with pytest.raises(Reject) as err:  # the failure could not be stored: run again later
        run_task(task, world.row_id[task])
    assert err.value.requeue is True


@pytest.mark.parametrize("task", TASKS)
def test_a_permanent_failure_fails_the_job_at_once_with_the_reason(world, task):
    def load():
        raise ValueError("bad parameters")

    world.store.load = load
    assert run_task(task, world.row_id[task]) == "failed: bad parameters"
    assert error_of(world.db, task, world.row_id[task]) == ("failed", "bad parameters")


@pytest.mark.parametrize("task", TASKS)
def test_a_retry_that_cannot_be_published_requeues_the_message(world, task, monkeypatch):
    def load():
        raise CandleStoreUnavailable("InfluxDB is unavailable")

    def publish_fails(*_a, **_k):  # what Celery's Task.retry raises when apply_async fails
        raise Reject(ConnectionError("broker down"), requeue=False)

    world.store.load = load
    monkeypatch.setattr(task, "retry", publish_fails)
    with pytest.raises(Reject) as err:
        run_task(task, world.row_id[task])
    assert err.value.requeue is True


def test_a_retry_that_is_published_is_a_normal_retry_and_notes_why(world, monkeypatch):
    calls = []

    def load():
        raise CandleStoreUnavailable("InfluxDB is unavailable")

    class Retried(Exception):
        pass

    def retry(**kw):
        calls.append(kw)
        raise Retried()

    world.store.load = load
    monkeypatch.setattr(jobs.run_backtest, "retry", retry)
    with pytest.raises(Retried):
        run_task(jobs.run_backtest, world.job_id)
    assert calls and calls[0]["countdown"] == 1.0
    assert error_of(world.db, jobs.run_backtest, world.job_id) == (
        "running", "retrying: InfluxDB is unavailable")


def test_retries_exhausted_fail_the_job_with_the_last_error(world):
    def load():
        raise CandleStoreUnavailable("InfluxDB is unavailable")

    world.store.load = load
    retries = world.settings.task_max_retries
    assert run_task(jobs.run_backtest, world.job_id, retries=retries).startswith("failed: gave up")
    status, error = error_of(world.db, jobs.run_backtest, world.job_id)
    assert status == "failed" and f"gave up after {retries} retries" in error
