"""The HTML pages: sign in/out, forms with their field errors, results, downloads, security."""

from __future__ import annotations

import csv
import io
import re

import pytest

from app.config import persistent_secret_key
from tests.unit.app.conftest import BACKTEST, csrf_of, finish, sign_in

FORM = {"strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h", "start": "2024-01-01",
        "end": "2024-01-03", "p.sma_cross.fast": "5", "p.sma_cross.slow": "20",
        "settings.cash": "10000", "settings.commission": "0.001"}


def post_form(client, path, data):
    token = csrf_of(client.get(path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def test_pages_need_sign_in(app):
    c = app.test_client()
    for path in ("/jobs", "/backtests/new", "/sweeps/new", "/compare", "/account",
                 "/backtests/1", "/sweeps/1"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


def test_wrong_password_and_missing_fields(app, alice):
    c = app.test_client()
    assert sign_in(c, "alice", "wrong password").status_code == 401
    assert sign_in(c, "nobody", "whatever1").status_code == 401
    r = post_form(c, "/login", {"username": "", "password": ""})
    assert r.status_code == 400 and "field-error" in r.get_data(as_text=True)


def test_login_without_csrf_is_refused(app, alice):
    r = app.test_client().post("/login", data={"username": "alice", "password": "x" * 9})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


def test_session_cookie_flags_and_security_headers(app, alice):
    c = app.test_client()
    r = sign_in(c)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = c.get("/jobs")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"]


def test_secure_cookie_behind_https(settings, store, db, alice):
    from dataclasses import replace

    from app import create_app

    app = create_app({"QG_SETTINGS": replace(settings, session_cookie_secure=True),
                      "QG_DATABASE": db, "QG_CANDLE_STORE": store})
    assert "Secure" in sign_in(app.test_client()).headers["Set-Cookie"]


def test_secret_key_is_generated_once_and_kept(tmp_path):
    key = persistent_secret_key(tmp_path)
    assert len(key) == 64 and persistent_secret_key(tmp_path) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_logout_needs_post_and_signs_out(client):
    assert client.get("/logout").status_code == 405
    r = post_form(client, "/jobs", {})  # any page carries the token in its sign-out form
    assert r.status_code == 405
    token = csrf_of(client.get("/jobs").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/jobs").status_code == 302


def test_open_redirect_is_refused(app, alice):
    c = app.test_client()
    token = csrf_of(c.get("/login").get_data(as_text=True))
    r = c.post("/login?next=//evil.example/", data={"username": "alice",
                                                   "password": "correct horse battery",
                                                   "csrf_token": token})
    assert r.headers["Location"] == "/jobs"


def test_backtest_form_lists_strategies_fields_and_series(client):
    html = client.get("/backtests/new").get_data(as_text=True)
    assert 'name="p.sma_cross.fast"' in html and 'name="p.donchian_breakout.' in html
    assert '<option value="DEMO"' in html and 'data-timeframes="1m,5m' in html
    assert 'name="settings.stop_loss"' in html


def test_backtest_form_submits_and_shows_the_job(client):
    r = post_form(client, "/backtests/new", FORM)
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "queued" in page and 'id="progress"' in page
    jobs = client.get("/jobs").get_data(as_text=True)
    assert 'data-kind="backtest"' in jobs and "sma_cross" in jobs


@pytest.mark.parametrize(
    ("change", "field"),
    [({"p.sma_cross.fast": "0"}, "params.fast"), ({"p.sma_cross.fast": "50"}, "params.fast"),
     ({"symbol": "NOPE"}, "symbol"), ({"start": "2024-02-30"}, "start"),
     ({"end": "2023-01-01"}, "end"), ({"settings.cash": "-1"}, "settings.cash"),
     ({"settings.slippage": "abc"}, "settings.slippage"), ({"timeframe": "3m"}, "timeframe"),
     ({"strategy": "nope"}, "strategy")],
)
def test_backtest_form_errors_show_next_to_fields(client, change, field):
    r = post_form(client, "/backtests/new", {**FORM, **change})
    assert r.status_code == 400
    assert f'data-field="{field}"' in r.get_data(as_text=True)


def test_backtest_form_quota_message(client, settings):
    for _ in range(settings.quota_max_queued_jobs):
        assert post_form(client, "/backtests/new", FORM).status_code == 302
    r = post_form(client, "/backtests/new", FORM)
    assert r.status_code == 429 and "limit is 10" in r.get_data(as_text=True)


def test_result_page_downloads_and_run_again(client, api, db, store):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    finish(db, store, job["id"])
    page = client.get(f"/backtests/{job['id']}").get_data(as_text=True)
    assert 'id="price-chart"' in page and "lightweight-charts.standalone" in page
    assert "Sharpe ratio" in page and "trades.csv" in page
    trades = list(csv.DictReader(io.StringIO(
        client.get(f"/backtests/{job['id']}/trades.csv").get_data(as_text=True))))
    result = api.get(f"/api/v1/backtests/{job['id']}/result").get_json()
    assert len(trades) == len(result["trades"]) > 0
    equity = client.get(f"/backtests/{job['id']}/equity.csv")
    assert equity.mimetype == "text/csv" and equity.get_data(as_text=True).startswith(
        "time,equity,drawdown_pct\n")
    whole = client.get(f"/backtests/{job['id']}/result.json").get_json()
    assert whole["result"]["metrics"] == result["metrics"]
    again = client.get(f"/backtests/new?from={job['id']}").get_data(as_text=True)
    assert 'name="p.sma_cross.slow" step="1" min="2" max="1000" value="20"' in again or (
        'value="20"' in again)


def test_another_users_pages_are_404(app, api, bob):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    c = app.test_client()
    sign_in(c, "bob")
    for path in ("", "/trades.csv", "/equity.csv", "/result.json"):
        r = c.get(f"/backtests/{job['id']}{path}")
        assert r.status_code == 404 and "<h1>404</h1>" in r.get_data(as_text=True)
    assert c.get(f"/backtests/new?from={job['id']}").status_code == 404
    assert 'data-kind="backtest"' not in c.get("/jobs").get_data(as_text=True)


def test_cancel_from_the_page(client, api):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    token = csrf_of(client.get(f"/backtests/{job['id']}").get_data(as_text=True))
    client.post(f"/backtests/{job['id']}/cancel", data={"csrf_token": token})
    assert api.get(f"/api/v1/backtests/{job['id']}").get_json()["status"] == "cancelled"


SWEEP_FORM = {**{k: v for k, v in FORM.items() if not k.startswith("p.")},
              "g.sma_cross.fast": "5:20:5", "g.sma_cross.slow": "20,40", "metric": "sharpe"}


def test_sweep_form_submits_and_shows_the_sweep(client):
    html = client.get("/sweeps/new").get_data(as_text=True)
    assert 'name="g.sma_cross.fast"' in html and 'id="combinations"' in html
    r = post_form(client, "/sweeps/new", SWEEP_FORM)
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="heatmap"' in page and "7 combinations" in page


def test_a_random_search_from_the_sweep_form_shows_its_seed(client):
    form = {**SWEEP_FORM, "g.sma_cross.fast": "2:5000:1", "g.sma_cross.slow": "3:5001:1",
            "search": "random", "trials": "9", "seed": "77"}
    r = post_form(client, "/sweeps/new", form)
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "a random search of 9 combinations" in page and '<span id="search-seed">77</span>' in page
    r = post_form(client, "/sweeps/new", {**form, "trials": "nine"})
    assert r.status_code == 400 and 'data-field="trials"' in r.get_data(as_text=True)


def test_sweep_form_errors_and_quota(client):
    r = post_form(client, "/sweeps/new", {**SWEEP_FORM, "g.sma_cross.fast": "5:x:5"})
    assert r.status_code == 400 and 'data-field="grid.fast"' in r.get_data(as_text=True)
    big = {**SWEEP_FORM, "g.sma_cross.fast": "1:40:1", "g.sma_cross.slow": "41:50:1"}
    r = post_form(client, "/sweeps/new", big)
    assert r.status_code == 429 and "limit is 100" in r.get_data(as_text=True)


def test_compare_page(client, api, db, store):
    a = api.post("/api/v1/backtests", json=BACKTEST).get_json()["id"]
    b = api.post("/api/v1/backtests", json={**BACKTEST, "params": {"fast": 3, "slow": 10}}
                 ).get_json()["id"]
    finish(db, store, a)
    finish(db, store, b)
    page = client.get(f"/compare?id={a}&id={b}").get_data(as_text=True)
    assert f'data-ids="{a},{b}"' in page
    # The result page's names, explanations and formats, not the engine's keys and %.4g.
    table = page.split('id="compare-metrics"')[1].split("</table>")[0]
    for name in ("Sharpe ratio", "Total return", "Max. drawdown duration", "Peak equity"):
        assert f">{name}</span>" in table
    for key in ("sharpe", "return_pct", "max_drawdown_duration_s", "equity_peak"):
        assert f">{key}<" not in table
    assert "e+0" not in table and re.search(r">-?[\d,]+\.\d\d%</td>", table)
    assert re.search(r">\d+ (d|h|min)", table)  # durations in days, hours or minutes
    assert client.get("/compare?id=x").status_code == 400
    assert client.get(f"/compare?id={a}&id=999").status_code == 404


def test_account_tokens_create_and_revoke(client, app):
    r = post_form(client, "/account", {"name": "laptop"})
    html = r.get_data(as_text=True)
    token = html.split('id="new-token">')[1].split("<")[0]
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert post_form(client, "/account", {"name": ""}).status_code == 400
    page = client.get("/account").get_data(as_text=True)
    revoke = next(a.split('"')[0] for a in page.split('action="') if "/revoke" in a[:60])
    client.post(revoke, data={"csrf_token": csrf_of(page)})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_health_and_ready(app):
    c = app.test_client()
    assert c.get("/healthz").get_json() == {"status": "ok"}
    r = c.get("/readyz")
    assert r.status_code == 200 and r.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_ready_is_503_when_the_database_is_gone(settings, store, tmp_path):
    from dataclasses import replace

    from app import create_app

    bad = replace(settings, database_url=f"sqlite:///{tmp_path}/missing/dir/x.db")
    app = create_app({"QG_SETTINGS": bad, "QG_CANDLE_STORE": store})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.get_json()["checks"]["database"].startswith("unavailable")


def test_database_unavailable_is_503_with_retry_after(app, api, monkeypatch):
    from quantgrid.db.errors import DatabaseUnavailable

    def down(*_a, **_k):
        raise DatabaseUnavailable()

    monkeypatch.setattr(app.extensions["quantgrid"]["db"], "run_read", down)
    r = api.get("/api/v1/backtests")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.get_json()["error"]["code"] == "database_unavailable"
