"""The JSON API: auth, submission and its validation errors, ownership, results, OpenAPI."""

from __future__ import annotations

import re

import pytest

from app.api import bp
from app.api.openapi import document
from quantgrid.db import users
from tests.unit.app.conftest import BACKTEST, finish


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]


def test_no_token_is_401_json(app):
    err = error_of(app.test_client().get("/api/v1/backtests"), 401)
    assert err["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer qg_not-a-token", "Basic abc", "Bearer "])
def test_bad_authorization_header_is_401(app, header):
    r = app.test_client().get("/api/v1/me", headers={"Authorization": header})
    error_of(r, 401)


def test_revoked_token_is_refused(app, db, alice, token):
    c = app.test_client()
    assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with db.write() as s:
        users.revoke_token(s, alice, users.list_tokens(s, alice)[0].id)
    error_of(c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_tokens_are_stored_hashed(db, alice, token):
    with db.read() as s:
        row = users.list_tokens(s, alice)[0]
    assert token not in (row.token_hash, row.prefix) and row.token_hash == users.hash_token(token)


def test_me_strategies_symbols(api):
    assert api.get("/api/v1/me").get_json()["username"] == "alice"
    names = [s["name"] for s in api.get("/api/v1/strategies").get_json()["items"]]
    assert "sma_cross" in names
    (demo,) = api.get("/api/v1/symbols").get_json()["items"]
    assert demo["symbol"] == "DEMO" and {"1m", "1h", "1d"} <= set(demo["timeframes"])


def test_submit_show_list_backtest(api):
    r = api.post("/api/v1/backtests", json=BACKTEST)
    assert r.status_code == 201, r.get_json()
    job = r.get_json()
    assert job["status"] == "queued" and job["params"] == {"fast": 5, "slow": 20}
    assert job["settings"]["commission"] == 0.001 and r.headers["Location"].endswith(
        f"/backtests/{job['id']}")
    assert api.get(f"/api/v1/backtests/{job['id']}").get_json()["id"] == job["id"]
    page = api.get("/api/v1/backtests?limit=5").get_json()
    assert page["total"] == 1 and page["items"][0]["id"] == job["id"]
    assert api.get("/api/v1/jobs").get_json()["items"][0]["kind"] == "backtest"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"strategy": None}, "strategy"),
        ({"symbol": "NOPE"}, "symbol"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"timeframe": ""}, "timeframe"),
        ({"start": "yesterday"}, "start"),
        ({"start": 5}, "start"),
        ({"end": ""}, "end"),
        ({"end": "2023-12-01"}, "end"),
        ({"start": "2030-01-01", "end": "2030-02-01"}, "start"),
        ({"params": {"fast": 0}}, "params.fast"),
        ({"params": {"fast": "x"}}, "params.fast"),
        ({"params": {"fast": 30, "slow": 20}}, "params.fast"),
        ({"params": {"bogus": 1}}, "params.bogus"),
        ({"params": [1]}, "params"),
        ({"settings": {"cash": -5}}, "settings.cash"),
        ({"settings": {"cash": "lots"}}, "settings.cash"),
        ({"settings": {"commission": 2}}, "settings.commission"),
        ({"settings": {"direction": "sideways"}}, "settings.direction"),
        ({"settings": {"leverage": 3}}, "settings.leverage"),
        ({"settings": {"fractional": "maybe"}}, "settings.fractional"),
        ({"settings": "cheap"}, "settings"),
    ],
)
def test_each_validation_error_names_its_field(api, change, field):
    err = error_of(api.post("/api/v1/backtests", json={**BACKTEST, **change}), 400)
    assert err["code"] == "form_invalid"
    assert field in err["fields"], err


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_body_must_be_a_json_object(api, body):
    r = api.post("/api/v1/backtests", data=body, content_type="application/json")
    assert error_of(r, 400)["code"] == "invalid_input"


def test_too_large_request_is_413(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = api.post("/api/v1/backtests", json={**BACKTEST, "pad": "x" * 5000})
    assert error_of(r, 413)["code"] == "request_entity_too_large"


def test_queued_job_quota_is_429(api, settings):
    for _ in range(settings.quota_max_queued_jobs):
        assert api.post("/api/v1/backtests", json=BACKTEST).status_code == 201
    err = error_of(api.post("/api/v1/backtests", json=BACKTEST), 429)
    assert err["code"] == "quota_exceeded" and "limit is 10" in err["message"]


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "limit=1000", "offset=-1",
                                   "status=bogus"])
