"""``quantgrid jobs ...`` and ``quantgrid workers list`` against a real worker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from quantgrid.db import backtests as bt
from quantgrid.db import sweeps
from quantgrid.db.models import Status
from tests.e2e.jobs.conftest import ROOT, spec, wait_for
from tests.support.jobs import sweep_of

pytestmark = pytest.mark.e2e


def qg(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _status(service, job_id):
    with service.db.read() as s:
        return bt.get_backtest(s, job_id).status


def test_jobs_commands_end_to_end(service, owner, start_worker, env):
    job = service.submit_backtest(owner.id, spec())
    listed = qg(env, "jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["kind"], r["id"], r["status"]) for r in json.loads(listed.stdout)] == [
        ("backtest", job.id, "queued")
    ]
    out = qg(env, "jobs", "cancel", str(job.id))
    assert out.returncode == 0 and f"cancelled backtest {job.id} (was queued)" in out.stdout
    out = qg(env, "jobs", "retry", str(job.id))
    assert out.returncode == 0, out.stderr
    assert _status(service, job.id) == Status.QUEUED
    start_worker("w1")
    wait_for(lambda: _status(service, job.id) == Status.SUCCEEDED, what="the retried job")
    shown = json.loads(qg(env, "jobs", "show", str(job.id)).stdout)
    assert shown["status"] == "succeeded" and "sharpe" in shown["metrics"]
    again = qg(env, "jobs", "cancel", str(job.id))
    assert again.returncode == 5 and again.stderr.strip() == (
        f"error: backtest {job.id} has already succeeded"
    )
    missing = qg(env, "jobs", "show", "99999")
    assert missing.returncode == 3 and "no backtest with id 99999" in missing.stderr
    workers = qg(env, "workers", "list")
    assert workers.returncode == 0 and "w1@" in workers.stdout


def test_requeue_stuck_runs_a_job_whose_worker_is_gone(service, owner, start_worker, env):
    start_worker("w1")
    job = service.submit_backtest(owner.id, spec(params={"fast": 7, "slow": 40}))
    wait_for(lambda: _status(service, job.id) == Status.SUCCEEDED, what="the first job")
    # A job a vanished worker had taken, whose message is gone: only the row remains.
    with service.db.write() as s:
        ghost, _ = bt.submit_backtest(
            s, owner.id, spec(params={"fast": 8, "slow": 40}), service.limits
        )
        assert bt.start_backtest(s, ghost.id, "ghost@nowhere")
    out = qg(env, "jobs", "requeue-stuck", "--grace", "0")
    assert out.returncode == 0, out.stderr
    assert f"requeued 1 stuck backtests [{ghost.id}]" in out.stdout and "w1@" in out.stdout
    wait_for(lambda: _status(service, ghost.id) == Status.SUCCEEDED, what="the requeued job")


def test_requeue_stuck_refuses_when_no_worker_answers(service, owner, env):
    """Silence is not death: with no ping reply, nothing running is requeued (it could run twice)."""
    with service.db.write() as s:
        running, _ = bt.submit_backtest(s, owner.id, spec(params={"fast": 9, "slow": 40}),
                                     service.limits)
        assert bt.start_backtest(s, running.id, "busy@elsewhere")
    out = qg(env, "jobs", "requeue-stuck", "--grace", "0")
    assert out.returncode != 0 and "no worker answered ping" in out.stderr, out
    assert _status(service, running.id) == Status.RUNNING


def test_a_cancelled_sweep_is_retried_from_the_cli_and_completes(service, owner, start_worker, env):
    sweep = service.submit_sweep(owner.id, sweep_of(spec(params={}), ["fast=5:20:5", "slow=30,40"]),
                                 chunk_size=3)
    out = qg(env, "jobs", "cancel", "--sweep", str(sweep.id))
    assert out.returncode == 0 and f"cancelled sweep {sweep.id} (was queued)" in out.stdout, out
    out = qg(env, "jobs", "retry", "--sweep", str(sweep.id))
    assert out.returncode == 0 and f"queued sweep {sweep.id} again" in out.stdout, out
    start_worker("w1")

    def finished():
        with service.db.read() as s:
            done = sweeps.get_sweep(s, sweep.id)
        return done if done.status not in (Status.QUEUED, Status.RUNNING) else None

    done = wait_for(finished, what="the retried sweep")
    assert done.status == Status.SUCCEEDED and done.n_succeeded == done.total == 8, done
    again = qg(env, "jobs", "retry", "--sweep", str(sweep.id))
    assert again.returncode != 0 and "only failed or cancelled sweeps" in again.stderr, again
