"""A finished backtest's Monte Carlo of its trades and its metrics against buy-and-hold: the API
gives what engine.research gives on the stored data, checks its query, hides other users' jobs
like /result does, and says why a backtest cannot give a statistic; the result page shows both."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from engine.candles import Candles
from engine.metrics import calendar
from engine.research import montecarlo
from engine.research.relative import align, relative
from quantgrid.db import results, users
from quantgrid.errors import Unprocessable
from quantgrid.jobs import research
from tests.support.candles import T0, minutes

from .conftest import BACKTEST, finish

HOUR = 3_600 * 10**9
# 30 days of hourly bars: a few dozen trades, 30 daily returns for the relative metrics.
LONG = {**BACKTEST, "symbol": "LONGER", "start": "2024-01-01", "end": "2024-01-31"}


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]


@pytest.fixture
def series(store):
    store.write("LONGER", "1h", minutes(30 * 24, seed=5, step=HOUR))
    store.write("OTHER", "1h", minutes(30 * 24, seed=9, step=HOUR, price=50.0))
    store.write("DAILY", "1d", minutes(30, seed=2, step=24 * HOUR))
    n = 30 * 24  # constant prices: the moving averages never cross, so no trade
    flat = np.full(n, 100.0)
    store.write("FLAT", "1h", Candles.from_arrays(T0 + HOUR * np.arange(n, dtype=np.int64),
                                                  flat, flat, flat, flat, np.ones(n)))


@pytest.fixture
def done(api, db, store, series):
    """A finished backtest over LONGER, its job and stored result."""
    job = api.post("/api/v1/backtests", json=LONG).get_json()
    finish(db, store, job["id"])
    with db.read() as s:
        report = results.report_for_backtest(s, job["id"])
    return job["id"], report


def _closed(report):
    return [t for t in report.trades if not t["open"]]


# -- Monte Carlo ---------------------------------------------------------------------------------
def test_montecarlo_is_the_engines_bootstrap_of_the_stored_trade_returns(api, done):
    job_id, report = done
    body = api.get(f"/api/v1/backtests/{job_id}/montecarlo?resamples=500&seed=7&block=2")
    assert body.status_code == 200, body.get_data(as_text=True)
    mc = body.get_json()
    trades = _closed(report)
    assert len(trades) > 5 and mc["trades"] == len(trades)
    # all_in sizing (the default): returns, as fractions, compounded from the job's cash
    expected = montecarlo.bootstrap_returns(np.array([t["return_pct"] for t in trades]),
                                            10_000, 500, seed=7, block=2)
    assert (mc["resamples"], mc["seed"], mc["block"], mc["method"]) == (500, 7, 2, "returns")
    assert mc["initial_cash"] == 10_000
    assert [mc["final_equity"][k] for k in ("p5", "p50", "p95")] == list(expected.final_equity)
    assert [mc["max_drawdown_pct"][k] for k in ("p5", "p50", "p95")] == list(
        expected.max_drawdown_pct)
    assert [mc["bands"][k] for k in ("p5", "p50", "p95")] == expected.bands.tolist()
    assert len(mc["bands"]["p50"]) == len(trades) + 1 and mc["bands"]["p5"][0] == 10_000


def test_montecarlo_defaults_and_is_reproducible_with_a_seed(api, done):
    job_id, _ = done
    url = f"/api/v1/backtests/{job_id}/montecarlo"
    first = api.get(url).get_json()
    assert (first["resamples"], first["seed"], first["block"]) == (1000, 1, 1)
    assert api.get(url + "?seed=1&resamples=1000").get_json() == first
    other = api.get(url + "?seed=2").get_json()
    assert other["final_equity"] != first["final_equity"]
    assert api.get(url + "?seed=2").get_json() == other


def test_montecarlo_adds_up_pnl_when_stakes_do_not_follow_the_equity(api, db, store, series):
    fixed = {**LONG, "settings": {"cash": 5_000, "sizing": "units", "size": 3}}
    job = api.post("/api/v1/backtests", json=fixed).get_json()
    finish(db, store, job["id"])
    with db.read() as s:
        trades = _closed(results.report_for_backtest(s, job["id"]))
    mc = api.get(f"/api/v1/backtests/{job['id']}/montecarlo?seed=3").get_json()
    expected = montecarlo.bootstrap_pnl(np.array([t["pnl"] for t in trades]), 5_000, 1000,
                                        seed=3)
    assert mc["method"] == "pnl" and mc["initial_cash"] == 5_000
    assert [mc["final_equity"][k] for k in ("p5", "p50", "p95")] == list(expected.final_equity)


@pytest.mark.parametrize(("query", "name"), [
    ("resamples=99", "resamples"), ("resamples=10001", "resamples"), ("resamples=abc", "resamples"),
    ("resamples=1e3", "resamples"), ("seed=-1", "seed"), ("seed=9007199254740992", "seed"),
    ("seed=", "seed"), ("block=0", "block"), ("block=100000", "block"),
    ("block=1000001", "block"), ("block=%201", "block"),
])
def test_bad_montecarlo_query_is_400_naming_the_parameter(api, done, query, name):
    job_id, _ = done
    err = error_of(api.get(f"/api/v1/backtests/{job_id}/montecarlo?{query}"), 400)
    assert err["code"] == "invalid_input" and err["message"].startswith(name), err


def test_montecarlo_of_a_backtest_without_trades_is_422(api, db, store, series):
    job = api.post("/api/v1/backtests", json={**LONG, "symbol": "FLAT"}).get_json()
    finish(db, store, job["id"])
    err = error_of(api.get(f"/api/v1/backtests/{job['id']}/montecarlo"), 422)
    assert err["code"] == "unprocessable" and "closed no trades" in err["message"]


# -- relative metrics ----------------------------------------------------------------------------
def _expected_relative(report, candles):
    time, equity, close = align(report.equity_time, report.equity_value, candles.time,
                                candles.close)
    cal = calendar(time)
    ends = np.flatnonzero(cal.period_end)
    return relative(equity[ends], close[ends], cal.periods_per_year), len(ends) - 1


@pytest.mark.parametrize("benchmark", [None, "LONGER", "OTHER"])
def test_relative_is_the_engines_against_buy_and_hold(api, store, done, benchmark):
    job_id, report = done
    query = "" if benchmark is None else f"?benchmark={benchmark}"
    r = api.get(f"/api/v1/backtests/{job_id}/relative{query}")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    symbol = benchmark or "LONGER"
    candles = store.read(symbol, "1h", "2024-01-01", "2024-01-31")
    expected, observations = _expected_relative(report, candles)
    assert body["benchmark"] == symbol and body["timeframe"] == "1h"
    # hourly bars on every day of the week: daily returns, 365 a year (the sharpe metric's rule)
    assert (body["period"], body["periods_per_year"]) == ("D", 365.0)
    assert body["observations"] == observations == 29
    for key in ("alpha", "beta", "tracking_error", "information_ratio"):
        assert body[key] == getattr(expected, key), key


@pytest.mark.parametrize("benchmark", ["", "nope", "NOSUCH", "LONGER\n", "A" * 40])
def test_bad_benchmark_is_400_naming_it(api, done, benchmark):
    job_id, _ = done
    err = error_of(api.get(f"/api/v1/backtests/{job_id}/relative",
                           query_string={"benchmark": benchmark}), 400)
    assert err["message"].startswith("benchmark"), err


def test_benchmark_without_the_jobs_timeframe_is_400(api, done):
    job_id, _ = done
    err = error_of(api.get(f"/api/v1/backtests/{job_id}/relative?benchmark=DAILY"), 400)
    assert "no 1h candles" in err["message"]


def test_relative_over_too_few_days_is_422(api, db, store):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()  # two days of DEMO
    finish(db, store, job["id"])
    err = error_of(api.get(f"/api/v1/backtests/{job['id']}/relative"), 422)
    assert "at least 3 days" in err["message"]


# -- who may see them ----------------------------------------------------------------------------
def test_another_users_backtest_is_the_same_404_as_result(app, db, done, bob):
    job_id, _ = done
    with db.write() as s:
        as_bob = {"Authorization": f"Bearer {users.create_token(s, bob, 'b')[0]}"}
    c = app.test_client()
    expected = error_of(c.get(f"/api/v1/backtests/{job_id}/result", headers=as_bob), 404)
    for path in ("montecarlo", "montecarlo?seed=3", "relative", "relative?benchmark=OTHER"):
        assert error_of(c.get(f"/api/v1/backtests/{job_id}/{path}", headers=as_bob),
                        404) == expected


def test_unfinished_or_missing_backtest_is_404(api, series):
    job = api.post("/api/v1/backtests", json=LONG).get_json()
    for path in ("montecarlo", "relative"):
        assert error_of(api.get(f"/api/v1/backtests/{job['id']}/{path}"), 404)["code"] == (
            "job_not_found")
        error_of(api.get(f"/api/v1/backtests/999999/{path}"), 404)


# -- the result page -----------------------------------------------------------------------------
def test_the_result_page_shows_the_monte_carlo_and_the_metrics_against_buy_and_hold(
        api, client, done):
    job_id, _ = done
    page = client.get(f"/backtests/{job_id}").get_data(as_text=True)
    mc = api.get(f"/api/v1/backtests/{job_id}/montecarlo").get_json()
    rel = api.get(f"/api/v1/backtests/{job_id}/relative").get_json()

    section = page.split('id="relative"')[1].split("</section>")[0]
    for name in ("Alpha (annualised)", "Beta", "Tracking error", "Information ratio"):
        assert f">{name}</span>" in section
    assert f"{rel['alpha'] * 100:,.2f}%" in section and f">{rel['beta']:,.2f}<" in section
    assert 'title="The annualised return beyond buy-and-hold divided by' in section
    assert "Against buying LONGER and holding it" in section

    section = page.split('id="montecarlo"')[1].split("</section>")[0]
    equity, dd = mc["final_equity"], mc["max_drawdown_pct"]
    assert (f"Drawing these {mc['trades']:,} trades at random, with replacement, 1,000 times"
            in section)
    assert (f"in 90% of the draws the final equity ended between {equity['p5']:,.2f} USD and "
            f"{equity['p95']:,.2f} USD, and in 95% the worst drawdown was no deeper than "
            f"{dd['p5']:,.2f}%.") in section
    for v in (*equity.values(), *dd.values()):
        assert f"{v:,.2f}" in section
    # the fan chart: drawn by a script file (the CSP allows no inline script) from the endpoint
    assert f'id="montecarlo-chart" class="chart small" data-id="{job_id}"' in section
    assert 'data-resamples="1000" data-seed="1"' in section
    assert "js/montecarlo.js" in page and "<script>" not in page


def test_the_result_page_says_why_a_statistic_is_missing(client, api, db, store, series):
    job = api.post("/api/v1/backtests", json={**LONG, "symbol": "FLAT", "end": "2024-01-02"}
                   ).get_json()
    finish(db, store, job["id"])
    page = client.get(f"/backtests/{job['id']}").get_data(as_text=True)
    assert page.count("Not available:") == 2
    assert "closed no trades" in page and "at least 3 days" in page
    assert 'id="montecarlo-chart"' not in page


def test_montecarlo_of_trades_whose_profit_overflowed_is_unprocessable(done):
    """An overflowed trade (units sizing near 1e308) reaches the engine's check, not a 500."""
    job_id, report = done
    job = SimpleNamespace(id=job_id, settings={"sizing": "units", "size": 1.0})
    trades = [dict(t, pnl=float("inf")) if i == 0 else t for i, t in enumerate(report.trades)]
    with pytest.raises(Unprocessable, match="finite"):
        research.monte_carlo(job, replace(report, trades=trades, fingerprint="overflowed"))


def test_the_page_resamples_fewer_times_when_the_trades_are_very_many(done):
    _, report = done
    many = replace(report, trades=report.trades * 1_000)  # some 30,000 trades
    n = sum(1 for t in many.trades if not t["open"])
    assert research.page_resamples(report) == 1_000
    assert research.page_resamples(many) == montecarlo.MAX_VALUES // (n + 1) < 1_000
