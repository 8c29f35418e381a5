"""SIGKILL a worker's main process, then one of its pool children, while long backtests and a
sweep run: every job still ends exactly once, with one result each."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.faults.conftest import BIG

pytestmark = pytest.mark.e2e

GRID = {"fast": "2:101:1", "slow": "150:600:50"}  # 1,000 combinations: 4 chunks of 250


def _busy(faults, worker: str, timeout: float = 60) -> None:
    """Wait until ``worker`` runs a backtest or a sweep chunk."""
    deadline = time.monotonic() + timeout
    while not faults.scalar(
        "SELECT (SELECT count(*) FROM backtests WHERE status = 'running' AND worker LIKE :w)"
        " + (SELECT count(*) FROM sweep_chunks WHERE status = 'running' AND worker LIKE :w)",
        w=f"{worker}@%",
    ):
        assert time.monotonic() < deadline, f"{worker} never got a job"
        time.sleep(0.1)


def test_sigkill_of_a_worker_main_process_then_of_a_pool_child(faults):
    client = faults.client()
    sweep = faults.sweep(client, GRID, base=BIG)
    backtests = faults.backtests(client, 12, base=BIG)
    _busy(faults, "w1")
    main = faults.pid("w1")
    os.kill(main, signal.SIGKILL)  # the main process only: its children are orphaned
    time.sleep(1)
    os.killpg(main, signal.SIGKILL)  # and the orphans too, as the OOM killer or a host loss would
    faults.restart_worker(0)

    more = faults.backtests(client, 12, base=BIG, first_fast=60)
    _busy(faults, "w2")
    child = faults.children(faults.pid("w2"))[0]
    os.kill(child, signal.SIGKILL)  # Celery replaces the child; its task is requeued at once
    faults.wait_final(backtests + more, [sweep], timeout=150)
    counts = faults.account(backtests + more, [sweep])
    assert counts == {"succeeded": len(backtests + more)}, counts
    assert faults.statuses("sweeps", [sweep]) == {sweep: "succeeded"}
    assert "WorkerLostError" in faults.log("w2") or "Process" in faults.log("w2")
    faults.wait_up("w1", "w2", "w3")