def test_bad_list_arguments_are_400(api, query):
    error_of(api.get(f"/api/v1/backtests?{query}"), 400)


def test_another_users_job_is_404_and_admin_sees_it(app, db, api, bob, admin):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    with db.write() as s:
        bob_token = users.create_token(s, bob, "b")[0]
        root_token = users.create_token(s, admin, "r")[0]
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    c = app.test_client()
    for path in ("", "/result", "/trades", "/equity", "/candles"):
        assert error_of(c.get(f"/api/v1/backtests/{job['id']}{path}", headers=as_bob),
                        404)["code"] == "job_not_found"
    error_of(c.post(f"/api/v1/backtests/{job['id']}/cancel", headers=as_bob), 404)
    assert c.get("/api/v1/backtests", headers=as_bob).get_json()["total"] == 0
    as_root = {"Authorization": f"Bearer {root_token}"}
    assert c.get(f"/api/v1/backtests/{job['id']}", headers=as_root).status_code == 200
    assert c.get("/api/v1/backtests", headers=as_root).get_json()["total"] == 1


def test_cancel_then_cancel_again_is_409(api):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    r = api.post(f"/api/v1/backtests/{job['id']}/cancel")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert error_of(api.post(f"/api/v1/backtests/{job['id']}/cancel"), 409)["code"] == (
        "invalid_transition")


def test_result_trades_equity_candles(api, db, store):
    job = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    error_of(api.get(f"/api/v1/backtests/{job['id']}/result"), 404)
    finish(db, store, job["id"])
    result = api.get(f"/api/v1/backtests/{job['id']}/result").get_json()
    assert result["metrics"]["trades"] + result["metrics"]["open_trades"] == len(result["trades"]) > 0
    equity = api.get(f"/api/v1/backtests/{job['id']}/equity").get_json()
    assert len(equity["time"]) == len(equity["equity"]) == len(equity["drawdown_pct"]) > 40
    assert equity["equity"][0] == 10000 and max(d for d in equity["drawdown_pct"]) <= 0
    assert api.get(f"/api/v1/backtests/{job['id']}/trades").get_json()["items"] == (
        result["trades"])
    candles = api.get(f"/api/v1/backtests/{job['id']}/candles").get_json()
    assert len(candles["time"]) == 48 and candles["time"][0] == 1_704_067_200


SWEEP = {**BACKTEST, "grid": {"fast": "5:20:5", "slow": [20, 40]}, "metric": "return_pct"}


def test_sweep_preview_counts_and_drops(api):
    r = api.post("/api/v1/sweeps/preview", json=SWEEP).get_json()
    assert r["combinations"] == 7 and r["dropped"] == 1 and r["allowed"]


def test_sweep_preview_over_quota_is_not_allowed(api):
    r = api.post("/api/v1/sweeps/preview", json={**SWEEP, "grid": {"fast": "1:40:1",
                                                                   "slow": "41:50:1"}})
    body = r.get_json()
    assert body["combinations"] == 400 and not body["allowed"] and body["max_sweep_size"] == 100


def test_sweep_create_list_show_results_cancel(api):
    r = api.post("/api/v1/sweeps", json=SWEEP)
    assert r.status_code == 201, r.get_json()
    sweep = r.get_json()
    assert sweep["total"] == 7 and sweep["metric"] == "return_pct"
    assert api.get("/api/v1/sweeps").get_json()["items"][0]["id"] == sweep["id"]
    assert api.get(f"/api/v1/sweeps/{sweep['id']}").get_json()["status"] == "queued"
    res = api.get(f"/api/v1/sweeps/{sweep['id']}/results").get_json()
    assert len(res["items"]) == 7 and res["items"][0]["metrics"] == {}
    assert api.post(f"/api/v1/sweeps/{sweep['id']}/cancel").get_json()["status"] == "cancelled"


