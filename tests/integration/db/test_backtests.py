"""Backtests: submission, visibility, lists, guarded transitions, quotas — on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from quantgrid.db import backtests as bt
from quantgrid.db import users
from quantgrid.db.errors import InvalidTransition, JobNotFound
from quantgrid.db.models import Status
from quantgrid.errors import InvalidInput, QuotaExceeded
from tests.integration.db.conftest import make_spec


def _submit(db, user, limits, **overrides):
    with db.write() as s:
        return bt.submit_backtest(s, user.id, make_spec(**overrides), limits)[0]


def test_submitted_backtest_is_queued_with_server_timestamps(db, alice, limits):
    job = _submit(db, alice, limits)
    with db.read() as s:
        stored = bt.get_backtest(s, job.id, alice)
    assert stored.status == Status.QUEUED
    assert stored.params == {"fast": 10, "slow": 30}
    assert stored.settings["cash"] == 10_000
    assert stored.created_at.tzinfo is not None
    assert abs(stored.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert stored.start_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert (stored.attempts, stored.progress, stored.started_at) == (0, 0.0, None)


def test_other_users_job_is_not_found_but_admin_sees_it(db, alice, bob, admin, limits):
    job = _submit(db, alice, limits)
    with db.read() as s:
        with pytest.raises(JobNotFound):
            bt.get_backtest(s, job.id, bob)
        assert bt.get_backtest(s, job.id, admin).id == job.id
        assert bt.list_backtests(s, bob) == []
        assert [j.id for j in bt.list_backtests(s, admin)] == [job.id]


def test_list_is_newest_first_paginated_and_filtered(db, alice, limits):
    ids = [_submit(db, alice, limits).id for _ in range(5)]
    with db.write() as s:
        bt.start_backtest(s, ids[0], "w1")
    with db.read() as s:
        assert [j.id for j in bt.list_backtests(s, alice, limit=2)] == ids[::-1][:2]
        assert [j.id for j in bt.list_backtests(s, alice, limit=2, offset=2)] == ids[::-1][2:4]
        assert [j.id for j in bt.list_backtests(s, alice, status="running")] == [ids[0]]
        assert bt.count_backtests(s, alice, status=Status.QUEUED) == 4
        with pytest.raises(InvalidInput, match="status must be one of"):
            bt.list_backtests(s, alice, status="done")
        with pytest.raises(InvalidInput, match="limit"):
            bt.list_backtests(s, alice, limit=0)


def test_run_to_success_and_redelivery_changes_nothing(db, alice, limits):
    job = _submit(db, alice, limits)
    with db.write() as s:
        assert bt.start_backtest(s, job.id, "worker-1", "task-1")
        assert bt.set_progress(s, job.id, 0.5)
    with db.write() as s:
        assert bt.succeed_backtest(s, job.id, "f" * 64)
    with db.read() as s:
        done = bt.get_backtest(s, job.id)
    assert (done.status, done.attempts, done.worker, done.progress) == (
        Status.SUCCEEDED,
        1,
        "worker-1",
        1.0,
    )
    assert done.finished_at >= done.started_at
    # A redelivered message finds the job finished: nothing moves backwards.
    with db.write() as s:
        assert not bt.start_backtest(s, job.id, "worker-2", "task-1")
        assert not bt.fail_backtest(s, job.id, "late failure")
        assert not bt.succeed_backtest(s, job.id, "0" * 64)
        assert not bt.set_progress(s, job.id, 0.1)
    with db.read() as s:
        again = bt.get_backtest(s, job.id)
    assert (again.status, again.attempts, again.worker, again.result_fingerprint) == (
        Status.SUCCEEDED,
        1,
        "worker-1",
        "f" * 64,
    )


def test_running_job_redelivered_after_worker_loss_is_taken_over(db, alice, limits):
    job = _submit(db, alice, limits)
    with db.write() as s:
        assert bt.start_backtest(s, job.id, "dead-worker")
    with db.write() as s:
        assert bt.start_backtest(s, job.id, "live-worker")
    with db.read() as s:
        stored = bt.get_backtest(s, job.id)
    assert (stored.attempts, stored.worker) == (2, "live-worker")


def test_failure_keeps_the_reason(db, alice, limits):
    job = _submit(db, alice, limits)
    with db.write() as s:
        bt.start_backtest(s, job.id, "w")
        assert bt.fail_backtest(s, job.id, "unknown symbol 'XYZ'")
    with db.read() as s:
        stored = bt.get_backtest(s, job.id)
    assert stored.status == Status.FAILED and stored.error == "unknown symbol 'XYZ'"


def test_cancel_queued_job_never_starts_and_finished_job_cannot_be_cancelled(
    db, alice, bob, limits
):
    job = _submit(db, alice, limits)
    with db.write() as s:
        bt.set_task_id(s, job.id, "task-9")
    with pytest.raises(JobNotFound), db.write() as s:
        bt.cancel_backtest(s, job.id, bob)
    with db.write() as s:
        cancelled = bt.cancel_backtest(s, job.id, alice)
    assert cancelled.previous_status == Status.QUEUED and cancelled.task_ids == ("task-9",)
    with db.write() as s:
        assert not bt.start_backtest(s, job.id, "w")
    with pytest.raises(InvalidTransition, match="already cancelled"), db.write() as s:
        bt.cancel_backtest(s, job.id, alice)


def test_retry_requeues_failed_job_only(db, alice, limits):
    job = _submit(db, alice, limits)
    with pytest.raises(InvalidTransition, match="only failed or cancelled"), db.write() as s:
        bt.retry_backtest(s, job.id, alice)
    with db.write() as s:
        bt.start_backtest(s, job.id, "w")
        bt.fail_backtest(s, job.id, "candle store down")
    with db.write() as s:
        again = bt.retry_backtest(s, job.id, alice)
    # A fresh run: its attempts count from zero, so earlier lost workers do not count against it.
    assert (again.status, again.error, again.started_at, again.attempts) == (
        Status.QUEUED, None, None, 0)


def test_stuck_jobs_of_dead_workers_are_found_and_requeued(db, alice, limits):
    alive, dead = _submit(db, alice, limits), _submit(db, alice, limits)
    with db.write() as s:
        bt.start_backtest(s, alive.id, "alive@host")
        bt.start_backtest(s, dead.id, "dead@host")
    later = datetime.now(UTC) + timedelta(minutes=5)
    with db.write() as s:
        stuck = bt.stuck_backtests(s, {"alive@host"}, later)
        assert [j.id for j in stuck] == [dead.id]
        assert bt.requeue_backtest(s, dead.id)
        assert not bt.requeue_backtest(s, dead.id)
    with db.read() as s:
        assert bt.get_backtest(s, dead.id).status == Status.QUEUED
        assert bt.stuck_backtests(s, {"alive@host"}, datetime.now(UTC) - timedelta(hours=1)) == []


def test_queued_jobs_quota_counts_unfinished_jobs(db, alice, limits):
    with db.write() as s:
        users.set_quotas(s, alice.id, max_queued_jobs=2)
    first = _submit(db, alice, limits)
    _submit(db, alice, limits)
    with pytest.raises(QuotaExceeded, match="2 queued or running jobs and your limit is 2"):
        _submit(db, alice, limits)
    with db.write() as s:
        bt.cancel_backtest(s, first.id)
    _submit(db, alice, limits)  # a finished job frees its slot


def test_candles_per_job_quota(db, alice, limits):
    with db.write() as s:
        users.set_quotas(s, alice.id, max_candles_per_job=1000)
    with pytest.raises(QuotaExceeded, match="shorten the range or use a longer timeframe"):
        _submit(db, alice, limits, timeframe="1m")
    _submit(db, alice, limits, timeframe="1d")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timeframe": "5x"}, "invalid timeframe '5x'"),
        ({"start": datetime(2024, 5, 1, tzinfo=UTC)}, "must be before end"),
        ({"start": datetime(2024, 1, 1)}, "timezone"),
        ({"symbol": ""}, "symbol must be"),
        ({"params": {"x": float("nan")}}, "plain JSON"),
    ],
)
def test_invalid_specs_are_refused(db, alice, limits, overrides, message):
    with pytest.raises(InvalidInput, match=message):
        _submit(db, alice, limits, **overrides)


def test_concurrent_submissions_cannot_exceed_the_quota(db, alice, limits):
    with db.write() as s:
        users.set_quotas(s, alice.id, max_queued_jobs=3)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def submit():
        barrier.wait()
        try:
            _submit(db, alice, limits)
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("quota")
        except Exception as err:  # SQLite may answer "database is locked" under contention
            outcomes.append(type(err).__name__)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as s:
        assert bt.count_backtests(s, alice) == outcomes.count("ok") <= 3
    if db.dialect == "postgresql":
        assert sorted(outcomes) == ["ok"] * 3 + ["quota"] * 3


def test_jobs_list_merges_backtests_and_sweeps(db, alice, bob, limits):
    from quantgrid.db import sweeps

    first = _submit(db, alice, limits)
    with db.write() as s:
        sweep, _ = sweeps.submit_sweep(
            s,
            alice.id,
            make_spec(),
            {"fast": [1, 2]},
            [{"fast": 1}, {"fast": 2}],
            limits,
            metric="sharpe",
        )
    with db.read() as s:
        jobs = bt.list_jobs(s, alice)
        assert {(j.kind, j.id) for j in jobs} == {("backtest", first.id), ("sweep", sweep.id)}
        assert all(j.created_at.tzinfo is not None for j in jobs)
        assert bt.list_jobs(s, bob) == []
    # The status filter applies before the page is cut: one per page, the queued ones are found.
    with db.write() as s:
        bt.cancel_backtest(s, first.id)
    with db.read() as s:
        assert [(j.kind, j.id) for j in bt.list_jobs(s, alice, status="cancelled", limit=1)] == [
            ("backtest", first.id)]
        assert [(j.kind, j.id) for j in bt.list_jobs(s, alice, status="queued", limit=1)] == [
            ("sweep", sweep.id)]
        with pytest.raises(InvalidInput, match="status must be one of"):
            bt.list_jobs(s, alice, status="lost")
