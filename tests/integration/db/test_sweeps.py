"""Sweeps: chunks, exact per-status counters, aggregation, cancellation — on both backends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quantgrid.db import sweeps
from quantgrid.db.errors import InvalidTransition
from quantgrid.db.models import Status
from quantgrid.errors import InvalidInput, QuotaExceeded
from tests.integration.db.conftest import make_spec

GRID = {"fast": [5, 10, 15, 20, 25], "slow": [50, 100]}
COMBOS = [{"fast": f, "slow": s} for f, s in itertools.product(GRID["fast"], GRID["slow"])]


def _submit(db, user, limits, combos=COMBOS, chunk_size=4, **kw):
    with db.write() as s:
        sweep, chunks = sweeps.submit_sweep(
            s,
            user.id,
            make_spec(),
            GRID,
            combos,
            limits,
            metric="sharpe",
            chunk_size=chunk_size,
            **kw,
        )
    return sweep, chunks


def _score(params):  # a fake metric: best is fast=15, slow=100
    return -abs(params["fast"] - 15) + params["slow"] / 100


def _run_chunk(db, chunk_id, worker="w"):
    with db.write() as s:
        chunk = sweeps.start_chunk(s, chunk_id, worker)
        assert chunk is not None
        params = chunk.params
    with db.write() as s:
        return sweeps.finish_chunk(
            s, chunk_id, {"sharpe": [_score(p) for p in params], "trades": [3] * len(params)}
        )


def _counts(sweep):
    return (sweep.n_queued, sweep.n_running, sweep.n_succeeded, sweep.n_failed, sweep.n_cancelled)


def test_grid_is_split_into_chunks_that_cover_every_combination(db, alice, limits):
    sweep, chunks = _submit(db, alice, limits)
    assert [(c.first, c.last) for c in chunks] == [(0, 4), (4, 8), (8, 10)]
    assert [p for c in chunks for p in c.params] == COMBOS
    assert (sweep.total, _counts(sweep), sweep.status) == (10, (10, 0, 0, 0, 0), Status.QUEUED)


def test_progress_is_visible_and_best_is_picked_at_the_end(db, alice, limits):
    sweep, chunks = _submit(db, alice, limits)
    with db.write() as s:
        sweeps.start_chunk(s, chunks[0].id, "w")
    with db.read() as s:
        running = sweeps.get_sweep(s, sweep.id)
    assert running.status == Status.RUNNING and _counts(running) == (6, 4, 0, 0, 0)
    assert _run_chunk(db, chunks[0].id)
    with db.read() as s:
        mid = sweeps.get_sweep(s, sweep.id)
    assert _counts(mid) == (6, 0, 4, 0, 0) and mid.progress == pytest.approx(0.4)
    assert mid.status == Status.RUNNING and mid.best_params is None
    for chunk in chunks[1:]:
        assert _run_chunk(db, chunk.id)
    with db.read() as s:
        done = sweeps.get_sweep(s, sweep.id)
        top = sweeps.top_results(s, sweep.id, n=3)
        grid = sweeps.grid_results(s, sweep.id)
    assert done.status == Status.SUCCEEDED and _counts(done) == (0, 0, 10, 0, 0)
    assert done.best_params == {"fast": 15, "slow": 100} and done.best_value == 1.0
    assert done.best_index == COMBOS.index({"fast": 15, "slow": 100})
    assert [r.params for r in top][0] == done.best_params
    assert len(grid) == 10 and all(r.metrics["trades"] == 3 for r in grid)
    # minimising the same metric picks the other end of the grid
    with db.read() as s:
        worst = sweeps.top_results(s, sweep.id, maximize=False, n=1)[0]
    assert worst.params == {"fast": 5, "slow": 50}


def test_redelivered_chunk_does_not_count_twice(db, alice, limits):
    sweep, chunks = _submit(db, alice, limits)
    assert _run_chunk(db, chunks[0].id)
    with db.write() as s:
        assert sweeps.start_chunk(s, chunks[0].id, "w2") is None
        assert not sweeps.finish_chunk(s, chunks[0].id, {"sharpe": [0.0] * 4})
        assert not sweeps.fail_chunk(s, chunks[0].id, "late")
    with db.read() as s:
        assert _counts(sweeps.get_sweep(s, sweep.id)) == (6, 0, 4, 0, 0)
        assert sweeps.get_chunk(s, chunks[0].id).attempts == 1


def test_a_failed_chunk_fails_the_sweep_but_keeps_partial_best(db, alice, limits):
    sweep, chunks = _submit(db, alice, limits)
    _run_chunk(db, chunks[0].id)
    _run_chunk(db, chunks[1].id)
    with db.write() as s:
        sweeps.start_chunk(s, chunks[2].id, "w")
        assert sweeps.fail_chunk(s, chunks[2].id, "slow must exceed fast")
    with db.read() as s:
        done = sweeps.get_sweep(s, sweep.id)
    assert done.status == Status.FAILED and _counts(done) == (0, 0, 8, 2, 0)
    assert "2 of 10 combinations failed: slow must exceed fast" in done.error
    assert done.best_params == {"fast": 15, "slow": 100}


def test_metric_values_must_match_the_chunk(db, alice, limits):
    _, chunks = _submit(db, alice, limits)
    with db.write() as s:
        sweeps.start_chunk(s, chunks[0].id, "w")
    with pytest.raises(InvalidInput, match="has 2 values for a chunk of 4"), db.write() as s:
        sweeps.finish_chunk(s, chunks[0].id, {"sharpe": [1.0, 2.0]})


def test_cancel_stops_queued_and_running_chunks(db, alice, limits):
    sweep, chunks = _submit(db, alice, limits)
    _run_chunk(db, chunks[0].id)
    with db.write() as s:
        sweeps.start_chunk(s, chunks[1].id, "w", "task-b")
        sweeps.set_chunk_task_id(s, chunks[2].id, "task-c")
    with db.write() as s:
        cancelled = sweeps.cancel_sweep(s, sweep.id, alice)
    assert set(cancelled.task_ids) == {"task-b", "task-c"}
    with db.read() as s:
        done = sweeps.get_sweep(s, sweep.id)
    assert done.status == Status.CANCELLED and _counts(done) == (0, 0, 4, 0, 6)
    with db.write() as s:
        assert sweeps.start_chunk(s, chunks[2].id, "w") is None
        assert not sweeps.finish_chunk(s, chunks[1].id, {"sharpe": [0.0] * 4})
    with pytest.raises(InvalidTransition), db.write() as s:
        sweeps.cancel_sweep(s, sweep.id, alice)


def test_retry_runs_the_cancelled_chunks_again_and_keeps_the_finished(db, alice, limits):
    sweep, chunks = _submit(db, alice, limits)
    _run_chunk(db, chunks[0].id)
    with pytest.raises(InvalidTransition, match="only failed or cancelled"), db.write() as s:
        sweeps.retry_sweep(s, sweep.id, alice)
    with db.write() as s:
        sweeps.fail_chunk(s, chunks[1].id, "InfluxDB is unavailable")
    with db.write() as s:
        sweeps.cancel_sweep(s, sweep.id, alice)
    with db.write() as s:
        again = sweeps.retry_sweep(s, sweep.id, alice)
    assert [c.id for c in again] == [chunks[1].id, chunks[2].id]
    assert all(c.status == Status.QUEUED and c.attempts == 0 and c.error is None for c in again)
    with db.read() as s:
        retried = sweeps.get_sweep(s, sweep.id)
    assert (retried.status, retried.error, retried.finished_at) == (Status.QUEUED, None, None)
    assert _counts(retried) == (6, 0, 4, 0, 0)
    for chunk in again:  # run to the end: the sweep succeeds with every combination
        _run_chunk(db, chunk.id)
    with db.read() as s:
        done = sweeps.get_sweep(s, sweep.id)
    assert done.status == Status.SUCCEEDED and _counts(done) == (0, 0, 10, 0, 0)
    with db.write() as s, pytest.raises(InvalidTransition):
        sweeps.retry_sweep(s, sweep.id, alice)


def test_stuck_chunk_is_requeued_and_counted_back(db, alice, limits):
    from datetime import UTC, datetime, timedelta

    sweep, chunks = _submit(db, alice, limits)
    with db.write() as s:
        sweeps.start_chunk(s, chunks[0].id, "dead@host")
    with db.write() as s:
        (stuck,) = sweeps.stuck_chunks(s, {"alive@host"}, datetime.now(UTC) + timedelta(minutes=1))
        assert sweeps.requeue_chunk(s, stuck.id)
    with db.read() as s:
        assert _counts(sweeps.get_sweep(s, sweep.id)) == (10, 0, 0, 0, 0)


def test_sweep_size_quota(db, alice, limits):
    from quantgrid.db import users

    with db.write() as s:
        users.set_quotas(s, alice.id, max_sweep_size=9)
    with pytest.raises(QuotaExceeded, match="10 parameter combinations and your limit is 9"):
        _submit(db, alice, limits)


def test_ten_thousand_combinations_is_an_ordinary_sweep(db, alice, limits):
    from dataclasses import replace

    combos = [{"fast": f, "slow": s} for f in range(100) for s in range(100)]
    with db.write() as s:
        sweep, chunks = sweeps.submit_sweep(
            s,
            alice.id,
            make_spec(),
            {"fast": "0:100", "slow": "0:100"},
            combos,
            replace(limits, max_sweep_size=20_000),
            metric="sharpe",
        )
    assert sweep.total == 10_000 and len(chunks) == 40


def test_a_repeated_request_key_is_the_same_sweep_for_its_owner_only(db, alice, bob, limits):
    first, chunks = _submit(db, alice, limits, request_key="k1")
    again, more = _submit(db, alice, limits, request_key="k1")
    assert again.id == first.id and chunks and more == []
    bobs, _ = _submit(db, bob, limits, request_key="k1")
    other, _ = _submit(db, alice, limits, request_key="k2")
    assert len({first.id, bobs.id, other.id}) == 3
    with db.read() as s:
        assert len(sweeps.list_chunks(s, first.id)) == len(chunks)


def test_chunks_store_research_rows_and_they_come_back_in_grid_order(db, alice, limits):
    """Each chunk's research statistics are stored with its metrics and read back by grid index;
    a chunk that stored none (evaluated before they existed) is counted as missing."""
    sweep, chunks = _submit(db, alice, limits)  # 10 combinations, chunks of 4, 4 and 2
    rows_of = {c.id: np.arange(c.first, c.last)[:, None] + np.linspace(0, 1, 53) for c in chunks}
    rows_of[chunks[0].id][0, 7] = np.nan  # a set whose curve overflowed keeps its NaN
    for chunk in chunks:
        with db.write() as s:
            assert sweeps.start_chunk(s, chunk.id, "w") is not None
        with db.write() as s:
            research = rows_of[chunk.id] if chunk.index < 2 else None
            assert sweeps.finish_chunk(s, chunk.id, {"sharpe": [0.0] * chunk.size}, research)
    with db.read() as s:
        rows = sweeps.research_rows(s, sweep.id)
        assert sweeps.get_sweep(s, sweep.id).status == Status.SUCCEEDED
    assert rows.index.tolist() == list(range(8)) and rows.missing == 2
    want = np.vstack([rows_of[chunks[0].id], rows_of[chunks[1].id]])
    np.testing.assert_array_equal(rows.matrix, want)
    sweep2, chunks2 = _submit(db, alice, limits)
    with db.write() as s:
        sweeps.start_chunk(s, chunks2[0].id, "w")
    with db.write() as s, pytest.raises(InvalidInput, match="one row per combination"):
        sweeps.finish_chunk(s, chunks2[0].id, {"sharpe": [0.0] * 4}, np.zeros((3, 53)))
