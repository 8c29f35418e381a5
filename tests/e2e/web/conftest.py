"""The whole stack of real processes for the web end-to-end tests, started once per session.

A fresh migrated PostgreSQL database, a real ``influxd`` holding demo candles written through
``quantgrid candles generate``, Gunicorn serving ``app:create_app()``, a Celery worker on the
``qgpg`` broker, and two accounts with API tokens made by the ``quantgrid`` CLI. Every process
logs to a file under the session's tmp dir; a failing test's report carries the logs' tails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import gunicorn
import pytest
import requests
import sqlalchemy as sa

from qgpg import broker_url
from tests.support import pg
from tests.support.influx import InfluxdMissing, InfluxServer

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = ROOT / ".venv" / "bin"
SYMBOL = "DEMO"
BARS = 30_000  # 1m bars from 2020-01-01: about 21 days
PASSWORD = "correct horse battery"
SWEEP_QUOTA = 500
WORKER = f"web-e2e@{socket.gethostname()}"

_stack: Stack | None = None


@dataclass
class Account:
    username: str
    token: str

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token}"
        return s


@dataclass
class Stack:
    base_url: str
    env: dict
    logs: Path
    alice: Account | None = None
    bob: Account | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"==== {path.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(stack: Stack, *args: str, extra_env: dict | None = None) -> str:
    """Run ``quantgrid ARGS`` in the stack's environment and return its stdout."""
    done = subprocess.run(
        [str(VENV_BIN / "quantgrid"), *args], cwd=ROOT, env={**stack.env, **(extra_env or {})},
        capture_output=True, text=True, timeout=180,
    )
    with open(stack.logs / "cli.log", "a") as log:
        log.write(f"$ quantgrid {' '.join(args)} -> {done.returncode}\n{done.stderr[-2000:]}\n")
    if done.returncode != 0:
        raise AssertionError(f"quantgrid {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@contextlib.contextmanager
def drained(stack: Stack):
    """Hold the worker off the queue (``quantgrid ops drain``): what is submitted stays queued.

    Tests that need a job still queued use this rather than racing the worker, which may finish
    an identical backtest in milliseconds by reusing its stored result.
    """
    _cli(stack, "ops", "drain", WORKER, "--wait", "60")
    try:
        yield
    finally:
        _cli(stack, "ops", "undrain", WORKER)


def _spawn(stack: Stack, name: str, argv: list[str], extra_env: dict | None = None) -> None:
    with open(stack.logs / f"{name}.log", "ab") as log:
        stack.procs[name] = subprocess.Popen(
            argv, cwd=ROOT, env={**stack.env, **(extra_env or {})}, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (gunicorn/celery children included), then SIGKILL if stuck."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    # Children that outlived their parent (same process group) must not outlive the test run.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_http(stack: Stack, name: str, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = stack.procs[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{stack.log_tails()}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout:.0f}s:\n{stack.log_tails()}")


def _wait_worker_ready(stack: Stack, timeout: float = 60.0) -> None:
    log = stack.logs / "worker.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.procs["worker"].poll() is not None:
            raise AssertionError(f"the worker exited:\n{stack.log_tails()}")
        if log.exists() and " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker was not ready within {timeout:.0f}s:\n{stack.log_tails()}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """Start the stack; yield a :class:`Stack`; stop every process and drop the database."""
    global _stack
    root = tmp_path_factory.mktemp("web_e2e")
    logs = root / "logs"
    logs.mkdir()
    db_name = pg.unique_name("qg_web_e2e")
    try:
        db_url = pg.create_database(db_name)
    except sa.exc.OperationalError as err:
        pytest.fail(f"PostgreSQL is not reachable at {pg.ADMIN_URL}; run `make services`: {err}")
    influxd = InfluxServer(root / "influxd")
    stack = None
    try:
        pg.migrate(db_url)
        try:
            influxd.start()
        except InfluxdMissing as err:
            pytest.fail(str(err))
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("INFLUX", "BROKER_"))},
            "QUANTGRID_VAR_DIR": str(root / "var"),
            "DATABASE_URL": db_url,
            "BROKER_URL": broker_url(db_url),
            "BROKER_POLL_SECONDS": "0.2",
            "CANDLE_STORE": "influxdb",
            "INFLUX_URL": influxd.url,
            "INFLUX_DB": "quantgrid_e2e",
            "SECRET_KEY": os.urandom(24).hex(),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "WORKER_CONCURRENCY": "2",
            # Small enough for the browser test to exceed, and keeps fuzzed sweeps short.
            "QUOTA_MAX_SWEEP_SIZE": str(SWEEP_QUOTA),
            "PYTHONUNBUFFERED": "1",
        }
        stack = _stack = Stack(base_url=f"http://127.0.0.1:{port}", env=env, logs=logs)
        _cli(stack, "candles", "generate", "--symbol", SYMBOL, "--timeframe", "1m",
             "--bars", str(BARS), "--seed", "7", "--start", "2020-01-01T00:00:00Z")
        accounts = {}
        for name in ("alice", "bob"):
            _cli(stack, "users", "create", name, extra_env={"QUANTGRID_PASSWORD": PASSWORD})
            token = _cli(stack, "tokens", "create", name, "--name", "e2e").strip()
            assert token, f"quantgrid tokens create {name} printed no token"
            accounts[name] = Account(name, token)
        stack.alice, stack.bob = accounts["alice"], accounts["bob"]
        # Gunicorn 27+ opens a control socket, by default one per user: give it its own.
        own_socket = (["--control-socket", str(root / "gunicorn.ctl")]
                      if gunicorn.version_info >= (27,) else [])
        _spawn(stack, "gunicorn", [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                                   *own_socket, "app:create_app()"])
        _spawn(stack, "worker", [str(VENV_BIN / "celery"), "-A", "tasks.celery_app", "worker",
                                 "--concurrency=2", "--loglevel=INFO", "-n", WORKER,
                                 "--without-mingle", "--without-gossip"])
        _wait_http(stack, "gunicorn", f"{stack.base_url}/healthz")
        _wait_http(stack, "gunicorn", f"{stack.base_url}/readyz")
        _wait_worker_ready(stack)
        yield stack
    finally:
        if stack is not None:
            for proc in stack.procs.values():
                _stop(proc)
        influxd.stop()
        pg.drop_database(db_name)
        _stack = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _stack is not None:
        report.sections.append(("web e2e stack logs", _stack.log_tails()))


def wait_for(predicate, timeout: float = 90.0, what: str = "condition", every: float = 0.3):
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
