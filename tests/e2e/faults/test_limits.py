"""A worker at its memory limit per child and with its candle cache on a full disk: its jobs still
end exactly once (a full disk costs the cache, not the job; a child over the limit is replaced
after its task), each cause is logged, and the worker lives on."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.e2e.faults.conftest import JOB

pytestmark = pytest.mark.e2e

# A range no other fault test reads: these jobs must load candles and try to cache them.
FRESH = {**JOB, "start": "2020-01-20", "end": "2020-03-01"}


@contextlib.contextmanager
def full_filesystem():
    """A 64 KiB tmpfs, filled up (root in the test container; else say how to run it)."""
    path = Path(tempfile.mkdtemp(prefix="qg-full-"))
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if mount.returncode != 0:
        path.rmdir()
        pytest.fail(f"cannot mount a small tmpfs (run the fault tests as root): {mount.stderr}")
    try:
        cache = path / "cache"
        cache.mkdir()
        with contextlib.suppress(OSError), open(path / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        os.chmod(path, 0o777)
        yield cache
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        path.rmdir()


def test_memory_limit_per_child_and_full_cache_disk_cost_no_job_and_no_worker(faults):
    client = faults.client()
    others = [faults.pid("w1"), faults.pid("w2")]
    with full_filesystem() as cache:
        faults.stop("w3")  # warm shutdown, then back with a 1 MB limit and the full cache disk
        seen = len(faults.log("w3"))
        faults.restart_worker(2, WORKER_MAX_MEMORY_PER_CHILD_KB="1000", CANDLE_CACHE_DIR=str(cache))
        before = set(faults.children(faults.pid("w3")))
        for pid in others:  # every job goes to w3
            os.kill(pid, signal.SIGSTOP)
        try:
            jobs = [faults.submit(client, "backtests", {**FRESH, "params": {"fast": 9, "slow": 30 + k}})
                    for k in range(12)]  # fmt: skip
            faults.wait_final(jobs, timeout=90)
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)
        counts = faults.account(jobs)
        assert counts == {"succeeded": len(jobs)}, counts
        assert set(faults.scalar("SELECT array_agg(DISTINCT split_part(worker, '@', 1)) FROM backtests"
                                 " WHERE id = ANY(:ids)", ids=jobs)) == {"w3"}  # fmt: skip
        log = faults.log("w3")[seen:]
        assert "No space left on device" in log and "could not cache" in log, log[-3000:]
        # Billiard's own warning is not logged by the children; their numbering tells: a pool
        # of 6 numbers 1..6, a child that exits past the limit is replaced by number 7, 8, ...
        numbers = {int(n) for n in re.findall(r"ForkPoolWorker-(\d+)\]", log)}
        assert len(numbers) > 6, sorted(numbers)
        faults.wait_up("w3")
        assert before - set(faults.children(faults.pid("w3"))), "no child was replaced"
        assert not list(cache.glob("*.npy"))
        faults.stop("w3")
    faults.restart_worker(2)  # as the cluster started it
