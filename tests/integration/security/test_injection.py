"""SQL and InfluxQL injection through symbols, strategy and parameter names and values, filters
and query parameters, into the API, the forms, the CLI and the candle store: refused with a 4xx
or a clean one-line error, and harmless (the canary table and measurement and every row count are
unchanged afterwards)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from quantgrid.candles.errors import InvalidSymbol
from tests.integration.security.conftest import CANDLES, bearer, browser, page_csrf
from tests.unit.app.conftest import BACKTEST

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SQL = ["x' OR '1'='1", "1; DROP TABLE canary; --", "'); DELETE FROM users; --",
       "DEMO\" OR \"\"=\"", "1 UNION SELECT token_hash FROM api_tokens"]
INFLUXQL = ["DEMO' OR symbol=~/.*/ --", "DEMO'; DROP MEASUREMENT canary", "DEMO\nDROP DATABASE x",
            "DEMO/../../etc/passwd", "DEMO\" ; DROP SERIES FROM candles", "DEMO,timeframe=1m"]
PAYLOADS = SQL + INFLUXQL


@pytest.mark.parametrize("payload", PAYLOADS)
def test_api_refuses_injection_in_every_field(app, alice, pg_intact, influx_intact, payload):
    api = bearer(app, alice[1])
    bodies = [
        {**BACKTEST, "symbol": payload},
        {**BACKTEST, "strategy": payload},
        {**BACKTEST, "timeframe": payload},
        {**BACKTEST, "start": payload},
        {**BACKTEST, "params": {payload: 5}},
        {**BACKTEST, "params": {"fast": payload}},
        {**BACKTEST, "settings": {payload: 1}},
        {**BACKTEST, "settings": {"sizing": payload}},
    ]
    for body in bodies:
        r = api.post("/api/v1/backtests", json=body)
        assert r.status_code == 400, (body, r.get_data(as_text=True)[:300])
    sweep = {**{k: v for k, v in BACKTEST.items() if k != "params"}}
    for grid, metric in (({payload: "1,2"}, "sharpe"), ({"fast": payload}, "sharpe"),
                         ({"fast": "5,6"}, payload)):
        r = api.post("/api/v1/sweeps", json={**sweep, "grid": grid, "metric": metric})
        assert r.status_code == 400, (grid, metric, r.get_data(as_text=True)[:300])
    for query in ({"status": payload}, {"limit": payload}, {"offset": payload}):
        for path in ("/api/v1/backtests", "/api/v1/jobs", "/api/v1/sweeps"):
            r = api.get(path, query_string=query)
            assert r.status_code in (200, 400), (path, query, r.status_code)
            if r.status_code == 200:  # a filter it ignores must not widen the list
                assert r.get_json()["total"] == 0


@pytest.mark.parametrize("payload", PAYLOADS[:3] + INFLUXQL[:3])
def test_forms_refuse_injection(app, alice, pg_intact, influx_intact, payload):
    page = browser(app, "alice")
    token = page_csrf(page)
    base = {"csrf_token": token, "strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
            "start": "2024-01-01", "end": "2024-01-03"}
    for change in ({"symbol": payload}, {"strategy": payload}, {"p.sma_cross.fast": payload},
                   {f"p.sma_cross.{payload}": "5"}, {"settings.cash": payload}):
        r = page.post("/backtests/new", data={**base, **change})
        assert r.status_code == 400, change
    for change in ({"g.sma_cross.fast": payload}, {f"g.sma_cross.{payload}": "5,6",
                                                   "g.sma_cross.fast": "5,6"},
                   {"metric": payload, "g.sma_cross.fast": "5,6"}):
        assert page.post("/sweeps/new", data={**base, **change}).status_code == 400, change
    # Pages that take ids or numbers in the query string.
    for path in (f"/jobs?page={payload}", f"/compare?id={payload}", f"/backtests/new?from={payload}"):
        assert page.get(path).status_code in (200, 400, 404), path


@pytest.mark.parametrize("payload", INFLUXQL + SQL[:2])
def test_the_candle_store_refuses_injected_symbols(store, influx_intact, payload):
    start, end = dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    for call in (lambda: store.read(payload, "1m", start, end),
                 lambda: store.delete(payload), lambda: store.write(payload, "1m", None)):
        with pytest.raises(InvalidSymbol):
            call()
    assert len(store.read("DEMO", "1m", None, None)) == CANDLES


def _cli(settings, *args):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("INFLUX", "BROKER_"))},
           "DATABASE_URL": settings.database_url, "CANDLE_STORE": "influxdb",
           "INFLUX_URL": settings.influx_url, "INFLUX_DB": settings.influx_db,
           "QUANTGRID_VAR_DIR": str(settings.var_dir)}
    return subprocess.run([str(ROOT / ".venv" / "bin" / "quantgrid"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_refuses_injection_with_one_clean_line(settings, db, pg_intact, influx_intact):
    calls = [
        ("candles", "export", "--symbol", INFLUXQL[0], "--timeframe", "1m"),
        ("candles", "delete", "--symbol", INFLUXQL[1], "--yes"),
        ("candles", "export", "--symbol", "DEMO", "--timeframe", "1m; DROP DATABASE x"),
        ("jobs", "list", "--status", SQL[1]),
        ("users", "set-role", SQL[0], "admin"),
        ("tokens", "create", SQL[2], "--name", "x"),
    ]
    for argv in calls:
        done = _cli(settings, *argv)
        assert done.returncode != 0, (argv, done.stdout)
        assert "Traceback" not in done.stderr, (argv, done.stderr)
        assert done.stderr.strip() and len(done.stderr.strip().splitlines()) == 1, done.stderr
