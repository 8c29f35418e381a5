"""A real ``celery worker`` process on the real broker, over a fresh PostgreSQL database, reading
candles from a real ``influxd`` (a database of each test's own) through the worker-side cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantgrid.candles.factory import open_store
from quantgrid.candles.generate import generate
from quantgrid.candles.store import CandleStore
from quantgrid.config import Settings
from quantgrid.db import users
from quantgrid.db.backtests import JobSpec
from quantgrid.db.session import Database
from quantgrid.jobs.service import JobService
from tasks.celery_app import make_celery
from tasks.publisher import CeleryPublisher
from tests.support import pg

ROOT = Path(__file__).resolve().parents[3]
SYMBOL = "TESTUSD"
START = datetime(2021, 1, 1, tzinfo=UTC)
END = datetime(2021, 3, 1, tzinfo=UTC)


@pytest.fixture
def env(pg_url, tmp_path, influxd):
    """The environment of both the test (producer) and the worker."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("INFLUX")},
        "QUANTGRID_VAR_DIR": str(tmp_path),
        "DATABASE_URL": pg_url,
        "CANDLE_STORE": "influxdb",
        "INFLUX_URL": influxd.url,
        "INFLUX_DB": pg.unique_name("jobs"),
        "BROKER_POLL_SECONDS": "0.2",
        "BROKER_LEASE_SECONDS": "5",
        "WORKER_CONCURRENCY": "2",
    }


@pytest.fixture
def store(env) -> CandleStore:
    """The InfluxDB database the worker reads (uncached here), holding 70 days of 1h candles."""
    store = open_store(Settings.from_env(env), cache=False)
    store.write(SYMBOL, "1h", generate(24 * 70, timeframe="1h", seed=3, start="2021-01-01"))
    return store


@pytest.fixture
def service(env, store):
    settings = Settings.from_env(env)
    db = Database.from_settings(settings)
    app = make_celery(settings)
    yield JobService(db, CeleryPublisher(app), settings)
    db.dispose()


@pytest.fixture
def owner(service):
    with service.db.write() as s:
        return users.create_user(s, "trader", "long password")


class Worker:
    def __init__(self, env, tmp_path, name):
        self.log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks.celery_app",
                "worker",
                "--concurrency=2",
                "-E",
                "--loglevel=INFO",
                "-n",
                f"{name}@%h",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(env, tmp_path):
    workers = []

    def start(name="w1"):
        worker = Worker(env, tmp_path, name)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def spec(**overrides) -> JobSpec:
    values = dict(
        strategy="sma_cross",
        symbol=SYMBOL,
        timeframe="1h",
        start=START,
        end=END,
        params={"fast": 10, "slow": 30},
        settings={"cash": 10_000.0, "commission": 0.001},
    )
    values.update(overrides)
    return JobSpec(**values)


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
