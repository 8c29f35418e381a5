"""Real ``celery worker`` and ``flower`` subprocesses for the broker tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.support.broker_app import RUNS_TABLE_SQL
from tests.support.pg import ROOT

CELERY = str(Path(sys.executable).with_name("celery"))


def create_runs_table(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(RUNS_TABLE_SQL)
    engine.dispose()


def query(url: str, sql: str, **params) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def app_env(broker_url: str, record_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QG_TEST_BROKER_URL=broker_url, QG_TEST_RECORD_URL=record_url, **extra)
    return env


def celery(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real ``celery -A tests.support.broker_app ...`` CLI."""
    return subprocess.run(
        [CELERY, "-A", "tests.support.broker_app", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


class Proc:
    def __init__(self, args: list[str], env: dict, log: Path) -> None:
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115  (closed in stop())
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.log.name} exited:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in {self.log.name}:\n{self.text()[-3000:]}")
            time.sleep(0.1)

    def children(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.pid)], capture_output=True, text=True,
            check=False,
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (warm shutdown), then SIGKILL the whole process group."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(10)
        self._out.close()


def start_worker(name: str, env: dict, log_dir: Path, concurrency: int = 6,
                 *extra: str) -> Proc:
    worker = Proc(
        [CELERY, "-A", "tests.support.broker_app", "worker", "-n", f"{name}@%h",
         "-c", str(concurrency), "-l", "info", *extra],
        {**env, "QG_TEST_WORKER": name}, log_dir / f"{name}.log",
    )
    return worker


def wait_ready(*workers: Proc) -> None:
    for worker in workers:
        worker.wait_for_log(" ready.")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
