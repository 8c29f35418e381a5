"""InfluxDB stops: jobs whose candles a worker host has cached keep running; the others retry
with backoff, then fail with a clear reason; after it returns the failed ones can be retried and
new work runs. Every job ends exactly once."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.faults.conftest import JOB, TASK_RETRIES

pytestmark = pytest.mark.e2e

# A range no other fault test reads: its candles are never in the workers' cache.
UNCACHED = {**JOB, "start": "2020-02-03", "end": "2020-03-10"}


def test_influxdb_down_cached_jobs_run_uncached_ones_retry_then_fail_and_recover(faults):
    client = faults.client()
    warm = faults.submit(client, "backtests", {**JOB, "params": {"fast": 6, "slow": 500}})
    faults.wait_final([warm], timeout=60)  # JOB's candles are now in the host's cache

    workers = [faults.pid(f"w{i}") for i in (1, 2, 3)]
    for pid in workers:  # hold the jobs back until InfluxDB is down
        os.kill(pid, signal.SIGSTOP)
    try:
        cached = [faults.submit(client, "backtests", {**JOB, "params": {"fast": 6, "slow": 501 + k}})
                  for k in range(6)]  # fmt: skip
        uncached = [faults.submit(client, "backtests", {**UNCACHED, "params": {"fast": 6, "slow": 30 + k}})
                    for k in range(4)]  # fmt: skip
        faults.stop("influxd")
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    try:
        # Submitting checks the store's catalogue, which each API process keeps once it has read
        # it: such a process accepts while InfluxDB is down (the job runs from a host's cache like
        # the others); one that never read it refuses honestly, with a retry hint.
        r = client.post(f"{faults.public}/api/v1/backtests", json={**JOB, "params": {"fast": 6, "slow": 600}},
                        timeout=30)  # fmt: skip
        if r.status_code == 201:
            cached.append(r.json()["id"])
        else:
            assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text)
        faults.wait_final(cached + uncached, timeout=90)
        states = faults.statuses("backtests", cached + uncached)
        assert {states[i] for i in cached} == {"succeeded"}, states
        assert {states[i] for i in uncached} == {"failed"}, states
        errors = [faults.scalar("SELECT error FROM backtests WHERE id = :i", i=i) for i in uncached]
        for error in errors:
            assert error.startswith(f"gave up after {TASK_RETRIES} retries: InfluxDB at "), error
            assert "is unavailable" in error, error
        attempts = [faults.scalar("SELECT attempts FROM backtests WHERE id = :i", i=i) for i in uncached]
        assert all(a >= 1 + TASK_RETRIES for a in attempts), attempts  # the first run, the retries
        logs = faults.log("w1") + faults.log("w2") + faults.log("w3")
        assert "retryable error, retrying: InfluxDB at" in logs
    finally:
        faults.start_influx()

    # Back: the failed jobs run again on request, and new work needing the store runs.
    out = faults.cli("ops", "requeue", *[f"--failed={i}" for i in uncached])
    assert out.returncode == 0, out.stderr
    fresh = faults.submit(client, "backtests", {**UNCACHED, "params": {"fast": 6, "slow": 40}})
    jobs = [warm, *cached, *uncached, fresh]
    faults.wait_final(jobs, timeout=60)
    counts = faults.account(jobs)
    assert counts == {"succeeded": len(jobs)}, counts


def test_a_job_retrying_when_influxdb_returns_succeeds_by_itself(faults):
    """Down for less than the retries last: the job's next retry finds the store back."""
    client = faults.client()
    body = {**JOB, "start": "2020-01-05", "end": "2020-03-01", "params": {"fast": 7, "slow": 31}}
    workers = [faults.pid(f"w{i}") for i in (1, 2, 3)]
    for pid in workers:  # submitting needs InfluxDB: hold the job back until it is down
        os.kill(pid, signal.SIGSTOP)
    try:
        job = faults.submit(client, "backtests", body)
        faults.stop("influxd")
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    try:
        deadline = time.monotonic() + 30
        while faults.scalar("SELECT attempts FROM backtests WHERE id = :i", i=job) < 2:
            assert time.monotonic() < deadline, "the job never retried"
            time.sleep(0.1)
    finally:
        faults.start_influx()
    faults.wait_final([job], timeout=60)
    assert faults.account([job]) == {"succeeded": 1}
    assert faults.scalar("SELECT error FROM backtests WHERE id = :i", i=job) is None
