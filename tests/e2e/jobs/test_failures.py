"""End to end: a worker SIGKILLed mid-job, and cancelling a running job."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantgrid.candles.generate import generate
from quantgrid.db import sweeps
from quantgrid.db.models import Status
from tests.e2e.jobs.conftest import spec, wait_for
from tests.support.jobs import sweep_of

pytestmark = pytest.mark.e2e

BIG = "BIGUSD"
# About 4,000 combinations over 150,000 one-minute bars: several seconds of real kernel work.
GRID = ["fast=1:200:1", "slow=300:2200:100"]


@pytest.fixture
def big_spec(store):
    store.write(
        BIG, "1m", generate(150_000, timeframe="1m", seed=9, start="2021-01-01")
    )
    return spec(
        symbol=BIG, timeframe="1m", params={},
        start=datetime(2021, 1, 1, tzinfo=UTC), end=datetime(2021, 4, 30, tzinfo=UTC),
    )


def _one_chunk_sweep(service, owner, big_spec):
    sweep = service.submit_sweep(owner.id, sweep_of(big_spec, GRID), chunk_size=10_000)
    with service.db.read() as s:
        (chunk,) = sweeps.list_chunks(s, sweep.id)
    return sweep, chunk


def _chunk(service, chunk_id):
    with service.db.read() as s:
        return sweeps.get_chunk(s, chunk_id)


def test_worker_killed_mid_job_leaves_nothing_stuck_or_counted_twice(
    service, owner, start_worker, big_spec
):
    sweep, chunk = _one_chunk_sweep(service, owner, big_spec)
    first = start_worker("w1")
    wait_for(lambda: _chunk(service, chunk.id).status == Status.RUNNING, what="the chunk to start")
    first.kill()  # SIGKILL the main process and its pool children
    assert _chunk(service, chunk.id).status == Status.RUNNING  # the row says so; nobody runs it
    start_worker("w2")
    wait_for(
        lambda: service.db.run_read(lambda s: sweeps.get_sweep(s, sweep.id).status)
        == Status.SUCCEEDED,
        timeout=180,
        what="the sweep to be redelivered and finish",
    )
    with service.db.read() as s:
        done = sweeps.get_sweep(s, sweep.id)
        again = sweeps.get_chunk(s, chunk.id)
    assert (done.n_succeeded, done.n_running, done.n_queued) == (sweep.total, 0, 0)
    assert again.attempts == 2 and again.worker.startswith("w2@")
    assert len(again.metrics["sharpe"]) == sweep.total


def test_cancelling_a_running_sweep_terminates_its_task(service, owner, start_worker, big_spec):
    sweep, chunk = _one_chunk_sweep(service, owner, big_spec)
    worker = start_worker("w1")
    wait_for(lambda: _chunk(service, chunk.id).status == Status.RUNNING, what="the chunk to start")
    cancelled = service.cancel_sweep(sweep.id, owner)
    assert cancelled.previous_status == Status.RUNNING and cancelled.task_ids == (chunk.task_id,)
    log = Path(worker.log.name)
    wait_for(
        lambda: f"Terminating {chunk.task_id}" in log.read_text(),
        timeout=30,
        what="the worker to terminate the revoked task",
    )
    with service.db.read() as s:
        final = sweeps.get_sweep(s, sweep.id)
        stopped = sweeps.get_chunk(s, chunk.id)
    assert final.status == Status.CANCELLED and final.n_cancelled == sweep.total
    assert stopped.status == Status.CANCELLED and stopped.metrics is None
