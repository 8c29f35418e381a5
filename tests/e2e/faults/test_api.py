"""SIGKILL one of the three API instances under load: NGINX routes around it and no request
fails. Submissions are retried safely because the same X-Request-Id is the same job on every
instance, and Gunicorn sends a response's head with its body (app/gunicorn_response.py)."""

from __future__ import annotations

import itertools
import signal
import threading
import time

import pytest

from tests.e2e.faults.conftest import JOB

pytestmark = pytest.mark.e2e

CLIENTS = 8


def test_the_same_request_id_is_the_same_job_on_every_instance(faults):
    client = faults.client()
    body = {**JOB, "params": {"fast": 8, "slow": 900}}
    urls = faults.info["api"]  # NGINX sets its own X-Request-Id on the way in
    ids = {client.post(f"{url}/api/v1/backtests", json=body, timeout=30,
                       headers={"X-Request-Id": "a" * 32}).json()["id"]
           for url in urls}  # fmt: skip
    assert len(ids) == 1, ids
    faults.wait_final(list(ids), timeout=90)
    assert faults.account(list(ids)) == {"succeeded": 1}


class _Load:
    """Clients that read, preview and submit through NGINX until stopped, noting every failure."""

    def __init__(self, faults) -> None:
        self.faults = faults
        self.api = f"{faults.public}/api/v1"
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.failures: list[str] = []
        self.requests = 0
        self.backtests: list[int] = []
        self.sweeps: list[int] = []
        self._params = itertools.count()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(60)

    def _client(self) -> None:
        client = self.faults.client()
        for step in itertools.count():
            if self.stopping.is_set():
                return
            with self.lock:
                n = next(self._params)
            sweep = {k: v for k, v in JOB.items() if k != "params"}
            sweep["grid"] = {"fast": [2 + n % 40, 3 + n % 40], "slow": [60 + n // 40]}
            calls = [
                ("GET", "backtests?limit=5", None, 200, None),
                ("POST", "backtests", {**JOB, "params": {"fast": 2 + n % 40, "slow": 60 + n // 40}},
                 201, self.backtests),
                ("GET", "jobs?limit=5", None, 200, None),
                ("POST", "sweeps/preview", sweep, 200, None),
                ("GET", "strategies", None, 200, None),
                ("POST", "sweeps", sweep, 201, self.sweeps),
            ]  # fmt: skip
            method, path, body, want, ids = calls[step % len(calls)]
            self._call(client, method, path, body, want, ids)

    def _call(self, client, method, path, body, want, ids) -> None:
        try:
            r = client.request(method, f"{self.api}/{path}", json=body, timeout=30)
            got = f"{r.status_code} {r.text[:200]}" if r.status_code != want else None
            if got is None:
                r.json()  # a whole body, not one cut short
        except Exception as err:  # noqa: BLE001  (every kind of failure is the finding)
            got = f"{type(err).__name__}: {err}"
        with self.lock:
            self.requests += 1
            if got is not None:
                self.failures.append(f"{method} {path}: {got}")
            elif ids is not None:
                ids.append(r.json()["id"])


def test_sigkill_of_an_api_instance_under_load_fails_no_request(faults):
    with _Load(faults) as load:
        time.sleep(3)
        before = load.requests
        faults.stop("web1", signal.SIGKILL)  # the master and its workers, mid-request
        time.sleep(6)
        during = load.requests - before
        faults.restart_web(0)
        time.sleep(2)
    assert load.failures == [], f"{len(load.failures)} of {load.requests}: {load.failures[:5]}"
    assert during > 50 and load.backtests and load.sweeps, (during, load.requests)
    faults.wait_final(load.backtests, load.sweeps, timeout=180)
    counts = faults.account(load.backtests, load.sweeps)
    assert counts == {"succeeded": len(load.backtests)}, counts
