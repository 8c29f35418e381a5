"""Oversized bodies, huge sweeps, absurd date ranges, unknown symbols: refused with a 4xx before
any job row or broker message exists, through the API and through the forms."""

from __future__ import annotations

import pytest

from tests.integration.security.conftest import bearer, browser, page_csrf
from tests.unit.app.conftest import BACKTEST

pytestmark = pytest.mark.integration

SWEEP = {**{k: v for k, v in BACKTEST.items() if k != "params"},
         "grid": {"fast": "5:10:5", "slow": "20,30"}}
BAD = [
    ("unknown symbol", {"symbol": "NOPE"}, 400),
    ("lower-case symbol", {"symbol": "demo"}, 400),
    ("year 1 to 9999", {"start": "0001-01-01", "end": "9999-12-31"}, None),
    ("end before start", {"start": "2024-01-03", "end": "2024-01-01"}, 400),
    ("end equals start", {"start": "2024-01-02", "end": "2024-01-02"}, 400),
    ("year 10000", {"end": "10000-01-01"}, 400),
    ("outside the stored range", {"start": "1990-01-01", "end": "1990-02-01"}, 400),
    ("negative cash", {"settings": {"cash": -5}}, 400),
    ("nan cash", {"settings": {"cash": "NaN"}}, 400),
]
HUGE_GRIDS = [
    {"fast": "1:99999:1", "slow": "1:99999:1"},
    {"fast": "1:1e999999:1e-999999"},
    {"fast": "1:600:1", "slow": "2:601:1"},  # 360,000 before dropping: over the web's limit
    {"fast": "1:40:1", "slow": "1:40:1"},  # 780 valid: over this user's quota of 100
]


def _refused(r, status=None):
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if status:
        assert r.status_code == status, r.get_data(as_text=True)[:300]


@pytest.mark.parametrize(("case", "change", "status"), BAD, ids=[b[0] for b in BAD])
def test_bad_backtests_and_sweeps_are_refused_before_anything_is_queued(
        app, alice, pg_intact, case, change, status):
    api = bearer(app, alice[1])
    r = api.post("/api/v1/backtests", json={**BACKTEST, **change})
    _refused(r, status)
    assert r.get_json()["error"]["message"]
    _refused(api.post("/api/v1/sweeps", json={**SWEEP, **change}), status)
    if status == 400:  # a preview checks the fields; the candle quota is the submission's
        _refused(api.post("/api/v1/sweeps/preview", json={**SWEEP, **change}), status)
    else:
        assert "candles" in r.get_json()["error"]["message"], r.get_json()
    page = browser(app, "alice")
    form = {"csrf_token": page_csrf(page), "strategy": "sma_cross",
            **{k: v for k, v in {**BACKTEST, **change}.items() if isinstance(v, str)},
            **{f"settings.{k}": v for k, v in change.get("settings", {}).items()}}
    _refused(page.post("/backtests/new", data=form), status)
    _refused(page.post("/sweeps/new", data={**form, "g.sma_cross.fast": "5,6"}), status)


@pytest.mark.parametrize("grid", HUGE_GRIDS)
def test_huge_sweeps_are_refused_before_anything_is_queued(app, alice, pg_intact, grid):
    api = bearer(app, alice[1])
    r = api.post("/api/v1/sweeps", json={**SWEEP, "grid": grid})
    _refused(r)
    assert r.get_json()["error"]["message"]
    page = browser(app, "alice")
    form = {"csrf_token": page_csrf(page, "/sweeps/new"), "strategy": "sma_cross",
            **{k: v for k, v in SWEEP.items() if isinstance(v, str)},
            **{f"g.sma_cross.{k}": v for k, v in grid.items()}}
    _refused(page.post("/sweeps/new", data=form))


def test_oversized_bodies_are_refused_before_they_are_read(app, alice, pg_intact):
    api = bearer(app, alice[1])
    big = {**BACKTEST, "padding": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
    r = api.post("/api/v1/backtests", json=big)
    assert r.status_code == 413 and r.get_json()["error"]["message"]
    r = api.post("/api/v1/sweeps", json={**SWEEP, "grid": {"fast": ",".join(
        str(i) for i in range(1, 200_000))}})
    assert r.status_code == 413
    page = browser(app, "alice")
    r = page.post("/backtests/new", data={"csrf_token": page_csrf(page),
                                          "strategy": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert r.status_code == 413


def test_a_good_request_is_accepted_so_the_refusals_above_mean_something(app, db, alice):
    from tests.integration.security.conftest import counts

    api = bearer(app, alice[1])
    assert api.post("/api/v1/backtests", json=BACKTEST).status_code == 201
    assert api.post("/api/v1/sweeps", json=SWEEP).status_code == 201
    after = counts(db)
    assert after["backtests"] >= 1 and after["sweeps"] == 1 and after["broker_message"] >= 2
