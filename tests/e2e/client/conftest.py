"""One real QuantGrid server for the client tests, on the embedded default (as `make run`).

A migrated SQLite jobs database and embedded candles in the module's tmp dir, Gunicorn serving
``app:create_app()``, a Celery worker on kombu's ``sqla+sqlite`` broker, and two accounts with
API tokens. Processes log under the tmp dir; a failed start shows the logs' tails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gunicorn
import pytest
import requests

from quantgrid.candles.embedded import EmbeddedStore
from quantgrid.candles.generate import generate
from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.session import Database
from tests.support import pg

ROOT = Path(__file__).resolve().parents[3]
# The e2e stacks drop what would point the server at PostgreSQL, InfluxDB or another var dir.
_DROP = ("DATABASE_URL", "DATABASE_REPLICA_URL", "BROKER_URL", "CANDLE_STORE", "CANDLE_DIR",
         "CANDLE_CACHE_DIR", "PROMETHEUS_MULTIPROC_DIR", "WORKER_METRICS_PORT", "XDG_CONFIG_HOME")


@dataclass
class Server:
    url: str
    tokens: dict[str, str]  # username: API token
    logs: Path

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(f"==== {p.name}\n" + "\n".join(p.read_text(errors="replace")
                                                        .splitlines()[-lines:])
                         for p in sorted(self.logs.glob("*.log")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (Gunicorn's and Celery's children too); SIGKILL if stuck."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait(what: str, check, procs: list[subprocess.Popen], server: Server, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not check():
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            pytest.fail(f"no {what}:\n{server.log_tails()}")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("client_e2e")
    logs = root / "logs"
    logs.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(QUANTGRID_VAR_DIR=str(root / "var"), GUNICORN_BIND=f"127.0.0.1:{port}",
               GUNICORN_WORKERS="1", WORKER_CONCURRENCY="1", SECRET_KEY=os.urandom(24).hex(),
               PYTHONUNBUFFERED="1")
    (root / "var").mkdir()
    pg.migrate(Settings.from_env(env).database_url)
    settings = Settings.from_env(env)
    EmbeddedStore(settings.candle_dir).write(
        "DEMO", "1h", generate(2000, timeframe="1h", seed=7, start="2024-01-01"))
    db = Database.from_settings(settings)
    with db.write() as s:
        tokens = {name: users.create_token(s, users.create_user(s, name, "long password").id,
                                           "e2e")[0] for name in ("alice", "bob")}
    db.dispose()
    server = Server(f"http://127.0.0.1:{port}", tokens, logs)
    # Gunicorn 27+ opens a control socket, by default one per user: give it its own.
    own_socket = (["--control-socket", str(root / "gunicorn.ctl")]
                  if gunicorn.version_info >= (27,) else [])
    argvs = {
        "gunicorn": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *own_socket,
                     "app:create_app()"],
        "worker": [sys.executable, "-m", "celery", "-A", "tasks.celery_app", "worker",
                   "-n", "client-e2e@%h", "--concurrency=1", "--loglevel=INFO",
                   "--without-mingle", "--without-gossip"],
    }
    procs = []
    try:
        for name, argv in argvs.items():
            with open(logs / f"{name}.log", "wb") as log:
                procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log,
                                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              start_new_session=True))
        _wait("answer on /readyz", lambda: _answers(f"{server.url}/readyz"), procs, server)
        _wait("ready worker", lambda: " ready." in (logs / "worker.log").read_text(), procs,
              server)
        yield server
    finally:
        for proc in procs:
            _stop(proc)
