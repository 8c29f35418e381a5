"""The strategies users write, through the API: check, save, version, list, show, delete, and
backtests and sweeps of a saved or inline strategy, run as a worker runs them."""

from __future__ import annotations

import pytest

from engine.lang import example
from quantgrid.db import sweeps, users
from quantgrid.jobs import run
from tests.unit.app.conftest import BACKTEST, finish
from tests.unit.app.test_api import error_of

SOURCE = example("sma_cross")
BROKEN = SOURCE.replace("sma(close, fast)", "smaa(close, fast)")


def _save(api, name="my_cross", source=SOURCE):
    r = api.post("/api/v1/strategies", json={"name": name, "source": source})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_check_gives_the_parameters_or_each_problem_at_its_line(api):
    ok = api.post("/api/v1/strategy-check", json={"source": SOURCE}).get_json()
    assert [p["name"] for p in ok["params"]] == ["fast", "slow"] and ok["source_hash"]
    err = error_of(api.post("/api/v1/strategy-check", json={"source": BROKEN}), 400)
    (problem,) = err["problems"]
    line = next(n for n, text in enumerate(BROKEN.splitlines(), 1) if "smaa" in text)
    assert problem["line"] == line and "smaa" in problem["message"]
    assert err["message"].startswith(f"line {line}, column {problem['column']}:")


def test_save_list_show_version_and_delete(api):
    saved = _save(api)
    assert saved["version"] == 1 and saved["source"] == SOURCE
    error_of(api.post("/api/v1/strategies", json={"name": "my_cross", "source": SOURCE}), 409)
    items = api.get("/api/v1/strategies").get_json()["items"]
    assert {"sma_cross", "my_cross"} <= {i["name"] for i in items}
    mine = next(i for i in items if i["name"] == "my_cross")
    assert mine["saved"] and "source" not in mine

    changed = SOURCE.replace("default=20", "default=30") if "default=20" in SOURCE else SOURCE + "\n"
    r = api.post("/api/v1/strategies/my_cross/versions", json={"source": changed})
    assert r.status_code == 201 and r.get_json()["version"] == 2
    shown = api.get("/api/v1/strategies/my_cross").get_json()
    assert shown["version"] == 2 and [v["version"] for v in shown["versions"]] == [2, 1]
    assert api.get("/api/v1/strategies/my_cross/versions/1").get_json()["source"] == SOURCE

    assert api.delete("/api/v1/strategies/my_cross").get_json()["deleted_versions"] == 2
    error_of(api.get("/api/v1/strategies/my_cross"), 404)
    assert "my_cross" not in {i["name"] for i in api.get("/api/v1/strategies").get_json()["items"]}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "sma_cross", "source": SOURCE}, 400),  # a built-in's name
        ({"name": "1bad", "source": SOURCE}, 400),
        ({"name": "ok", "source": ""}, 400),
        ({"name": "ok", "source": BROKEN}, 400),
        ({"name": "ok", "source": "x = 1\n" * 5000}, 429),  # over the size limit
    ],
)
def test_a_strategy_that_cannot_be_saved_says_why(api, body, status):
    error_of(api.post("/api/v1/strategies", json=body), status)


def test_the_number_of_saved_strategies_is_a_quota(app, api):
    limit = app.config["QG_SETTINGS"].quota_max_strategies
    for k in range(limit):
        _save(api, f"s{k}")
    assert "limit" in error_of(api.post("/api/v1/strategies", json={"name": "one_more",
                                                                    "source": SOURCE}), 429)["message"]


def test_another_users_strategy_is_404_and_an_admin_reads_it(app, db, api, bob, admin):
    _save(api)
    with db.write() as s:
        bob_token = users.create_token(s, bob, "t")[0]
        admin_token = users.create_token(s, admin, "t")[0]
        alice_id = users.get_user_by_name(s, "alice").id
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {bob_token}"
    error_of(other.get("/api/v1/strategies/my_cross"), 404)
    error_of(other.get(f"/api/v1/strategies/my_cross?owner={alice_id}"), 404)
    body = {**BACKTEST, "strategy": "my_cross"}
    assert error_of(other.post("/api/v1/backtests", json=body), 400)["fields"]["strategy"]
    boss = app.test_client()
    boss.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token}"
    assert boss.get(f"/api/v1/strategies/my_cross?owner={alice_id}").get_json()["source"] == SOURCE
    assert "my_cross" in {i["name"] for i in boss.get("/api/v1/strategies?all=1").get_json()["items"]}


