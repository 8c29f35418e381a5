"""Nobody reads or touches another user's jobs by guessing ids; revoked tokens die at once; CSRF."""

from __future__ import annotations

import pytest

from quantgrid.db import backtests as bt
from quantgrid.db import sweeps, users
from tests.integration.security.conftest import bearer, browser, page_csrf
from tests.unit.app.conftest import BACKTEST, finish

pytestmark = pytest.mark.integration

SWEEP = {**{k: v for k, v in BACKTEST.items() if k != "params"},
         "grid": {"fast": "5:10:5", "slow": "20,30"}, "metric": "sharpe"}
API_READS = ["/api/v1/backtests/{b}", "/api/v1/backtests/{b}/result", "/api/v1/backtests/{b}/trades",
             "/api/v1/backtests/{b}/equity", "/api/v1/backtests/{b}/candles",
             "/api/v1/sweeps/{s}", "/api/v1/sweeps/{s}/results"]
API_WRITES = ["/api/v1/backtests/{b}/cancel", "/api/v1/sweeps/{s}/cancel"]
PAGE_READS = ["/backtests/{b}", "/backtests/{b}/trades.csv", "/backtests/{b}/equity.csv",
              "/backtests/{b}/result.json", "/backtests/new?from={b}", "/compare?id={b}",
              "/sweeps/{s}"]
PAGE_WRITES = ["/backtests/{b}/cancel", "/sweeps/{s}/cancel"]


@pytest.fixture
def alices_jobs(app, db, store, alice):
    """Alice's finished backtest, her queued backtest and her sweep: (done, queued, sweep) ids."""
    api = bearer(app, alice[1])
    done = api.post("/api/v1/backtests", json=BACKTEST).get_json()["id"]
    finish(db, store, done)
    queued = api.post("/api/v1/backtests", json={**BACKTEST, "params": {"fast": 6, "slow": 21}})
    sweep = api.post("/api/v1/sweeps", json=SWEEP)
    assert queued.status_code == 201 and sweep.status_code == 201, sweep.get_json()
    for path in API_READS:  # alice herself sees every one of them
        r = api.get(path.format(b=done, s=sweep.get_json()["id"]))
        assert r.status_code == 200, (path, r.get_json())
    return done, queued.get_json()["id"], sweep.get_json()["id"]


def _statuses(db, queued: int, sweep: int):
    with db.read() as s:
        return bt.get_backtest(s, queued).status, sweeps.get_sweep(s, sweep).status


def test_another_users_ids_answer_404_like_missing_ones_everywhere(app, db, alices_jobs, bob):
    done, queued, sweep = alices_jobs
    before = _statuses(db, queued, sweep)
    api, page = bearer(app, bob[1]), browser(app, "bob")
    token = page_csrf(page)
    missing = 10**6
    for b, s in ((done, sweep), (queued, sweep), (missing, missing)):
        for path in API_READS:
            r = api.get(path.format(b=b, s=s))
            assert r.status_code == 404, (path, r.status_code)
            assert r.get_json()["error"]["code"].endswith("not_found")
            assert "alice" not in r.get_data(as_text=True)
            # The browser session on the API is refused the same way.
            assert page.get(path.format(b=b, s=s)).status_code == 404, path
        for path in API_WRITES:
            assert api.post(path.format(b=b, s=s)).status_code == 404, path
            r = page.post(path.format(b=b, s=s), headers={"X-CSRFToken": token})
            assert r.status_code == 404, path
        for path in PAGE_READS:
            r = page.get(path.format(b=b, s=s))
            assert r.status_code == 404, (path, r.status_code)
            assert "text/html" in r.content_type
        for path in PAGE_WRITES:
            r = page.post(path.format(b=b, s=s), data={"csrf_token": token})
            assert r.status_code == 404, path
    # Lists never show them either.
    for path in ("/api/v1/jobs", "/api/v1/backtests", "/api/v1/sweeps"):
        assert api.get(path).get_json()["total"] == 0, path
    assert f"/backtests/{done}" not in page.get("/jobs").get_data(as_text=True)
    assert _statuses(db, queued, sweep) == before, "bob's cancel reached alice's jobs"


def test_ids_that_are_not_numbers_are_404_not_errors(app, alice):
    api = bearer(app, alice[1])
    for path in ("/api/v1/backtests/-1", "/api/v1/backtests/1%20OR%201=1",
                 "/api/v1/backtests/99999999999999999999999", "/api/v1/sweeps/0x1",
                 "/backtests/1'--"):
        assert api.get(path).status_code == 404, path


def test_a_revoked_token_stops_working_on_the_very_next_request(app, db, alice):
    page = browser(app, "alice")
    new = page.post("/account", data={"name": "laptop", "csrf_token": page_csrf(page, "/account")})
    assert new.status_code == 200
    with db.read() as s:
        (row,) = [t for t in users.list_tokens(s, alice[0]) if t.name == "laptop"]
    html = new.get_data(as_text=True)
    token = next(w for w in html.replace("<", " ").replace(">", " ").split()
                 if w.startswith(row.prefix))
    api = bearer(app, token)
    assert api.get("/api/v1/me").status_code == 200
    r = page.post(f"/account/tokens/{row.id}/revoke",
                  data={"csrf_token": page_csrf(page, "/account")})
    assert r.status_code == 302
    r = api.get("/api/v1/me")
    assert r.status_code == 401 and "revoked" in r.get_json()["error"]["message"]
    assert api.post("/api/v1/backtests", json=BACKTEST).status_code == 401
    # The other token of hers still works: revoking one is not signing out everywhere.
    assert bearer(app, alice[1]).get("/api/v1/me").status_code == 200


def test_nobody_revokes_another_users_token(app, db, alice, bob):
    with db.read() as s:
        (alices,) = users.list_tokens(s, alice[0])
    page = browser(app, "bob")
    r = page.post(f"/account/tokens/{alices.id}/revoke",
                  data={"csrf_token": page_csrf(page, "/account")})
    assert r.status_code == 404
    assert bearer(app, alice[1]).get("/api/v1/me").status_code == 200


@pytest.mark.parametrize(("path", "data"), [
    ("/backtests/new", {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
                        "start": "2024-01-01", "end": "2024-01-03"}),
    ("/sweeps/new", {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
                     "start": "2024-01-01", "end": "2024-01-03", "g.sma_cross.fast": "5,6"}),
    ("/account", {"name": "sneaky"}),
    ("/account/tokens/1/revoke", {}),
    ("/backtests/1/cancel", {}),
    ("/sweeps/1/cancel", {}),
    ("/logout", {}),
])
def test_form_posts_without_the_csrf_token_are_refused(app, alice, pg_intact, path, data):
    page = browser(app, "alice")
    for extra in ({}, {"csrf_token": "forged"}):
        r = page.post(path, data={**data, **extra})
        assert r.status_code == 400, (path, r.status_code)
        assert "CSRF" in r.get_data(as_text=True)
    assert page.get("/api/v1/me").status_code == 200, "the refused post signed the user out"


def test_api_with_a_session_cookie_needs_the_csrf_header(app, alice, pg_intact):
    page = browser(app, "alice")
    r = page.post("/api/v1/backtests", json=BACKTEST)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    r = page.post("/api/v1/backtests", json=BACKTEST, headers={"X-CSRFToken": "forged"})
    assert r.status_code == 400
