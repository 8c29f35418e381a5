"""SIGKILL a worker's main process, then one of its pool children, while long backtests and a
sweep run: every job still ends exactly once, with one result each."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

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


def _running_on(faults, worker: str) -> list[tuple[str, int]]:
    """The backtests and sweep chunks ``worker`` is running now, as (table, id)."""
    rows = []
    for table in ("backtests", "sweep_chunks"):
        with faults.engine.connect() as conn:
            rows += [(table, i) for (i,) in conn.execute(sa.text(
                f"SELECT id FROM {table} WHERE status = 'running' AND worker LIKE :w"),
                {"w": f"{worker}@%"})]  # fmt: skip
    return rows


def _attempts(faults, rows: list[tuple[str, int]]) -> list[int]:
    return [faults.scalar(f"SELECT attempts FROM {table} WHERE id = :i", i=i) for table, i in rows]


def _cpu_ticks(pid: int) -> int:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    return 0


def _kill_a_busy_child(faults, workers: tuple[str, ...], timeout: float = 60):
    """SIGKILL a pool child that is mid-job; return its worker and what that worker was running.

    The child is the one of its worker that used the most CPU over a fifth of a second, taken
    only while that worker has jobs running (a child that just finished would prove nothing).
    Any of ``workers`` will do: which one the broker hands the jobs to is not ours to choose.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            if not _running_on(faults, worker):
                continue
            children = faults.children(faults.pid(worker))
            before = {c: _cpu_ticks(c) for c in children}
            time.sleep(0.2)
            used = {c: _cpu_ticks(c) - before[c] for c in children}
            child = max(used, key=used.get)
            running = _running_on(faults, worker)
            if running and used[child] > 0:
                os.kill(child, signal.SIGKILL)  # Celery replaces the child; its task runs again
                return worker, running
        time.sleep(0.05)
    raise AssertionError(f"no pool child of {workers} was caught mid-job")


def test_sigkill_of_a_worker_main_process_then_of_a_pool_child(faults):
    client = faults.client()
    sweep = faults.sweep(client, GRID, base=BIG)
    backtests = faults.backtests(client, 12, base=BIG)
    _busy(faults, "w1")
    main = faults.pid("w1")
    cut_off = _running_on(faults, "w1")
    os.kill(main, signal.SIGKILL)  # the main process only: its children are orphaned
    time.sleep(1)
    os.killpg(main, signal.SIGKILL)  # and the orphans too, as the OOM killer or a host loss would
    faults.restart_worker(0)

    more = faults.backtests(client, 12, base=BIG, first_fast=60)
    sweep2 = faults.sweep(client, {"fast": "2:101:1", "slow": "160:610:50"}, base=BIG)
    victim, cut_short = _kill_a_busy_child(faults, ("w2", "w3"))
    faults.wait_final(backtests + more, [sweep, sweep2], timeout=150)
    counts = faults.account(backtests + more, [sweep, sweep2])
    assert counts == {"succeeded": len(backtests + more)}, counts
    assert faults.statuses("sweeps", [sweep, sweep2]) == {sweep: "succeeded", sweep2: "succeeded"}
    # The work cut off really was cut off and ran again, on w1 and on the killed child (whose
    # loss Celery reports); one job that finished just before a kill may have run once.
    assert cut_off and max(_attempts(faults, cut_off)) >= 2, cut_off
    assert max(_attempts(faults, cut_short)) >= 2, (victim, cut_short)
    assert "WorkerLostError" in faults.log(victim)
    faults.wait_up("w1", "w2", "w3")