def test_a_backtest_of_a_saved_strategy_runs_it_and_shows_its_source(api, db, store):
    version = _save(api)
    r = api.post("/api/v1/backtests", json={**BACKTEST, "strategy": "my_cross"})
    assert r.status_code == 201, r.get_json()
    job = r.get_json()
    assert job["strategy"] == "my_cross" and job["strategy_version_id"] == version["id"]
    finish(db, store, job["id"])
    mine = api.get(f"/api/v1/backtests/{job['id']}/result").get_json()["metrics"]
    builtin = api.post("/api/v1/backtests", json=BACKTEST).get_json()
    finish(db, store, builtin["id"])
    theirs = api.get(f"/api/v1/backtests/{builtin['id']}/result").get_json()["metrics"]
    assert mine == theirs  # the built-in, written in the language: the same trades and equity
    shown = api.get(f"/api/v1/strategy-versions/{job['strategy_version_id']}").get_json()
    assert shown["source"] == SOURCE


def test_a_new_version_is_another_result_and_an_old_job_keeps_its_version(api, db, store):
    first = _save(api)
    job = api.post("/api/v1/backtests", json={**BACKTEST, "strategy": "my_cross"}).get_json()
    second = api.post("/api/v1/strategies/my_cross/versions",
                      json={"source": SOURCE + "\n# v2\n"}).get_json()  # fmt: skip
    again = api.post("/api/v1/backtests", json={**BACKTEST, "strategy": "my_cross"}).get_json()
    pinned = api.post("/api/v1/backtests", json={**BACKTEST, "strategy": "my_cross",
                                                 "strategy_version": 1}).get_json()  # fmt: skip
    assert (job["strategy_version_id"], again["strategy_version_id"],
            pinned["strategy_version_id"]) == (first["id"], second["id"], first["id"])
    for j in (job, again):
        finish(db, store, j["id"])
    fingerprints = {api.get(f"/api/v1/backtests/{j['id']}").get_json()["result_fingerprint"]
                    for j in (job, again)}  # fmt: skip
    assert len(fingerprints) == 2  # the source hash is part of the fingerprint


def test_inline_source_runs_and_is_kept_once_per_source(api, db, store):
    body = {**BACKTEST, "source": SOURCE}
    body.pop("strategy")
    first = api.post("/api/v1/backtests", json=body).get_json()
    second = api.post("/api/v1/backtests", json=body).get_json()
    assert first["strategy_version_id"] == second["strategy_version_id"] is not None
    finish(db, store, first["id"])
    assert api.get(f"/api/v1/backtests/{first['id']}").get_json()["status"] == "succeeded"
    err = error_of(api.post("/api/v1/backtests", json={**body, "source": BROKEN}), 400)
    assert err["problems"] and "smaa" in err["problems"][0]["message"]


def test_a_sweep_of_a_saved_strategy_runs_through_the_sweep_kernel(api, db, store, settings):
    _save(api)
    sweep = {**BACKTEST, "strategy": "my_cross", "grid": {"fast": "5:15:5", "slow": [20, 40]},
             "metric": "return_pct"}
    r = api.post("/api/v1/sweeps", json=sweep)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    res = run.Resources(db, lambda: store, settings, "test")
    with db.read() as s:
        chunks = sweeps.list_chunks(s, created["id"])
    for chunk in chunks:
        assert run.run_sweep_chunk(res, chunk.id, run.Attempt("w")).status == "succeeded"
    shown = api.get(f"/api/v1/sweeps/{created['id']}").get_json()
    assert shown["status"] == "succeeded" and shown["best_params"]
    bad = {**sweep, "grid": {"fast": "5:15:5", "nope": [1]}}
    assert "grid" in " ".join(error_of(api.post("/api/v1/sweeps", json=bad), 400)["fields"])


@pytest.mark.parametrize("version", [0, -1, 2**31, 63015265517, True, "1"])
def test_a_version_number_out_of_the_columns_range_is_a_400(api, version):
    """Found by schemathesis: 63015265517 reached the query and overflowed the integer column."""
    _save(api)
    for path in ("/api/v1/backtests", "/api/v1/sweeps/preview"):
        body = {**BACKTEST, "strategy": "my_cross", "strategy_version": version}
        if path.endswith("preview"):
            body["grid"] = {"fast": "5:6:1", "slow": "20:21:1"}
        r = api.post(path, json=body)
        assert r.status_code == 400, (path, r.status_code, r.get_data(as_text=True))
        assert "strategy_version must be a version number" in r.get_json()["error"]["message"]
