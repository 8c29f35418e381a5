"""A job whose worker keeps getting lost (SIGKILL, the OOM killer) fails after a few losses.

Every start counts an attempt; starts that are neither the first run nor a Celery retry are runs
whose worker was lost. Past ``TASK_MAX_WORKER_LOST`` of those the job fails with the reason
instead of taking down worker after worker.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from quantgrid.db.models import Backtest, SweepChunk
from tasks import jobs
from tests.unit.tasks.conftest import error_of, run_task

TASKS = [jobs.run_backtest, jobs.run_sweep_chunk]


def _started_before(world, task, times: int) -> None:
    model = Backtest if task is jobs.run_backtest else SweepChunk
    with world.db.write() as s:
        s.execute(sa.update(model).where(model.id == world.row_id[task]).values(attempts=times))


@pytest.mark.parametrize("task", TASKS)
def test_the_fourth_loss_fails_the_job_with_the_reason(world, task):
    limit = world.settings.task_max_worker_lost
    assert limit == 3
    _started_before(world, task, 1 + limit)  # the first run, then three lost; this start is the 4th
    assert run_task(task, world.row_id[task]) == "failed: worker lost too often"
    status, reason = error_of(world.db, task, world.row_id[task])
    assert status == "failed"
    assert "worker running it was lost 4 times" in reason and "memory limit" in reason


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(("before", "retries"), [(0, 0), (3, 0), (8, 8), (6, 3)])
def test_first_runs_retries_and_a_few_losses_run(world, task, before, retries):
    _started_before(world, task, before)
    assert run_task(task, world.row_id[task], retries=retries) == "succeeded"
    assert error_of(world.db, task, world.row_id[task]) == ("succeeded", None)


def test_the_limit_comes_from_the_environment(monkeypatch):
    from quantgrid.config import Settings

    monkeypatch.setenv("TASK_MAX_WORKER_LOST", "1")
    assert Settings.from_env().task_max_worker_lost == 1
