"""The JSON API through the live Gunicorn: create, poll, results, cancel, and ownership."""

from __future__ import annotations

import pytest

from tests.e2e.web.conftest import SYMBOL, drained, wait_for

pytestmark = pytest.mark.e2e

BACKTEST = {
    "strategy": "sma_cross", "params": {"fast": 10, "slow": 30},
    "symbol": SYMBOL, "timeframe": "15m", "start": "2020-01-01", "end": "2020-01-15",
    "settings": {"cash": 10_000, "commission": 0.001},
}


def _finished(session, url):
    def check():
        job = session.get(url, timeout=10).json()
        return job if job["status"] not in ("queued", "running") else None

    return check


def test_backtest_create_poll_result_trades_equity(stack):
    s = stack.alice.session()
    r = s.post(f"{stack.api}/backtests", json=BACKTEST, timeout=10)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "queued"
    assert r.headers["Location"] == f"/api/v1/backtests/{job['id']}"
    url = f"{stack.api}/backtests/{job['id']}"
    done = wait_for(_finished(s, url), what=f"backtest {job['id']} to finish")
    assert done["status"] == "succeeded", done

    result = s.get(f"{url}/result", timeout=10).json()
    trades = s.get(f"{url}/trades", timeout=10).json()["items"]
    equity = s.get(f"{url}/equity", timeout=10).json()
    assert trades == result["trades"]
    # The metrics count closed trades; at most the last one is still open at the end.
    closed = [t for t in trades if not t["open"]]
    assert result["metrics"]["trades"] == len(closed) > 0
    assert len(trades) - len(closed) <= 1
    # 14 days of 15m bars: one equity point per bar, starting at the cash.
    assert len(equity["time"]) == len(equity["equity"]) == 14 * 96
    assert equity["equity"][0] == pytest.approx(10_000)
    assert equity["equity"][-1] == pytest.approx(result["metrics"]["equity_final"])

    # The finished job is listed, newest first, and cancelling it changes nothing.
    listed = s.get(f"{stack.api}/backtests", params={"limit": 100}, timeout=10).json()
    assert job["id"] in [j["id"] for j in listed["items"]]
    r = s.post(f"{url}/cancel", timeout=10)
    assert r.status_code in (200, 409), r.text
    assert s.get(url, timeout=10).json()["status"] == "succeeded"


def test_cancel_a_queued_backtest(stack):
    s = stack.alice.session()
    with drained(stack):
        queued = s.post(f"{stack.api}/backtests", json=BACKTEST, timeout=10).json()
        r = s.post(f"{stack.api}/backtests/{queued['id']}/cancel", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
    # The next job is delivered after the cancelled one's message: once it has finished, the
    # worker has met the cancelled job and skipped it.
    after = s.post(f"{stack.api}/backtests", json=BACKTEST, timeout=10).json()
    done = wait_for(_finished(s, f"{stack.api}/backtests/{after['id']}"), what="the next backtest")
    assert done["status"] == "succeeded", done
    job = s.get(f"{stack.api}/backtests/{queued['id']}", timeout=10).json()
    assert job["status"] == "cancelled" and job["attempts"] == 0, job
    r = s.get(f"{stack.api}/backtests/{queued['id']}/result", timeout=10)
    assert r.status_code in (404, 409), r.text
    assert r.json()["error"]["code"]


def test_another_users_jobs_answer_404(stack):
    alice, bob = stack.alice.session(), stack.bob.session()
    job = alice.post(f"{stack.api}/backtests", json=BACKTEST, timeout=10).json()
    url = f"{stack.api}/backtests/{job['id']}"
    wait_for(_finished(alice, url), what="alice's backtest")
    for path in ("", "/result", "/trades", "/equity", "/candles"):
        r = bob.get(url + path, timeout=10)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"].endswith("not_found")
    assert bob.post(f"{url}/cancel", timeout=10).status_code == 404
    assert job["id"] not in [j["id"] for j in bob.get(f"{stack.api}/jobs", timeout=10).json()["items"]]
    assert alice.get(url, timeout=10).status_code == 200


def test_bad_token_and_invalid_input_answer_json_errors(stack):
    r = stack.alice.session().post(f"{stack.api}/backtests",
                                   json={**BACKTEST, "params": {"fast": 50, "slow": 10}}, timeout=10)
    assert r.status_code == 422 or r.status_code == 400, r.text
    assert r.json()["error"]["code"]
    bad = stack.alice.session()
    bad.headers["Authorization"] = "Bearer qg_not_a_token"
    r = bad.get(f"{stack.api}/backtests", timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"]
