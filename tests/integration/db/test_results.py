"""Results: stored once per backtest and per fingerprint, decoded exactly — on both backends."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from quantgrid.db import backtests as bt
from quantgrid.db import results
from quantgrid.db.errors import DatabaseConflict, JobNotFound
from quantgrid.db.models import Result
from tests.integration.db.conftest import make_spec

TIME = np.arange(1_704_067_200, 1_704_067_200 + 500 * 3600, 3600, dtype=np.int64) * 10**9
EQUITY = 10_000 * np.cumprod(1 + np.random.default_rng(7).normal(0, 0.01, len(TIME)))
TRADES = [
    {"entry_time": int(TIME[3]), "exit_time": int(TIME[9]), "side": "long", "pnl": 12.5},
    {"entry_time": int(TIME[20]), "exit_time": int(TIME[31]), "side": "short", "pnl": -3.25},
]


def _store(db, job, candles_fp="c" * 64, engine_version="1.0.0"):
    with db.write() as s:
        job_row = bt.get_backtest(s, job.id)
        fingerprint = results.store_result(
            s,
            backtest_id=job.id,
            params_hash=bt.backtest_params_hash(job_row),
            candles_fingerprint=candles_fp,
            engine_version=engine_version,
            metrics={"sharpe": np.float64(1.25), "trades": np.int64(2), "sortino": float("nan")},
            equity_time=TIME,
            equity_value=EQUITY,
            trades=TRADES,
        )
        bt.start_backtest(s, job.id, "w")
        bt.succeed_backtest(s, job.id, fingerprint)
        # The row the job now points at: its own, or the one it stored before.
        return results.find_result(s, bt.get_backtest(s, job.id).result_fingerprint)


def _count(db):
    with db.read() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Result))


def test_result_round_trips_exactly(db, alice, limits):
    with db.write() as s:
        job, _ = bt.submit_backtest(s, alice.id, make_spec(), limits)
    _store(db, job)
    with db.read() as s:
        report = results.report_for_backtest(s, job.id, alice)
    np.testing.assert_array_equal(report.equity_time, TIME)
    np.testing.assert_array_equal(report.equity_value, EQUITY)
    assert report.trades == TRADES
    assert report.metrics == {"sharpe": 1.25, "trades": 2, "sortino": None}
    assert report.engine_version == "1.0.0" and not report.reused
    assert report.to_dict()["equity"]["value"][0] == EQUITY[0]


def test_storing_again_for_the_same_backtest_keeps_one_row(db, alice, limits):
    with db.write() as s:
        job, _ = bt.submit_backtest(s, alice.id, make_spec(), limits)
    first = _store(db, job)
    again = _store(db, job)
    assert again.id == first.id and _count(db) == 1
    # Even a different engine version for the same backtest cannot add a second result.
    other = _store(db, job, engine_version="2.0.0")
    assert other.id == first.id and _count(db) == 1


def test_identical_submission_reuses_the_stored_result(db, alice, limits):
    with db.write() as s:
        a, _ = bt.submit_backtest(s, alice.id, make_spec(), limits)
        b, _ = bt.submit_backtest(s, alice.id, make_spec(), limits)
        c, _ = bt.submit_backtest(s, alice.id, make_spec(params={"fast": 5, "slow": 30}), limits)
    first = _store(db, a)
    with db.read() as s:
        fp = results.result_fingerprint(
            bt.backtest_params_hash(bt.get_backtest(s, b.id)), "c" * 64, "1.0.0"
        )
        assert results.find_result(s, fp).id == first.id
        other = results.result_fingerprint(
            bt.backtest_params_hash(bt.get_backtest(s, c.id)), "c" * 64, "1.0.0"
        )
        assert results.find_result(s, other) is None
    with db.write() as s:
        bt.start_backtest(s, b.id, "w")
        bt.succeed_backtest(s, b.id, fp)
    with db.read() as s:
        assert results.report_for_backtest(s, b.id).reused


def test_database_refuses_a_second_result_row_for_a_backtest(db, alice, limits):
    with db.write() as s:
        job, _ = bt.submit_backtest(s, alice.id, make_spec(), limits)
    first = _store(db, job)
    with pytest.raises(DatabaseConflict), db.write() as s:
        s.execute(
            sa.insert(Result).values(
                backtest_id=job.id,
                fingerprint="d" * 64,
                params_hash=first.params_hash,
                candles_fingerprint="x" * 64,
                engine_version="9",
                metrics={},
                n_points=0,
                equity_time=b"",
                equity_value=b"",
                n_trades=0,
                trades=b"",
            )
        )


def test_report_of_unfinished_or_foreign_backtest_is_not_found(db, alice, bob, limits):
    with db.write() as s:
        job, _ = bt.submit_backtest(s, alice.id, make_spec(), limits)
    with db.read() as s:
        with pytest.raises(JobNotFound, match="has no result"):
            results.report_for_backtest(s, job.id, alice)
        with pytest.raises(JobNotFound):
            results.report_for_backtest(s, job.id, bob)
