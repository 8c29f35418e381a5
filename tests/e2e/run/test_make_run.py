"""`make run` for real: ops/scripts/run.py (what the Makefile calls) sets up an empty var dir and
execs honcho on Procfile.embedded; the demo user signs in, makes an API token, a backtest submitted
through the API succeeds, beat requeues a job a dead worker left running, and one SIGINT to honcho
leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from quantgrid.config import Settings
from quantgrid.db import backtests as bt
from quantgrid.db import users
from quantgrid.db.backtests import JobSpec
from quantgrid.db.quotas import Limits
from quantgrid.db.session import Database

ROOT = Path(__file__).resolve().parents[3]
RUN = ROOT / "ops" / "scripts" / "run.py"
JOB = {
    "strategy": "sma_cross", "params": {"fast": 10, "slow": 30},
    "symbol": "DEMO", "timeframe": "1h", "start": "2024-01-01", "end": "2024-03-01",
    "settings": {"cash": 10000, "commission": 0.001},
}  # fmt: skip

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_mentioning(needle: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle.encode() in environ or needle in cmdline:
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _running_on_a_dead_worker(env: dict[str, str]) -> int:
    """A demo user's backtest marked running by a worker that is gone (no message left)."""
    settings = Settings.from_env(env)
    db = Database.from_settings(settings)
    try:
        with db.write() as s:
            owner = users.get_user_by_name(s, "demo").id
            spec = JobSpec(
                strategy="sma_cross", symbol="DEMO", timeframe="1h",
                start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 2, 1, tzinfo=UTC),
                params={"fast": 5, "slow": 20}, settings={"cash": 10_000.0},
            )  # fmt: skip
            job, _ = bt.submit_backtest(s, owner, spec, Limits.from_settings(settings))
            assert bt.start_backtest(s, job.id, "worker-1@gone", "lost-task")
            return job.id
    finally:
        db.dispose()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def _wait(what: str, check, log: Path, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; honcho's output:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)


@pytest.fixture
def env(tmp_path):
    drop = ("DATABASE_URL", "DATABASE_REPLICA_URL", "BROKER_URL", "CANDLE_STORE", "CANDLE_DIR",
            "CANDLE_CACHE_DIR", "PROMETHEUS_MULTIPROC_DIR", "WORKER_METRICS_PORT")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        QUANTGRID_VAR_DIR=str(tmp_path / "var"),
        QUANTGRID_PORT=str(_free_port()),
        GUNICORN_WORKERS="1",
        WORKER_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
        REQUEUE_INTERVAL_SECONDS="1",
        STUCK_GRACE_SECONDS="1",
    )
    return env


def test_make_run_serves_backtests_and_ctrl_c_stops_everything(env, tmp_path):
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        honcho = subprocess.Popen(
            [sys.executable, str(RUN), "start"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{env['QUANTGRID_PORT']}"
    try:
        password = _wait(
            "the demo user's password",
            lambda: re.search(r"demo user: demo / (\S+)", log.read_text()),
            log,
        ).group(1)
        assert f"QuantGrid: {url}/" in _wait("the URL", lambda: log.read_text(), log)

        def healthy():
            try:
                return requests.get(f"{url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:  # not listening yet, or still booting
                return False

        _wait("the web app", healthy, log)
        web = requests.Session()
        signin = web.post(
            f"{url}/login",
            data={"username": "demo", "password": password,
                  "csrf_token": _csrf(web.get(f"{url}/login", timeout=5).text)},
            timeout=10,
        )  # fmt: skip
        assert signin.status_code == 200 and "Wrong username" not in signin.text
        page = web.post(
            f"{url}/account",
            data={"name": "e2e", "csrf_token": _csrf(web.get(f"{url}/account", timeout=5).text)},
            timeout=10,
        )
        token = re.search(r"\bqg_[A-Za-z0-9_\-]+", page.text)
        assert token, page.text[:2000]

        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token.group(0)}"
        job = api.post(f"{url}/api/v1/backtests", json=JOB, timeout=10)
        assert job.status_code == 201, job.text
        job_id = job.json()["id"]

        def finished_id(i: int):
            body = api.get(f"{url}/api/v1/backtests/{i}", timeout=5).json()
            return body if body["status"] not in ("queued", "running") else None

        done = _wait("the backtest", lambda: finished_id(job_id), log, timeout=90)
        assert done["status"] == "succeeded", done
        result = api.get(f"{url}/api/v1/backtests/{job_id}/result", timeout=5).json()
        assert result["metrics"]["trades"] >= 1
        # Celery beat: a job left running by a worker that died is requeued and then run,
        # with no manual action.
        stuck = _running_on_a_dead_worker(env)
        done = _wait(f"beat to requeue stuck job {stuck}",
                     lambda: finished_id(stuck), log, timeout=60)  # fmt: skip
        assert done["status"] == "succeeded" and done["attempts"] == 2, done
        assert f"requeued stuck backtests [{stuck}]" in log.read_text()
    finally:
        honcho.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            pytest.fail(f"honcho did not stop on SIGINT:\n{log.read_text()[-4000:]}")
    deadline = time.monotonic() + 10
    while (left := _processes_mentioning(env["QUANTGRID_VAR_DIR"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], left

    # A second run finds everything in place: no new candles, no second demo user.
    again = subprocess.run([sys.executable, str(RUN), "prepare"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert "already stored" in again.stdout and "accounts exist" in again.stdout
    assert "demo user:" not in again.stdout
