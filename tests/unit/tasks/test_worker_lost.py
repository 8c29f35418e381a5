"""A job whose worker keeps getting lost (SIGKILL, the OOM killer) fails after a few losses.

Every start counts an attempt; starts that are neither the first run nor a Celery retry are runs
whose worker was lost. Past ``TASK_MAX_WORKER_LOST`` of those the job fails with the reason
instead of taking down worker after worker.
"""

from __future__ import annotations

import contextlib

import pytest

from tasks import jobs


class _Database:
    @contextlib.contextmanager
    def write(self):
        yield object()


def _rows(fake):
    return {jobs.run_backtest: fake.job, jobs.run_sweep_chunk: fake.chunk}


def _run(task, retries: int) -> str:
    task.push_request(retries=retries, hostname="w1@test", id="task-1")
    try:
        return task.run(7)
    finally:
        task.pop_request()


@pytest.fixture
def runnable(fake):
    """The fake, with candles that load as a permanent error: a run that got past the check."""
    fake.use(_Database())

    def load(*_a):
        raise ValueError("ran")

    fake.monkeypatch.setattr(jobs, "_load_candles", load)
    return fake


@pytest.mark.parametrize("task", [jobs.run_backtest, jobs.run_sweep_chunk])
def test_the_fourth_loss_fails_the_job_with_the_reason(runnable, task):
    limit = jobs.runtime.settings().task_max_worker_lost
    assert limit == 3
    _rows(runnable)[task].attempts = 1 + limit + 1  # the first run, then four lost ones
    assert _run(task, retries=0) == "failed: worker lost too often"
    (reason,) = runnable.failed
    assert "worker running it was lost 4 times" in reason and "memory limit" in reason


@pytest.mark.parametrize("task", [jobs.run_backtest, jobs.run_sweep_chunk])
@pytest.mark.parametrize(("attempts", "retries"), [(1, 0), (4, 0), (9, 8), (7, 3)])
def test_first_runs_retries_and_a_few_losses_run(runnable, task, attempts, retries):
    _rows(runnable)[task].attempts = attempts
    assert _run(task, retries=retries) == "failed: ran"  # it ran: the loader was reached
    assert runnable.failed == ["ran"]


def test_the_limit_comes_from_the_environment(monkeypatch):
    from quantgrid.config import Settings

    monkeypatch.setenv("TASK_MAX_WORKER_LOST", "1")
    assert Settings.from_env().task_max_worker_lost == 1
