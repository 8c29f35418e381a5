"""The whole topology for real (ops/scripts/cluster.py): up, jobs through NGINX, Prometheus sees
every target and the task counters, every metric the dashboards and alerts use exists, each ops
command works against the live workers, and down leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.integration.ops.dashboards import expressions, metric_names

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "ops" / "scripts" / "cluster.py"
QUANTGRID = str(Path(sys.executable).parent / "quantgrid")
JOB = {
    "strategy": "sma_cross", "symbol": "DEMO", "timeframe": "1h",
    "start": "2020-01-02", "end": "2020-03-01", "params": {"fast": 5, "slow": 20},
    "settings": {"cash": 10000, "commission": 0.001},
}  # fmt: skip


def _base_port() -> int:
    """A base whose +0..+51 ports are all free now."""
    for base in range(31000, 60000, 100):
        ok = True
        for off in range(52):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", base + off)) == 0:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


@pytest.fixture(scope="module")
def cluster():
    # Not under pytest's tmp_path: its parents are private to root, and PostgreSQL runs as
    # the postgres user.
    run_dir = Path(tempfile.mkdtemp(prefix="qg-cluster-"))
    run_dir.chmod(0o755)
    cmd = [sys.executable, str(SCRIPT)]
    up = subprocess.run(
        [*cmd, "up", "--design", "--run-dir", str(run_dir), "--base-port", str(_base_port())],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if up.returncode != 0:
        subprocess.run([*cmd, "down", "--run-dir", str(run_dir)], check=False, timeout=120)
        pytest.fail(f"`cluster.py up` failed (run `make services exporter-venv`):\n{up.stderr}")
    info = json.loads((run_dir / "cluster.json").read_text())
    info["env"] = {
        **os.environ,
        "DATABASE_URL": info["database_url"],
        "QUANTGRID_VAR_DIR": str(run_dir / "var"),
        "CANDLE_STORE": "influxdb",
        "INFLUX_URL": info["influx_url"],
    }
    yield info
    down = subprocess.run([*cmd, "down", "--run-dir", str(run_dir)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert down.returncode == 0, down.stdout + down.stderr
    from importlib import util

    spec = util.spec_from_file_location("cluster_script", SCRIPT)
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.leftovers(run_dir) == []
    shutil.rmtree(run_dir, ignore_errors=True)


def _ops(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([QUANTGRID, *args], env=cluster["env"], capture_output=True, text=True,
                          input=stdin, timeout=120, check=False)  # fmt: skip


def _prom(cluster, query: str) -> list[dict]:
    r = requests.get(f"{cluster['prometheus']}/api/v1/query", params={"query": query}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]


def _token(cluster, username: str = "ops-e2e") -> str:
    from quantgrid.db import users
    from quantgrid.db.session import Database

    db = Database(cluster["database_url"])
    try:
        with db.write() as s:
            uid = users.create_user(s, username, "a-long-enough-password-1").id
            token, _ = users.create_token(s, uid, "e2e")
    finally:
        db.dispose()
    return token


def test_the_cluster_end_to_end(cluster):
    public = cluster["public_url"]
    # NGINX spreads /healthz and /readyz over the instances and hides /metrics and Flower.
    for _ in range(6):
        assert requests.get(f"{public}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{public}/readyz", timeout=5).json()["status"] == "ok"
    assert requests.get(f"{public}/metrics", timeout=5).status_code == 404
    assert requests.get(f"{public}/flower/", timeout=5).status_code == 404
    too_big = requests.post(f"{public}/api/v1/backtests", data=b"x" * (3 * 1024 * 1024), timeout=10)
    assert too_big.status_code == 413

    gen = _ops(cluster, "candles", "generate", "--symbol", "DEMO", "--timeframe", "1h",
               "--bars", "2000", "--start", "2020-01-01T00:00:00Z")  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    auth = {"Authorization": f"Bearer {_token(cluster)}"}
    # A session keeps the read-your-writes cookie: without it a read routed to the replica may
    # not see a job submitted a moment ago (see the report / issue 8).
    api = requests.Session()
    ids = []
    for fast in (3, 4, 5, 6, 7, 8):
        r = api.post(f"{public}/api/v1/backtests", json={**JOB, "params": {"fast": fast, "slow": 20}},
                          headers=auth, timeout=10)  # fmt: skip
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    deadline = time.monotonic() + 90
    while True:
        bodies = [api.get(f"{public}/api/v1/backtests/{i}", headers=auth, timeout=5).json()
                  for i in ids]  # fmt: skip
        assert all("status" in b for b in bodies), bodies
        states = [b["status"] for b in bodies]
        if all(s == "succeeded" for s in states):
            break
        assert time.monotonic() < deadline, states
        assert "failed" not in states, states
        time.sleep(0.5)

    # Prometheus: every target up, and the task counters of our metrics, Flower and the exporter.
    targets = requests.get(f"{cluster['prometheus']}/api/v1/targets", timeout=5).json()
    active = targets["data"]["activeTargets"]
    assert {t["labels"]["job"] for t in active} == {
        "api",
        "worker",
        "flower",
        "celery-exporter",
        "postgres",
        "nginx",
        "prometheus",
    }
    deadline = time.monotonic() + 30
    queries = {
        "up": "count(up == 1)",
        "ours": 'sum(quantgrid_backtests_total{outcome="succeeded",strategy="sma_cross"})',
        "exporter": 'sum(celery_task_succeeded_total{name="tasks.run_backtest"})',
        "flower": 'sum(flower_events_total{type="task-succeeded"})',
    }
    want = {"up": len(active), "ours": len(ids), "exporter": len(ids), "flower": len(ids)}
    while True:
        got = {
            k: float(r[0]["value"][1]) if (r := _prom(cluster, q)) else 0
            for k, q in queries.items()
        }
        if all(got[k] >= want[k] for k in want):
            break
        assert time.monotonic() < deadline, (got, want)
        time.sleep(1)

    # Every metric a dashboard or an alert uses is on a live /metrics of the cluster.
    live = set()
    sources = [*cluster["api"][:1], cluster["flower"]]
    pages = (
        [f"{u}/metrics" for u in sources]
        + list(cluster["workers"].values())
        + [cluster["exporter"], cluster["nginx_exporter"], *cluster["postgres_exporters"].values()]
    )
    for url in pages:
        for line in requests.get(url, timeout=5).text.splitlines():
            if line and not line.startswith("#"):
                live.add(line.split("{")[0].split(" ")[0])
    live.add("up")  # Prometheus's own
    for source, exprs in expressions().items():
        for expr in exprs:
            missing = metric_names(expr) - live
            assert not missing, f"{source}: {expr!r} uses {missing}, on no live /metrics"

    # The ops commands against the live workers.
    node = f"w1@{socket.gethostname()}"
    st = _ops(cluster, "ops", "status")
    assert st.returncode == 0 and st.stdout.count("@") == 3 and "queue quantgrid" in st.stdout, st
    grow = _ops(cluster, "ops", "grow", node, "-n", "2")
    assert grow.returncode == 0 and "pool 6 -> 8" in grow.stdout, grow
    shrink = _ops(cluster, "ops", "shrink", node, "-n", "2")
    assert shrink.returncode == 0 and "pool 8 -> 6" in shrink.stdout, shrink
    drain = _ops(cluster, "ops", "drain", node, "--wait", "30")
    assert drain.returncode == 0 and f"drained {node}" in drain.stdout, drain
    assert "(none: drained)" in _ops(cluster, "ops", "status").stdout
    assert _ops(cluster, "ops", "undrain", node).returncode == 0
    refused = _ops(cluster, "ops", "purge", stdin="n\n")
    assert refused.returncode != 0 and "purged" not in refused.stdout
    purge = _ops(cluster, "ops", "purge", "--yes")
    assert purge.returncode == 0 and "purged" in purge.stdout, purge
    requeue = _ops(cluster, "ops", "requeue")
    assert requeue.returncode == 0 and "requeued 0 stuck backtests" in requeue.stdout, requeue
    nobody = _ops(cluster, "ops", "drain", "nosuch@nowhere", "--wait", "1")
    assert nobody.returncode != 0 and "no reply from nosuch@nowhere" in nobody.stderr
    # After all that the workers still run jobs.
    r = api.post(f"{public}/api/v1/backtests", json=JOB, headers=auth, timeout=10)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 60
    while (
        api.get(f"{public}/api/v1/backtests/{r.json()['id']}", headers=auth, timeout=5).json()[
            "status"
        ]
        != "succeeded"
    ):  # noqa: E501
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_rolling_restart_restarts_every_worker_in_turn_and_loses_no_job(cluster):
    """`quantgrid ops rolling-restart`: drain, warm shutdown, restart, ping, one worker at a time,
    while jobs keep arriving; every job submitted before or during the restart succeeds."""
    public, run_dir = cluster["public_url"], Path(cluster["run_dir"])
    gen = _ops(cluster, "candles", "generate", "--symbol", "DEMO", "--timeframe", "1h",
               "--bars", "2000", "--start", "2020-01-01T00:00:00Z")  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    auth = {"Authorization": f"Bearer {_token(cluster, 'restart-e2e')}"}
    api = requests.Session()

    def submit(fast: int) -> int:
        r = api.post(f"{public}/api/v1/backtests", headers=auth, timeout=10,
                     json={**JOB, "params": {"fast": fast, "slow": 40}})  # fmt: skip
        assert r.status_code == 201, r.text
        return r.json()["id"]

    workers = ("w1", "w2", "w3")
    pids_before = {w: int((run_dir / "pids" / f"{w}.pid").read_text()) for w in workers}
    before = [submit(fast) for fast in range(2, 14)]
    restart = subprocess.Popen(
        [QUANTGRID, "ops", "rolling-restart", "--run-dir", str(run_dir)], env=cluster["env"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    during, deadline = [], time.monotonic() + 240
    while restart.poll() is None:
        if time.monotonic() > deadline:
            restart.kill()
            pytest.fail(f"rolling-restart hung:\n{restart.communicate()[0]}")
        during.append(submit(2 + len(during) % 30))
        time.sleep(0.5)
    out = restart.communicate()[0]
    assert restart.returncode == 0, out
    host = socket.gethostname()
    assert re.findall(r"cluster: restarted (\S+)", out) == [f"{w}@{host}" for w in workers], out
    pids_after = {w: int((run_dir / "pids" / f"{w}.pid").read_text()) for w in workers}
    assert all(pids_after[w] != pids_before[w] for w in workers), (pids_before, pids_after)
    assert len(during) >= 3, out

    ids, deadline = before + during, time.monotonic() + 120
    while True:
        states = {i: api.get(f"{public}/api/v1/backtests/{i}", headers=auth, timeout=5).json()
                  for i in ids}  # fmt: skip
        assert not [b for b in states.values() if b["status"] in ("failed", "cancelled")], states
        if all(b["status"] == "succeeded" for b in states.values()):
            break
        assert time.monotonic() < deadline, (
            [b for b in states.values() if b["status"] != "succeeded"], out
        )
        time.sleep(0.5)
    # The restarted workers consume the queue again (none is left drained).
    st = _ops(cluster, "ops", "status")
    rows = [line for line in st.stdout.splitlines() if "@" in line]
    assert st.returncode == 0 and len(rows) == 3, st.stdout
    assert all(line.rstrip().endswith("quantgrid") for line in rows), st.stdout
