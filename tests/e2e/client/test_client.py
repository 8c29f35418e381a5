"""The Python client and ``quantgrid remote`` against a real server and worker."""

from __future__ import annotations

import csv
import json
import re

import pytest

from app.api.openapi import document
from quantgrid.client import AuthError, Client, InvalidRequest, NotFoundError
from tests.support.cli import run_cli

pytestmark = pytest.mark.e2e

JOB = {"symbol": "DEMO", "timeframe": "1h", "start": "2024-01-01", "end": "2024-03-01"}


def _documented(method: str, path: str) -> bool:
    """Whether the OpenAPI document describes ``method path`` (a path under /api/v1)."""
    for template, operations in document()["paths"].items():
        pattern = re.sub(r"\\\{[a-z_]+\\\}", r"[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return True
    return False


@pytest.fixture
def alice(server):
    """Alice's client; every request it sends is recorded as ``(method, path)``."""
    client = Client(server.url, server.tokens["alice"], backoff=0.1)
    client.sent = []
    client._http.session.hooks["response"].append(
        lambda r, **kw: client.sent.append((r.request.method, r.request.path_url.split("?")[0]))
    )
    return client


def test_submit_wait_and_fetch_a_backtest_and_a_sweep(alice):
    job = alice.submit_backtest(strategy="sma_cross", params={"fast": 10, "slow": 30},
                                settings={"cash": 10_000, "commission": 0.001}, **JOB)
    assert job.kind == "backtest" and job.status == "queued"
    seen = []
    done = alice.wait(job, timeout=60, poll=0.2, on_update=seen.append)
    assert done.status == "succeeded" and seen[-1] == done, done.error
    result = alice.result(done)
    assert result.metrics["trades"] >= 1 and result.equity["equity"].iloc[0] == 10_000
    assert str(result.equity.index.tz) == "UTC"
    assert result.equity.index[0] <= result.trades["entry_time"].min() <= result.equity.index[-1]
    assert len(result.trades) >= result.metrics["trades"]

    sweep = alice.submit_sweep(strategy="sma_cross", grid={"fast": "5:15:5", "slow": [30, 40]},
                               metric="return_pct", **JOB)
    assert alice.wait(sweep, timeout=60, poll=0.2).status == "succeeded"
    grid = alice.sweep_results(sweep)
    assert len(grid.table) == 6 and grid.metric == "return_pct"
    assert grid.table["return_pct"].notna().all()
    assert {(j.kind, j.id) for j in alice.list()} >= {("backtest", job.id), ("sweep", sweep.id)}

    assert set(grid.statistics) == {"deflated_sharpe", "pbo"}
    assert all("available" in v for v in grid.statistics.values()), grid.statistics

    mc = alice.montecarlo(done, resamples=200, seed=3)
    assert mc == alice.montecarlo(done, resamples=200, seed=3) and mc["resamples"] == 200
    assert mc["final_equity"]["p5"] <= mc["final_equity"]["p50"] <= mc["final_equity"]["p95"]
    assert {"alpha", "beta", "information_ratio"} <= set(alice.relative(done))

    drawn = alice.submit_sweep(strategy="sma_cross", grid={"fast": "2:500:1", "slow": "3:501:1"},
                               search={"method": "random", "trials": 7, "seed": 42}, **JOB)
    assert alice.wait(drawn, timeout=60, poll=0.2).status == "succeeded"
    assert len(alice.sweep_results(drawn).table) == 7

    # Every request the client sent is one the OpenAPI document describes.
    assert all(path.startswith("/api/v1/") for _, path in alice.sent)
    assert [(m, p) for m, p in alice.sent if not _documented(m, p.removeprefix("/api/v1"))] == []


def test_typed_errors(server, alice):
    with pytest.raises(AuthError, match="unknown or revoked"):
        Client(server.url, "qg_not-a-token").me()
    mine = alice.submit_backtest(strategy="sma_cross", **JOB)
    with pytest.raises(NotFoundError):  # bob's token does not see alice's job
        Client(server.url, server.tokens["bob"]).get(mine.id)
    with pytest.raises(InvalidRequest) as caught:
        alice.submit_backtest(strategy="sma_cross", params={"fast": -3}, **{**JOB, "end": "x"})
    assert {"params.fast", "end"} <= set(caught.value.fields), caught.value.fields




def test_the_remote_commands(server, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    code, _, err = run_cli(capsys, "remote", "list")
    assert code == 77 and "quantgrid remote login URL" in err
    code, _, err = run_cli(capsys, "remote", "login", server.url, "--token", "qg_wrong")
    assert code == 77 and err.count("\n") == 1 and "log in again" in err
    code, out, _ = run_cli(capsys, "remote", "login", server.url, "--token", server.tokens["alice"])
    assert code == 0 and "as alice" in out

    series = ["--symbol", "DEMO", "--timeframe", "1h", "--start", "2024-01-01",
              "--end", "2024-02-01"]
    code, out, err = run_cli(capsys, "remote", "backtest", *series, "--strategy", "sma_cross",
                         "-p", "fast=5", "-p", "slow=20", "--commission", "0.001", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["metrics"]["trades"] >= 1
    job_id = shown["backtest_id"]

    code, out, _ = run_cli(capsys, "remote", "watch", str(job_id))
    assert code == 0 and out.strip() == f"backtest {job_id} succeeded"
    trades = tmp_path / "trades.csv"
    code, out, _ = run_cli(capsys, "remote", "result", str(job_id), "--trades", str(trades))
    assert code == 0 and "Sharpe ratio" in out
    with open(trades) as fh:
        assert len(list(csv.DictReader(fh))) >= shown["metrics"]["trades"]
    code, out, _ = run_cli(capsys, "remote", "list")
    assert code == 0 and re.search(rf"^backtest +{job_id}  succeeded", out, re.M), out

    code, out, err = run_cli(capsys, "remote", "sweep", *series, "--strategy", "sma_cross",
                         "-g", "fast=5,10", "-g", "slow=20", "--by", "return_pct", "--top", "1")
    assert code == 0, err
    assert "top 1 of 2 sets by return_pct" in out
    code, out, err = run_cli(capsys, "remote", "sweep", *series, "--strategy", "sma_cross",
                             "-g", "fast=2:500:1", "-g", "slow=3:501:1", "--search", "random",
                             "--trials", "5", "--top", "2")  # fmt: skip
    assert code == 0, err
    assert "top 2 of 5 sets by sharpe" in out

    assert "deflated Sharpe ratio" in out and "probability of backtest overfitting" in out

    client = Client(server.url, server.tokens["alice"])
    long = client.submit_sweep(strategy="sma_cross", grid={"fast": "2:41:1", "slow": "50:74:1"},
                               **{k: v for k, v in JOB.items()})  # fmt: skip
    client.cancel(long)
    code, _, err = run_cli(capsys, "remote", "watch", str(long.id), "--sweep")
    assert code == 7 and f"sweep {long.id} was cancelled" in err, err

    code, _, err = run_cli(capsys, "remote", "result", "99999")
    assert code == 3 and err.count("\n") == 1
    code, _, err = run_cli(capsys, "remote", "backtest", *series[:-1], "nope", "--strategy",
                       "sma_cross", "-p", "fast=-1", "--detach")
    assert code == 2 and "end:" in err and "params.fast:" in err, err

    code, out, _ = run_cli(capsys, "remote", "logout")
    assert code == 0 and out.strip() == "logged out"
