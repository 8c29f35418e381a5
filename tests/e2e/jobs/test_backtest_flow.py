"""End to end: PostgreSQL, the qgpg broker, a real worker process, InfluxDB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backtest import run_backtest
from engine.simulator import SimConfig
from engine.sweep import parse_grid, run_sweep
from quantgrid.candles.csvfile import write_csv
from quantgrid.db import backtests as bt
from quantgrid.db import results, sweeps
from quantgrid.db.models import Status
from tests.e2e.jobs.conftest import END, START, SYMBOL, spec, wait_for
from tests.support.jobs import sweep_of

pytestmark = pytest.mark.e2e
QUANTGRID = Path(sys.executable).with_name("quantgrid")


def _status(service, job_id):
    with service.db.read() as s:
        return bt.get_backtest(s, job_id).status


def test_backtest_goes_queued_running_succeeded_with_the_clis_numbers(
    service, owner, start_worker, store, tmp_path
):
    job = service.submit_backtest(owner.id, spec())
    assert job.status == Status.QUEUED
    seen = set()
    start_worker()
    wait_for(
        lambda: seen.add(_status(service, job.id)) or Status.SUCCEEDED in seen,
        what="the backtest to succeed",
    )
    with service.db.read() as s:
        done = bt.get_backtest(s, job.id)
        report = results.report_for_backtest(s, job.id, owner)
    assert done.attempts == 1 and done.worker.startswith("w1@")
    candles = store.read(SYMBOL, "1h", START, END)
    direct = run_backtest(
        candles, "sma_cross", {"fast": 10, "slow": 30}, SimConfig(cash=10_000.0, commission=0.001)
    )
    assert report.metrics["sharpe"] == pytest.approx(direct.metrics["sharpe"], nan_ok=True)
    assert report.metrics["equity_final"] == direct.metrics["equity_final"]
    assert report.equity_value.tolist() == direct.equity.tolist()
    assert len(report.trades) == len(direct.trades)
    # The same candles through `quantgrid backtest --csv`: the numbers a user checks by hand.
    write_csv(candles, tmp_path / "candles.csv")
    cli = subprocess.run(
        [str(QUANTGRID), "backtest", "--csv", str(tmp_path / "candles.csv"), "--strategy",
         "sma_cross", "-p", "fast=10", "-p", "slow=30", "--cash", "10000", "--commission",
         "0.001", "--json"], capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    by_cli = json.loads(cli.stdout)
    assert report.metrics["equity_final"] == pytest.approx(by_cli["equity_final"], rel=1e-12)
    assert report.metrics["trades"] == by_cli["trades"]
    # An identical submission reuses the stored result instead of storing another.
    again = service.submit_backtest(owner.id, spec())
    wait_for(lambda: _status(service, again.id) == Status.SUCCEEDED, what="the second run")
    with service.db.read() as s:
        assert results.report_for_backtest(s, again.id).reused


def test_permanent_failure_is_stored_at_once(service, owner, start_worker):
    job = service.submit_backtest(owner.id, spec(symbol="NOSUCH"))
    start_worker()
    wait_for(lambda: _status(service, job.id) == Status.FAILED, what="the failure")
    with service.db.read() as s:
        failed = bt.get_backtest(s, job.id)
    assert failed.attempts == 1 and "NOSUCH" in failed.error


def test_cancelled_queued_job_never_starts(service, owner, start_worker):
    job = service.submit_backtest(owner.id, spec())
    service.cancel_backtest(job.id, owner)
    marker = service.submit_backtest(owner.id, spec(params={"fast": 5, "slow": 20}))
    start_worker()
    wait_for(lambda: _status(service, marker.id) == Status.SUCCEEDED, what="the later job")
    with service.db.read() as s:
        cancelled = bt.get_backtest(s, job.id)
    assert cancelled.status == Status.CANCELLED and cancelled.attempts == 0


def test_sweep_of_500_combinations_finds_the_best(service, owner, start_worker, store):
    grid = ["fast=2:51:1", "slow=60:150:10"]  # 50 x 10 = 500
    sweep = service.submit_sweep(owner.id, sweep_of(spec(params={}), grid), chunk_size=100)
    assert sweep.total == 500
    start_worker()
    wait_for(
        lambda: (
            service.db.run_read(lambda s: sweeps.get_sweep(s, sweep.id).status) == Status.SUCCEEDED
        ),
        timeout=120,
        what="the sweep",
    )
    with service.db.read() as s:
        done = sweeps.get_sweep(s, sweep.id)
        chunks = sweeps.list_chunks(s, sweep.id)
    assert (done.n_succeeded, done.progress, len(chunks)) == (500, 1.0, 5)
    candles = store.read(SYMBOL, "1h", START, END)
    combos = parse_grid(grid, "sma_cross")
    direct = run_sweep(candles, "sma_cross", combos, SimConfig(cash=10_000.0, commission=0.001))
    best = int(direct.ranked("sharpe")[0])
    assert done.best_params == direct.params[best]
    assert done.best_value == pytest.approx(direct.column("sharpe")[best])
