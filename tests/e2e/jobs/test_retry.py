"""A retryable failure (the candle store is down) retries with backoff, and can be cancelled."""

from __future__ import annotations

import time

import pytest

from quantgrid.db import backtests as bt
from quantgrid.db.models import Status
from tests.e2e.jobs.conftest import spec, wait_for
from tests.support.pgcluster import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(env):
    # Nothing listens there: every read raises CandleStoreUnavailable (retryable).
    return {**env, "CANDLE_STORE": "influxdb", "INFLUX_URL": f"http://127.0.0.1:{free_port()}"}


@pytest.fixture
def store():
    """No candles to write: the store the worker is given is down."""
    return None


def _job(service, job_id):
    with service.db.read() as s:
        return bt.get_backtest(s, job_id)


def test_unavailable_candle_store_is_retried_then_cancel_stops_it(service, owner, start_worker):
    job = service.submit_backtest(owner.id, spec())
    start_worker("w1")
    wait_for(lambda: _job(service, job.id).attempts >= 3, timeout=60, what="two retries")
    running = _job(service, job.id)
    assert running.status == Status.RUNNING  # retrying is not failing
    service.cancel_backtest(job.id, owner)
    time.sleep(5)  # longer than the next backoff: a retry would have started by now
    final = _job(service, job.id)
    assert final.status == Status.CANCELLED
    assert final.attempts <= running.attempts + 1
