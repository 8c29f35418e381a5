"""PostgreSQL faults: the master restarts while jobs are submitted and run; the replica stops or
stops replaying. Every job still ends exactly once, the API says 503 + Retry-After (never 500)
while the master is down, and nothing the client just wrote is hidden by the replica."""

from __future__ import annotations

import time

import pytest

from tests.e2e.faults.conftest import BIG, JOB

pytestmark = pytest.mark.e2e


def _submit_until_accepted(faults, client, body: dict, timeout: float = 60) -> int:
    """POST a backtest until the API accepts it; every refusal must be a 503 with Retry-After."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.post(f"{faults.public}/api/v1/backtests", json=body, timeout=30)
        if r.status_code == 201:
            return r.json()["id"]
        assert r.status_code == 503 and r.headers.get("Retry-After"), (r.status_code, r.text)
        assert time.monotonic() < deadline, "the API did not reconnect to the restarted master"
        time.sleep(0.5)


def test_master_restart_while_jobs_are_submitted_and_run(faults):
    client = faults.client()
    # Short backtests (still queued when the master goes down), then a sweep and long backtests
    # in flight (their progress, result and ack need it).
    queued = faults.backtests(client, 30, first_fast=120)
    sweep = faults.sweep(client, {"fast": "3:102:1", "slow": "160:610:50"}, base=BIG)
    running = faults.backtests(client, 12, base=BIG, first_fast=120)
    deadline = time.monotonic() + 60
    while faults.scalar("SELECT count(*) FROM backtests WHERE status = 'running'") < 6:
        assert time.monotonic() < deadline, "no backtest started"
        time.sleep(0.1)

    faults.postgres("stop")
    try:
        refused = []
        outage_end = time.monotonic() + 8  # longer than the broker lease: leases run out
        k = 0
        while time.monotonic() < outage_end:
            body = {**JOB, "params": {"fast": 3 + k, "slow": 300}}
            r = client.post(f"{faults.public}/api/v1/backtests", json=body, timeout=30)
            refused.append((r.status_code, r.headers.get("Retry-After"), r.text[:200]))
            k += 1
            time.sleep(0.3)
    finally:
        faults.postgres("start")
    assert refused, "no request was made during the outage"
    assert all(code == 503 and retry for code, retry, _ in refused), refused[:5]
    assert all("unavailable" in text for _, _, text in refused), refused[:3]

    # The API reconnects by itself; new work is accepted and run by the same workers.
    after = [_submit_until_accepted(faults, client, {**JOB, "params": {"fast": 7, "slow": 310 + k}})
             for k in range(6)]  # fmt: skip
    jobs = running + queued + after
    faults.wait_final(jobs, [sweep], timeout=150)
    counts = faults.account(jobs, [sweep])
    assert counts == {"succeeded": len(jobs)}, counts
    assert faults.statuses("sweeps", [sweep]) == {sweep: "succeeded"}
    faults.wait_up("w1", "w2", "w3", "web1", "web2", "web3")
    # Each worker took part after the restart (they reconnected by themselves).
    late = faults.backtests(client, 18, first_fast=170)
    faults.wait_final(late, timeout=60)
    assert faults.account(late) == {"succeeded": len(late)}


def test_replica_paused_or_stopped_never_hides_a_clients_own_job(faults):
    client = faults.client()  # no cookie: read-your-writes rides on the user's write position
    faults.replica_sql("SELECT pg_wal_replay_pause()")
    try:
        for k in range(5):
            job = faults.submit(client, "backtests", {**JOB, "params": {"fast": 4, "slow": 400 + k}})
            # The replica has not replayed the insert; the API must not answer from it alone.
            assert faults.replica_sql(f"SELECT count(*) FROM backtests WHERE id = {job}") == 0
            one = client.get(f"{faults.public}/api/v1/backtests/{job}", timeout=30)
            assert one.status_code == 200, one.text
            assert one.json()["id"] == job
            listed = client.get(f"{faults.public}/api/v1/backtests", timeout=30)
            assert listed.status_code == 200, listed.text
            assert job in [j["id"] for j in listed.json()["items"]], listed.json()
    finally:
        faults.replica_sql("SELECT pg_wal_replay_resume()")

    faults.postgres("stop", "replica")
    try:
        job = faults.submit(client, "backtests", {**JOB, "params": {"fast": 4, "slow": 420}})
        for _ in range(3):  # reads fall back to the master, on every API instance
            for url in [faults.public, *faults.info["api"]]:
                r = client.get(f"{url}/api/v1/backtests/{job}", timeout=30)
                assert r.status_code == 200, (url, r.status_code, r.text)
                r = client.get(f"{url}/api/v1/backtests", timeout=30)
                assert r.status_code == 200 and job in [j["id"] for j in r.json()["items"]]
        faults.wait_final([job], timeout=60)
    finally:
        faults.postgres("start", "replica")
    assert faults.account([job]) == {"succeeded": 1}
    faults.wait_up("postgres-replica")