@pytest.mark.parametrize(("path", "body"), [("backtests", BACKTEST), ("sweeps", SWEEP)])
def test_a_retried_submission_is_the_same_job(api, path, body):
    """NGINX retries a POST that died with its instance under the same X-Request-Id."""
    def submit(request_id):
        r = api.post(f"/api/v1/{path}", json=body, headers={"X-Request-Id": request_id})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    first = submit("r" * 32)
    assert submit("r" * 32) == first and submit("s" * 32) != first
    assert api.get(f"/api/v1/{path}").get_json()["total"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [({"grid": {}}, "grid"), ({"grid": "fast=1"}, "grid"), ({"grid": {"fast": True}}, "grid.fast"),
     ({"grid": {"fast": "1:x:1"}}, "grid.fast"), ({"grid": {"fast": "0:5:1"}}, "grid.fast"),
     ({"grid": {"bogus": "1,2"}}, "grid.bogus"), ({"metric": "luck"}, "metric"),
     ({"metric": None}, "metric"), ({"metric": ["sharpe"]}, "metric")],
)
def test_sweep_validation_errors(api, change, field):
    err = error_of(api.post("/api/v1/sweeps", json={**SWEEP, **change}), 400)
    assert field in err["fields"], err


def test_a_random_search_sweep_keeps_its_trials_and_seed(api):
    body = {**SWEEP, "grid": {"fast": "1:99999:1", "slow": "2:100000:1"}, "search": "random",
            "trials": 30}
    preview = api.post("/api/v1/sweeps/preview", json={**body, "seed": 5}).get_json()
    assert preview["combinations"] == 30 and preview["allowed"]
    assert preview["search"] == {"method": "random", "trials": 30, "seed": 5}
    r = api.post("/api/v1/sweeps", json=body)
    assert r.status_code == 201, r.get_json()
    sweep = r.get_json()
    search = sweep["search"]
    assert sweep["total"] == 30 and search["method"] == "random" and search["trials"] == 30
    assert api.get(f"/api/v1/sweeps/{sweep['id']}").get_json()["search"] == search
    drawn = [row["params"] for row in
             api.get(f"/api/v1/sweeps/{sweep['id']}/results").get_json()["items"]]
    again = api.post("/api/v1/sweeps", json={**body, "seed": search["seed"]}).get_json()
    assert [row["params"] for row in api.get(
        f"/api/v1/sweeps/{again['id']}/results").get_json()["items"]] == drawn
    assert api.post("/api/v1/sweeps", json=SWEEP).get_json()["search"] == {"method": "grid"}


@pytest.mark.parametrize(
    ("change", "field"),
    [({"search": "bayes"}, "search"), ({"search": "random"}, "trials"),
     ({"search": "random", "trials": 0}, "trials"), ({"search": "random", "trials": "x"}, "trials"),
     ({"search": "random", "trials": 5, "seed": -1}, "seed"),
     ({"search": "random", "trials": 5, "seed": 2**53}, "seed"),
     ({"trials": 5}, "trials"), ({"search": "random", "trials": 100}, "grid")],
)
def test_random_search_validation_errors(api, change, field):
    err = error_of(api.post("/api/v1/sweeps", json={**SWEEP, **change}), 400)
    assert field in err["fields"], err


def test_sweep_over_quota_is_429(api):
    body = {**SWEEP, "grid": {"fast": "1:40:1", "slow": "41:50:1"}}
    assert "400 parameter combinations" in error_of(api.post("/api/v1/sweeps", json=body),
                                                    429)["message"]


def test_openapi_describes_exactly_the_routes(app, api):
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc == document() and doc["openapi"].startswith("3.")
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(bp.name + ".") and rule.endpoint != "api.openapi":
            path = rule.rule.removeprefix("/api/v1").replace("<id:job_id>", "{backtest_id}")
            path = path.replace("<id:sweep_id>", "{sweep_id}")
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    described = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes == described


def test_openapi_loads_in_schemathesis_with_every_operation():
    import schemathesis

    schema = schemathesis.openapi.from_dict(document())
    ops = [op.ok() for op in schema.get_all_operations()]
    assert len(ops) == sum(len(v) for v in document()["paths"].values())


def test_session_api_post_needs_csrf(client):
    r = client.post("/api/v1/backtests", json=BACKTEST)
    assert error_of(r, 400)["code"] == "csrf_failed"
